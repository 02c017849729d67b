//! What every cluster has from its first start: the system namespaces, the `kubernetes` and
//! `kube-dns` Services at their well-known ClusterIPs.

use serde_json::{Value, json};

use crate::error::{ApiError, Result};
use crate::registry::{Registry, WriteOptions};

pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

fn rt(api_version: &str, kind: &str) -> &'static api::resources::ResourceType {
    api::resources::by_kind(api_version, kind).expect("built-in kind is served")
}

async fn ensure(
    registry: &Registry,
    api_version: &str,
    kind: &str,
    ns: Option<&str>,
    obj: Value,
) -> Result<()> {
    let opts = WriteOptions {
        field_manager: "svcplane-bootstrap".into(),
        dry_run: false,
    };
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let rt = rt(api_version, kind);
    match registry.create(rt, ns, obj, &opts).await {
        Ok(_) | Err(ApiError::AlreadyExists { .. }) => Ok(()),
        // Replicas starting together race for the well-known ClusterIPs: the loser's create
        // fails on the allocation before it can see the Service. If the winner's exists now,
        // the bootstrap is done.
        Err(e) => match registry.get(rt, ns, &name).await {
            Ok(_) => Ok(()),
            Err(_) => Err(e),
        },
    }
}

pub async fn run(registry: &Registry, api_port: u16) -> Result<()> {
    for ns in SYSTEM_NAMESPACES {
        ensure(
            registry,
            "v1",
            "Namespace",
            None,
            json!({"metadata": {"name": ns}}),
        )
        .await?;
    }
    let ips = |offset: u128| -> Vec<String> {
        registry
            .alloc
            .cidrs()
            .iter()
            .map(|c| c.nth(offset).to_string())
            .collect()
    };
    let dual = if registry.alloc.cidrs().len() > 1 {
        "PreferDualStack"
    } else {
        "SingleStack"
    };
    let kubernetes = json!({
        "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"clusterIP": ips(1)[0], "clusterIPs": ips(1), "ipFamilyPolicy": dual,
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": api_port}]},
    });
    ensure(registry, "v1", "Service", Some("default"), kubernetes).await?;
    let kube_dns = json!({
        "metadata": {"name": "kube-dns", "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS"}},
        "spec": {"clusterIP": ips(10)[0], "clusterIPs": ips(10), "ipFamilyPolicy": dual, "selector": {"k8s-app": "kube-dns"},
                 "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                           {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                           {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}]},
    });
    ensure(registry, "v1", "Service", Some("kube-system"), kube_dns).await?;
    Ok(())
}
