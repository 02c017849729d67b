//! ReplicaSets, Deployments and StatefulSets as the controllers cache them: what the plans read,
//! with the pod template reduced to a fingerprint.
//!
//! Nearly all of a typed workload's memory is its pod template (containers, probes, volumes…):
//! ~6.6 KB a cached ReplicaSet or Deployment, ~115 MB for the 8.9k of each at 10k Services.
//! The plans never read the template itself. They compare a Deployment's template with its ReplicaSets' (ignoring
//! `pod-template-hash`), name ReplicaSets and StatefulSet revisions from its hash, and count
//! the pods carrying a ReplicaSet's template labels. What creates objects from a template (a
//! ReplicaSet's pods, a Deployment's new ReplicaSet, a StatefulSet's pods) GETs the whole
//! object first, so a steady-state reconcile still makes no request.
//!
//! Decoding slims (`#[serde(from)]`): a cached workload never holds what it does not keep.
//! Labels and annotations are dropped (no controller reads them from the cache) except the
//! `deployment.kubernetes.io/revision` annotation, kept as `revision`: a one-entry `BTreeMap`
//! alone costs a 544-byte node. Like `CachedPod`, nothing here is ever written back whole.

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentStatus, DeploymentStrategy, ReplicaSet, ReplicaSetStatus, StatefulSet,
    StatefulSetStatus, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Deserializer};

use crate::deployment::hash::{POD_TEMPLATE_HASH_LABEL, template_fnv};
use crate::deployment::plan::REVISION_ANNOTATION;

/// What the controllers compare and hash of a pod template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TemplateFingerprint {
    /// [`template_fnv`] of the whole template: a Deployment's `pod-template-hash` and a
    /// StatefulSet's revision continue from it.
    pub fnv: u32,
    /// The first 128 bits of the SHA-256 of the template's JSON without the
    /// `pod-template-hash` label: equal exactly when the templates are equal but for that
    /// label. A collision-resistant hash because a false match would take an old ReplicaSet
    /// for a Deployment's current one.
    pub without_hash_label: [u8; 16],
}

impl TemplateFingerprint {
    pub fn of(template: &PodTemplateSpec) -> Self {
        Self::of_owned(template.clone())
    }

    /// Takes the template to drop its `pod-template-hash` label in place: decoding owns it.
    fn of_owned(mut template: PodTemplateSpec) -> Self {
        let fnv = template_fnv(&template);
        // An emptied (or empty) label map goes too: a ReplicaSet's `{pod-template-hash: x}`
        // equals a Deployment's `{}` or missing labels, as in upstream's `EqualIgnoreHash`.
        if let Some(m) = template.metadata.as_mut()
            && let Some(labels) = m.labels.as_mut()
        {
            labels.remove(POD_TEMPLATE_HASH_LABEL);
            if labels.is_empty() {
                m.labels = None;
            }
        }
        // k8s-openapi serialises fields in a fixed order and maps sorted, so templates are
        // equal exactly when their JSON is (no field of a pod template is a float or free
        // JSON, whose encodings could differ for equal values).
        let json = serde_json::to_vec(&template).unwrap_or_default();
        let sha = ring::digest::digest(&ring::digest::SHA256, &json);
        let mut without_hash_label = [0; 16];
        without_hash_label.copy_from_slice(&sha.as_ref()[..16]);
        TemplateFingerprint {
            fnv,
            without_hash_label,
        }
    }
}

impl<'de> Deserialize<'de> for TemplateFingerprint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        PodTemplateSpec::deserialize(d).map(TemplateFingerprint::of_owned)
    }
}

/// A ReplicaSet's template: its fingerprint and its labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedTemplate {
    /// `metadata.labels`, in key order: the status counts the pods carrying all of them.
    pub labels: Vec<(String, String)>,
    pub fingerprint: TemplateFingerprint,
}

impl CachedTemplate {
    pub fn of(template: &PodTemplateSpec) -> Self {
        Self::of_owned(template.clone())
    }

    fn of_owned(template: PodTemplateSpec) -> Self {
        let labels = template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.as_ref())
            .map(|l| l.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        CachedTemplate {
            labels,
            fingerprint: TemplateFingerprint::of_owned(template),
        }
    }
}

impl<'de> Deserialize<'de> for CachedTemplate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        PodTemplateSpec::deserialize(d).map(CachedTemplate::of_owned)
    }
}

/// Any of the three as the watch sends it, before it is slimmed.
#[derive(Deserialize)]
struct Decoded<Spec, Status> {
    #[serde(default)]
    metadata: ObjectMeta,
    spec: Option<Spec>,
    status: Option<Status>,
}

/// Metadata without what no controller reads from the cache: managedFields, labels and
/// annotations. Returns the revision annotation.
fn slim_meta(meta: &mut ObjectMeta) -> Option<String> {
    meta.managed_fields = None;
    meta.labels = None;
    // Decoding grows a Vec from 4 slots: one ownerReference held room for four.
    if let Some(refs) = meta.owner_references.as_mut() {
        refs.shrink_to_fit();
    }
    if let Some(finalizers) = meta.finalizers.as_mut() {
        finalizers.shrink_to_fit();
    }
    meta.annotations.take()?.remove(REVISION_ANNOTATION)
}

/// Makes a cached type a Kubernetes resource of the kind it caches (as `api::pod_view!` does
/// for pods), so kube-rs watches it at that kind's URL and the GC reads its metadata.
macro_rules! resource_of {
    ($ty:ty, $of:ty) => {
        impl k8s_openapi::Resource for $ty {
            const API_VERSION: &'static str = <$of as k8s_openapi::Resource>::API_VERSION;
            const GROUP: &'static str = <$of as k8s_openapi::Resource>::GROUP;
            const KIND: &'static str = <$of as k8s_openapi::Resource>::KIND;
            const VERSION: &'static str = <$of as k8s_openapi::Resource>::VERSION;
            const URL_PATH_SEGMENT: &'static str = <$of as k8s_openapi::Resource>::URL_PATH_SEGMENT;
            type Scope = <$of as k8s_openapi::Resource>::Scope;
        }

        impl k8s_openapi::Metadata for $ty {
            type Ty = ObjectMeta;

            fn metadata(&self) -> &ObjectMeta {
                &self.metadata
            }

            fn metadata_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

// ---- ReplicaSet ----

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(from = "Decoded<CachedReplicaSetSpec, ReplicaSetStatus>")]
pub struct CachedReplicaSet {
    pub metadata: ObjectMeta,
    /// The `deployment.kubernetes.io/revision` annotation.
    pub revision: Option<String>,
    pub spec: Option<CachedReplicaSetSpec>,
    pub status: Option<ReplicaSetStatus>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedReplicaSetSpec {
    #[serde(default)]
    pub replicas: Option<i32>,
    #[serde(default)]
    pub min_ready_seconds: Option<i32>,
    #[serde(default)]
    pub template: Option<CachedTemplate>,
}

resource_of!(CachedReplicaSet, ReplicaSet);

impl From<Decoded<CachedReplicaSetSpec, ReplicaSetStatus>> for CachedReplicaSet {
    fn from(d: Decoded<CachedReplicaSetSpec, ReplicaSetStatus>) -> Self {
        let mut metadata = d.metadata;
        let revision = slim_meta(&mut metadata);
        let mut status = d.status;
        if let Some(c) = status.as_mut().and_then(|s| s.conditions.as_mut()) {
            c.shrink_to_fit();
        }
        CachedReplicaSet {
            metadata,
            revision,
            spec: d.spec,
            status,
        }
    }
}

impl From<&ReplicaSet> for CachedReplicaSet {
    fn from(rs: &ReplicaSet) -> Self {
        Decoded {
            metadata: rs.metadata.clone(),
            spec: rs.spec.as_ref().map(|s| CachedReplicaSetSpec {
                replicas: s.replicas,
                min_ready_seconds: s.min_ready_seconds,
                template: s.template.as_ref().map(CachedTemplate::of),
            }),
            status: rs.status.clone(),
        }
        .into()
    }
}

// ---- Deployment ----

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(from = "Decoded<CachedDeploymentSpec, DeploymentStatus>")]
pub struct CachedDeployment {
    pub metadata: ObjectMeta,
    /// The `deployment.kubernetes.io/revision` annotation.
    pub revision: Option<String>,
    pub spec: Option<CachedDeploymentSpec>,
    pub status: Option<DeploymentStatus>,
}

/// What the plan reads of a Deployment's spec. The rest (selector, minReadySeconds…) only
/// goes into a new ReplicaSet, which is made from the Deployment as read from the API.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedDeploymentSpec {
    #[serde(default)]
    pub replicas: Option<i32>,
    #[serde(default)]
    pub paused: Option<bool>,
    #[serde(default)]
    pub revision_history_limit: Option<i32>,
    #[serde(default)]
    pub strategy: Option<DeploymentStrategy>,
    /// Required, as in `DeploymentSpec`.
    pub template: TemplateFingerprint,
}

resource_of!(CachedDeployment, Deployment);

impl From<Decoded<CachedDeploymentSpec, DeploymentStatus>> for CachedDeployment {
    fn from(d: Decoded<CachedDeploymentSpec, DeploymentStatus>) -> Self {
        let mut metadata = d.metadata;
        let revision = slim_meta(&mut metadata);
        let mut status = d.status;
        if let Some(c) = status.as_mut().and_then(|s| s.conditions.as_mut()) {
            c.shrink_to_fit();
        }
        CachedDeployment {
            metadata,
            revision,
            spec: d.spec,
            status,
        }
    }
}

impl From<&Deployment> for CachedDeployment {
    fn from(d: &Deployment) -> Self {
        Decoded {
            metadata: d.metadata.clone(),
            spec: d.spec.as_ref().map(|s| CachedDeploymentSpec {
                replicas: s.replicas,
                paused: s.paused,
                revision_history_limit: s.revision_history_limit,
                strategy: s.strategy.clone(),
                template: TemplateFingerprint::of(&s.template),
            }),
            status: d.status.clone(),
        }
        .into()
    }
}

// ---- StatefulSet ----

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(from = "Decoded<CachedStatefulSetSpec, StatefulSetStatus>")]
pub struct CachedStatefulSet {
    pub metadata: ObjectMeta,
    pub spec: Option<CachedStatefulSetSpec>,
    pub status: Option<StatefulSetStatus>,
}

/// What the plan reads of a StatefulSet's spec; pods are made from the set as read from the
/// API.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedStatefulSetSpec {
    #[serde(default)]
    pub replicas: Option<i32>,
    #[serde(default)]
    pub min_ready_seconds: Option<i32>,
    #[serde(default)]
    pub pod_management_policy: Option<String>,
    #[serde(default)]
    pub update_strategy: Option<StatefulSetUpdateStrategy>,
    /// Required, as in `StatefulSetSpec`.
    pub template: TemplateFingerprint,
}

resource_of!(CachedStatefulSet, StatefulSet);

impl From<Decoded<CachedStatefulSetSpec, StatefulSetStatus>> for CachedStatefulSet {
    fn from(d: Decoded<CachedStatefulSetSpec, StatefulSetStatus>) -> Self {
        let mut metadata = d.metadata;
        // No StatefulSet annotation is read.
        let _ = slim_meta(&mut metadata);
        let mut status = d.status;
        if let Some(c) = status.as_mut().and_then(|s| s.conditions.as_mut()) {
            c.shrink_to_fit();
        }
        CachedStatefulSet {
            metadata,
            spec: d.spec,
            status,
        }
    }
}

impl From<&StatefulSet> for CachedStatefulSet {
    fn from(ss: &StatefulSet) -> Self {
        Decoded {
            metadata: ss.metadata.clone(),
            spec: ss.spec.as_ref().map(|s| CachedStatefulSetSpec {
                replicas: s.replicas,
                min_ready_seconds: s.min_ready_seconds,
                pod_management_policy: s.pod_management_policy.clone(),
                update_strategy: s.update_strategy.clone(),
                template: TemplateFingerprint::of(&s.template),
            }),
            status: ss.status.clone(),
        }
        .into()
    }
}

/// The uid and generation: the object, and (generation) the version of its spec.
fn same_spec_version(cached: &ObjectMeta, live: &ObjectMeta) -> bool {
    cached.uid == live.uid && cached.generation == live.generation
}

// What is created from a template is made from the object as read from the API; these say
// whether that object is still the cached one with the spec the plan read. If not, the cache
// is behind and the plan waits for it: creating from a newer template than the plan saw could
// make objects the plan did not mean (a ReplicaSet named for another template).

impl CachedReplicaSet {
    pub fn matches_live(&self, live: &ReplicaSet) -> bool {
        let live_cached = CachedReplicaSet::from(live);
        same_spec_version(&self.metadata, &live.metadata) && self.spec == live_cached.spec
    }
}

impl CachedDeployment {
    /// Also the collision count, which the new ReplicaSet's name depends on.
    pub fn matches_live(&self, live: &Deployment) -> bool {
        let live_cached = CachedDeployment::from(live);
        let collisions = |d: &CachedDeployment| d.status.as_ref().and_then(|s| s.collision_count);
        same_spec_version(&self.metadata, &live.metadata)
            && self.spec == live_cached.spec
            && collisions(self) == collisions(&live_cached)
    }
}

impl CachedStatefulSet {
    pub fn matches_live(&self, live: &StatefulSet) -> bool {
        let live_cached = CachedStatefulSet::from(live);
        same_spec_version(&self.metadata, &live.metadata) && self.spec == live_cached.spec
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::Resource;
    use serde_json::{Value, json};

    use super::*;

    fn template(v: Value) -> PodTemplateSpec {
        serde_json::from_value(v).expect("valid pod template json")
    }

    /// Decoded as the watch decodes: from bytes, where serde grows a Vec by doubling (from a
    /// `Value` it knows each length, so no room would be left to shrink).
    fn decode<T: serde::de::DeserializeOwned>(v: &Value) -> T {
        serde_json::from_slice(&serde_json::to_vec(v).unwrap()).expect("valid json")
    }

    /// How templates were compared while the cache held them whole: JSON values equal once
    /// the `pod-template-hash` label (and a label map it leaves empty) is removed.
    fn equal_but_for_hash_label(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
        let strip = |t: &PodTemplateSpec| {
            let mut t = t.clone();
            if let Some(m) = t.metadata.as_mut()
                && let Some(l) = m.labels.as_mut()
            {
                l.remove(POD_TEMPLATE_HASH_LABEL);
                if l.is_empty() {
                    m.labels = None;
                }
            }
            serde_json::to_value(t).unwrap()
        };
        strip(a) == strip(b)
    }

    #[test]
    fn the_fingerprint_ignores_only_the_pod_template_hash_label() {
        let base = json!({
            "metadata": {"labels": {"app": "web", "tier": "front"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1", "ports": [{"containerPort": 80}]}]}
        });
        let with = |patch: Value| {
            let mut v = base.clone();
            crate::testutil::merge(&mut v, patch);
            v
        };
        let hashed = json!({"metadata": {"labels": {"pod-template-hash": "abc"}}});
        let containers = |c: Value| json!({"spec": {"containers": c}});
        // (case, other template, same fingerprint without the label, same whole-template FNV)
        let cases: Vec<(&str, Value, bool, bool)> = vec![
            ("identical", base.clone(), true, true),
            ("hash label added", with(hashed.clone()), true, false),
            (
                "labels in another order",
                with(json!({"metadata": {"labels": {"tier": "front", "app": "web"}}})),
                true,
                true,
            ),
            (
                "another label value",
                with(json!({"metadata": {"labels": {"app": "api"}}})),
                false,
                false,
            ),
            (
                "a label more",
                with(json!({"metadata": {"labels": {"v": "2"}}})),
                false,
                false,
            ),
            (
                "a label fewer",
                with(json!({"metadata": {"labels": {"tier": null}}})),
                false,
                false,
            ),
            (
                "an annotation",
                with(json!({"metadata": {"annotations": {"a": "b"}}})),
                false,
                false,
            ),
            (
                "another image",
                with(containers(
                    json!([{"name": "c", "image": "nginx:2", "ports": [{"containerPort": 80}]}]),
                )),
                false,
                false,
            ),
            (
                "another port",
                with(containers(
                    json!([{"name": "c", "image": "nginx:1", "ports": [{"containerPort": 81}]}]),
                )),
                false,
                false,
            ),
            (
                "a container more",
                with(containers(json!([
                    {"name": "c", "image": "nginx:1", "ports": [{"containerPort": 80}]},
                    {"name": "s", "image": "envoy"}]))),
                false,
                false,
            ),
            (
                "an env var",
                with(containers(
                    json!([{"name": "c", "image": "nginx:1", "ports": [{"containerPort": 80}],
                    "env": [{"name": "A", "value": "1"}]}]),
                )),
                false,
                false,
            ),
            (
                "a pod spec field",
                with(json!({"spec": {"nodeSelector": {"disk": "ssd"}}})),
                false,
                false,
            ),
        ];
        let a = template(base.clone());
        for (name, other, same, same_fnv) in cases {
            let b = template(other);
            let (fa, fb) = (TemplateFingerprint::of(&a), TemplateFingerprint::of(&b));
            assert_eq!(
                fa.without_hash_label == fb.without_hash_label,
                same,
                "{name}"
            );
            assert_eq!(equal_but_for_hash_label(&a, &b), same, "{name}: reference");
            assert_eq!(fa.fnv == fb.fnv, same_fnv, "{name}: fnv");
            assert_eq!(fb.fnv, template_fnv(&b), "{name}: fnv is the hash's");
            // Decoding computes the same fingerprint as converting a typed template.
            let decoded: TemplateFingerprint = decode(&serde_json::to_value(&b).unwrap());
            assert_eq!(decoded, fb, "{name}: decoded");
        }
    }

    /// A hash label that is a template's only label matches no labels and empty labels alike,
    /// as the whole-template comparison did; any other label does not.
    #[test]
    fn a_label_map_emptied_by_the_hash_label_is_no_labels() {
        let spec = json!({"containers": [{"name": "c", "image": "nginx"}]});
        let only_hash = json!({"metadata": {"labels": {"pod-template-hash": "x"}}, "spec": spec});
        // (case, template, matches only_hash)
        let cases = [
            ("no metadata", json!({"spec": spec}), false),
            (
                "metadata without labels",
                json!({"metadata": {}, "spec": spec}),
                true,
            ),
            (
                "empty labels",
                json!({"metadata": {"labels": {}}, "spec": spec}),
                true,
            ),
            (
                "another hash",
                json!({"metadata": {"labels": {"pod-template-hash": "y"}}, "spec": spec}),
                true,
            ),
            (
                "another label",
                json!({"metadata": {"labels": {"app": "x"}}, "spec": spec}),
                false,
            ),
        ];
        let a = template(only_hash);
        for (name, other, want) in cases {
            let b = template(other);
            let same = TemplateFingerprint::of(&a).without_hash_label
                == TemplateFingerprint::of(&b).without_hash_label;
            assert_eq!(same, want, "{name}");
            assert_eq!(equal_but_for_hash_label(&a, &b), want, "{name}: reference");
        }
    }

    fn owner_refs() -> Value {
        json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d1",
                "controller": true, "blockOwnerDeletion": true}])
    }

    fn full_meta(name: &str) -> Value {
        json!({"name": name, "namespace": "ns", "uid": "u1", "resourceVersion": "7",
            "generation": 2, "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"app": "web", "pod-template-hash": "abc"},
            "annotations": {REVISION_ANNOTATION: "3",
                "kubectl.kubernetes.io/last-applied-configuration": "{\"big\": true}"},
            "ownerReferences": owner_refs(), "finalizers": ["foregroundDeletion"],
            "managedFields": [{"manager": "kubectl", "operation": "Update"}]})
    }

    fn pod_template() -> Value {
        json!({"metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}},
               "spec": {"containers": [{"name": "c", "image": "nginx",
                   "resources": {"limits": {"cpu": "1"}}, "args": ["-v"]}]}})
    }

    /// What every cached kind keeps of its metadata: identity, ownership, finalizers,
    /// generation and times, with Vecs shrunk; no labels, annotations or managedFields.
    fn assert_slim_meta(meta: &ObjectMeta, what: &str) {
        let want: ObjectMeta = serde_json::from_value(json!({"name": meta.name, "namespace": "ns",
            "uid": "u1", "resourceVersion": "7", "generation": 2,
            "creationTimestamp": "2026-01-01T00:00:00Z", "ownerReferences": owner_refs(),
            "finalizers": ["foregroundDeletion"]}))
        .unwrap();
        assert_eq!(meta, &want, "{what}");
        let refs = meta.owner_references.as_ref().unwrap();
        assert_eq!(refs.capacity(), refs.len(), "{what}: no room kept");
        let finalizers = meta.finalizers.as_ref().unwrap();
        assert_eq!(finalizers.capacity(), finalizers.len(), "{what}");
    }

    fn conditions(n: usize) -> Value {
        (0..n)
            .map(|i| json!({"type": format!("C{i}"), "status": "True"}))
            .collect()
    }

    #[test]
    fn a_cached_replicaset_keeps_what_the_controllers_read() {
        let full = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": full_meta("web-abc"),
            "spec": {"replicas": 3, "minReadySeconds": 5,
                "selector": {"matchLabels": {"app": "web", "pod-template-hash": "abc"}},
                "template": pod_template()},
            "status": {"replicas": 3, "readyReplicas": 2, "conditions": conditions(1)}});
        let decoded: CachedReplicaSet = decode(&full);
        let typed: ReplicaSet = serde_json::from_value(full).unwrap();
        assert_eq!(decoded, CachedReplicaSet::from(&typed));
        assert_slim_meta(&decoded.metadata, "replicaset");
        assert_eq!(decoded.revision.as_deref(), Some("3"));
        let spec = decoded.spec.as_ref().unwrap();
        assert_eq!((spec.replicas, spec.min_ready_seconds), (Some(3), Some(5)));
        let t = spec.template.as_ref().unwrap();
        let labels = [("app", "web"), ("pod-template-hash", "abc")]
            .map(|(k, v)| (k.to_string(), v.to_string()));
        assert_eq!(t.labels, labels);
        assert_eq!(t.labels.capacity(), 2);
        let full_template = typed.spec.as_ref().unwrap().template.as_ref().unwrap();
        assert_eq!(t.fingerprint, TemplateFingerprint::of(full_template));
        assert_eq!(decoded.status, typed.status);
        let conds = decoded
            .status
            .as_ref()
            .unwrap()
            .conditions
            .as_ref()
            .unwrap();
        assert_eq!(conds.capacity(), 1, "no room kept");
    }

    #[test]
    fn a_cached_deployment_keeps_what_the_controllers_read() {
        let full = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": full_meta("web"),
            "spec": {"replicas": 3, "paused": true, "revisionHistoryLimit": 4,
                "progressDeadlineSeconds": 600, "minReadySeconds": 1,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "50%", "maxUnavailable": 0}},
                "selector": {"matchLabels": {"app": "web"}}, "template": pod_template()},
            "status": {"replicas": 3, "collisionCount": 1, "observedGeneration": 2,
                "conditions": conditions(2)}});
        let decoded: CachedDeployment = decode(&full);
        let typed: Deployment = serde_json::from_value(full).unwrap();
        assert_eq!(decoded, CachedDeployment::from(&typed));
        assert_slim_meta(&decoded.metadata, "deployment");
        assert_eq!(decoded.revision.as_deref(), Some("3"));
        let spec = decoded.spec.as_ref().unwrap();
        let typed_spec = typed.spec.as_ref().unwrap();
        assert_eq!(
            (spec.replicas, spec.paused, spec.revision_history_limit),
            (Some(3), Some(true), Some(4))
        );
        assert_eq!(spec.strategy, typed_spec.strategy);
        assert_eq!(spec.template, TemplateFingerprint::of(&typed_spec.template));
        assert_eq!(decoded.status, typed.status);
        let conds = decoded
            .status
            .as_ref()
            .unwrap()
            .conditions
            .as_ref()
            .unwrap();
        assert_eq!(conds.capacity(), 2, "no room kept");
    }

    #[test]
    fn a_cached_statefulset_keeps_what_the_controllers_read() {
        let full = json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": full_meta("db"),
            "spec": {"replicas": 2, "minReadySeconds": 3, "serviceName": "db",
                "podManagementPolicy": "Parallel", "updateStrategy": {"type": "OnDelete"},
                "selector": {"matchLabels": {"app": "web"}}, "template": pod_template()},
            "status": {"replicas": 2, "currentRevision": "db-1", "conditions": conditions(3)}});
        let decoded: CachedStatefulSet = decode(&full);
        let typed: StatefulSet = serde_json::from_value(full).unwrap();
        assert_eq!(decoded, CachedStatefulSet::from(&typed));
        assert_slim_meta(&decoded.metadata, "statefulset");
        let spec = decoded.spec.as_ref().unwrap();
        let typed_spec = typed.spec.as_ref().unwrap();
        assert_eq!(
            (
                spec.replicas,
                spec.min_ready_seconds,
                spec.pod_management_policy.as_deref()
            ),
            (Some(2), Some(3), Some("Parallel"))
        );
        assert_eq!(spec.update_strategy, typed_spec.update_strategy);
        assert_eq!(spec.template, TemplateFingerprint::of(&typed_spec.template));
        assert_eq!(decoded.status, typed.status);
        let conds = decoded
            .status
            .as_ref()
            .unwrap()
            .conditions
            .as_ref()
            .unwrap();
        assert_eq!(conds.capacity(), 3, "no room kept");
    }

    #[test]
    fn cached_kinds_are_watched_as_the_kinds_they_cache() {
        let kinds = [
            (CachedReplicaSet::KIND, CachedReplicaSet::URL_PATH_SEGMENT),
            (CachedDeployment::KIND, CachedDeployment::URL_PATH_SEGMENT),
            (CachedStatefulSet::KIND, CachedStatefulSet::URL_PATH_SEGMENT),
        ];
        assert_eq!(
            kinds,
            [
                ("ReplicaSet", "replicasets"),
                ("Deployment", "deployments"),
                ("StatefulSet", "statefulsets"),
            ]
        );
        assert_eq!(CachedDeployment::API_VERSION, "apps/v1");
    }

    /// Creating from the object read from the API is creating from the cached one only when it
    /// is the same object at the same spec (and, for a Deployment, collision count).
    #[test]
    fn live_objects_match_the_cached_one_only_at_the_same_spec() {
        let base = json!({"metadata": {"name": "web", "namespace": "ns", "uid": "u1",
                "generation": 2, "resourceVersion": "7"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                "template": pod_template()},
            "status": {"replicas": 2, "collisionCount": 1}});
        let with = |patch: Value| {
            let mut v = base.clone();
            crate::testutil::merge(&mut v, patch);
            v
        };
        let image = |i: &str| json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": i}]}}}});
        // (case, live object, matches for a ReplicaSet, for a Deployment)
        let cases = [
            ("unchanged", base.clone(), true, true),
            (
                "status and resourceVersion moved on",
                with(json!({"metadata": {"resourceVersion": "9"}, "status": {"replicas": 1}})),
                true,
                true,
            ),
            (
                "annotations changed",
                with(json!({"metadata": {"annotations": {"a": "b"}}})),
                true,
                true,
            ),
            (
                "recreated",
                with(json!({"metadata": {"uid": "u2"}})),
                false,
                false,
            ),
            (
                "spec changed",
                with(json!({"metadata": {"generation": 3}, "spec": {"replicas": 3}})),
                false,
                false,
            ),
            (
                "template changed",
                with(merged(
                    json!({"metadata": {"generation": 3}}),
                    image("nginx:2"),
                )),
                false,
                false,
            ),
            (
                "a newer generation, whatever changed",
                with(json!({"metadata": {"generation": 3}})),
                false,
                false,
            ),
            (
                "collision count bumped",
                with(json!({"status": {"collisionCount": 2}})),
                true,
                false,
            ),
        ];
        let cached_rs: CachedReplicaSet = serde_json::from_value(base.clone()).unwrap();
        let cached_d: CachedDeployment = serde_json::from_value(base.clone()).unwrap();
        for (name, live, rs_matches, d_matches) in cases {
            let live_rs: ReplicaSet = serde_json::from_value(live.clone()).unwrap();
            assert_eq!(cached_rs.matches_live(&live_rs), rs_matches, "{name}: rs");
            let live_d: Deployment = serde_json::from_value(live.clone()).unwrap();
            assert_eq!(
                cached_d.matches_live(&live_d),
                d_matches,
                "{name}: deployment"
            );
        }
        let cached_ss: CachedStatefulSet = serde_json::from_value(base.clone()).unwrap();
        let live_ss: StatefulSet = serde_json::from_value(base).unwrap();
        assert!(cached_ss.matches_live(&live_ss));
        let mut moved = live_ss.clone();
        moved.metadata.generation = Some(3);
        assert!(!cached_ss.matches_live(&moved));
    }

    fn merged(mut a: Value, b: Value) -> Value {
        crate::testutil::merge(&mut a, b);
        a
    }
}
