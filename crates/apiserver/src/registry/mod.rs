//! The object lifecycle on top of the store: create, update, patch and delete with the rules
//! kube-apiserver applies around them (system metadata, status vs spec, admission, no-op
//! writes, optimistic concurrency, finalizers and graceful deletion, namespace checks).
//! HTTP handlers and in-process callers (bootstrap, the namespace controller) share it.

use std::sync::Arc;

use api::resources::ResourceType;
use api::selectors::{FieldSelector, LabelSelector};
use serde_json::{Value, json};
use store::Store;

use crate::error::{ApiError, Result};
use crate::ipalloc::Allocator;
use crate::managed_fields::{self, Operation};
use crate::object;
use crate::patch::{self, PatchType};
use crate::services;

mod admission;
mod deletion;
mod joined_reads;
mod paging;
mod scale;

pub use admission::decode_error;
use admission::{
    admit, assign_name, check_type_meta, prepare_create, prepare_update, set_namespace,
};
use deletion::{DeletionPlan, check_preconditions, deletion_plan, namespace_finalizers_pending};
use paging::{decode_continue, encode_continue};
pub use scale::scale_of;
use scale::with_scale;

/// How strictly unknown fields in a body are treated (`fieldValidation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    #[default]
    Strict,
    Warn,
    Ignore,
}

/// Options every write carries.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub field_manager: String,
    pub dry_run: bool,
}

/// The result of a write: the object as stored and whether it was created.
#[derive(Debug)]
pub struct Written {
    pub object: Value,
    pub created: bool,
    /// `object` as JSON, when the write already has it (a create encodes the object once for
    /// the store and the response).
    pub json: Option<bytes::Bytes>,
}

/// `DeleteOptions`, from the body and the query.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
    pub propagation: Propagation,
    pub dry_run: bool,
}

/// What happens to an object's dependents when it is deleted (`propagationPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagation {
    /// Delete the object now; the garbage collector deletes dependents afterwards.
    #[default]
    Background,
    /// Keep the object (finalizer `foregroundDeletion`) until its dependents are gone.
    Foreground,
    /// Keep the object (finalizer `orphan`) until its dependents no longer point to it.
    Orphan,
}

impl Propagation {
    pub fn parse(policy: &str) -> Option<Self> {
        match policy {
            "Background" => Some(Propagation::Background),
            "Foreground" => Some(Propagation::Foreground),
            "Orphan" => Some(Propagation::Orphan),
            _ => None,
        }
    }

    /// The finalizer the garbage collector acts on, for the policies that wait.
    fn finalizer(self) -> Option<&'static str> {
        match self {
            Propagation::Background => None,
            Propagation::Foreground => Some("foregroundDeletion"),
            Propagation::Orphan => Some("orphan"),
        }
    }
}

/// What a list asks for.
#[derive(Debug, Clone)]
pub struct ListOptions {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
}

impl Default for ListOptions {
    fn default() -> Self {
        ListOptions {
            labels: LabelSelector::everything(),
            fields: FieldSelector::everything(),
            limit: None,
            continue_token: None,
        }
    }
}

pub struct ObjectList<T = Value> {
    pub items: Vec<T>,
    pub revision: i64,
    pub continue_token: Option<String>,
    pub remaining: Option<u64>,
}

/// Where an object lives.
#[derive(Clone, Copy)]
struct Loc<'a> {
    rt: &'static ResourceType,
    ns: Option<&'a str>,
    name: &'a str,
}

/// How a write reached the object: which subresource, and as which managed-fields operation.
#[derive(Clone, Copy)]
struct Change<'a> {
    subresource: Option<&'a str>,
    op: Operation,
}

/// Kinds whose PUT creates a missing object, as in kube-apiserver.
fn allow_create_on_update(rt: &ResourceType) -> bool {
    matches!(rt.kind, "Endpoints" | "Lease" | "Event")
}

/// Kinds whose spec changes bump `metadata.generation`.
fn tracks_generation(rt: &ResourceType) -> bool {
    rt.group == "apps"
}

const MAX_CONFLICT_RETRIES: usize = 16;

#[derive(Clone)]
pub struct Registry {
    pub store: Arc<dyn Store>,
    pub alloc: Allocator,
    namespace_reads: Arc<joined_reads::JoinedReads>,
}

impl Registry {
    pub fn new(store: Arc<dyn Store>, alloc: Allocator) -> Self {
        Registry {
            store,
            alloc,
            namespace_reads: Arc::default(),
        }
    }

    pub async fn get(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Value> {
        match self.store.get(&object::key(rt, ns, name)).await? {
            Some(kv) => object::from_kv(&kv),
            None => Err(ApiError::not_found(rt, name)),
        }
    }

    async fn get_kv(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Option<(Value, i64)>> {
        match self.store.get(&object::key(rt, ns, name)).await? {
            Some(kv) => Ok(Some((object::from_kv(&kv)?, kv.mod_revision))),
            None => Ok(None),
        }
    }

    /// List objects matching the selectors, paging through the store until `limit` matches.
    pub async fn list(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        opts: &ListOptions,
    ) -> Result<ObjectList> {
        self.list_as(rt, ns, opts, |obj| obj).await
    }

    /// [`Registry::list`] with each matching object turned into `item` as soon as it is read,
    /// e.g. encoded: a list of every EndpointSlice at 10k Services held ~1 GB as parsed objects.
    pub async fn list_as<T>(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        opts: &ListOptions,
        mut item: impl FnMut(Value) -> T,
    ) -> Result<ObjectList<T>> {
        if let Some(name) = opts.fields.required_name() {
            let revision = self.store.current_revision().await?;
            let items = match self.store.get(&object::key(rt, ns, name)).await? {
                Some(kv) => {
                    let obj = object::from_kv(&kv)?;
                    if self.matches(&obj, opts) {
                        vec![item(obj)]
                    } else {
                        vec![]
                    }
                }
                None => vec![],
            };
            return Ok(ObjectList {
                items,
                revision,
                continue_token: None,
                remaining: None,
            });
        }
        let prefix = object::prefix(rt, ns);
        let (mut start_after, mut first_revision) = match &opts.continue_token {
            Some(token) => {
                let (rev, key) = decode_continue(token)?;
                if !key.starts_with(&prefix) {
                    return Err(ApiError::BadRequest(
                        "continue key is not valid for this request".into(),
                    ));
                }
                (Some(key), Some(rev))
            }
            None => (None, None),
        };
        let limit = opts.limit.filter(|l| *l > 0);
        let mut items = Vec::new();
        loop {
            let want = limit.map(|l| l - items.len());
            let page = self
                .store
                .list(
                    &prefix,
                    store::ListOptions {
                        limit: want.map(|w| w.max(64)),
                        start_after: start_after.clone(),
                    },
                )
                .await?;
            first_revision.get_or_insert(page.revision);
            let mut last_key = None;
            let mut consumed_all = true;
            for (i, kv) in page.items.iter().enumerate() {
                if limit.is_some_and(|l| items.len() >= l) {
                    consumed_all = i == page.items.len();
                    break;
                }
                last_key = Some(kv.key.clone());
                let obj = object::from_kv(kv)?;
                if self.matches(&obj, opts) {
                    items.push(item(obj));
                }
            }
            let more = page.more || !consumed_all;
            let revision = first_revision.unwrap_or(page.revision);
            if !more {
                return Ok(ObjectList {
                    items,
                    revision,
                    continue_token: None,
                    remaining: None,
                });
            }
            if limit.is_some_and(|l| items.len() >= l) {
                let token = last_key.map(|k| encode_continue(revision, &k));
                return Ok(ObjectList {
                    items,
                    revision,
                    continue_token: token,
                    remaining: None,
                });
            }
            start_after = last_key.or(start_after);
        }
    }

    fn matches(&self, obj: &Value, opts: &ListOptions) -> bool {
        opts.labels.matches_json(obj.pointer("/metadata/labels")) && opts.fields.matches(obj)
    }

    /// Create `obj` (already decoded) in `ns`.
    pub async fn create(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<Written> {
        check_type_meta(rt, &mut obj)?;
        set_namespace(rt, &mut obj, ns)?;
        let ns = object::namespace(&obj).map(str::to_string);
        if let Some(ns) = &ns {
            self.check_namespace_open(ns).await?;
        }
        let name = assign_name(&mut obj);
        prepare_create(rt, &mut obj);
        let mut obj = admit(rt, &name, obj, None)?;
        managed_fields::record(&mut obj, &opts.field_manager, Operation::Update, None);
        if opts.dry_run {
            return Ok(Written {
                object: obj,
                created: true,
                json: None,
            });
        }
        let key = object::key(rt, ns.as_deref(), &name);
        let allocated = if rt.kind == "Service" {
            // An existing Service holds its IPs: report AlreadyExists, not an allocation clash.
            if self.store.get(&key).await?.is_some() {
                return Err(ApiError::already_exists(rt, &name));
            }
            services::allocate(&self.alloc, rt, &name, ns.as_deref(), &mut obj, None).await?
        } else {
            services::Allocated::default()
        };
        // The object in hand is what is stored: it only lacks the resourceVersion.
        let stored = object::StoredJson::encode(&mut obj);
        match self.store.create(&key, stored.bytes.clone()).await {
            Ok(kv) => {
                object::set_resource_version(&mut obj, kv.mod_revision);
                Ok(Written {
                    object: obj,
                    created: true,
                    json: stored.with_resource_version(kv.mod_revision),
                })
            }
            Err(e) => {
                allocated.release(&self.alloc).await;
                Err(match e {
                    store::Error::AlreadyExists { .. } => ApiError::already_exists(rt, &name),
                    other => other.into(),
                })
            }
        }
    }

    /// Replace an object (PUT), or one of its subresources.
    pub async fn update(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        name: &str,
        mut obj: Value,
        subresource: Option<&str>,
        opts: &WriteOptions,
    ) -> Result<Written> {
        check_type_meta(rt, &mut obj)?;
        set_namespace(rt, &mut obj, ns)?;
        match object::name(&obj) {
            Some(n) if n != name => {
                return Err(ApiError::BadRequest(format!(
                    "the name of the object ({n}) does not match the name on the URL ({name})"
                )));
            }
            Some(_) => {}
            None => {
                object::meta_mut(&mut obj).insert("name".into(), json!(name));
            }
        }
        let precondition = object::resource_version(&obj).map(str::to_string);
        for _ in 0..MAX_CONFLICT_RETRIES {
            let Some((old, old_rev)) = self.get_kv(rt, ns, name).await? else {
                if allow_create_on_update(rt) && subresource.is_none() {
                    object::meta_mut(&mut obj).remove("resourceVersion");
                    return self.create(rt, ns, obj, opts).await;
                }
                return Err(ApiError::not_found(rt, name));
            };
            if precondition
                .as_deref()
                .is_some_and(|rv| rv != old_rev.to_string())
            {
                return Err(ApiError::conflict(rt, name));
            }
            let at = Loc { rt, ns, name };
            let change = Change {
                subresource,
                op: Operation::Update,
            };
            match self
                .write_update(at, (&old, old_rev), obj.clone(), change, opts)
                .await
            {
                Err(ApiError::Conflict { .. }) if precondition.is_none() => continue,
                other => return other,
            }
        }
        Err(ApiError::conflict(rt, name))
    }

    /// Apply a patch of `patch_type` to an object (or its `scale`/`status` subresource).
    #[allow(clippy::too_many_arguments)]
    pub async fn patch(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        name: &str,
        patch_type: PatchType,
        body: &[u8],
        subresource: Option<&str>,
        opts: &WriteOptions,
    ) -> Result<Written> {
        for _ in 0..MAX_CONFLICT_RETRIES {
            let Some((old, old_rev)) = self.get_kv(rt, ns, name).await? else {
                if patch_type == PatchType::Apply && subresource.is_none() {
                    let mut obj = patch::parse_apply_body(body)?;
                    if object::name(&obj).is_some_and(|n| n != name) {
                        return Err(ApiError::BadRequest(format!(
                            "the name of the object ({}) does not match the name on the URL ({name})",
                            object::name(&obj).unwrap_or_default()
                        )));
                    }
                    object::meta_mut(&mut obj).insert("name".into(), json!(name));
                    let mut written = self.create(rt, ns, obj, opts).await?;
                    self.relabel_apply(&mut written, opts);
                    return Ok(written);
                }
                return Err(ApiError::not_found(rt, name));
            };
            let current = if subresource == Some("scale") {
                scale_of(rt, &old)?
            } else {
                old.clone()
            };
            let patched = patch::apply(rt, patch_type, &current, body)?;
            let precondition = object::resource_version(&patched).map(str::to_string);
            if precondition
                .as_deref()
                .is_some_and(|rv| rv != old_rev.to_string())
            {
                return Err(ApiError::conflict(rt, name));
            }
            let new = if subresource == Some("scale") {
                with_scale(&old, &patched)?
            } else {
                patched
            };
            let write_sub = if subresource == Some("scale") {
                None
            } else {
                subresource
            };
            let manager_op = if patch_type == PatchType::Apply {
                Operation::Apply
            } else {
                Operation::Update
            };
            let at = Loc { rt, ns, name };
            let change = Change {
                subresource: write_sub,
                op: manager_op,
            };
            match self
                .write_update(at, (&old, old_rev), new, change, opts)
                .await
            {
                Err(ApiError::Conflict { .. }) if precondition.is_none() => continue,
                other => return other,
            }
        }
        Err(ApiError::conflict(rt, name))
    }

    fn relabel_apply(&self, written: &mut Written, opts: &WriteOptions) {
        // A create through apply is recorded as an Apply by its manager, not an Update.
        if let Some(entries) = written
            .object
            .pointer_mut("/metadata/managedFields")
            .and_then(Value::as_array_mut)
        {
            for e in entries
                .iter_mut()
                .filter(|e| e["manager"] == opts.field_manager.as_str())
            {
                e["operation"] = json!("Apply");
            }
        }
    }

    /// The shared tail of update and patch: merge with the stored object by subresource,
    /// admit, skip no-ops, finish deletions whose finalizers are gone, then compare-and-swap.
    async fn write_update(
        &self,
        at: Loc<'_>,
        current: (&Value, i64),
        new: Value,
        change: Change<'_>,
        opts: &WriteOptions,
    ) -> Result<Written> {
        let Loc { rt, ns, name } = at;
        let (old, old_rev) = current;
        let Change { subresource, op } = change;
        let new = prepare_update(rt, old, new, subresource);
        let mut new = admit(rt, name, new, Some(old))?;
        if tracks_generation(rt) && new.get("spec") != old.get("spec") {
            let generation = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                + 1;
            object::meta_mut(&mut new).insert("generation".into(), json!(generation));
        }
        // Managed fields are compared after recording so a manager switch is not a no-op,
        // but timestamps alone do not make a write.
        let mut recorded = new.clone();
        managed_fields::record(&mut recorded, &opts.field_manager, op, subresource);
        if object::same_content(&new, old) {
            return Ok(Written {
                object: old.clone(),
                created: false,
                json: None,
            });
        }
        let mut new = recorded;
        if opts.dry_run {
            return Ok(Written {
                object: new,
                created: false,
                json: None,
            });
        }
        if object::is_deleting(&new)
            && object::finalizers(&new).is_empty()
            && !namespace_finalizers_pending(rt, &new)
        {
            let deleted = self.remove(at, old_rev, &new).await?;
            return Ok(Written {
                object: deleted,
                created: false,
                json: None,
            });
        }
        let allocated = if rt.kind == "Service" {
            services::allocate(&self.alloc, rt, name, ns, &mut new, Some(old)).await?
        } else {
            services::Allocated::default()
        };
        let stored = object::StoredJson::encode(&mut new);
        match self
            .store
            .update(
                &object::key(rt, ns, name),
                stored.bytes.clone(),
                Some(old_rev),
            )
            .await
        {
            Ok(kv) => {
                if rt.kind == "Service" {
                    services::release_dropped(&self.alloc, old, &new).await;
                }
                object::set_resource_version(&mut new, kv.mod_revision);
                Ok(Written {
                    object: new,
                    created: false,
                    json: stored.with_resource_version(kv.mod_revision),
                })
            }
            Err(e) => {
                allocated.release(&self.alloc).await;
                Err(match e {
                    store::Error::Conflict { .. } => ApiError::conflict(rt, name),
                    store::Error::NotFound { .. } => ApiError::not_found(rt, name),
                    other => other.into(),
                })
            }
        }
    }

    /// Bind a pod to `node` (the `pods/binding` subresource): only a pod with no node yet.
    pub async fn bind(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        name: &str,
        node: &str,
        opts: &WriteOptions,
    ) -> Result<()> {
        for _ in 0..MAX_CONFLICT_RETRIES {
            let Some((old, rev)) = self.get_kv(rt, ns, name).await? else {
                return Err(ApiError::not_found(rt, name));
            };
            if let Some(current) = old
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
            {
                return Err(ApiError::conflict_with(
                    rt,
                    name,
                    &format!("pod {name} is already assigned to node {current:?}"),
                ));
            }
            if object::is_deleting(&old) {
                return Err(ApiError::conflict_with(
                    rt,
                    name,
                    "pod is being deleted, cannot be assigned to a host",
                ));
            }
            let mut bound = old.clone();
            bound["spec"]["nodeName"] = json!(node);
            managed_fields::record(&mut bound, &opts.field_manager, Operation::Update, None);
            match self
                .store
                .update(
                    &object::key(rt, ns, name),
                    object::to_bytes(&bound),
                    Some(rev),
                )
                .await
            {
                Ok(_) => return Ok(()),
                Err(store::Error::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::conflict(rt, name))
    }

    /// Delete an object: at once, or by marking it (finalizers, graceful pod deletion,
    /// namespace termination).
    pub async fn delete(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Value> {
        for _ in 0..MAX_CONFLICT_RETRIES {
            let Some((old, old_rev)) = self.get_kv(rt, ns, name).await? else {
                return Err(ApiError::not_found(rt, name));
            };
            check_preconditions(rt, name, &old, opts)?;
            if opts.dry_run {
                return Ok(old);
            }
            let result = match deletion_plan(rt, &old, opts) {
                DeletionPlan::Now => self.remove(Loc { rt, ns, name }, old_rev, &old).await,
                DeletionPlan::Mark(marked) => {
                    self.store_marked(Loc { rt, ns, name }, old_rev, marked)
                        .await
                }
                DeletionPlan::AlreadyMarked => Ok(old),
            };
            match result {
                Err(ApiError::Conflict { .. }) => continue,
                other => return other,
            }
        }
        Err(ApiError::conflict(rt, name))
    }

    async fn store_marked(&self, at: Loc<'_>, rev: i64, marked: Value) -> Result<Value> {
        let Loc { rt, ns, name } = at;
        match self
            .store
            .update(
                &object::key(rt, ns, name),
                object::to_bytes(&marked),
                Some(rev),
            )
            .await
        {
            Ok(kv) => object::from_kv(&kv),
            Err(store::Error::Conflict { .. }) => Err(ApiError::conflict(rt, name)),
            Err(store::Error::NotFound { .. }) => Err(ApiError::not_found(rt, name)),
            Err(e) => Err(e.into()),
        }
    }

    async fn remove(&self, at: Loc<'_>, rev: i64, last: &Value) -> Result<Value> {
        let Loc { rt, ns, name } = at;
        match self
            .store
            .delete(&object::key(rt, ns, name), Some(rev))
            .await
        {
            Ok(kv) => {
                if rt.kind == "Service" {
                    services::release_all(&self.alloc, last).await;
                }
                let mut obj = object::from_kv(&kv)?;
                object::set_resource_version(&mut obj, kv.mod_revision);
                Ok(obj)
            }
            Err(store::Error::Conflict { .. }) => Err(ApiError::conflict(rt, name)),
            Err(store::Error::NotFound { .. }) => Err(ApiError::not_found(rt, name)),
            Err(e) => Err(e.into()),
        }
    }

    /// Refuse new objects in a namespace that does not exist or is terminating.
    ///
    /// On etcd this is a quorum read, joined by concurrent creates (`joined_reads`). Answering
    /// it from the watch cache (as kube-apiserver's admission reads its informer) was tried:
    /// when the etcd leader died, creates sent in the leaderless moment hung for etcd's 7 s
    /// request timeout (a dropped proposal), and `tests/faults.rs` saw no write resume; the
    /// read fails fast instead, so clients retry onto the new leader within the test's 2 s.
    async fn check_namespace_open(&self, ns: &str) -> Result<()> {
        let ns_rt = api::resources::by_kind("v1", "Namespace").expect("namespaces are served");
        let key = object::key(ns_rt, None, ns);
        match self.namespace_reads.get(&self.store, &key).await? {
            None => Err(ApiError::not_found(ns_rt, ns)),
            Some(kv) => {
                if object::stored_is_deleting(&kv)? {
                    Err(ApiError::Forbidden(format!(
                        "unable to create new content in namespace {ns} because it is being terminated"
                    )))
                } else {
                    Ok(())
                }
            }
        }
    }
}
