//! The resource registry: every kind svcplane serves, with its REST names, scope, short names,
//! categories, subresources and supported field selectors, plus the typed admission step
//! (strict decoding, defaulting, validation) that turns a request body into a storable object.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::defaults::ApplyDefaults;
use crate::error::DecodeError;
use crate::k8s::api::{apps, coordination, core, discovery};
use crate::validation::Validate;
use crate::{FieldError, decode};

/// Whether objects of a resource live in a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Namespaced,
    Cluster,
}

/// Why admission refused an object.
#[derive(Debug, thiserror::Error)]
pub enum AdmitError {
    /// The object does not deserialize as its kind (wrong types, wrong apiVersion/kind).
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Semantic validation failed; each cause names a field.
    #[error("invalid object: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    Invalid(Vec<FieldError>),
}

/// One resource type as the API serves it (e.g. `services` in the core group).
pub struct ResourceType {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// The REST name, e.g. `services`.
    pub plural: &'static str,
    pub singular: &'static str,
    pub scope: Scope,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    /// Has a `/status` subresource (spec and status written separately).
    pub has_status: bool,
    /// Has a `/scale` subresource (`autoscaling/v1` Scale).
    pub has_scale: bool,
    /// Field-selector fields beyond `metadata.name` and `metadata.namespace`.
    pub field_selectors: &'static [&'static str],
    ops: &'static (dyn KindOps + Sync),
}

impl std::fmt::Debug for ResourceType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ResourceType({})", self.group_resource())
    }
}

impl ResourceType {
    /// `v1` for the core group, `apps/v1` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The name Kubernetes uses in messages: `services`, `deployments.apps`.
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn namespaced(&self) -> bool {
        self.scope == Scope::Namespaced
    }

    /// Fields of `obj` that the kind does not know, as Kubernetes paths (`spec.ports[0].bogus`).
    pub fn unknown_fields(&self, obj: &Value) -> Result<Vec<String>, DecodeError> {
        self.ops.unknown_fields(obj)
    }

    /// Decode `obj` as this kind, apply defaults and validate it (against `old` on update).
    /// Returns the object re-encoded in canonical form: unknown fields are gone.
    pub fn admit(&self, obj: Value, old: Option<&Value>) -> Result<Value, AdmitError> {
        self.ops.admit(obj, old)
    }

    /// Decode and re-encode without defaulting or validating: the canonical form of `obj`.
    pub fn canonicalize(&self, obj: Value) -> Result<Value, DecodeError> {
        self.ops.canonicalize(obj)
    }
}

/// The typed steps of admission, erased over the kind.
trait KindOps {
    fn unknown_fields(&self, obj: &Value) -> Result<Vec<String>, DecodeError>;
    fn admit(&self, obj: Value, old: Option<&Value>) -> Result<Value, AdmitError>;
    fn canonicalize(&self, obj: Value) -> Result<Value, DecodeError>;
}

struct Typed<K>(PhantomData<fn() -> K>);

impl<K> KindOps for Typed<K>
where
    K: DeserializeOwned + Serialize + ApplyDefaults + Validate,
{
    fn unknown_fields(&self, obj: &Value) -> Result<Vec<String>, DecodeError> {
        decode::unknown_fields::<K>(obj)
    }

    fn admit(&self, obj: Value, old: Option<&Value>) -> Result<Value, AdmitError> {
        let mut typed: K = decode::from_value(obj)?;
        let old: Option<K> = old.map(|o| decode::from_value(o.clone())).transpose()?;
        if let Some(old) = &old {
            typed.prepare_update(old);
        }
        typed.apply_defaults();
        let errors = typed.validate(old.as_ref());
        if !errors.is_empty() {
            return Err(AdmitError::Invalid(errors));
        }
        Ok(decode::to_value(&typed))
    }

    fn canonicalize(&self, obj: Value) -> Result<Value, DecodeError> {
        let typed: K = decode::from_value(obj)?;
        Ok(decode::to_value(&typed))
    }
}

macro_rules! ops {
    ($t:ty) => {
        &Typed::<$t>(PhantomData)
    };
}

const NO_FIELDS: &[&str] = &[];
const ALL: &[&str] = &["all"];

static RESOURCES: &[ResourceType] = &[
    ResourceType {
        group: "",
        version: "v1",
        kind: "Namespace",
        plural: "namespaces",
        singular: "namespace",
        scope: Scope::Cluster,
        short_names: &["ns"],
        categories: &[],
        has_status: true,
        has_scale: false,
        field_selectors: &["status.phase"],
        ops: ops!(core::v1::Namespace),
    },
    ResourceType {
        group: "",
        version: "v1",
        kind: "Node",
        plural: "nodes",
        singular: "node",
        scope: Scope::Cluster,
        short_names: &["no"],
        categories: &[],
        has_status: true,
        has_scale: false,
        field_selectors: &["spec.unschedulable"],
        ops: ops!(core::v1::Node),
    },
    ResourceType {
        group: "",
        version: "v1",
        kind: "Pod",
        plural: "pods",
        singular: "pod",
        scope: Scope::Namespaced,
        short_names: &["po"],
        categories: ALL,
        has_status: true,
        has_scale: false,
        field_selectors: &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ops: ops!(core::v1::Pod),
    },
    ResourceType {
        group: "",
        version: "v1",
        kind: "Service",
        plural: "services",
        singular: "service",
        scope: Scope::Namespaced,
        short_names: &["svc"],
        categories: ALL,
        has_status: true,
        has_scale: false,
        field_selectors: NO_FIELDS,
        ops: ops!(core::v1::Service),
    },
    ResourceType {
        group: "",
        version: "v1",
        kind: "Endpoints",
        plural: "endpoints",
        singular: "endpoints",
        scope: Scope::Namespaced,
        short_names: &["ep"],
        categories: &[],
        has_status: false,
        has_scale: false,
        field_selectors: NO_FIELDS,
        ops: ops!(core::v1::Endpoints),
    },
    ResourceType {
        group: "",
        version: "v1",
        kind: "Event",
        plural: "events",
        singular: "event",
        scope: Scope::Namespaced,
        short_names: &["ev"],
        categories: &[],
        has_status: false,
        has_scale: false,
        field_selectors: &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ops: ops!(core::v1::Event),
    },
    ResourceType {
        group: "",
        version: "v1",
        kind: "ConfigMap",
        plural: "configmaps",
        singular: "configmap",
        scope: Scope::Namespaced,
        short_names: &["cm"],
        categories: &[],
        has_status: false,
        has_scale: false,
        field_selectors: NO_FIELDS,
        ops: ops!(core::v1::ConfigMap),
    },
    ResourceType {
        group: "",
        version: "v1",
        kind: "Secret",
        plural: "secrets",
        singular: "secret",
        scope: Scope::Namespaced,
        short_names: &[],
        categories: &[],
        has_status: false,
        has_scale: false,
        field_selectors: &["type"],
        ops: ops!(core::v1::Secret),
    },
    ResourceType {
        group: "apps",
        version: "v1",
        kind: "Deployment",
        plural: "deployments",
        singular: "deployment",
        scope: Scope::Namespaced,
        short_names: &["deploy"],
        categories: ALL,
        has_status: true,
        has_scale: true,
        field_selectors: NO_FIELDS,
        ops: ops!(apps::v1::Deployment),
    },
    ResourceType {
        group: "apps",
        version: "v1",
        kind: "ReplicaSet",
        plural: "replicasets",
        singular: "replicaset",
        scope: Scope::Namespaced,
        short_names: &["rs"],
        categories: ALL,
        has_status: true,
        has_scale: true,
        field_selectors: &["status.replicas"],
        ops: ops!(apps::v1::ReplicaSet),
    },
    ResourceType {
        group: "apps",
        version: "v1",
        kind: "StatefulSet",
        plural: "statefulsets",
        singular: "statefulset",
        scope: Scope::Namespaced,
        short_names: &["sts"],
        categories: ALL,
        has_status: true,
        has_scale: true,
        field_selectors: NO_FIELDS,
        ops: ops!(apps::v1::StatefulSet),
    },
    ResourceType {
        group: "discovery.k8s.io",
        version: "v1",
        kind: "EndpointSlice",
        plural: "endpointslices",
        singular: "endpointslice",
        scope: Scope::Namespaced,
        short_names: &[],
        categories: &[],
        has_status: false,
        has_scale: false,
        field_selectors: &["addressType"],
        ops: ops!(discovery::v1::EndpointSlice),
    },
    ResourceType {
        group: "coordination.k8s.io",
        version: "v1",
        kind: "Lease",
        plural: "leases",
        singular: "lease",
        scope: Scope::Namespaced,
        short_names: &[],
        categories: &[],
        has_status: false,
        has_scale: false,
        field_selectors: NO_FIELDS,
        ops: ops!(coordination::v1::Lease),
    },
];

/// Every served resource, in discovery order (core first, then groups by name).
pub fn all() -> &'static [ResourceType] {
    RESOURCES
}

/// The API groups served besides the core group, in discovery order.
pub fn groups() -> Vec<&'static str> {
    let mut groups: Vec<&'static str> = Vec::new();
    for r in RESOURCES {
        if !r.group.is_empty() && !groups.contains(&r.group) {
            groups.push(r.group);
        }
    }
    groups
}

/// The resource served at `/api[s]/<group>/<version>/<plural>`.
pub fn by_plural(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resource of an object's `apiVersion` and `kind`.
pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static ResourceType> {
    RESOURCES
        .iter()
        .find(|r| r.kind == kind && r.api_version() == api_version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lookups_agree() {
        for r in all() {
            assert!(std::ptr::eq(
                by_plural(r.group, r.version, r.plural).unwrap(),
                r
            ));
            assert!(std::ptr::eq(by_kind(&r.api_version(), r.kind).unwrap(), r));
        }
        assert_eq!(
            groups(),
            vec!["apps", "discovery.k8s.io", "coordination.k8s.io"]
        );
    }

    #[test]
    fn group_resource_names_messages() {
        assert_eq!(
            by_kind("v1", "Service").unwrap().group_resource(),
            "services"
        );
        assert_eq!(
            by_kind("apps/v1", "Deployment").unwrap().group_resource(),
            "deployments.apps"
        );
    }

    #[test]
    fn admit_defaults_and_drops_unknown_fields() {
        let svc = by_kind("v1", "Service").unwrap();
        let obj = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"ports": [{"port": 80, "bogus": 1}], "selector": {"run": "web"}}});
        assert_eq!(
            svc.unknown_fields(&obj).unwrap(),
            vec!["spec.ports[0].bogus"]
        );
        let admitted = svc.admit(obj, None).unwrap();
        assert_eq!(admitted["spec"]["ports"][0]["protocol"], "TCP");
        assert!(admitted["spec"]["ports"][0].get("bogus").is_none());
    }

    #[test]
    fn admit_reports_field_errors() {
        let svc = by_kind("v1", "Service").unwrap();
        let obj = json!({"metadata": {"name": "web", "namespace": "default"},
            "spec": {"ports": [{"port": 70000}]}});
        match svc.admit(obj, None) {
            Err(AdmitError::Invalid(errs)) => {
                assert!(
                    errs.iter().any(|e| e.field == "spec.ports[0].port"),
                    "{errs:?}"
                )
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }
}
