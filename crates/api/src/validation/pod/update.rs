//! What a Pod update may change.

use std::collections::BTreeSet;

use super::scheduling::validate_tolerations;
use super::{MAX_INT32, s};
use crate::FieldError;
use crate::k8s::api::core::v1::PodSpec;
use crate::validation::Path;
use crate::validation::names::inclusive_range_error;
use crate::validation::render::quote;

const UPDATABLE_POD_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// A running pod's spec is immutable except for a few fields (`ValidatePodUpdate`).
pub(super) fn validate_pod_spec_update(new: &PodSpec, old: &PodSpec) -> Vec<FieldError> {
    let spec_path = Path::new("spec");
    let mut errs = Vec::new();
    let new_init = new.init_containers.as_deref().unwrap_or_default();
    let old_init = old.init_containers.as_deref().unwrap_or_default();
    for (field, new_c, old_c) in [
        ("containers", &new.containers[..], &old.containers[..]),
        ("initContainers", new_init, old_init),
    ] {
        let p = spec_path.child(field);
        if new_c.len() != old_c.len() {
            errs.push(FieldError::forbidden(
                &p,
                "pod updates may not add or remove containers",
            ));
            return errs;
        }
        for (i, c) in new_c.iter().enumerate() {
            if s(&c.image).is_empty() {
                errs.push(FieldError::required(p.index(i).child("image"), ""));
            }
        }
    }

    let ads_path = spec_path.child("activeDeadlineSeconds");
    match (new.active_deadline_seconds, old.active_deadline_seconds) {
        (Some(new_ads), _) if !(0..=MAX_INT32).contains(&new_ads) => {
            errs.push(FieldError::invalid(
                &ads_path,
                new_ads,
                &inclusive_range_error(0, MAX_INT32),
            ));
            return errs;
        }
        (Some(new_ads), Some(old_ads)) if old_ads < new_ads => {
            errs.push(FieldError::invalid(
                &ads_path,
                new_ads,
                "must be less than or equal to previous value",
            ));
            return errs;
        }
        (None, Some(_)) => {
            errs.push(FieldError::invalid(
                &ads_path,
                // Go prints a nil pointer as the string "null".
                quote("null"),
                "must not update from a positive integer to nil value",
            ));
        }
        _ => {}
    }

    errs.extend(validate_only_added_tolerations(
        new,
        old,
        &spec_path.child("tolerations"),
    ));

    let mut munged = new.clone();
    for (c, old_c) in munged.containers.iter_mut().zip(&old.containers) {
        c.image.clone_from(&old_c.image);
    }
    for (c, old_c) in munged.init_containers.iter_mut().flatten().zip(old_init) {
        c.image.clone_from(&old_c.image);
    }
    munged.active_deadline_seconds = old.active_deadline_seconds;
    munged.scheduling_gates.clone_from(&old.scheduling_gates);
    munged.tolerations.clone_from(&old.tolerations);
    if old.termination_grace_period_seconds.is_some_and(|g| g < 0)
        && munged.termination_grace_period_seconds == Some(1)
    {
        munged.termination_grace_period_seconds = old.termination_grace_period_seconds;
    }
    if munged != *old {
        errs.push(FieldError::forbidden(
            &spec_path,
            &format!(
                "pod updates may not change fields other than {UPDATABLE_POD_FIELDS}\n{}",
                spec_diff(old, &munged)
            ),
        ));
    }
    errs
}

/// A short description of what changed, one line per changed top-level spec field.
/// (Upstream prints a Go `cmp.Diff` of its internal types, which we cannot reproduce.)
fn spec_diff(old: &PodSpec, new: &PodSpec) -> String {
    let to_map = |spec: &PodSpec| match serde_json::to_value(spec) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let (old, new) = (to_map(old), to_map(new));
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let mut out = String::from("  core.PodSpec{\n");
    for key in keys {
        let (o, n) = (old.get(key), new.get(key));
        if o != n {
            if let Some(o) = o {
                out.push_str(&format!("-   {key}: {o},\n"));
            }
            if let Some(n) = n {
                out.push_str(&format!("+   {key}: {n},\n"));
            }
        }
    }
    out.push_str("  }\n");
    out
}

/// Existing tolerations may only get a different tolerationSeconds; new ones may be added.
fn validate_only_added_tolerations(new: &PodSpec, old: &PodSpec, path: &Path) -> Vec<FieldError> {
    let new_t = new.tolerations.as_deref().unwrap_or_default();
    for old_t in old.tolerations.iter().flatten() {
        let found = new_t.iter().any(|n| {
            let mut o = old_t.clone();
            o.toleration_seconds = n.toleration_seconds;
            o == *n
        });
        if !found {
            return vec![FieldError::forbidden(
                path,
                "existing toleration can not be modified except its tolerationSeconds",
            )];
        }
    }
    validate_tolerations(new_t, path)
}
