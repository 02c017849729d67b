//! The strategic-merge schema of the kinds svcplane serves: for each type, the fields whose
//! lists do not simply get replaced, and the types of the fields that lead to them.
//!
//! The source of truth is the `patchStrategy` / `patchMergeKey` struct tags of k8s.io/api
//! (core/v1, apps/v1) and k8s.io/apimachinery (meta/v1), which is what kube-apiserver's
//! strategic merge reads. A field not listed here is "opaque": maps merge key by key and lists
//! are replaced, which is also the right answer for every untagged Kubernetes field
//! (tolerations, Endpoints subsets, containerStatuses, volumeClaimTemplates, ...).
//! `retainKeys` strategies are not recorded: the server only acts on the `$retainKeys`
//! directive that clients derive from them.

/// The fields of one type that matter to strategic merge; `&[]` for an opaque type.
pub(super) type Type = &'static [Field];

/// How the value of a field is patched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Strategy {
    /// Maps merge key by key, lists are replaced wholesale (no `patchStrategy` tag).
    Replace,
    /// A list of objects merged element by element, matched on this key (`patchMergeKey`).
    MergeByKey(&'static str),
    /// A list of scalars merged as a set union (`patchStrategy: merge` without a key).
    Union,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Field {
    pub name: &'static str,
    pub strategy: Strategy,
    /// The type of the value, or of each element for a list.
    pub ty: Type,
}

impl Field {
    /// A field this table knows nothing about: plain JSON merge below it.
    pub const OPAQUE: Field = Field {
        name: "",
        strategy: Strategy::Replace,
        ty: &[],
    };

    /// An element of a list: it has the list's element type and no strategy of its own.
    pub fn element(self) -> Field {
        Field {
            ty: self.ty,
            ..Field::OPAQUE
        }
    }
}

const fn nested(name: &'static str, ty: Type) -> Field {
    Field {
        name,
        strategy: Strategy::Replace,
        ty,
    }
}

const fn keyed(name: &'static str, key: &'static str, ty: Type) -> Field {
    Field {
        name,
        strategy: Strategy::MergeByKey(key),
        ty,
    }
}

const fn union(name: &'static str) -> Field {
    Field {
        name,
        strategy: Strategy::Union,
        ty: &[],
    }
}

const OPAQUE: Type = &[];

/// `status.conditions` of most kinds.
const CONDITIONS: Field = keyed("conditions", "type", OPAQUE);

const OBJECT_META: Type = &[keyed("ownerReferences", "uid", OPAQUE), union("finalizers")];
const METADATA: Field = nested("metadata", OBJECT_META);

/// Container, and EphemeralContainer (whose inlined EphemeralContainerCommon has the same tags).
const CONTAINER: Type = &[
    keyed("ports", "containerPort", OPAQUE),
    keyed("env", "name", OPAQUE),
    keyed("volumeMounts", "mountPath", OPAQUE),
    keyed("volumeDevices", "devicePath", OPAQUE),
];

const POD_SPEC: Type = &[
    keyed("volumes", "name", OPAQUE),
    keyed("initContainers", "name", CONTAINER),
    keyed("containers", "name", CONTAINER),
    keyed("ephemeralContainers", "name", CONTAINER),
    keyed("imagePullSecrets", "name", OPAQUE),
    keyed("hostAliases", "ip", OPAQUE),
    keyed("topologySpreadConstraints", "topologyKey", OPAQUE),
    keyed("schedulingGates", "name", OPAQUE),
    keyed("resourceClaims", "name", OPAQUE),
];

const POD_STATUS: Type = &[
    CONDITIONS,
    keyed("hostIPs", "ip", OPAQUE),
    keyed("podIPs", "ip", OPAQUE),
    keyed("resourceClaimStatuses", "name", OPAQUE),
    keyed(
        "nodeAllocatableResourceClaimStatuses",
        "resourceClaimName",
        OPAQUE,
    ),
];

const POD_TEMPLATE_SPEC: Type = &[METADATA, nested("spec", POD_SPEC)];

/// A status whose only tagged field is `conditions` (Namespace, Service, and the apps kinds).
const CONDITIONS_STATUS: Type = &[CONDITIONS];

/// Deployment, ReplicaSet and StatefulSet specs: only the pod template has tagged fields
/// (StatefulSet `volumeClaimTemplates` is untagged, so it is replaced).
const WORKLOAD_SPEC: Type = &[nested("template", POD_TEMPLATE_SPEC)];

const SERVICE_SPEC: Type = &[keyed("ports", "port", OPAQUE)];
const NODE_SPEC: Type = &[union("podCIDRs")];
const NODE_STATUS: Type = &[CONDITIONS, keyed("addresses", "type", OPAQUE)];

const POD: Type = &[
    METADATA,
    nested("spec", POD_SPEC),
    nested("status", POD_STATUS),
];
const WORKLOAD: Type = &[
    METADATA,
    nested("spec", WORKLOAD_SPEC),
    nested("status", CONDITIONS_STATUS),
];
const SERVICE: Type = &[
    METADATA,
    nested("spec", SERVICE_SPEC),
    nested("status", CONDITIONS_STATUS),
];
const NODE: Type = &[
    METADATA,
    nested("spec", NODE_SPEC),
    nested("status", NODE_STATUS),
];
const NAMESPACE: Type = &[METADATA, nested("status", CONDITIONS_STATUS)];
/// Endpoints, EndpointSlice, Event, ConfigMap, Secret, Lease: no tagged fields outside metadata.
const METADATA_ONLY: Type = &[METADATA];

/// The kinds strategic merge knows, with their schema.
pub(super) const KINDS: &[(&str, Type)] = &[
    ("Namespace", NAMESPACE),
    ("Node", NODE),
    ("Pod", POD),
    ("Service", SERVICE),
    ("Endpoints", METADATA_ONLY),
    ("EndpointSlice", METADATA_ONLY),
    ("Event", METADATA_ONLY),
    ("ConfigMap", METADATA_ONLY),
    ("Secret", METADATA_ONLY),
    ("Deployment", WORKLOAD),
    ("ReplicaSet", WORKLOAD),
    ("StatefulSet", WORKLOAD),
    ("Lease", METADATA_ONLY),
];

/// The schema of a kind; an unknown kind is opaque (plain JSON merge, lists replaced).
pub(super) fn for_kind(kind: &str) -> Type {
    KINDS
        .iter()
        .find(|(name, _)| *name == kind)
        .map_or(OPAQUE, |(_, ty)| ty)
}

/// The schema of one field of a type.
pub(super) fn field(ty: Type, name: &str) -> Field {
    ty.iter()
        .find(|f| f.name == name)
        .copied()
        .unwrap_or(Field::OPAQUE)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Follows a dotted path of field names from a kind's root.
    fn lookup(kind: &str, path: &str) -> Field {
        let mut current = nested("", for_kind(kind));
        for name in path.split('.') {
            current = field(current.ty, name);
        }
        current
    }

    #[test]
    fn strategies() {
        use Strategy::*;
        let cases = [
            (
                "Deployment",
                "spec.template.spec.containers",
                MergeByKey("name"),
            ),
            (
                "Deployment",
                "spec.template.spec.containers.ports",
                MergeByKey("containerPort"),
            ),
            (
                "ReplicaSet",
                "spec.template.spec.containers.env",
                MergeByKey("name"),
            ),
            (
                "StatefulSet",
                "spec.template.spec.containers.volumeMounts",
                MergeByKey("mountPath"),
            ),
            ("StatefulSet", "spec.template.metadata.finalizers", Union),
            ("StatefulSet", "spec.volumeClaimTemplates", Replace),
            ("Pod", "spec.initContainers", MergeByKey("name")),
            ("Pod", "spec.ephemeralContainers.env", MergeByKey("name")),
            ("Pod", "spec.volumes", MergeByKey("name")),
            ("Pod", "spec.imagePullSecrets", MergeByKey("name")),
            ("Pod", "spec.tolerations", Replace),
            ("Pod", "spec.hostAliases", MergeByKey("ip")),
            (
                "Pod",
                "spec.topologySpreadConstraints",
                MergeByKey("topologyKey"),
            ),
            ("Pod", "spec.containers.args", Replace),
            ("Pod", "status.conditions", MergeByKey("type")),
            ("Pod", "status.podIPs", MergeByKey("ip")),
            ("Pod", "status.containerStatuses", Replace),
            ("Service", "spec.ports", MergeByKey("port")),
            ("Service", "status.conditions", MergeByKey("type")),
            ("Node", "status.conditions", MergeByKey("type")),
            ("Node", "status.addresses", MergeByKey("type")),
            ("Node", "spec.podCIDRs", Union),
            ("Node", "spec.taints", Replace),
            ("Namespace", "status.conditions", MergeByKey("type")),
            ("Deployment", "status.conditions", MergeByKey("type")),
            ("ReplicaSet", "status.conditions", MergeByKey("type")),
            ("StatefulSet", "status.conditions", MergeByKey("type")),
            ("Endpoints", "subsets", Replace),
            ("EndpointSlice", "endpoints", Replace),
            ("ConfigMap", "metadata.ownerReferences", MergeByKey("uid")),
            ("Lease", "metadata.finalizers", Union),
            ("Widget", "metadata.finalizers", Replace),
        ];
        for (kind, path, want) in cases {
            assert_eq!(lookup(kind, path).strategy, want, "{kind} {path}");
        }
    }

    /// Every kind the brief lists is in the table, and no type names a field twice.
    #[test]
    fn table_is_well_formed() {
        fn check(ty: Type) {
            for (i, f) in ty.iter().enumerate() {
                assert!(
                    ty[i + 1..].iter().all(|g| g.name != f.name),
                    "duplicate {}",
                    f.name
                );
                check(f.ty);
            }
        }
        for (_, ty) in KINDS {
            check(ty);
        }
        assert_eq!(KINDS.len(), 13);
        assert!(for_kind("Widget").is_empty());
    }
}
