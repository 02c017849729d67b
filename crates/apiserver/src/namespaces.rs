//! Namespace termination: once a namespace is marked for deletion, delete everything in it,
//! then drop its `kubernetes` finalizer so the namespace itself goes. Runs inside the API server
//! because it works on every resource type through the registry.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::error::Result;
use crate::object;
use crate::registry::{DeleteOptions, ListOptions, Registry, WriteOptions};

/// How soon a namespace whose content is still going is looked at again.
const RETRY: Duration = Duration::from_millis(500);
/// A full pass even without events, in case a watch was lost.
const RESYNC: Duration = Duration::from_secs(30);

fn namespaces() -> &'static api::resources::ResourceType {
    api::resources::by_kind("v1", "Namespace").expect("namespaces are served")
}

pub async fn run(registry: Arc<Registry>, cancel: CancellationToken) {
    loop {
        let rev = match registry.store.current_revision().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "namespace controller cannot read the store");
                tokio::time::sleep(RESYNC).await;
                continue;
            }
        };
        let pending = match finalize_all(&registry).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "namespace cleanup failed; will retry");
                true
            }
        };
        let wait = if pending { RETRY } else { RESYNC };
        let prefix = object::prefix(namespaces(), None);
        let mut events = match registry.store.watch(&prefix, rev).await {
            Ok(s) => s,
            Err(_) => futures::stream::empty().boxed(),
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
            _ = events.next(), if !pending => {}
        }
    }
}

/// One pass over terminating namespaces; `true` while any still has content.
async fn finalize_all(registry: &Registry) -> Result<bool> {
    let list = registry
        .list(namespaces(), None, &ListOptions::default())
        .await?;
    let mut pending = false;
    for ns in list.items.iter().filter(|ns| object::is_deleting(ns)) {
        let name = object::name(ns).unwrap_or_default().to_string();
        if delete_content(registry, &name).await? {
            pending = true;
            continue;
        }
        finish(registry, ns, &name).await?;
    }
    Ok(pending)
}

/// Delete every object in `ns`; `true` while some remain (finalizers, graceful pods).
async fn delete_content(registry: &Registry, ns: &str) -> Result<bool> {
    let mut remaining = false;
    for rt in api::resources::all().iter().filter(|rt| rt.namespaced()) {
        let list = registry.list(rt, Some(ns), &ListOptions::default()).await?;
        for obj in &list.items {
            remaining = true;
            if object::is_deleting(obj) {
                continue;
            }
            let name = object::name(obj).unwrap_or_default();
            let opts = DeleteOptions::default();
            match registry.delete(rt, Some(ns), name, &opts).await {
                Ok(_) | Err(crate::error::ApiError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(remaining)
}

/// Empty the namespace's `spec.finalizers` through the `finalize` subresource; with no
/// finalizers left the registry removes the namespace.
async fn finish(registry: &Registry, ns: &Value, name: &str) -> Result<()> {
    let mut finalized = ns.clone();
    finalized["spec"] = json!({"finalizers": []});
    let opts = WriteOptions {
        field_manager: "namespace-controller".into(),
        dry_run: false,
    };
    match registry
        .update(namespaces(), None, name, finalized, Some("finalize"), &opts)
        .await
    {
        Ok(_)
        | Err(crate::error::ApiError::NotFound { .. })
        | Err(crate::error::ApiError::Conflict { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}
