//! The Kubernetes object model as svcplane serves it: the resource registry (what each kind is
//! called, where it lives and which verbs it takes), decoding of request bodies (JSON, YAML and
//! kubectl's protobuf), defaulting and validation with Kubernetes' field-error causes, label and
//! field selectors, strategic-merge patches and server-side Table printing.
//!
//! Everything here is pure: no async, no IO, no clocks except the `now` a caller passes in.
//! Object types are k8s-openapi's (feature `v1_33`), re-exported as [`k8s`].

pub mod decode;
pub mod defaults;
pub mod encode;
pub mod error;
pub mod pod_view;
pub mod protobuf;
pub mod resources;
pub mod selectors;
pub mod smp;
pub mod table;
pub mod validation;

pub use error::{CauseType, FieldError};
pub use k8s_openapi as k8s;
pub use resources::{ResourceType, Scope};
