//! `svcplane server --etcd-servers`: the API on a real etcd started by `testkit::etcd`, driven by
//! the real kubectl and kube-rs. Objects outlive the server (they are in etcd, not the data
//! dir), and two replicas on one etcd see each other's writes and never hand out one ClusterIP
//! twice. Each test skips when the `etcd` binary is absent, unless `CI` is set.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use testkit::etcd::EtcdCluster;
use testkit::example;
use testkit::{Server, fails, ok};

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_svcplane"))
}

/// A server on `etcd` without simulated nodes; `extra` flags after those.
fn server_on(etcd: &EtcdCluster, extra: &[&str]) -> Result<Server> {
    let endpoints = etcd.endpoints();
    let mut args = vec!["--etcd-servers", endpoints.as_str(), "--nodes", "0"];
    args.extend_from_slice(extra);
    Server::start(bin(), &args)
}

/// The etcd keys under `prefix`, through etcdctl, if it is installed.
fn etcd_keys(etcd: &EtcdCluster, prefix: &str) -> Result<Option<Vec<String>>> {
    let Ok(out) = Command::new("etcdctl")
        .args([
            "--endpoints",
            &etcd.endpoints(),
            "get",
            prefix,
            "--prefix",
            "--keys-only",
        ])
        .env("ETCDCTL_API", "3")
        .output()
    else {
        eprintln!("etcdctl is not on PATH: not checking the keys in etcd");
        return Ok(None);
    };
    let text = ok(out)?;
    Ok(Some(
        text.lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect(),
    ))
}

#[test]
fn kubectl_on_etcd_and_objects_outlive_the_server() -> Result<()> {
    let Some(etcd) = EtcdCluster::start_or_skip(1)? else {
        return Ok(());
    };
    let started = Instant::now();
    let mut s = server_on(&etcd, &[])?;
    eprintln!("server on etcd ready in {:?}", started.elapsed());
    assert!(
        !s.data_dir().join("store.redb").exists(),
        "the embedded store is not used"
    );

    // The seed commands.
    assert_eq!(
        ok(s.kubectl(&["apply", "-f", &example("my-nginx-deployment.yaml")])?)?.trim(),
        "deployment.apps/my-nginx created"
    );
    assert_eq!(
        ok(s.kubectl(&["apply", "-f", &example("headless-svc.yaml")])?)?.trim(),
        "service/my-nginx-headless-svc created"
    );
    let wide = ok(s.kubectl(&["get", "svc", "-o", "wide"])?)?;
    assert!(
        wide.lines().any(|l| l.starts_with("my-nginx-headless-svc")
            && l.contains("None")
            && l.contains("run=my-nginx")),
        "{wide}"
    );
    assert!(wide.contains("10.96.0.1"), "{wide}");
    let describe = ok(s.kubectl(&["describe", "svc", "my-nginx-headless-svc"])?)?;
    assert!(describe.contains("run=my-nginx"), "{describe}");
    ok(s.kubectl(&["get", "pods", "-o", "wide", "--show-labels"])?)?;
    assert_eq!(
        ok(s.kubectl(&["label", "svc", "my-nginx-headless-svc", "team=dns"])?)?.trim(),
        "service/my-nginx-headless-svc labeled"
    );

    // The objects are etcd keys under /registry, as kube-apiserver lays them out.
    if let Some(keys) = etcd_keys(&etcd, "/registry/")? {
        for want in [
            "/registry/services/specs/default/my-nginx-headless-svc",
            "/registry/deployments/default/my-nginx",
        ] {
            assert!(keys.iter().any(|k| k == want), "{want} not in {keys:?}");
        }
    }

    // A new server with a new data dir finds everything in etcd.
    s.kill();
    let s = server_on(&etcd, &[])?;
    let labels = ok(s.kubectl(&["get", "svc", "my-nginx-headless-svc", "--show-labels"])?)?;
    assert!(labels.contains("team=dns"), "{labels}");
    ok(s.kubectl(&["get", "deployment", "my-nginx"])?)?;
    assert_eq!(
        ok(s.kubectl(&["delete", "svc", "my-nginx-headless-svc"])?)?.trim(),
        r#"service "my-nginx-headless-svc" deleted"#
    );
    let gone = fails(s.kubectl(&["get", "svc", "my-nginx-headless-svc"])?)?;
    assert!(gone.contains("NotFound"), "{gone}");
    eprintln!("kubectl on etcd, with a restart: {:?}", started.elapsed());
    Ok(())
}

/// A ClusterIP Service named `name`.
fn cluster_ip_service(name: &str) -> Result<Service> {
    Ok(serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {"ports": [{"port": 80}], "selector": {"app": name}},
    }))?)
}

/// Two replicas on one etcd: a write through one reaches watchers of the other (kubectl and
/// kube-rs), and concurrent creates through both get distinct ClusterIPs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_etcd() -> Result<()> {
    let Some(etcd) = EtcdCluster::start_or_skip(1)? else {
        return Ok(());
    };
    // B runs neither controllers nor agent, so it stays out of the election and A leads.
    let a = server_on(&etcd, &[])?;
    let b = server_on(&etcd, &["--no-controllers"])?;
    let (client_a, client_b) = (a.client().await?, b.client().await?);

    // kubectl -w and a kube-rs watch on B; writes through A.
    let cache = tempfile::tempdir()?;
    let mut kubectl_watch = Command::new("kubectl")
        .args([
            "get",
            "svc",
            "-w",
            "--output-watch-events",
            "--request-timeout=60s",
        ])
        .env("KUBECONFIG", &b.kubeconfig)
        .env("KUBECACHEDIR", cache.path())
        .stdout(Stdio::piped())
        .spawn()?;
    let services_b: Api<Service> = Api::namespaced(client_b.clone(), "default");
    let rv = services_b
        .list(&ListParams::default())
        .await?
        .metadata
        .resource_version
        .context("list without resourceVersion")?;
    let mut events = services_b
        .watch(&WatchParams::default(), &rv)
        .await?
        .boxed();

    let started = Instant::now();
    assert_eq!(
        ok(a.kubectl(&["apply", "-f", &example("headless-svc.yaml")])?)?.trim(),
        "service/my-nginx-headless-svc created"
    );
    let added = tokio::time::timeout(Duration::from_secs(10), events.try_next()).await??;
    match added {
        Some(WatchEvent::Added(svc)) => {
            assert_eq!(svc.metadata.name.as_deref(), Some("my-nginx-headless-svc"))
        }
        other => bail!("expected ADDED on the other replica, got {other:?}"),
    }
    eprintln!(
        "write on A seen by a watch on B after {:?}",
        started.elapsed()
    );
    ok(a.kubectl(&["label", "svc", "my-nginx-headless-svc", "step=1"])?)?;
    ok(a.kubectl(&["delete", "svc", "my-nginx-headless-svc"])?)?;
    let mut seen = Vec::new();
    while seen.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(10), events.try_next()).await?? {
            Some(WatchEvent::Modified(_)) => seen.push("MODIFIED"),
            Some(WatchEvent::Deleted(_)) => seen.push("DELETED"),
            Some(WatchEvent::Bookmark(_)) => {}
            other => bail!("unexpected event {other:?}"),
        }
    }
    assert_eq!(seen, ["MODIFIED", "DELETED"]);

    // Give kubectl a moment to print the last event, then read what it saw.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _ = kubectl_watch.kill();
    let out = String::from_utf8(kubectl_watch.wait_with_output()?.stdout)?;
    let printed: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("my-nginx-headless-svc"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(printed, ["ADDED", "MODIFIED", "DELETED"], "{out}");

    // Concurrent creates through both replicas: every ClusterIP distinct.
    const PER_REPLICA: usize = 20;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (replica, client) in [("a", &client_a), ("b", &client_b)] {
        for i in 0..PER_REPLICA {
            let api: Api<Service> = Api::namespaced(client.clone(), "default");
            let svc = cluster_ip_service(&format!("svc-{replica}-{i}"))?;
            tasks.push(tokio::spawn(async move {
                api.create(&PostParams::default(), &svc).await
            }));
        }
    }
    let mut ips = BTreeSet::new();
    for task in tasks {
        let svc = task.await??;
        let ip = svc
            .spec
            .and_then(|s| s.cluster_ip)
            .context("no clusterIP")?;
        assert!(ips.insert(ip.clone()), "{ip} handed out twice");
    }
    eprintln!(
        "{} concurrent Service creates on two replicas: {:?}",
        2 * PER_REPLICA,
        started.elapsed()
    );
    // What is stored agrees, including the bootstrap Services, seen from either replica.
    let all: Vec<Service> = Api::<Service>::all(client_a)
        .list(&ListParams::default())
        .await?
        .items;
    let stored: Vec<String> = all
        .iter()
        .filter_map(|s| s.spec.as_ref()?.cluster_ip.clone())
        .filter(|ip| ip != "None")
        .collect();
    let distinct: BTreeSet<&String> = stored.iter().collect();
    assert_eq!(distinct.len(), stored.len(), "{stored:?}");
    assert_eq!(stored.len(), 2 * PER_REPLICA + 2, "{stored:?}");
    let from_b = Api::<Service>::all(client_b)
        .list(&ListParams::default())
        .await?
        .items
        .len();
    assert_eq!(from_b, all.len());
    Ok(())
}
