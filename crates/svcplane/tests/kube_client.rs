//! The kube-rs client against a real server process: list, watch and server-side apply, and
//! durability: every write the server acknowledged survives a SIGKILL at an arbitrary moment.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use testkit::Server;

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_svcplane"))
}

#[tokio::test]
async fn list_watch_and_apply() -> Result<()> {
    let s = Server::start(bin(), &[])?;
    let client = s.client().await?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(names.contains(&ns.to_string()), "{names:?}");
    }
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let list = services.list(&ListParams::default()).await?;
    let rv = list.metadata.resource_version.clone().unwrap_or_default();

    let mut events = services
        .watch(&WatchParams::default().timeout(20), &rv)
        .await?
        .boxed();
    let applied: Service = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"clusterIP": "None", "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]}
    }))?;
    let params = PatchParams::apply("kube-rs-test");
    let created = services
        .patch("web", &params, &Patch::Apply(&applied))
        .await?;
    assert_eq!(
        created.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()),
        Some("None")
    );
    let ports = created
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .unwrap_or_default();
    assert_eq!(ports[0].protocol.as_deref(), Some("TCP"));

    let first = tokio::time::timeout(Duration::from_secs(10), events.try_next()).await??;
    match first {
        Some(WatchEvent::Added(svc)) => assert_eq!(svc.metadata.name.as_deref(), Some("web")),
        other => panic!("expected ADDED web, got {other:?}"),
    }
    let managers: Vec<String> = created
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert!(
        managers.contains(&"kube-rs-test".to_string()),
        "{managers:?}"
    );
    Ok(())
}

/// A watch of a quiet kind is told how far the store has moved on (a BOOKMARK before it times
/// out), so a client resuming it after more writes to other kinds than the history holds needs no
/// new list. Without that, every informer of a quiet kind re-lists each time its watch times out
/// on a busy server.
#[tokio::test]
async fn quiet_watches_are_bookmarked_past_other_kinds_writes() -> Result<()> {
    let s = Server::start(bin(), &["--watch-history", "50"])?;
    let client = s.client().await?;
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let listed = services.list(&ListParams::default()).await?;
    let listed = listed.metadata.resource_version.unwrap_or_default();
    let mut events = services
        .watch(&WatchParams::default().timeout(3), &listed)
        .await?
        .boxed();

    let maps: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut last_write = 0_i64;
    for i in 0..100 {
        let map: ConfigMap = serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("filler-{i}")}, "data": {"i": i.to_string()}
        }))?;
        let created = maps.create(&PostParams::default(), &map).await?;
        last_write = created
            .metadata
            .resource_version
            .unwrap_or_default()
            .parse()?;
    }

    let mut bookmarked = None;
    while let Some(event) =
        tokio::time::timeout(Duration::from_secs(10), events.try_next()).await??
    {
        match event {
            WatchEvent::Bookmark(b) => bookmarked = Some(b.metadata.resource_version),
            other => panic!("no Service changed, yet the watch said {other:?}"),
        }
    }
    let bookmarked: i64 = bookmarked
        .expect("a bookmark before the watch ended")
        .parse()?;
    assert!(
        bookmarked >= last_write,
        "bookmark {bookmarked} is behind the last write {last_write}"
    );

    let first_item = |rv: String| {
        let services = services.clone();
        async move {
            let mut stream = services
                .watch(&WatchParams::default().timeout(1), &rv)
                .await?
                .boxed();
            anyhow::Ok(tokio::time::timeout(Duration::from_secs(10), stream.try_next()).await??)
        }
    };
    match first_item(listed.clone()).await? {
        Some(WatchEvent::Error(status)) => assert_eq!(status.code, 410, "{status:?}"),
        other => panic!("the listed revision {listed} should have left the history: {other:?}"),
    }
    match first_item(bookmarked.to_string()).await? {
        Some(WatchEvent::Bookmark(_)) | None => {}
        other => panic!("resuming from the bookmark {bookmarked}: {other:?}"),
    }
    Ok(())
}

/// Concurrent creates through the API; the server is SIGKILLed while they run. After a restart on
/// the same data dir every create that got its 201 is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() -> Result<()> {
    let data = tempfile::tempdir()?;
    for round in 0..3 {
        let mut s = Server::start_in(bin(), data.path(), &[])?;
        let client = s.client().await?;
        let acked = Arc::new(Mutex::new(Vec::new()));
        let mut writers = Vec::new();
        for w in 0..16 {
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
            let acked = acked.clone();
            writers.push(tokio::spawn(async move {
                for i in 0.. {
                    let name = format!("r{round}-w{w}-{i}");
                    let cm: ConfigMap = serde_json::from_value(serde_json::json!({
                        "metadata": {"name": name}, "data": {"v": name}
                    }))
                    .expect("valid ConfigMap");
                    match api.create(&PostParams::default(), &cm).await {
                        Ok(_) => acked.lock().expect("lock").push(name),
                        Err(_) => return,
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(700 + 300 * round)).await;
        s.kill();
        for w in writers {
            let _ = w.await;
        }
        let acked = acked.lock().expect("lock").clone();
        assert!(
            !acked.is_empty(),
            "no write was acknowledged before the kill"
        );
        s.restart()?;
        let api: Api<ConfigMap> = Api::namespaced(s.client().await?, "default");
        let stored: std::collections::HashSet<String> = api
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter_map(|c| c.metadata.name)
            .collect();
        let lost: Vec<&String> = acked.iter().filter(|n| !stored.contains(*n)).collect();
        assert!(
            lost.is_empty(),
            "round {round}: {} of {} acknowledged writes lost: {lost:?}",
            lost.len(),
            acked.len()
        );
        s.kill();
    }
    Ok(())
}

/// A server stopped the moment it reports its address (its node agent still registering
/// nodes, no cache listed yet) exits cleanly instead of waiting forever for caches that will
/// never fill: kube-runtime's controller waits for its first list, which shutdown stops.
#[test]
fn a_server_stopped_right_after_it_starts_exits() -> Result<()> {
    for _ in 0..3 {
        let mut s = Server::start(bin(), &["--nodes", "50"])?;
        // Generous: a clean stop takes about 0.1 s; only a hang reaches it.
        let status = s.terminate(Duration::from_secs(30))?;
        assert!(status.success(), "exit status {status}");
    }
    Ok(())
}
