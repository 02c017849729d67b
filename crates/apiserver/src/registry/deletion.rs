//! How a delete proceeds: at once, or by marking the object for whoever must act first
//! (finalizers and the garbage collector, the kubelet for bound pods, namespace termination).

use serde_json::{Value, json};

use super::DeleteOptions;
use crate::error::{ApiError, Result};
use crate::object;
use api::resources::ResourceType;

pub(super) enum DeletionPlan {
    Now,
    Mark(Value),
    AlreadyMarked,
}

pub(super) fn deletion_plan(rt: &ResourceType, old: &Value, opts: &DeleteOptions) -> DeletionPlan {
    let now = jiff::Timestamp::now();
    if rt.kind == "Pod" {
        let bound = old
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
        let terminal = matches!(
            old.pointer("/status/phase").and_then(Value::as_str),
            Some("Succeeded" | "Failed")
        );
        let spec_grace = old
            .pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_i64);
        let grace = opts
            .grace_period_seconds
            .or(spec_grace)
            .unwrap_or(30)
            .max(0);
        if bound && !terminal && grace > 0 {
            let current = old
                .pointer("/metadata/deletionGracePeriodSeconds")
                .and_then(Value::as_i64);
            if current.is_some_and(|c| c <= grace) {
                return DeletionPlan::AlreadyMarked;
            }
            let mut marked = old.clone();
            let meta = object::meta_mut(&mut marked);
            let at = now + jiff::SignedDuration::from_secs(grace);
            meta.insert("deletionTimestamp".into(), json!(object::timestamp(at)));
            meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
            return DeletionPlan::Mark(marked);
        }
    }
    let mut finalizers = object::finalizers(old);
    let gc_finalizer = opts
        .propagation
        .finalizer()
        .filter(|f| !finalizers.iter().any(|have| have == f));
    if finalizers.is_empty()
        && gc_finalizer.is_none()
        && !namespace_finalizers_pending(rt, old)
        && rt.kind != "Namespace"
    {
        return DeletionPlan::Now;
    }
    if object::is_deleting(old) && gc_finalizer.is_none() {
        return DeletionPlan::AlreadyMarked;
    }
    let mut marked = old.clone();
    let meta = object::meta_mut(&mut marked);
    if let Some(f) = gc_finalizer {
        finalizers.push(f.to_string());
        meta.insert("finalizers".into(), json!(finalizers));
    }
    meta.insert("deletionTimestamp".into(), json!(object::timestamp(now)));
    meta.insert("deletionGracePeriodSeconds".into(), json!(0));
    if rt.kind == "Namespace" {
        marked["status"] = json!({"phase": "Terminating"});
    }
    DeletionPlan::Mark(marked)
}

/// A namespace stays until its `spec.finalizers` (the namespace controller's) are removed.
pub(super) fn namespace_finalizers_pending(rt: &ResourceType, obj: &Value) -> bool {
    rt.kind == "Namespace"
        && obj
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty())
}

pub(super) fn check_preconditions(
    rt: &ResourceType,
    name: &str,
    old: &Value,
    opts: &DeleteOptions,
) -> Result<()> {
    if let Some(uid) = &opts.precondition_uid {
        let actual = object::meta_str(old, "uid").unwrap_or_default();
        if uid != actual {
            return Err(ApiError::conflict_with(
                rt,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"
                ),
            ));
        }
    }
    if let Some(rv) = &opts.precondition_resource_version {
        let actual = object::resource_version(old).unwrap_or_default();
        if rv != actual {
            return Err(ApiError::conflict_with(
                rt,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {actual}"
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Propagation;

    #[test]
    fn deletion_plans() {
        let rt = |kind: &str| {
            api::resources::all()
                .iter()
                .find(|r| r.kind == kind)
                .unwrap()
        };
        let opts = |propagation| DeleteOptions {
            propagation,
            ..Default::default()
        };
        let plain = json!({"metadata": {"name": "a"}});
        assert!(matches!(
            deletion_plan(rt("ConfigMap"), &plain, &opts(Propagation::Background)),
            DeletionPlan::Now
        ));
        for (policy, finalizer) in [
            (Propagation::Foreground, "foregroundDeletion"),
            (Propagation::Orphan, "orphan"),
        ] {
            match deletion_plan(rt("Deployment"), &plain, &opts(policy)) {
                DeletionPlan::Mark(marked) => {
                    assert_eq!(object::finalizers(&marked), vec![finalizer]);
                    assert!(object::is_deleting(&marked));
                }
                _ => panic!("{policy:?} must wait for the garbage collector"),
            }
        }
        let bound_pod = json!({"metadata": {"name": "p"}, "spec": {"nodeName": "node-1"}, "status": {"phase": "Running"}});
        match deletion_plan(rt("Pod"), &bound_pod, &opts(Propagation::Background)) {
            DeletionPlan::Mark(marked) => {
                assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], 30)
            }
            _ => panic!("a bound pod is deleted gracefully"),
        }
        let force = DeleteOptions {
            grace_period_seconds: Some(0),
            ..Default::default()
        };
        assert!(matches!(
            deletion_plan(rt("Pod"), &bound_pod, &force),
            DeletionPlan::Now
        ));
        let unbound = json!({"metadata": {"name": "p"}, "spec": {}});
        assert!(matches!(
            deletion_plan(rt("Pod"), &unbound, &opts(Propagation::Background)),
            DeletionPlan::Now
        ));
        let ns = json!({"metadata": {"name": "n"}, "spec": {"finalizers": ["kubernetes"]}});
        match deletion_plan(rt("Namespace"), &ns, &opts(Propagation::Background)) {
            DeletionPlan::Mark(marked) => assert_eq!(marked["status"]["phase"], "Terminating"),
            _ => panic!("a namespace terminates first"),
        }
    }
}
