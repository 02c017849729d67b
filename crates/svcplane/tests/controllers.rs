//! Controllers end to end: the real binary (no node agent yet, so the test writes pod status
//! through `pods/status` as the agent will), the real kubectl and kube-rs. Deployments become
//! ReplicaSets and pods, pods become Endpoints and EndpointSlices, StatefulSets get ordered pods
//! with hostnames, and deleting owners collects their dependents.

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Endpoints, Pod};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams, Patch, PatchParams};
use testkit::{Server, ok};

const DEADLINE: Duration = Duration::from_secs(30);

/// The server without the simulated node agent (`--nodes 0`), so that this test alone writes
/// pod status. A binary that does not know the flag yet has no agent either.
fn server() -> Result<Server> {
    let bin = Path::new(env!("CARGO_BIN_EXE_svcplane"));
    Server::start(bin, &["--nodes", "0"]).or_else(|_| Server::start(bin, &[]))
}

/// Poll `f` until it yields `Some`, failing with `what` and the last observation at `DEADLINE`.
async fn eventually<T, F, Fut>(what: &str, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let start = Instant::now();
    loop {
        match f().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) if start.elapsed() > DEADLINE => return Err(e.context(what.to_string())),
            Err(_) => {}
        }
        if start.elapsed() > DEADLINE {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn apply(s: &Server, manifest: &str) -> Result<String> {
    ok(s.kubectl_stdin(&["apply", "-f", "-"], manifest)?)
}

/// Give a pod an IP and a Ready condition through the status subresource, as the agent will.
async fn set_pod_status(pods: &Api<Pod>, name: &str, ip: &str, ready: bool) -> Result<()> {
    let status = if ready { "True" } else { "False" };
    let body = serde_json::json!({"status": {
        "phase": "Running",
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "conditions": [
            {"type": "Ready", "status": status, "lastTransitionTime": "2024-01-01T00:00:00Z"},
            {"type": "ContainersReady", "status": status, "lastTransitionTime": "2024-01-01T00:00:00Z"},
        ],
    }});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&body))
        .await
        .with_context(|| format!("patching the status of pod {name}"))?;
    Ok(())
}

/// Live (not terminating) pods with label `sel`, sorted by name.
async fn live_pods(pods: &Api<Pod>, sel: &str) -> Result<Vec<Pod>> {
    let mut list: Vec<Pod> = pods
        .list(&ListParams::default().labels(sel))
        .await?
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    list.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    Ok(list)
}

/// Mark every live pod matching `sel` that has no IP yet Ready, with IPs from 10.244.1.<n>.
async fn ready_all(pods: &Api<Pod>, sel: &str, next_ip: &mut u8) -> Result<()> {
    for p in live_pods(pods, sel).await? {
        let has_ip = p.status.as_ref().and_then(|s| s.pod_ip.as_ref()).is_some();
        if !has_ip {
            let ip = format!("10.244.1.{next_ip}");
            *next_ip += 1;
            set_pod_status(pods, p.metadata.name.as_deref().unwrap_or(""), &ip, true).await?;
        }
    }
    Ok(())
}

fn pod_ip(p: &Pod) -> String {
    p.status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .unwrap_or_default()
}

/// (ready, not ready) addresses in the service's EndpointSlices.
async fn slice_addresses(
    slices: &Api<EndpointSlice>,
    svc: &str,
) -> Result<(Vec<String>, Vec<String>)> {
    let list = slices
        .list(&ListParams::default().labels(&format!("kubernetes.io/service-name={svc}")))
        .await?;
    let (mut ready, mut not_ready) = (Vec::new(), Vec::new());
    for s in list.items {
        for e in s.endpoints {
            let r = e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
            let target = if r { &mut ready } else { &mut not_ready };
            target.extend(e.addresses);
        }
    }
    ready.sort();
    not_ready.sort();
    Ok((ready, not_ready))
}

/// (addresses, notReadyAddresses) IPs of the Endpoints object.
fn endpoints_addresses(e: &Endpoints) -> (Vec<String>, Vec<String>) {
    let (mut ready, mut not_ready) = (Vec::new(), Vec::new());
    for s in e.subsets.iter().flatten() {
        ready.extend(s.addresses.iter().flatten().map(|a| a.ip.clone()));
        not_ready.extend(s.not_ready_addresses.iter().flatten().map(|a| a.ip.clone()));
    }
    ready.sort();
    not_ready.sort();
    (ready, not_ready)
}

const HEADLESS_SVC: &str = r#"
kind: Service
apiVersion: v1
metadata:
  name: my-nginx-headless-svc
spec:
  clusterIP: None
  ports:
  - protocol: TCP
    port: 80
    targetPort: 80
    name: httpport
  selector:
    run: my-nginx
"#;

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: my-nginx
spec:
  replicas: 2
  selector:
    matchLabels:
      run: my-nginx
  template:
    metadata:
      labels:
        run: my-nginx
        version: v1
    spec:
      containers:
      - name: my-nginx
        image: nginx
        ports:
        - containerPort: 80
"#;

/// Endpoints (ready, not ready) and slice (ready, not ready) once both agree on `want`.
async fn wait_for_endpoints(
    endpoints: &Api<Endpoints>,
    slices: &Api<EndpointSlice>,
    svc: &str,
    want_ready: &[String],
    want_not_ready: &[String],
) -> Result<()> {
    let what = format!("endpoints of {svc}: ready {want_ready:?}, not ready {want_not_ready:?}");
    eventually(&what, || async {
        let Some(e) = endpoints.get_opt(svc).await? else {
            return Ok(None);
        };
        let from_endpoints = endpoints_addresses(&e);
        let from_slices = slice_addresses(slices, svc).await?;
        let want = (want_ready.to_vec(), want_not_ready.to_vec());
        Ok((from_endpoints == want && from_slices == want).then_some(()))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_pods_become_endpoints_and_are_collected() -> Result<()> {
    let s = server()?;
    let client = s.client().await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    let svc = "my-nginx-headless-svc";

    apply(&s, HEADLESS_SVC)?;
    // No pods yet: a placeholder slice with no endpoints, and empty Endpoints.
    let placeholder = eventually("a placeholder slice", || async {
        let list = slices
            .list(&ListParams::default().labels(&format!("kubernetes.io/service-name={svc}")))
            .await?;
        Ok(list.items.into_iter().next())
    })
    .await?;
    assert!(placeholder.endpoints.is_empty());
    let labels = placeholder.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(labels["service.kubernetes.io/headless"], "");
    assert!(
        placeholder
            .metadata
            .name
            .as_deref()
            .unwrap_or("")
            .starts_with("my-nginx-headless-svc-")
    );
    let owner = &placeholder
        .metadata
        .owner_references
        .clone()
        .unwrap_or_default()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("Service", Some(true))
    );

    apply(&s, DEPLOYMENT)?;
    let created = eventually("two my-nginx pods", || async {
        let list = live_pods(&pods, "run=my-nginx").await?;
        Ok((list.len() == 2).then_some(list))
    })
    .await?;
    let rs_list = rss.list(&ListParams::default()).await?.items;
    assert_eq!(rs_list.len(), 1, "one ReplicaSet");
    let rs_name = rs_list[0].metadata.name.clone().unwrap_or_default();
    let hash = rs_name
        .strip_prefix("my-nginx-")
        .context("rs name")?
        .to_string();
    assert!(
        !hash.is_empty()
            && hash
                .chars()
                .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)),
        "{hash}"
    );
    for p in &created {
        let name = p.metadata.name.clone().unwrap_or_default();
        let suffix = name
            .strip_prefix(&format!("{rs_name}-"))
            .context("pod name")?;
        assert_eq!(suffix.len(), 5, "{name}");
        let labels = p.metadata.labels.clone().unwrap_or_default();
        assert_eq!(labels.get("pod-template-hash"), Some(&hash));
        assert_eq!(labels.get("version").map(String::as_str), Some("v1"));
    }

    let mut next_ip = 10;
    ready_all(&pods, "run=my-nginx", &mut next_ip).await?;
    let two = vec!["10.244.1.10".to_string(), "10.244.1.11".to_string()];
    wait_for_endpoints(&endpoints, &slices, svc, &two, &[]).await?;
    let describe = ok(s.kubectl(&["describe", "svc", svc])?)?;
    let line = describe
        .lines()
        .find(|l| l.starts_with("Endpoints:"))
        .context("Endpoints line")?;
    assert!(
        line.contains("10.244.1.10:80") && line.contains("10.244.1.11:80"),
        "{describe}"
    );
    let get_ep = ok(s.kubectl(&["get", "endpoints", svc])?)?;
    assert!(
        get_ep.contains("10.244.1.10:80") && get_ep.contains("10.244.1.11:80"),
        "{get_ep}"
    );
    let get_slices = ok(s.kubectl(&[
        "get",
        "endpointslices",
        "-l",
        &format!("kubernetes.io/service-name={svc}"),
    ])?)?;
    assert!(
        get_slices.contains("10.244.1.10") && get_slices.contains("IPv4"),
        "{get_slices}"
    );

    ok(s.kubectl(&["rollout", "status", "deployment/my-nginx", "--timeout=30s"])?)?;
    let get = ok(s.kubectl(&["get", "deploy", "my-nginx"])?)?;
    assert!(get.lines().nth(1).unwrap_or("").contains("2/2"), "{get}");

    // Scale up: a third pod; once Ready it joins the endpoints.
    ok(s.kubectl(&["scale", "deployment/my-nginx", "--replicas=3"])?)?;
    eventually("three pods", || async {
        Ok((live_pods(&pods, "run=my-nginx").await?.len() == 3).then_some(()))
    })
    .await?;
    ready_all(&pods, "run=my-nginx", &mut next_ip).await?;
    let three: Vec<String> = (10..13).map(|i| format!("10.244.1.{i}")).collect();
    wait_for_endpoints(&endpoints, &slices, svc, &three, &[]).await?;
    ok(s.kubectl(&["rollout", "status", "deployment/my-nginx", "--timeout=30s"])?)?;

    // Scale down to one.
    ok(s.kubectl(&["scale", "deployment/my-nginx", "--replicas=1"])?)?;
    let last = eventually("one pod", || async {
        let list = live_pods(&pods, "run=my-nginx").await?;
        Ok((list.len() == 1).then(|| list.into_iter().next()).flatten())
    })
    .await?;
    let ip = pod_ip(&last);
    wait_for_endpoints(&endpoints, &slices, svc, std::slice::from_ref(&ip), &[]).await?;

    // Unready: moves to notReadyAddresses and ready=false in the slice.
    let last_name = last.metadata.name.clone().unwrap_or_default();
    set_pod_status(&pods, &last_name, &ip, false).await?;
    wait_for_endpoints(&endpoints, &slices, svc, &[], std::slice::from_ref(&ip)).await?;
    set_pod_status(&pods, &last_name, &ip, true).await?;
    wait_for_endpoints(&endpoints, &slices, svc, std::slice::from_ref(&ip), &[]).await?;

    let describe = eventually("describe deploy to settle", || async {
        let d = ok(s.kubectl(&["describe", "deploy", "my-nginx"])?)?;
        Ok(
            d.contains("1 desired | 1 updated | 1 total | 1 available | 0 unavailable")
                .then_some(d),
        )
    })
    .await?;
    assert!(
        describe.contains(&format!(
            "NewReplicaSet:   {rs_name} (1/1 replicas created)"
        )),
        "{describe}"
    );
    assert!(describe.contains("ScalingReplicaSet"), "{describe}");
    assert!(describe.contains("NewReplicaSetAvailable"), "{describe}");
    let describe_rs = ok(s.kubectl(&["describe", "rs", &rs_name])?)?;
    assert!(
        describe_rs.contains("SuccessfulCreate") && describe_rs.contains("SuccessfulDelete"),
        "{describe_rs}"
    );
    let get_rs = ok(s.kubectl(&["get", "rs"])?)?;
    let row: Vec<&str> = get_rs
        .lines()
        .find(|l| l.starts_with(&rs_name))
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(row.get(1..4), Some(&["1", "1", "1"][..]), "{get_rs}");

    // Deleting the Deployment collects its ReplicaSet and pods.
    ok(s.kubectl(&["delete", "deployment", "my-nginx"])?)?;
    eventually("the ReplicaSet and pods to be collected", || async {
        let rs_left = rss.list(&ListParams::default()).await?.items.len();
        let pods_left = pods
            .list(&ListParams::default().labels("run=my-nginx"))
            .await?
            .items
            .len();
        Ok((rs_left == 0 && pods_left == 0).then_some(()))
    })
    .await?;
    wait_for_endpoints(&endpoints, &slices, svc, &[], &[]).await?;

    // Deleting the Service removes its slices and Endpoints.
    ok(s.kubectl(&["delete", "svc", svc])?)?;
    eventually("slices and endpoints to go with the service", || async {
        let left = slices
            .list(&ListParams::default().labels(&format!("kubernetes.io/service-name={svc}")))
            .await?
            .items
            .len();
        Ok((left == 0 && endpoints.get_opt(svc).await?.is_none()).then_some(()))
    })
    .await?;
    Ok(())
}

/// Ready the Deployment's pods until `kubectl rollout status` says the rollout is done.
async fn roll_out(s: &Server, pods: &Api<Pod>, next_ip: &mut u8) -> Result<()> {
    let start = Instant::now();
    loop {
        ready_all(pods, "run=my-nginx", next_ip).await?;
        let status =
            ok(s.kubectl(&["rollout", "status", "deployment/my-nginx", "--watch=false"])?)?;
        if status.contains("successfully rolled out") {
            return Ok(());
        }
        if start.elapsed() > DEADLINE {
            bail!("the rollout did not finish: {status}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The ReplicaSet's `deployment.kubernetes.io/<what>` annotation.
fn rs_annotation<'a>(rs: &'a ReplicaSet, what: &str) -> Option<&'a str> {
    rs.metadata
        .annotations
        .as_ref()?
        .get(&format!("deployment.kubernetes.io/{what}"))
        .map(String::as_str)
}

/// A new template rolls out through a second ReplicaSet at revision 2; `rollout undo` makes
/// the first one current again at revision 3. The controllers cache no pod templates, so
/// this is what checks that a template change is seen and that the new ReplicaSet and its
/// pods are made from the right template.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_and_its_undo_move_between_replicasets() -> Result<()> {
    let s = server()?;
    let client = s.client().await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let mut next_ip = 10;
    apply(&s, DEPLOYMENT)?;
    roll_out(&s, &pods, &mut next_ip).await?;
    let first = rss.list(&ListParams::default()).await?.items;
    assert_eq!(first.len(), 1, "one ReplicaSet");
    let first = first[0].metadata.name.clone().unwrap_or_default();

    ok(s.kubectl(&["set", "image", "deployment/my-nginx", "my-nginx=nginx:1.27"])?)?;
    roll_out(&s, &pods, &mut next_ip).await?;
    let list = rss.list(&ListParams::default()).await?.items;
    assert_eq!(list.len(), 2, "a second ReplicaSet");
    let (old, new): (Vec<_>, Vec<_>) = list
        .into_iter()
        .partition(|r| r.metadata.name.as_deref() == Some(first.as_str()));
    let (old, new) = (&old[0], &new[0]);
    let spec_replicas = |r: &ReplicaSet| r.spec.as_ref().and_then(|s| s.replicas);
    assert_eq!((spec_replicas(old), spec_replicas(new)), (Some(0), Some(2)));
    assert_eq!(
        (
            rs_annotation(old, "revision"),
            rs_annotation(new, "revision")
        ),
        (Some("1"), Some("2"))
    );
    assert_eq!(
        (
            rs_annotation(new, "desired-replicas"),
            rs_annotation(new, "max-replicas")
        ),
        (Some("2"), Some("3"))
    );
    let new_name = new.metadata.name.clone().unwrap_or_default();
    let new_hash = new_name
        .strip_prefix("my-nginx-")
        .context("rs name")?
        .to_string();
    let template = new.spec.as_ref().and_then(|s| s.template.as_ref());
    let image = template
        .and_then(|t| t.spec.as_ref())
        .and_then(|s| s.containers[0].image.clone());
    assert_eq!(image.as_deref(), Some("nginx:1.27"));
    let live = live_pods(&pods, "run=my-nginx").await?;
    assert_eq!(live.len(), 2);
    for p in &live {
        let labels = p.metadata.labels.clone().unwrap_or_default();
        assert_eq!(labels.get("pod-template-hash"), Some(&new_hash));
        let image = p.spec.as_ref().and_then(|s| s.containers[0].image.clone());
        assert_eq!(image.as_deref(), Some("nginx:1.27"));
    }

    ok(s.kubectl(&["rollout", "undo", "deployment/my-nginx"])?)?;
    roll_out(&s, &pods, &mut next_ip).await?;
    let list = rss.list(&ListParams::default()).await?.items;
    assert_eq!(
        list.len(),
        2,
        "the first ReplicaSet is current again, not a third"
    );
    for r in &list {
        let is_first = r.metadata.name.as_deref() == Some(first.as_str());
        let want = if is_first {
            (Some(2), Some("3"))
        } else {
            (Some(0), Some("2"))
        };
        assert_eq!((spec_replicas(r), rs_annotation(r, "revision")), want);
    }
    let first_hash = first.strip_prefix("my-nginx-").context("rs name")?;
    for p in live_pods(&pods, "run=my-nginx").await? {
        let labels = p.metadata.labels.clone().unwrap_or_default();
        assert_eq!(
            labels.get("pod-template-hash").map(String::as_str),
            Some(first_hash)
        );
    }
    let history = ok(s.kubectl(&["rollout", "history", "deployment/my-nginx"])?)?;
    let revisions: Vec<&str> = history
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.parse::<u32>().is_ok())
        .collect();
    assert_eq!(revisions, ["2", "3"], "{history}");
    let get = ok(s.kubectl(&["get", "deploy", "my-nginx"])?)?;
    assert!(get.lines().nth(1).unwrap_or("").contains("2/2"), "{get}");
    Ok(())
}

const STATEFULSET: &str = r#"
apiVersion: v1
kind: Service
metadata:
  name: nginx
  labels:
    app: nginx
spec:
  clusterIP: None
  ports:
  - port: 80
    name: web
  selector:
    app: nginx
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: nginx
  replicas: 2
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: nginx
        ports:
        - containerPort: 80
          name: web
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statefulset_pods_come_in_order_with_hostnames() -> Result<()> {
    let s = server()?;
    let client = s.client().await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    apply(&s, STATEFULSET)?;

    // OrderedReady: web-0 alone until it is Running and Ready.
    let web0 = eventually("web-0", || async { Ok(pods.get_opt("web-0").await?) }).await?;
    let spec = web0.spec.clone().unwrap_or_default();
    assert_eq!(spec.hostname.as_deref(), Some("web-0"));
    assert_eq!(spec.subdomain.as_deref(), Some("nginx"));
    let labels = web0.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels["statefulset.kubernetes.io/pod-name"], "web-0");
    // The controller reports status after acting: once it reports one replica for the current
    // generation, it has looked at the set with web-0 not ready and must not have made web-1.
    let sets: Api<k8s_openapi::api::apps::v1::StatefulSet> =
        Api::namespaced(client.clone(), "default");
    eventually("status for web-0 alone", || async {
        let ss = sets.get("web").await?;
        let st = ss.status.unwrap_or_default();
        Ok((st.replicas == 1 && st.observed_generation == ss.metadata.generation).then_some(()))
    })
    .await?;
    assert!(
        pods.get_opt("web-1").await?.is_none(),
        "web-1 before web-0 is ready"
    );

    set_pod_status(&pods, "web-0", "10.244.2.10", true).await?;
    eventually("web-1", || async { Ok(pods.get_opt("web-1").await?) }).await?;
    set_pod_status(&pods, "web-1", "10.244.2.11", true).await?;

    let hosts = eventually("slice endpoints with hostnames", || async {
        let list = slices
            .list(&ListParams::default().labels("kubernetes.io/service-name=nginx"))
            .await?;
        let mut hosts: Vec<(String, String)> = list
            .items
            .iter()
            .flat_map(|s| s.endpoints.iter())
            .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) == Some(true))
            .map(|e| {
                (
                    e.hostname.clone().unwrap_or_default(),
                    e.addresses.join(","),
                )
            })
            .collect();
        hosts.sort();
        Ok((hosts.len() == 2).then_some(hosts))
    })
    .await?;
    assert_eq!(
        hosts,
        [
            ("web-0".to_string(), "10.244.2.10".to_string()),
            ("web-1".to_string(), "10.244.2.11".to_string())
        ]
    );
    let ports = slices
        .list(&ListParams::default().labels("kubernetes.io/service-name=nginx"))
        .await?
        .items[0]
        .ports
        .clone()
        .unwrap_or_default();
    assert_eq!(
        (ports[0].name.as_deref(), ports[0].port),
        (Some("web"), Some(80))
    );

    let get = eventually("statefulset status", || async {
        let g = ok(s.kubectl(&["get", "statefulset", "web"])?)?;
        Ok(g.lines().nth(1).unwrap_or("").contains("2/2").then_some(g))
    })
    .await?;
    assert!(get.contains("web"), "{get}");
    ok(s.kubectl(&["rollout", "status", "statefulset/web", "--timeout=30s"])?)?;

    // Scale down removes the highest ordinal.
    ok(s.kubectl(&["scale", "statefulset/web", "--replicas=1"])?)?;
    eventually("web-1 to go", || async {
        Ok(pods.get_opt("web-1").await?.is_none().then_some(()))
    })
    .await?;
    assert!(pods.get_opt("web-0").await?.is_some());

    // Deleting the StatefulSet collects its pods.
    ok(s.kubectl(&["delete", "statefulset", "web"])?)?;
    eventually("web-0 to be collected", || async {
        Ok(pods.get_opt("web-0").await?.is_none().then_some(()))
    })
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selectorless_service_endpoints_are_mirrored() -> Result<()> {
    let s = server()?;
    let client = s.client().await?;
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    apply(
        &s,
        r#"
apiVersion: v1
kind: Service
metadata:
  name: external-db
spec:
  ports:
  - port: 5432
---
apiVersion: v1
kind: Endpoints
metadata:
  name: external-db
subsets:
- addresses:
  - ip: 192.0.2.10
  notReadyAddresses:
  - ip: 192.0.2.11
  ports:
  - port: 5432
"#,
    )?;
    let slice = eventually("a mirrored slice", || async {
        let list = slices
            .list(&ListParams::default().labels("kubernetes.io/service-name=external-db"))
            .await?;
        Ok(list.items.into_iter().find(|s| s.endpoints.len() == 2))
    })
    .await?;
    let labels = slice.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels["endpointslice.kubernetes.io/managed-by"],
        "endpointslicemirroring-controller.k8s.io"
    );
    let (ready, not_ready) = slice_addresses(&slices, "external-db").await?;
    assert_eq!(
        (ready, not_ready),
        (
            vec!["192.0.2.10".to_string()],
            vec!["192.0.2.11".to_string()]
        )
    );
    let ports = slice.ports.clone().unwrap_or_default();
    assert_eq!(
        (ports[0].name.as_deref(), ports[0].port),
        (Some(""), Some(5432))
    );
    // The user's Endpoints are left as written.
    let eps: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    let e = eps.get("external-db").await?;
    assert_eq!(
        endpoints_addresses(&e),
        (
            vec!["192.0.2.10".to_string()],
            vec!["192.0.2.11".to_string()]
        )
    );
    let describe = ok(s.kubectl(&["describe", "svc", "external-db"])?)?;
    assert!(describe.contains("192.0.2.10:5432"), "{describe}");
    Ok(())
}
