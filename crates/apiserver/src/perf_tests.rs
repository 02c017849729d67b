//! A repeatable cost probe for the create path (ignored by default): `PERF_CREATES` ConfigMaps
//! of 1 KiB POSTed through the router (no TCP or TLS) into a `RedbStore`, from `PERF_CLIENTS`
//! concurrent tasks. Run it under `valgrind --tool=callgrind` with two counts and divide the
//! difference of the instruction totals by the difference of the counts.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

use crate::http::{App, router};
use crate::ipalloc::Allocator;
use crate::registry::Registry;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a cost probe, run by hand under callgrind"]
async fn create_cost() {
    let creates = env("PERF_CREATES", 200);
    let clients = env("PERF_CLIENTS", 1).max(1);
    let dir = tempfile::tempdir().unwrap();
    let mut config = store::EmbeddedConfig::default();
    if let Ok(quick_repair) = std::env::var("PERF_QUICK_REPAIR") {
        config.quick_repair = quick_repair == "1";
    }
    let store: Arc<dyn store::Store> =
        Arc::new(store::RedbStore::open(&dir.path().join("db"), config).unwrap());
    let alloc = Allocator::new(store.clone(), vec!["10.96.0.0/12".parse().unwrap()]);
    let registry = Arc::new(Registry::new(store, alloc));
    crate::bootstrap::run(&registry, 6443).await.unwrap();
    let app = Arc::new(App {
        registry,
        cached_reads: None,
        token: None,
        server_address: "127.0.0.1:6443".into(),
        shutdown: tokio_util::sync::CancellationToken::new(),
    });
    let router = router(app);
    let payload = "x".repeat(1024);
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let router = router.clone();
            let payload = payload.clone();
            tokio::spawn(async move {
                for i in (client..creates).step_by(clients) {
                    let body = format!(
                        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"c-{i}"}},"data":{{"payload":"{payload}"}}}}"#
                    );
                    let request = Request::post("/api/v1/namespaces/default/configmaps")
                        .header("content-type", "application/json")
                        .body(Body::from(body))
                        .unwrap();
                    let response = router.clone().oneshot(request).await.unwrap();
                    assert_eq!(response.status(), StatusCode::CREATED);
                    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                        .await
                        .unwrap();
                    assert!(!body.is_empty());
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}
