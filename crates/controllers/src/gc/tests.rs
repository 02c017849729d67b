//! Table-driven tests of the garbage collector's decisions.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::json;

use super::plan::{DependentAction, OwnerAction, plan_dependent, plan_owner};

fn meta(v: serde_json::Value) -> ObjectMeta {
    serde_json::from_value(v).unwrap()
}

fn owned_by(uids: &[&str]) -> ObjectMeta {
    let refs: Vec<_> = uids
        .iter()
        .map(|u| json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": u, "uid": u, "controller": false}))
        .collect();
    meta(json!({"name": "p", "namespace": "default", "ownerReferences": refs}))
}

#[test]
fn dependents() {
    // (case, owners, live owner uids, unknown-kind uids, action)
    let cases = [
        (
            "no owners",
            owned_by(&[]),
            vec![],
            vec![],
            DependentAction::Keep,
        ),
        (
            "owner alive",
            owned_by(&["a"]),
            vec!["a"],
            vec![],
            DependentAction::Keep,
        ),
        (
            "only owner gone",
            owned_by(&["a"]),
            vec![],
            vec![],
            DependentAction::Delete,
        ),
        (
            "one of two gone",
            owned_by(&["a", "b"]),
            vec!["b"],
            vec![],
            DependentAction::DropRefs(vec!["a".into()]),
        ),
        (
            "unknown kind is assumed alive",
            owned_by(&["a"]),
            vec![],
            vec!["a"],
            DependentAction::Keep,
        ),
    ];
    for (name, m, live, unknown, want) in cases {
        let got = plan_dependent(&m, |r| {
            if unknown.contains(&r.uid.as_str()) {
                None
            } else {
                Some(live.contains(&r.uid.as_str()))
            }
        });
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn owners_with_finalizers() {
    let owner = |finalizers: &[&str], deleting: bool| {
        let mut v =
            json!({"name": "d", "namespace": "default", "uid": "a", "finalizers": finalizers});
        if deleting {
            v["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
        }
        meta(v)
    };
    let dep = owned_by(&["a"]);
    let mut dep_deleting = owned_by(&["a"]);
    dep_deleting.deletion_timestamp = owner(&[], true).deletion_timestamp;
    let cases = [
        (
            "not being deleted",
            owner(&["foregroundDeletion"], false),
            vec![dep.clone()],
            OwnerAction::None,
        ),
        (
            "foreground: delete dependents",
            owner(&["foregroundDeletion"], true),
            vec![dep.clone(), dep_deleting.clone()],
            OwnerAction::DeleteDependents(vec![0]),
        ),
        (
            "foreground: wait for them",
            owner(&["foregroundDeletion"], true),
            vec![dep_deleting],
            OwnerAction::WaitForDependents,
        ),
        (
            "foreground: done",
            owner(&["foregroundDeletion"], true),
            vec![],
            OwnerAction::RemoveFinalizer("foregroundDeletion"),
        ),
        (
            "orphan: strip references",
            owner(&["orphan"], true),
            vec![dep.clone()],
            OwnerAction::OrphanDependents(vec![0]),
        ),
        (
            "orphan: done",
            owner(&["orphan"], true),
            vec![],
            OwnerAction::RemoveFinalizer("orphan"),
        ),
        (
            "other finalizers only",
            owner(&["example.com/x"], true),
            vec![dep],
            OwnerAction::None,
        ),
    ];
    for (name, o, deps, want) in cases {
        let refs: Vec<&ObjectMeta> = deps.iter().collect();
        assert_eq!(plan_owner(&o, &refs), want, "{name}");
    }
}
