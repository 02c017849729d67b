//! Garbage-collection decisions (pure): what happens to a dependent whose owners may be gone,
//! and what an owner carrying a `foregroundDeletion` or `orphan` finalizer still needs.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
pub const ORPHAN_FINALIZER: &str = "orphan";

/// What to do with one dependent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DependentAction {
    Keep,
    /// Every owner is gone: delete the object (background propagation).
    Delete,
    /// Some owners are gone: keep the object, drop the references to them.
    DropRefs(Vec<String>),
}

/// `owner_exists(ref)`: Some(true/false) when known, None when the owner's kind is not one the
/// collector can look up (then it is assumed to exist: deleting on a guess is not undoable).
pub fn plan_dependent(
    meta: &ObjectMeta,
    owner_exists: impl Fn(&OwnerReference) -> Option<bool>,
) -> DependentAction {
    let refs = meta.owner_references.as_deref().unwrap_or_default();
    if refs.is_empty() || meta.deletion_timestamp.is_some() {
        return DependentAction::Keep;
    }
    let gone: Vec<String> = refs
        .iter()
        .filter(|r| owner_exists(r) == Some(false))
        .map(|r| r.uid.clone())
        .collect();
    if gone.is_empty() {
        DependentAction::Keep
    } else if gone.len() == refs.len() {
        DependentAction::Delete
    } else {
        DependentAction::DropRefs(gone)
    }
}

/// What an owner being deleted with a GC finalizer needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerAction {
    /// Nothing to do (not being deleted, or no GC finalizer).
    None,
    /// Foreground: delete these dependents (by index into the slice passed in) and wait.
    DeleteDependents(Vec<usize>),
    /// Foreground: some dependents are still going away; look again later.
    WaitForDependents,
    /// Orphan: strip the owner's reference from these dependents.
    OrphanDependents(Vec<usize>),
    /// All done: remove this finalizer from the owner.
    RemoveFinalizer(&'static str),
}

/// `dependents`: metadata of every cached object that references the owner's uid.
pub fn plan_owner(owner: &ObjectMeta, dependents: &[&ObjectMeta]) -> OwnerAction {
    if owner.deletion_timestamp.is_none() {
        return OwnerAction::None;
    }
    let finalizers = owner.finalizers.as_deref().unwrap_or_default();
    let uid = owner.uid.as_deref().unwrap_or("");
    if finalizers.iter().any(|f| f == ORPHAN_FINALIZER) {
        let referencing: Vec<usize> = dependents
            .iter()
            .enumerate()
            .filter(|(_, d)| d.owner_references.iter().flatten().any(|r| r.uid == uid))
            .map(|(i, _)| i)
            .collect();
        return if referencing.is_empty() {
            OwnerAction::RemoveFinalizer(ORPHAN_FINALIZER)
        } else {
            OwnerAction::OrphanDependents(referencing)
        };
    }
    if finalizers.iter().any(|f| f == FOREGROUND_FINALIZER) {
        if dependents.is_empty() {
            return OwnerAction::RemoveFinalizer(FOREGROUND_FINALIZER);
        }
        let live: Vec<usize> = dependents
            .iter()
            .enumerate()
            .filter(|(_, d)| d.deletion_timestamp.is_none())
            .map(|(i, _)| i)
            .collect();
        return if live.is_empty() {
            OwnerAction::WaitForDependents
        } else {
            OwnerAction::DeleteDependents(live)
        };
    }
    OwnerAction::None
}

/// The owner references left after dropping those with uids in `gone`.
pub fn without_refs(meta: &ObjectMeta, gone: &[String]) -> Vec<OwnerReference> {
    meta.owner_references
        .iter()
        .flatten()
        .filter(|r| !gone.contains(&r.uid))
        .cloned()
        .collect()
}
