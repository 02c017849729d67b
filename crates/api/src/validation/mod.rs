//! Validation of the kinds svcplane serves, as kube-apiserver 1.33 validates them.
//!
//! Field paths and messages follow upstream exactly because kubectl prints them verbatim
//! (`The Service "x" is invalid: spec.ports[0].port: Invalid value: 70000: must be between 1
//! and 65535, inclusive`). Validation expects objects that went through
//! [`ApplyDefaults`](crate::defaults::ApplyDefaults) first, as upstream does; missing
//! defaulted fields are reported as `Required value`.
//!
//! Layout: `names` (string formats), `ip`, `meta` (ObjectMeta, labels, selectors) and
//! `render` (Go-style value printing) are shared; the kinds live in `pod`, `service`,
//! `cluster` (Namespace, Node), `config` (ConfigMap, Secret), `endpoints` (Endpoints,
//! EndpointSlice), `event`, `lease` and `apps`.

use std::fmt;

use crate::FieldError;

mod apps;
mod cluster;
mod config;
mod endpoints;
mod event;
mod ip;
mod lease;
mod meta;
mod names;
mod pod;
mod render;
mod service;

pub use names::{
    is_config_map_key, is_dns1035_label, is_dns1123_label, is_dns1123_subdomain, is_qualified_name,
    is_valid_label_value, is_valid_port_name,
};

/// Validation of one kind.
pub trait Validate {
    /// Errors for a create (`old == None`) or an update (`old == Some(previous stored object)`),
    /// including ObjectMeta checks.
    fn validate(&self, old: Option<&Self>) -> Vec<FieldError>;
}

/// A field path in kube-apiserver's notation: `spec.ports[0].name`, `data[key]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Path(String);

impl Path {
    pub fn new(root: &str) -> Path {
        Path(root.to_string())
    }

    pub fn child(&self, name: &str) -> Path {
        if self.0.is_empty() {
            Path(name.to_string())
        } else {
            Path(format!("{}.{name}", self.0))
        }
    }

    pub fn index(&self, i: usize) -> Path {
        Path(format!("{}[{i}]", self.0))
    }

    /// Map keys are printed bare inside brackets, as upstream does.
    pub fn key(&self, key: &str) -> Path {
        Path(format!("{}[{key}]", self.0))
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&Path> for String {
    fn from(p: &Path) -> String {
        p.0.clone()
    }
}

impl From<Path> for String {
    fn from(p: Path) -> String {
        p.0
    }
}

/// Drops repeated errors: upstream update validation often re-runs the create checks after
/// the update checks, and kube-apiserver de-duplicates the resulting messages.
fn dedup(errs: Vec<FieldError>) -> Vec<FieldError> {
    let mut out: Vec<FieldError> = Vec::with_capacity(errs.len());
    for e in errs {
        if !out
            .iter()
            .any(|o| o.field == e.field && o.message == e.message)
        {
            out.push(e);
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::FieldError;
    use crate::k8s::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    /// Metadata with a namespace and a name.
    pub fn meta(namespace: &str, name: &str) -> ObjectMeta {
        ObjectMeta {
            namespace: (!namespace.is_empty()).then(|| namespace.to_string()),
            name: Some(name.to_string()),
            ..Default::default()
        }
    }

    pub fn strs(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    /// Compares errors as kubectl prints them (`field: message`), in order.
    pub fn assert_errors(case: &str, got: &[FieldError], want: &[impl AsRef<str>]) {
        let got: Vec<String> = got.iter().map(ToString::to_string).collect();
        let want: Vec<&str> = want.iter().map(AsRef::as_ref).collect();
        assert_eq!(got, want, "case {case:?}");
    }
}
