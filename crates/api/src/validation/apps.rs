//! apps/v1 workloads: Deployments, ReplicaSets and StatefulSets.

use super::meta::{self, MetaRules};
use super::names;
use super::pod::validate_pod_template_spec;
use super::render::{self, quote};
use super::{Path, Validate, dedup};
use crate::k8s::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, ReplicaSet, ReplicaSetSpec,
    RollingUpdateStatefulSetStrategy, StatefulSet, StatefulSetSpec, StatefulSetUpdateStrategy,
};
use crate::k8s::api::core::v1::PodTemplateSpec;
use crate::k8s::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use crate::k8s::apimachinery::pkg::util::intstr::IntOrString;
use crate::{CauseType, FieldError};

const SUBDOMAIN_RULES: MetaRules = MetaRules::NAMESPACED_SUBDOMAIN;
/// StatefulSet names become pod host names, so they must be DNS labels.
const STATEFULSET_RULES: MetaRules = MetaRules {
    namespaced: true,
    name_fn: names::name_is_dns_label,
    kube_finalizers: true,
};

fn nonneg(value: Option<i32>, path: &Path) -> Option<FieldError> {
    meta::validate_nonnegative(i64::from(value.unwrap_or(0)), path)
}

/// An absent selector (Go's nil) and `{}` decode alike; we treat both as absent, which is
/// what a manifest without `selector` produces.
fn selector_is_nil(sel: &LabelSelector) -> bool {
    sel.match_labels.is_none() && sel.match_expressions.is_none()
}

/// The selector rules shared by all three kinds; `kind` names the kind in the "empty
/// selector" message (upstream says "deployment" for ReplicaSets too).
fn validate_selector(sel: &LabelSelector, kind: &str, path: &Path) -> Vec<FieldError> {
    if selector_is_nil(sel) {
        return vec![FieldError::required(path, "")];
    }
    let mut errs = meta::validate_label_selector(sel, path);
    if meta::selector_is_empty(sel) {
        errs.push(FieldError::invalid(
            path,
            render::label_selector(sel),
            &format!("empty selector is invalid for {kind}"),
        ));
    }
    errs
}

/// The template's labels must be selected by the selector, else the controller would never
/// see its own pods. A nil selector selects nothing; an empty one everything.
fn validate_selector_matches_template(
    sel: &LabelSelector,
    template: &PodTemplateSpec,
    path: &Path,
) -> Option<FieldError> {
    let labels = template.metadata.as_ref().and_then(|m| m.labels.as_ref());
    let matches = if selector_is_nil(sel) {
        false
    } else {
        meta::selector_is_empty(sel) || meta::selector_matches(sel, labels)
    };
    (!matches).then(|| {
        FieldError::invalid(
            path.child("metadata").child("labels"),
            render::string_map(labels),
            "`selector` does not match template `labels`",
        )
    })
}

/// `ValidatePodTemplateSpecForReplicaSet`: selector match, full pod template validation,
/// and the restart policy a controller can honour.
fn validate_controller_template(
    sel: &LabelSelector,
    template: &PodTemplateSpec,
    path: &Path,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    errs.extend(validate_selector_matches_template(sel, template, path));
    errs.extend(validate_pod_template_spec(template, path));
    let spec = template.spec.as_ref();
    let restart = spec
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or_default();
    if restart != "Always" {
        errs.push(FieldError::not_supported(
            path.child("spec").child("restartPolicy"),
            restart,
            &["Always"],
        ));
    }
    if spec.is_some_and(|s| s.active_deadline_seconds.is_some()) {
        errs.push(FieldError::forbidden(
            path.child("spec").child("activeDeadlineSeconds"),
            "activeDeadlineSeconds in ReplicaSet is not Supported",
        ));
    }
    errs
}

/// Selectors of apps/v1 controllers never change: the controller would orphan its pods.
fn validate_selector_immutable(new: &LabelSelector, old: &LabelSelector) -> Option<FieldError> {
    // Semantic equality: an empty map equals a missing one.
    let norm = |sel: &LabelSelector| {
        (
            sel.match_labels.clone().unwrap_or_default(),
            sel.match_expressions.clone().unwrap_or_default(),
        )
    };
    (norm(new) != norm(old)).then(|| {
        FieldError::invalid(
            "spec.selector",
            render::label_selector(new),
            meta::FIELD_IMMUTABLE,
        )
    })
}

// ---------------------------------------------------------------------------------------
// Deployments

impl Validate for Deployment {
    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        validate_replicated(
            (&self.metadata, self.spec.as_ref()),
            old.map(|o| (&o.metadata, o.spec.as_ref())),
            validate_deployment_spec,
            |spec| &spec.selector,
        )
    }
}

/// Deployments and ReplicaSets alike: metadata, the spec, and a selector that may not change.
fn validate_replicated<S: Clone + Default>(
    new: (&ObjectMeta, Option<&S>),
    old: Option<(&ObjectMeta, Option<&S>)>,
    validate_spec: fn(&S) -> Vec<FieldError>,
    selector: fn(&S) -> &LabelSelector,
) -> Vec<FieldError> {
    let mut errs = meta::validate_meta_for(new.0, old.map(|o| o.0), SUBDOMAIN_RULES, false);
    let spec = new.1.cloned().unwrap_or_default();
    errs.extend(validate_spec(&spec));
    if let Some((_, old_spec)) = old {
        let old_spec = old_spec.cloned().unwrap_or_default();
        errs.extend(validate_selector_immutable(
            selector(&spec),
            selector(&old_spec),
        ));
    }
    dedup(errs)
}

fn validate_deployment_spec(spec: &DeploymentSpec) -> Vec<FieldError> {
    let path = Path::new("spec");
    let mut errs = Vec::new();
    errs.extend(nonneg(spec.replicas, &path.child("replicas")));
    errs.extend(validate_selector(
        &spec.selector,
        "deployment",
        &path.child("selector"),
    ));
    errs.extend(validate_controller_template(
        &spec.selector,
        &spec.template,
        &path.child("template"),
    ));
    errs.extend(validate_deployment_strategy(
        spec.strategy.as_ref(),
        &path.child("strategy"),
    ));
    errs.extend(nonneg(
        spec.min_ready_seconds,
        &path.child("minReadySeconds"),
    ));
    if let Some(limit) = spec.revision_history_limit {
        errs.extend(nonneg(Some(limit), &path.child("revisionHistoryLimit")));
    }
    if let Some(deadline) = spec.progress_deadline_seconds {
        let p = path.child("progressDeadlineSeconds");
        errs.extend(nonneg(Some(deadline), &p));
        if deadline <= spec.min_ready_seconds.unwrap_or(0) {
            errs.push(FieldError::invalid(
                &p,
                deadline,
                "must be greater than minReadySeconds",
            ));
        }
    }
    errs
}

/// The integer a maxSurge/maxUnavailable stands for when compared with zero: a valid
/// percentage's number, else the integer (a malformed string counts as 0, as upstream).
fn int_or_percent_value(v: &IntOrString) -> i64 {
    match v {
        IntOrString::Int(i) => i64::from(*i),
        IntOrString::String(s) => s.strip_suffix('%').unwrap_or(s).parse().unwrap_or(0),
    }
}

fn validate_positive_int_or_percent(v: &IntOrString, path: &Path) -> Vec<FieldError> {
    match v {
        IntOrString::String(s) => names::is_valid_percent(s)
            .into_iter()
            .map(|m| FieldError::invalid(path, render::int_or_string(v), &m))
            .collect(),
        IntOrString::Int(i) => meta::validate_nonnegative(i64::from(*i), path)
            .into_iter()
            .collect(),
    }
}

fn is_not_more_than_100_percent(v: &IntOrString, path: &Path) -> Option<FieldError> {
    let IntOrString::String(s) = v else {
        return None;
    };
    let percent: i64 = s.strip_suffix('%')?.parse().ok()?;
    (percent > 100).then(|| {
        FieldError::invalid(
            path,
            render::int_or_string(v),
            "must not be greater than 100%",
        )
    })
}

fn validate_deployment_strategy(
    strategy: Option<&DeploymentStrategy>,
    path: &Path,
) -> Vec<FieldError> {
    let default = DeploymentStrategy::default();
    let strategy = strategy.unwrap_or(&default);
    let mut errs = Vec::new();
    match strategy.type_.as_deref().unwrap_or_default() {
        "Recreate" => {
            if strategy.rolling_update.is_some() {
                errs.push(FieldError::forbidden(
                    path.child("rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => match &strategy.rolling_update {
            None => errs.push(FieldError::required(
                path.child("rollingUpdate"),
                "this should be defaulted and never be nil",
            )),
            Some(ru) => {
                let p = path.child("rollingUpdate");
                let zero = IntOrString::Int(0);
                let max_unavailable = ru.max_unavailable.as_ref().unwrap_or(&zero);
                let max_surge = ru.max_surge.as_ref().unwrap_or(&zero);
                errs.extend(validate_positive_int_or_percent(
                    max_unavailable,
                    &p.child("maxUnavailable"),
                ));
                errs.extend(validate_positive_int_or_percent(
                    max_surge,
                    &p.child("maxSurge"),
                ));
                if int_or_percent_value(max_unavailable) == 0
                    && int_or_percent_value(max_surge) == 0
                {
                    errs.push(FieldError::invalid(
                        p.child("maxUnavailable"),
                        render::int_or_string(max_unavailable),
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                errs.extend(is_not_more_than_100_percent(
                    max_unavailable,
                    &p.child("maxUnavailable"),
                ));
            }
        },
        other => {
            let rolling = match strategy.rolling_update {
                None => "(*apps.RollingUpdateDeployment)(nil)",
                Some(_) => "&apps.RollingUpdateDeployment{...}",
            };
            // NotSupported with a struct value: error.rs' constructor would quote it.
            errs.push(FieldError {
                field: path.into(),
                cause: CauseType::NotSupported,
                message: format!(
                    "Unsupported value: apps.DeploymentStrategy{{Type:{}, RollingUpdate:{rolling}}}: supported values: \"Recreate\", \"RollingUpdate\"",
                    quote(other)
                ),
            });
        }
    }
    errs
}

// ---------------------------------------------------------------------------------------
// ReplicaSets

impl Validate for ReplicaSet {
    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        validate_replicated(
            (&self.metadata, self.spec.as_ref()),
            old.map(|o| (&o.metadata, o.spec.as_ref())),
            validate_replica_set_spec,
            |spec| &spec.selector,
        )
    }
}

fn validate_replica_set_spec(spec: &ReplicaSetSpec) -> Vec<FieldError> {
    let path = Path::new("spec");
    let mut errs = Vec::new();
    errs.extend(nonneg(spec.replicas, &path.child("replicas")));
    errs.extend(nonneg(
        spec.min_ready_seconds,
        &path.child("minReadySeconds"),
    ));
    errs.extend(validate_selector(
        &spec.selector,
        "deployment",
        &path.child("selector"),
    ));
    let template = spec.template.clone().unwrap_or_default();
    errs.extend(validate_controller_template(
        &spec.selector,
        &template,
        &path.child("template"),
    ));
    errs
}

// ---------------------------------------------------------------------------------------
// StatefulSets

impl Validate for StatefulSet {
    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let mut errs = meta::validate_meta_for(
            &self.metadata,
            old.map(|o| &o.metadata),
            STATEFULSET_RULES,
            false,
        );
        let spec = self.spec.clone().unwrap_or_default();
        errs.extend(validate_stateful_set_spec(&spec));
        if let Some(old) = old {
            let old_spec = old.spec.clone().unwrap_or_default();
            let mut munged = spec.clone();
            munged.replicas = old_spec.replicas;
            munged.template = old_spec.template.clone();
            munged.update_strategy = old_spec.update_strategy.clone();
            munged.min_ready_seconds = old_spec.min_ready_seconds;
            munged.ordinals = old_spec.ordinals.clone();
            munged.persistent_volume_claim_retention_policy =
                old_spec.persistent_volume_claim_retention_policy.clone();
            if munged != old_spec {
                errs.push(FieldError::forbidden(
                    "spec",
                    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                ));
            }
        }
        dedup(errs)
    }
}

fn render_rolling_update_sts(ru: &RollingUpdateStatefulSetStrategy) -> String {
    let max = ru
        .max_unavailable
        .as_ref()
        .map_or("(*intstr.IntOrString)(nil)".to_string(), |v| {
            format!("&{}", render::int_or_string(v))
        });
    format!(
        "apps.RollingUpdateStatefulSetStrategy{{Partition:{}, MaxUnavailable:{max}}}",
        ru.partition.unwrap_or(0)
    )
}

fn validate_stateful_set_spec(spec: &StatefulSetSpec) -> Vec<FieldError> {
    let path = Path::new("spec");
    let mut errs = Vec::new();
    match spec.pod_management_policy.as_deref().unwrap_or_default() {
        "" => errs.push(FieldError::required(path.child("podManagementPolicy"), "")),
        "OrderedReady" | "Parallel" => {}
        other => errs.push(FieldError::invalid(
            path.child("podManagementPolicy"),
            quote(other),
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }

    let default_strategy = StatefulSetUpdateStrategy::default();
    let strategy = spec.update_strategy.as_ref().unwrap_or(&default_strategy);
    let strategy_path = path.child("updateStrategy");
    match strategy.type_.as_deref().unwrap_or_default() {
        "" => errs.push(FieldError::required(&strategy_path, "")),
        "OnDelete" => {
            if let Some(ru) = &strategy.rolling_update {
                errs.push(FieldError::invalid(
                    strategy_path.child("rollingUpdate"),
                    render_rolling_update_sts(ru),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            if let Some(ru) = &strategy.rolling_update {
                let p = strategy_path.child("rollingUpdate");
                errs.extend(nonneg(ru.partition, &p.child("partition")));
                if let Some(max) = &ru.max_unavailable {
                    let mp = p.child("maxUnavailable");
                    errs.extend(validate_positive_int_or_percent(max, &mp));
                    if int_or_percent_value(max) == 0 {
                        errs.push(FieldError::invalid(
                            &mp,
                            render::int_or_string(max),
                            "cannot be 0",
                        ));
                    }
                    errs.extend(is_not_more_than_100_percent(max, &mp));
                }
            }
        }
        other => {
            let ru = strategy.rolling_update.as_ref().map_or(
                "(*apps.RollingUpdateStatefulSetStrategy)(nil)".to_string(),
                |ru| format!("&{}", render_rolling_update_sts(ru)),
            );
            errs.push(FieldError::invalid(
                &strategy_path,
                format!(
                    "apps.StatefulSetUpdateStrategy{{Type:{}, RollingUpdate:{ru}}}",
                    quote(other)
                ),
                "must be 'RollingUpdate' or 'OnDelete'",
            ));
        }
    }

    if let Some(policy) = &spec.persistent_volume_claim_retention_policy {
        let p = path.child("persistentVolumeClaimRetentionPolicy");
        for (field, value) in [
            ("whenDeleted", &policy.when_deleted),
            ("whenScaled", &policy.when_scaled),
        ] {
            let value = value.as_deref().unwrap_or_default();
            if !["Retain", "Delete"].contains(&value) {
                errs.push(FieldError::not_supported(
                    p.child(field),
                    value,
                    &["Retain", "Delete"],
                ));
            }
        }
    }
    errs.extend(nonneg(spec.replicas, &path.child("replicas")));
    errs.extend(nonneg(
        spec.min_ready_seconds,
        &path.child("minReadySeconds"),
    ));
    if let Some(ordinals) = &spec.ordinals {
        // Upstream names this path with a dotted child.
        errs.extend(nonneg(ordinals.start, &path.child("ordinals.start")));
    }

    errs.extend(validate_selector(
        &spec.selector,
        "statefulset",
        &path.child("selector"),
    ));
    let template_path = path.child("template");
    let template = &spec.template;
    // StatefulSet templates get no pod-spec validation upstream (volume claim templates
    // would fail the volume checks); only labels and annotations are checked.
    errs.extend(validate_selector_matches_template(
        &spec.selector,
        template,
        &template_path,
    ));
    let template_meta = template.metadata.as_ref();
    errs.extend(meta::validate_labels(
        template_meta.and_then(|m| m.labels.as_ref()),
        &template_path.child("labels"),
    ));
    errs.extend(meta::validate_annotations(
        template_meta.and_then(|m| m.annotations.as_ref()),
        &template_path.child("annotations"),
    ));
    let pod_spec = template.spec.as_ref();
    let restart = pod_spec
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or_default();
    if restart != "Always" {
        errs.push(FieldError::not_supported(
            template_path.child("spec").child("restartPolicy"),
            restart,
            &["Always"],
        ));
    }
    if pod_spec.is_some_and(|s| s.active_deadline_seconds.is_some()) {
        errs.push(FieldError::forbidden(
            template_path.child("spec").child("activeDeadlineSeconds"),
            "activeDeadlineSeconds in StatefulSet is not Supported",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::defaults::ApplyDefaults;
    use crate::k8s::api::apps::v1::RollingUpdateDeployment;
    use crate::k8s::api::core::v1::{Container, PodSpec};
    use crate::k8s::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use crate::validation::tests::{assert_errors, meta, strs};

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn template(app: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(labels(&[("app", app)])),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "web".into(),
                    image: Some("nginx".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    fn selector(app: &str) -> LabelSelector {
        LabelSelector {
            match_labels: Some(labels(&[("app", app)])),
            match_expressions: None,
        }
    }

    fn deployment(f: impl FnOnce(&mut DeploymentSpec)) -> Deployment {
        let mut spec = DeploymentSpec {
            selector: selector("web"),
            template: template("web"),
            ..Default::default()
        };
        f(&mut spec);
        let mut d = Deployment {
            metadata: meta("default", "web"),
            spec: Some(spec),
            ..Default::default()
        };
        d.apply_defaults();
        d
    }

    /// Changes made after defaulting.
    fn deployment_after(f: impl FnOnce(&mut DeploymentSpec)) -> Deployment {
        let mut d = deployment(|_| {});
        f(d.spec.as_mut().unwrap());
        d
    }

    #[test]
    fn deployment_create_cases() {
        let cases: Vec<(&str, Deployment, Vec<String>)> = vec![
            ("valid", deployment(|_| {}), vec![]),
            (
                "selector does not match",
                deployment(|s| s.selector = selector("api")),
                strs(&[
                    "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
                ]),
            ),
            (
                "missing selector",
                deployment(|s| s.selector = LabelSelector::default()),
                strs(&[
                    "spec.selector: Required value",
                    "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
                ]),
            ),
            (
                "empty selector",
                deployment(|s| {
                    s.selector = LabelSelector {
                        match_labels: Some(BTreeMap::new()),
                        match_expressions: None,
                    }
                }),
                strs(&[
                    "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment",
                ]),
            ),
            (
                "negative replicas",
                deployment(|s| s.replicas = Some(-1)),
                strs(&["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]),
            ),
            (
                "restart policy Never",
                deployment(|s| {
                    s.template.spec.as_mut().unwrap().restart_policy = Some("Never".into())
                }),
                strs(&[
                    "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
                ]),
            ),
            (
                "container without image",
                deployment(|s| s.template.spec.as_mut().unwrap().containers[0].image = None),
                strs(&["spec.template.spec.containers[0].image: Required value"]),
            ),
            (
                "zero surge and unavailable",
                deployment(|s| {
                    s.strategy = Some(DeploymentStrategy {
                        type_: Some("RollingUpdate".into()),
                        rolling_update: Some(RollingUpdateDeployment {
                            max_surge: Some(IntOrString::Int(0)),
                            max_unavailable: Some(IntOrString::Int(0)),
                        }),
                    })
                }),
                strs(&[
                    "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may not be 0 when `maxSurge` is 0",
                ]),
            ),
            (
                "recreate with rolling update",
                deployment_after(|s| s.strategy.as_mut().unwrap().type_ = Some("Recreate".into())),
                strs(&[
                    "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'",
                ]),
            ),
            (
                "bad percent",
                deployment(|s| {
                    s.strategy = Some(DeploymentStrategy {
                        type_: Some("RollingUpdate".into()),
                        rolling_update: Some(RollingUpdateDeployment {
                            max_surge: Some(IntOrString::String("25".into())),
                            max_unavailable: Some(IntOrString::String("150%".into())),
                        }),
                    })
                }),
                strs(&[
                    "spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"25\"}: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
                    "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"150%\"}: must not be greater than 100%",
                ]),
            ),
            (
                "negative revision history",
                deployment(|s| s.revision_history_limit = Some(-1)),
                strs(&[
                    "spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
                ]),
            ),
            (
                "deadline below min ready",
                deployment(|s| {
                    s.min_ready_seconds = Some(700);
                }),
                strs(&[
                    "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds",
                ]),
            ),
        ];
        for (name, d, want) in cases {
            assert_errors(name, &d.validate(None), &want);
        }
    }

    #[test]
    fn deployment_update_cases() {
        let old = deployment(|_| {});
        let scaled = deployment(|s| s.replicas = Some(3));
        assert_errors("scale", &scaled.validate(Some(&old)), &[] as &[&str]);
        let reselected = deployment(|s| {
            s.selector = selector("web2");
            s.template = template("web2");
        });
        assert_errors(
            "selector change",
            &reselected.validate(Some(&old)),
            &[
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable",
            ],
        );
    }

    fn replica_set(f: impl FnOnce(&mut ReplicaSetSpec)) -> ReplicaSet {
        let mut spec = ReplicaSetSpec {
            selector: selector("web"),
            template: Some(template("web")),
            ..Default::default()
        };
        f(&mut spec);
        let mut rs = ReplicaSet {
            metadata: meta("default", "web-5d4f"),
            spec: Some(spec),
            ..Default::default()
        };
        rs.apply_defaults();
        rs
    }

    #[test]
    fn replica_set_cases() {
        let cases: Vec<(&str, ReplicaSet, Vec<String>)> = vec![
            ("valid", replica_set(|_| {}), vec![]),
            (
                "mismatch",
                replica_set(|s| s.selector = selector("x")),
                strs(&[
                    "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
                ]),
            ),
            (
                "active deadline",
                replica_set(|s| {
                    s.template
                        .as_mut()
                        .unwrap()
                        .spec
                        .as_mut()
                        .unwrap()
                        .active_deadline_seconds = Some(5)
                }),
                strs(&[
                    "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported",
                ]),
            ),
        ];
        for (name, rs, want) in cases {
            assert_errors(name, &rs.validate(None), &want);
        }
        let old = replica_set(|_| {});
        let new = replica_set(|s| s.selector = selector("web").clone());
        assert_errors("same selector", &new.validate(Some(&old)), &[] as &[&str]);
    }

    fn stateful_set(f: impl FnOnce(&mut StatefulSetSpec)) -> StatefulSet {
        let mut spec = StatefulSetSpec {
            selector: selector("db"),
            template: template("db"),
            service_name: Some("db".into()),
            ..Default::default()
        };
        f(&mut spec);
        let mut sts = StatefulSet {
            metadata: meta("default", "db"),
            spec: Some(spec),
            ..Default::default()
        };
        sts.apply_defaults();
        sts
    }

    #[test]
    fn stateful_set_cases() {
        let cases: Vec<(&str, StatefulSet, Vec<String>)> = vec![
            ("valid", stateful_set(|_| {}), vec![]),
            (
                "valid without service name",
                stateful_set(|s| s.service_name = None),
                vec![],
            ),
            (
                "dotted name",
                StatefulSet {
                    metadata: meta("default", "db.v1"),
                    ..stateful_set(|_| {})
                },
                strs(&["metadata.name: Invalid value: \"db.v1\": must not contain dots"]),
            ),
            (
                "bad pod management policy",
                stateful_set(|s| s.pod_management_policy = Some("Random".into())),
                strs(&[
                    "spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'",
                ]),
            ),
            (
                "empty selector",
                stateful_set(|s| {
                    s.selector = LabelSelector {
                        match_labels: Some(BTreeMap::new()),
                        match_expressions: None,
                    }
                }),
                strs(&[
                    "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for statefulset",
                ]),
            ),
            (
                "negative partition",
                stateful_set(|s| {
                    s.update_strategy = Some(StatefulSetUpdateStrategy {
                        type_: Some("RollingUpdate".into()),
                        rolling_update: Some(RollingUpdateStatefulSetStrategy {
                            partition: Some(-1),
                            max_unavailable: None,
                        }),
                    })
                }),
                strs(&[
                    "spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or equal to 0",
                ]),
            ),
            (
                "restart policy OnFailure",
                stateful_set(|s| {
                    s.template.spec.as_mut().unwrap().restart_policy = Some("OnFailure".into())
                }),
                strs(&[
                    "spec.template.spec.restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\"",
                ]),
            ),
        ];
        for (name, sts, want) in cases {
            assert_errors(name, &sts.validate(None), &want);
        }
        let old = stateful_set(|_| {});
        assert_errors(
            "scale",
            &stateful_set(|s| s.replicas = Some(5)).validate(Some(&old)),
            &[] as &[&str],
        );
        assert_errors(
            "service name change",
            &stateful_set(|s| s.service_name = Some("other".into())).validate(Some(&old)),
            &[
                "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            ],
        );
    }
}
