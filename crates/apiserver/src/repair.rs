//! Allocation repair, like kube-apiserver's repair controllers: a ClusterIP or NodePort whose
//! owner Service does not hold it (a crash between allocation and write) is freed — but only
//! when it is still unheld on the next pass. An allocation in flight on any replica (taken, its
//! Service not yet written) is therefore never freed under it.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::error::{ApiError, Result};
use crate::object;
use crate::registry::Registry;

/// Time between passes; a leaked allocation is freed one to two intervals after the crash.
const INTERVAL: Duration = Duration::from_secs(60);

/// An allocation as `(key, owner)`: the same key taken anew by another owner is a new suspect.
type Allocation = (String, String);

pub async fn run(registry: Arc<Registry>, cancel: CancellationToken) {
    let mut suspects = HashSet::new();
    loop {
        match pass(&registry, &suspects).await {
            Ok(next) => suspects = next,
            Err(e) => tracing::warn!(error = %e, "allocation repair pass failed; will retry"),
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(INTERVAL) => {}
        }
    }
}

/// One pass: free what was unheld last time and still is; return what is unheld now.
async fn pass(registry: &Registry, previous: &HashSet<Allocation>) -> Result<HashSet<Allocation>> {
    let services = api::resources::by_kind("v1", "Service").expect("services are served");
    let allocations = registry
        .alloc
        .allocations()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut unheld = HashSet::new();
    for (key, owner) in allocations {
        let Some((ns, name)) = owner.split_once('/') else {
            continue;
        };
        let value = key.rsplit('/').next().unwrap_or_default();
        let held = match registry.get(services, Some(ns), name).await {
            Ok(svc) => holds(&svc, value),
            Err(ApiError::NotFound { .. }) => false,
            Err(e) => return Err(e),
        };
        if held {
            continue;
        }
        let allocation = (key, owner);
        if previous.contains(&allocation) {
            tracing::info!(key = %allocation.0, owner = %allocation.1, "releasing an allocation no Service holds");
            registry.alloc.release_key(&allocation.0).await;
        } else {
            unheld.insert(allocation);
        }
    }
    Ok(unheld)
}

/// Whether `svc` holds the ClusterIP or NodePort `value`.
fn holds(svc: &Value, value: &str) -> bool {
    let strings = |pointer: &str| -> Vec<String> {
        svc.pointer(pointer)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let node_ports: Vec<String> = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(|ports| {
            ports
                .iter()
                .filter_map(|p| p.get("nodePort").and_then(Value::as_i64))
                .map(|n| n.to_string())
                .collect()
        })
        .unwrap_or_default();
    object::name(svc).is_none()
        || strings("/spec/clusterIPs").iter().any(|ip| ip == value)
        || node_ports.iter().any(|p| p == value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipalloc::Allocator;

    #[tokio::test]
    async fn frees_only_what_stays_unheld_across_two_passes() {
        let store: Arc<dyn store::Store> = Arc::new(store::MemoryStore::new());
        let alloc = Allocator::new(store.clone(), vec!["10.0.0.0/24".parse().unwrap()]);
        let registry = Registry::new(store, alloc.clone());
        let ghost = "10.0.0.7".parse().unwrap();
        alloc.reserve_ip(ghost, "default/ghost").await.unwrap();

        let first = pass(&registry, &HashSet::new()).await.unwrap();
        assert_eq!(first.len(), 1, "a fresh leak is only suspected");
        assert!(
            alloc.reserve_ip(ghost, "default/other").await.is_err(),
            "still taken after one pass"
        );

        let second = pass(&registry, &first).await.unwrap();
        assert!(second.is_empty());
        assert!(
            alloc.reserve_ip(ghost, "default/other").await.is_ok(),
            "freed on the second pass"
        );
    }

    #[test]
    fn services_hold_their_ips_and_node_ports() {
        let svc = serde_json::json!({"metadata": {"name": "web"},
            "spec": {"clusterIPs": ["10.0.0.5"], "ports": [{"port": 80, "nodePort": 30080}]}});
        assert!(holds(&svc, "10.0.0.5"));
        assert!(holds(&svc, "30080"));
        assert!(!holds(&svc, "10.0.0.6"));
    }
}
