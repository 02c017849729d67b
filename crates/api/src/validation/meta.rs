//! ObjectMeta, labels, annotations and label selectors (apimachinery's `api/validation` and
//! `apis/meta/v1/validation`).

use std::collections::BTreeMap;

use super::Path;
use super::names::{self, NameFn};
use super::render::{self, quote};
use crate::FieldError;
use crate::k8s::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};

/// Total size of all annotation keys and values.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// The detail of every immutability error.
pub const FIELD_IMMUTABLE: &str = "field is immutable";

/// The detail of every "must not be negative" error.
pub const IS_NEGATIVE: &str = "must be greater than or equal to 0";

/// Finalizers that need no domain prefix (core's `IsStandardFinalizerName`).
const STANDARD_FINALIZERS: &[&str] = &["kubernetes", "orphan", "foregroundDeletion"];

/// How a kind's metadata is checked.
#[derive(Clone, Copy)]
pub struct MetaRules {
    /// Namespaced kinds must carry a namespace; cluster-scoped ones must not.
    pub namespaced: bool,
    /// The format the kind's names must have.
    pub name_fn: NameFn,
    /// Core kinds (and apps) additionally require unprefixed finalizers to be standard ones;
    /// apimachinery-only kinds such as Lease do not.
    pub kube_finalizers: bool,
}

impl MetaRules {
    /// A namespaced kind named by DNS-1123 subdomains: the common case.
    pub const NAMESPACED_SUBDOMAIN: MetaRules = MetaRules {
        namespaced: true,
        name_fn: names::name_is_dns_subdomain,
        kube_finalizers: true,
    };
}

/// Metadata checks for a create, and for the parts of an update that re-validate the whole
/// object.
pub fn validate_object_meta(meta: &ObjectMeta, rules: MetaRules) -> Vec<FieldError> {
    let path = Path::new("metadata");
    let mut errs = Vec::new();
    let name = meta.name.as_deref().unwrap_or_default();
    let generate_name = meta.generate_name.as_deref().unwrap_or_default();

    if !generate_name.is_empty() {
        for msg in (rules.name_fn)(generate_name, true) {
            errs.push(FieldError::invalid(
                path.child("generateName"),
                quote(generate_name),
                &msg,
            ));
        }
    }
    if name.is_empty() {
        // kube-apiserver generates the name from generateName before it validates, so a
        // generateName alone is enough here.
        if generate_name.is_empty() {
            errs.push(FieldError::required(
                path.child("name"),
                "name or generateName is required",
            ));
        }
    } else {
        for msg in (rules.name_fn)(name, false) {
            errs.push(FieldError::invalid(path.child("name"), quote(name), &msg));
        }
    }

    let namespace = meta.namespace.as_deref().unwrap_or_default();
    if rules.namespaced {
        if namespace.is_empty() {
            errs.push(FieldError::required(path.child("namespace"), ""));
        } else {
            for msg in names::name_is_dns_label(namespace, false) {
                errs.push(FieldError::invalid(
                    path.child("namespace"),
                    quote(namespace),
                    &msg,
                ));
            }
        }
    } else if !namespace.is_empty() {
        errs.push(FieldError::forbidden(
            path.child("namespace"),
            "not allowed on this type",
        ));
    }

    if let Some(generation) = meta.generation.filter(|g| *g < 0) {
        errs.push(FieldError::invalid(
            path.child("generation"),
            generation,
            IS_NEGATIVE,
        ));
    }
    errs.extend(validate_labels(meta.labels.as_ref(), &path.child("labels")));
    errs.extend(validate_annotations(
        meta.annotations.as_ref(),
        &path.child("annotations"),
    ));
    errs.extend(validate_owner_references(
        meta.owner_references.as_deref().unwrap_or_default(),
        &path,
    ));
    errs.extend(validate_finalizers(
        meta.finalizers.as_deref().unwrap_or_default(),
        &path.child("finalizers"),
    ));
    if rules.kube_finalizers {
        errs.extend(validate_kube_finalizers(
            meta.finalizers.as_deref().unwrap_or_default(),
            &path,
        ));
    }
    errs
}

/// Metadata checks of an update: identity fields may not change.
///
/// kube-apiserver copies generation, resourceVersion (for unconditional updates), a missing
/// uid or creationTimestamp and the deletion fields from the stored object before validating,
/// so those are not checked here. Reported: a different name, namespace, uid or
/// creationTimestamp, and new finalizers on an object being deleted.
pub fn validate_object_meta_update(
    new: &ObjectMeta,
    old: &ObjectMeta,
    rules: MetaRules,
) -> Vec<FieldError> {
    let path = Path::new("metadata");
    let mut errs = Vec::new();

    if old.deletion_timestamp.is_some() {
        let old_finalizers = old.finalizers.as_deref().unwrap_or_default();
        let mut extra: Vec<&String> = new
            .finalizers
            .iter()
            .flatten()
            .filter(|f| !old_finalizers.contains(f))
            .collect();
        extra.sort();
        extra.dedup();
        if !extra.is_empty() {
            let list: Vec<String> = extra.iter().map(|f| quote(f)).collect();
            errs.push(FieldError::forbidden(
                path.child("finalizers"),
                &format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    list.join(", ")
                ),
            ));
        }
    }

    let new_name = new.name.as_deref().unwrap_or_default();
    if new_name != old.name.as_deref().unwrap_or_default() {
        errs.push(FieldError::invalid(
            path.child("name"),
            quote(new_name),
            FIELD_IMMUTABLE,
        ));
    }
    let new_ns = new.namespace.as_deref().unwrap_or_default();
    if new_ns != old.namespace.as_deref().unwrap_or_default() {
        errs.push(FieldError::invalid(
            path.child("namespace"),
            quote(new_ns),
            FIELD_IMMUTABLE,
        ));
    }
    if let Some(uid) = new.uid.as_deref().filter(|u| !u.is_empty())
        && Some(uid) != old.uid.as_deref()
    {
        errs.push(FieldError::invalid(
            path.child("uid"),
            quote(uid),
            FIELD_IMMUTABLE,
        ));
    }
    if let (Some(new_ts), Some(old_ts)) = (&new.creation_timestamp, &old.creation_timestamp)
        && new_ts != old_ts
    {
        errs.push(FieldError::invalid(
            path.child("creationTimestamp"),
            render::time(Some(new_ts)),
            FIELD_IMMUTABLE,
        ));
    }

    errs.extend(validate_labels(new.labels.as_ref(), &path.child("labels")));
    errs.extend(validate_annotations(
        new.annotations.as_ref(),
        &path.child("annotations"),
    ));
    errs.extend(validate_owner_references(
        new.owner_references.as_deref().unwrap_or_default(),
        &path,
    ));
    if rules.kube_finalizers {
        errs.extend(validate_kube_finalizers(
            new.finalizers.as_deref().unwrap_or_default(),
            &path,
        ));
    }
    errs
}

/// Create checks, or update checks plus (when `revalidate`) the create checks again, which is
/// what most kinds' update validation does upstream.
pub fn validate_meta_for(
    new: &ObjectMeta,
    old: Option<&ObjectMeta>,
    rules: MetaRules,
    revalidate_on_update: bool,
) -> Vec<FieldError> {
    match old {
        None => validate_object_meta(new, rules),
        Some(old) => {
            let mut errs = validate_object_meta_update(new, old, rules);
            if revalidate_on_update {
                errs.extend(validate_object_meta(new, rules));
            }
            errs
        }
    }
}

/// A label key.
pub fn validate_label_name(key: &str, path: &Path) -> Vec<FieldError> {
    names::is_qualified_name(key)
        .into_iter()
        .map(|msg| FieldError::invalid(path, quote(key), &msg))
        .collect()
}

/// Label keys and values; errors point at the map, not the entry, as upstream.
pub fn validate_labels(labels: Option<&BTreeMap<String, String>>, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (key, value) in labels.into_iter().flatten() {
        errs.extend(validate_label_name(key, path));
        for msg in names::is_valid_label_value(value) {
            errs.push(FieldError::invalid(path, quote(value), &msg));
        }
    }
    errs
}

/// Annotation keys (case-insensitive qualified names) and their total size.
pub fn validate_annotations(
    annotations: Option<&BTreeMap<String, String>>,
    path: &Path,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut total = 0usize;
    for (key, value) in annotations.into_iter().flatten() {
        for msg in names::is_qualified_name(&key.to_lowercase()) {
            errs.push(FieldError::invalid(path, quote(key), &msg));
        }
        total += key.len() + value.len();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
    errs
}

/// `%#v` of an owner reference, for the rare errors that print one. Go prints the address
/// of pointer fields, which we cannot reproduce; we print `(*bool)(nil)` or the value.
fn render_owner_reference(r: &OwnerReference) -> String {
    let opt_bool = |b: Option<bool>| b.map_or("(*bool)(nil)".to_string(), |b| format!("&{b}"));
    format!(
        "v1.OwnerReference{{APIVersion:{}, Kind:{}, Name:{}, UID:{}, Controller:{}, BlockOwnerDeletion:{}}}",
        quote(&r.api_version),
        quote(&r.kind),
        quote(&r.name),
        quote(&r.uid),
        opt_bool(r.controller),
        opt_bool(r.block_owner_deletion)
    )
}

fn validate_owner_references(refs: &[OwnerReference], meta_path: &Path) -> Vec<FieldError> {
    let path = meta_path.child("ownerReferences");
    let mut errs = Vec::new();
    let mut first_controller: Option<String> = None;
    for r in refs {
        // "group/version" or just "version"; the version is what follows the last slash.
        let version = r.api_version.rsplit('/').next().unwrap_or_default();
        let group = r.api_version.rsplit_once('/').map_or("", |(g, _)| g);
        if version.is_empty() {
            errs.push(FieldError::invalid(
                path.child("apiVersion"),
                quote(&r.api_version),
                "version must not be empty",
            ));
        }
        if r.kind.is_empty() {
            errs.push(FieldError::invalid(
                path.child("kind"),
                quote(&r.kind),
                "kind must not be empty",
            ));
        }
        if r.name.is_empty() {
            errs.push(FieldError::invalid(
                path.child("name"),
                quote(&r.name),
                "name must not be empty",
            ));
        }
        if r.uid.is_empty() {
            errs.push(FieldError::invalid(
                path.child("uid"),
                quote(&r.uid),
                "uid must not be empty",
            ));
        }
        // Events may not own anything: they are garbage themselves.
        if group.is_empty() && version == "v1" && r.kind == "Event" {
            errs.push(FieldError::invalid(
                &path,
                render_owner_reference(r),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if r.controller == Some(true) {
            let this = format!("{}/{}", r.kind, r.name);
            match &first_controller {
                Some(first) => {
                    let all: Vec<String> = refs.iter().map(render_owner_reference).collect();
                    errs.push(FieldError::invalid(
                        &path,
                        format!("[]v1.OwnerReference{{{}}}", all.join(", ")),
                        &format!(
                            "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {this}"
                        ),
                    ));
                }
                None => first_controller = Some(this),
            }
        }
    }
    errs
}

/// Finalizers are qualified names; orphan and foreground deletion exclude each other.
fn validate_finalizers(finalizers: &[String], path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for f in finalizers {
        for msg in names::is_qualified_name(f) {
            errs.push(FieldError::invalid(path, quote(f), &msg));
        }
    }
    let has = |name: &str| finalizers.iter().any(|f| f == name);
    if has("orphan") && has("foregroundDeletion") {
        errs.push(FieldError::invalid(
            path,
            render::string_slice(Some(finalizers)),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    errs
}

/// Unprefixed finalizers must be ones Kubernetes knows.
pub fn validate_kube_finalizers(finalizers: &[String], meta_path: &Path) -> Vec<FieldError> {
    finalizers
        .iter()
        .enumerate()
        .filter(|(_, f)| !f.contains('/') && !STANDARD_FINALIZERS.contains(&f.as_str()))
        .map(|(i, f)| {
            FieldError::invalid(
                meta_path.child("finalizers").index(i),
                quote(f),
                "name is neither a standard finalizer name nor is it fully qualified",
            )
        })
        .collect()
}

/// A label selector's syntax (not whether it is empty; callers decide that).
pub fn validate_label_selector(sel: &LabelSelector, path: &Path) -> Vec<FieldError> {
    let mut errs = validate_labels(sel.match_labels.as_ref(), &path.child("matchLabels"));
    for (i, req) in sel.match_expressions.iter().flatten().enumerate() {
        let req_path = path.child("matchExpressions").index(i);
        let values = req.values.as_deref().unwrap_or_default();
        match req.operator.as_str() {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(FieldError::required(
                        req_path.child("values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(FieldError::forbidden(
                        req_path.child("values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            op => errs.push(FieldError::invalid(
                req_path.child("operator"),
                quote(op),
                "not a valid selector operator",
            )),
        }
        errs.extend(validate_label_name(&req.key, &req_path.child("key")));
        for (j, value) in values.iter().enumerate() {
            for msg in names::is_valid_label_value(value) {
                errs.push(FieldError::invalid(
                    req_path.child("values").index(j),
                    quote(value),
                    &msg,
                ));
            }
        }
    }
    errs
}

/// Whether `labels` satisfy `sel`. Only meaningful for a syntactically valid selector.
pub fn selector_matches(sel: &LabelSelector, labels: Option<&BTreeMap<String, String>>) -> bool {
    let get = |k: &str| labels.and_then(|l| l.get(k));
    let labels_ok = sel
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| get(k) == Some(v));
    let exprs_ok = sel.match_expressions.iter().flatten().all(|req| {
        let values = req.values.as_deref().unwrap_or_default();
        let actual = get(&req.key);
        match req.operator.as_str() {
            "In" => actual.is_some_and(|a| values.contains(a)),
            "NotIn" => actual.is_none_or(|a| !values.contains(a)),
            "Exists" => actual.is_some(),
            "DoesNotExist" => actual.is_none(),
            _ => false,
        }
    });
    labels_ok && exprs_ok
}

/// Whether a selector selects everything (no requirements at all).
pub fn selector_is_empty(sel: &LabelSelector) -> bool {
    sel.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
        && sel.match_expressions.as_ref().is_none_or(Vec::is_empty)
}

/// `must be greater than or equal to 0` for a negative value.
pub fn validate_nonnegative(value: i64, path: &Path) -> Option<FieldError> {
    (value < 0).then(|| FieldError::invalid(path, value, IS_NEGATIVE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::tests::{assert_errors, meta, strs};

    const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

    fn rules() -> MetaRules {
        MetaRules::NAMESPACED_SUBDOMAIN
    }

    #[test]
    fn object_meta_create_cases() {
        let cases: Vec<(&str, ObjectMeta, Vec<String>)> = vec![
            ("valid", meta("ns", "web"), vec![]),
            (
                "missing name",
                ObjectMeta {
                    namespace: Some("ns".into()),
                    ..Default::default()
                },
                strs(&["metadata.name: Required value: name or generateName is required"]),
            ),
            (
                "generateName alone is enough",
                ObjectMeta {
                    namespace: Some("ns".into()),
                    generate_name: Some("web-".into()),
                    ..Default::default()
                },
                vec![],
            ),
            (
                "bad name",
                meta("ns", "Web"),
                vec![format!(
                    "metadata.name: Invalid value: \"Web\": {SUBDOMAIN_MSG}"
                )],
            ),
            (
                "missing namespace",
                ObjectMeta {
                    name: Some("web".into()),
                    ..Default::default()
                },
                strs(&["metadata.namespace: Required value"]),
            ),
            (
                "bad label value",
                ObjectMeta {
                    labels: Some([("app".to_string(), "-x".to_string())].into()),
                    ..meta("ns", "web")
                },
                strs(&[
                    "metadata.labels: Invalid value: \"-x\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                ]),
            ),
            (
                "bad annotation key",
                ObjectMeta {
                    annotations: Some([("a/b/c".to_string(), String::new())].into()),
                    ..meta("ns", "web")
                },
                strs(&[
                    "metadata.annotations: Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                ]),
            ),
            (
                "annotations too large",
                ObjectMeta {
                    annotations: Some(
                        [("big".to_string(), "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT))].into(),
                    ),
                    ..meta("ns", "web")
                },
                strs(&["metadata.annotations: Too long: may not be more than 262144 bytes"]),
            ),
            (
                "unknown unprefixed finalizer",
                ObjectMeta {
                    finalizers: Some(vec!["foo".into()]),
                    ..meta("ns", "web")
                },
                strs(&[
                    "metadata.finalizers[0]: Invalid value: \"foo\": name is neither a standard finalizer name nor is it fully qualified",
                ]),
            ),
            (
                "owner reference without uid",
                ObjectMeta {
                    owner_references: Some(vec![OwnerReference {
                        api_version: "apps/v1".into(),
                        kind: "ReplicaSet".into(),
                        name: "rs".into(),
                        ..Default::default()
                    }]),
                    ..meta("ns", "web")
                },
                strs(&["metadata.ownerReferences.uid: Invalid value: \"\": uid must not be empty"]),
            ),
        ];
        for (name, m, want) in cases {
            assert_errors(name, &validate_object_meta(&m, rules()), &want);
        }
    }

    #[test]
    fn object_meta_update_cases() {
        let old = ObjectMeta {
            uid: Some("u1".into()),
            ..meta("ns", "web")
        };
        let cases: Vec<(&str, ObjectMeta, Vec<String>)> = vec![
            ("unchanged", old.clone(), vec![]),
            ("uid omitted", meta("ns", "web"), vec![]),
            (
                "renamed",
                ObjectMeta {
                    uid: Some("u1".into()),
                    ..meta("ns", "web2")
                },
                strs(&["metadata.name: Invalid value: \"web2\": field is immutable"]),
            ),
            (
                "moved",
                ObjectMeta {
                    uid: Some("u1".into()),
                    ..meta("other", "web")
                },
                strs(&["metadata.namespace: Invalid value: \"other\": field is immutable"]),
            ),
            (
                "new uid",
                ObjectMeta {
                    uid: Some("u2".into()),
                    ..meta("ns", "web")
                },
                strs(&["metadata.uid: Invalid value: \"u2\": field is immutable"]),
            ),
        ];
        for (name, m, want) in cases {
            assert_errors(name, &validate_object_meta_update(&m, &old, rules()), &want);
        }
    }

    #[test]
    fn selectors() {
        use crate::k8s::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
        let sel = LabelSelector {
            match_labels: Some([("app".to_string(), "web".to_string())].into()),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "In".into(),
                values: Some(vec!["fe".into()]),
            }]),
        };
        let labels: BTreeMap<String, String> = [
            ("app".to_string(), "web".to_string()),
            ("tier".to_string(), "fe".to_string()),
        ]
        .into();
        assert!(selector_matches(&sel, Some(&labels)));
        assert!(!selector_matches(&sel, None));
        assert!(!selector_is_empty(&sel));
        let bad = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "Exists".into(),
                values: Some(vec!["x".into()]),
            }]),
            ..Default::default()
        };
        assert_errors(
            "exists with values",
            &validate_label_selector(&bad, &Path::new("spec.selector")),
            &[
                "spec.selector.matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            ],
        );
    }
}
