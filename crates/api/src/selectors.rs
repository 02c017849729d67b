//! Label and field selectors as kube-apiserver understands them: parsing the `labelSelector`
//! and `fieldSelector` query parameters (with Kubernetes' error texts), converting
//! `metav1.LabelSelector`, printing the canonical string form (`Scale.status.selector`, kubectl
//! output) and matching objects, either typed label maps or an object's JSON.
//!
//! Pure and total: nothing here does IO, and no input makes it panic.

mod fields;
mod label_parser;
mod labels;
mod syntax;

pub use fields::FieldSelector;
pub use labels::{LabelSelector, Operator, Requirement, selector_from_map};
pub use syntax::{label_key_errors, label_value_errors};
