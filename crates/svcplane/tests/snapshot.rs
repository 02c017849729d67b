//! `svcplane snapshot`: back up a running server (objects created with the real kubectl),
//! restore into a new data dir or into etcd, start a new server there and see the same objects
//! with kubectl, ClusterIP and NodePort allocations included. The etcd test skips when the
//! `etcd` binary is absent, unless `CI` is set.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use testkit::etcd::EtcdCluster;
use testkit::example;
use testkit::{Server, fails, ok};

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_svcplane"))
}

fn svcplane(args: &[&str]) -> Result<Output> {
    Command::new(bin())
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .context("running svcplane")
}

/// The seed objects plus a NodePort Service, on a server whose pods are running; returns what
/// kubectl lists of them.
fn seed(s: &Server) -> Result<Objects> {
    ok(s.kubectl(&["apply", "-f", &example("my-nginx-deployment.yaml")])?)?;
    ok(s.kubectl(&["apply", "-f", &example("headless-svc.yaml")])?)?;
    ok(s.kubectl(&["create", "service", "nodeport", "np", "--tcp=80:80"])?)?;
    // Wait for the controllers and the agent, so the snapshot holds the whole story.
    eventually("the seed pods to run", || {
        Ok((running_pods(s)? == 2).then_some(()))
    })?;
    objects(s)
}

#[derive(Debug, PartialEq)]
struct Objects {
    names: String,
    np_ip: String,
    np_port: String,
}

fn objects(s: &Server) -> Result<Objects> {
    let names = ok(s.kubectl(&[
        "get",
        "deployments,replicasets,pods,services,endpointslices",
        "-o",
        "name",
    ])?)?;
    let np = |path: &str| -> Result<String> {
        ok(s.kubectl(&["get", "svc", "np", "-o", &format!("jsonpath={path}")])?)
    };
    Ok(Objects {
        names,
        np_ip: np("{.spec.clusterIP}")?,
        np_port: np("{.spec.ports[0].nodePort}")?,
    })
}

/// A NodePort Service asking for a given ClusterIP or NodePort.
fn nodeport_svc(name: &str, cluster_ip: Option<&str>, node_port: Option<&str>) -> String {
    let ip = cluster_ip.map_or(String::new(), |ip| format!("  clusterIP: {ip}\n"));
    let port = node_port.map_or(String::new(), |port| format!("    nodePort: {port}\n"));
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  type: NodePort\n{ip}  selector:\n    app: {name}\n  ports:\n  - port: 80\n{port}"
    )
}

/// The allocations came along: np's ClusterIP and NodePort cannot be handed out again.
fn allocations_are_held(s: &Server, o: &Objects) -> Result<()> {
    let same_ip = nodeport_svc("same-ip", Some(&o.np_ip), None);
    let err = fails(s.kubectl_stdin(&["create", "-f", "-"], &same_ip)?)?;
    assert!(err.contains("already allocated"), "{err}");
    let same_port = nodeport_svc("same-port", None, Some(&o.np_port));
    let err = fails(s.kubectl_stdin(&["create", "-f", "-"], &same_port)?)?;
    assert!(err.contains("already allocated"), "{err}");
    Ok(())
}

/// Polls `check` until it returns `Some`, for up to a minute.
fn eventually<T>(what: &str, mut check: impl FnMut() -> Result<Option<T>>) -> Result<T> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(done) = check()? {
            return Ok(done);
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The pod IPs the headless Service resolves to, through the server's DNS.
fn headless_answers(s: &Server) -> Result<BTreeSet<String>> {
    let dns = s
        .reported("svcplane DNS listening on ")
        .context("no DNS address reported")?;
    let (host, port) = dns.rsplit_once(':').context("DNS address without a port")?;
    let out = Command::new("dig")
        .args([
            &format!("@{host}"),
            "-p",
            port,
            "+short",
            "+time=2",
            "+tries=1",
        ])
        .arg("my-nginx-headless-svc.default.svc.cluster.local")
        .output()
        .context("running dig")?;
    Ok(ok(out)?.split_whitespace().map(String::from).collect())
}

fn running_pods(s: &Server) -> Result<usize> {
    let running = ok(s.kubectl(&[
        "get",
        "pods",
        "-l",
        "run=my-nginx",
        "--field-selector=status.phase=Running",
        "-o",
        "name",
    ])?)?;
    Ok(running.lines().count())
}

fn pod_ips(s: &Server) -> Result<BTreeSet<String>> {
    let ips = ok(s.kubectl(&[
        "get",
        "pods",
        "-l",
        "run=my-nginx",
        "-o",
        "jsonpath={.items[*].status.podIP}",
    ])?)?;
    Ok(ips.split_whitespace().map(String::from).collect())
}

/// The restored server is a working cluster, not just stored objects: its DNS answers from the
/// restored objects, and its controllers and agent act on them (a scale-up adds exactly one pod)
/// although every watch there started fresh.
fn serves_the_restored_cluster(s: &Server) -> Result<()> {
    let ips = pod_ips(s)?;
    assert_eq!(ips.len(), 2, "{ips:?}");
    eventually("DNS to answer with the restored pods", || {
        let answers = headless_answers(s)?;
        Ok((answers == ips).then_some(()))
    })?;
    ok(s.kubectl(&["scale", "deployment", "my-nginx", "--replicas=3"])?)?;
    eventually("the third pod to run", || {
        Ok((running_pods(s)? == 3).then_some(()))
    })?;
    let all = ok(s.kubectl(&["get", "pods", "-l", "run=my-nginx", "-o", "name"])?)?;
    assert_eq!(all.lines().count(), 3, "no duplicate pods: {all}");
    Ok(())
}

#[test]
fn backup_of_a_running_server_restores_into_a_new_data_dir() -> Result<()> {
    let s = Server::start(bin(), &[])?;
    let before = seed(&s)?;
    let rv = |s: &Server| {
        ok(s.kubectl(&[
            "get",
            "svc",
            "np",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ])?)
    };
    let np_rv = rv(&s)?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("backup.snap");
    let file_arg = file.display().to_string();
    let data_dir = s.data_dir().display().to_string();

    // redb locks the running server's file: save through the server instead.
    let err = fails(svcplane(&[
        "snapshot",
        "save",
        &file_arg,
        "--data-dir",
        &data_dir,
    ])?)?;
    assert!(err.contains("in use by a running svcplane server"), "{err}");
    assert!(!file.exists());
    // The endpoint behind `save --kubeconfig` holds every object: admin token only, GET only.
    let err = fails(s.kubectl(&["--token=wrong", "get", "--raw", "/svcplane/snapshot"])?)?;
    assert!(err.contains("Unauthorized"), "{err}");
    let err = fails(s.kubectl_stdin(&["create", "--raw", "/svcplane/snapshot", "-f", "-"], "{}")?)?;
    assert!(
        err.contains("MethodNotAllowed") || err.contains("not supported"),
        "{err}"
    );
    let kubeconfig = s.kubeconfig.display().to_string();
    let saved = ok(svcplane(&[
        "snapshot",
        "save",
        &file_arg,
        "--kubeconfig",
        &kubeconfig,
    ])?)?;
    assert!(saved.starts_with(&format!("Saved {file_arg}: ")), "{saved}");
    let status = ok(svcplane(&["snapshot", "status", &file_arg])?)?;
    assert!(status.contains("(verified)"), "{status}");
    // Restoring over a running server's store is refused.
    let err = fails(svcplane(&[
        "snapshot",
        "restore",
        &file_arg,
        "--data-dir",
        &data_dir,
        "--replace",
    ])?)?;
    assert!(err.contains("in use"), "{err}");

    let restored_dir = dir.path().join("restored");
    let restored_arg = restored_dir.display().to_string();
    let out = ok(svcplane(&[
        "snapshot",
        "restore",
        &file_arg,
        "--data-dir",
        &restored_arg,
        "--bump-revision",
        "1000",
    ])?)?;
    assert!(out.starts_with("Restored "), "{out}");
    // "... keys at revision R (...": the restored store continues 1000 revisions later.
    let saved_at: i64 = saved
        .split(" at revision ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .context("no revision in the save output")?
        .parse()?;
    let bumped = format!("The store is at revision {};", saved_at + 1000);
    assert!(out.contains(&bumped), "{out}");
    // Twice is refused: the target is no longer empty.
    let err = fails(svcplane(&[
        "snapshot",
        "restore",
        &file_arg,
        "--data-dir",
        &restored_arg,
    ])?)?;
    assert!(err.contains("not empty"), "{err}");

    let restored = Server::start_in(bin(), &restored_dir, &[])?;
    assert_eq!(objects(&restored)?, before);
    // The embedded store keeps resourceVersions (the bump moves only the store's revision).
    assert_eq!(rv(&restored)?, np_rv);
    allocations_are_held(&restored, &before)?;
    serves_the_restored_cluster(&restored)?;
    // The original server was untouched by all of this.
    assert_eq!(objects(&s)?, before);
    Ok(())
}

#[test]
fn embedded_store_moves_to_etcd() -> Result<()> {
    let Some(etcd) = EtcdCluster::start_or_skip(1)? else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("embedded.snap");
    let file_arg = file.display().to_string();
    let data_dir = dir.path().join("embedded");
    let before = {
        let mut s = Server::start_in(bin(), &data_dir, &[])?;
        let before = seed(&s)?;
        s.kill();
        before
    };
    // A stopped server's store saves from its data dir.
    let data_arg = data_dir.display().to_string();
    ok(svcplane(&[
        "snapshot",
        "save",
        &file_arg,
        "--data-dir",
        &data_arg,
    ])?)?;

    let endpoints = etcd.endpoints();
    let out = ok(svcplane(&[
        "snapshot",
        "restore",
        &file_arg,
        "--etcd-servers",
        &endpoints,
    ])?)?;
    assert!(out.contains("into etcd prefix /registry"), "{out}");
    let err = fails(svcplane(&[
        "snapshot",
        "restore",
        &file_arg,
        "--etcd-servers",
        &endpoints,
    ])?)?;
    assert!(err.contains("not empty"), "{err}");

    let s = Server::start(bin(), &["--etcd-servers", &endpoints])?;
    assert_eq!(objects(&s)?, before);
    allocations_are_held(&s, &before)?;
    serves_the_restored_cluster(&s)?;
    // Written through the etcd-backed server, saved from etcd directly.
    ok(s.kubectl(&["create", "service", "clusterip", "after", "--tcp=80:80"])?)?;
    let again = dir.path().join("etcd.snap").display().to_string();
    let saved = ok(svcplane(&[
        "snapshot",
        "save",
        &again,
        "--etcd-servers",
        &endpoints,
    ])?)?;
    assert!(saved.contains(" keys at revision "), "{saved}");
    let status = ok(svcplane(&["snapshot", "status", &again])?)?;
    assert!(
        status.contains(&format!("source:    etcd {endpoints}")),
        "{status}"
    );
    Ok(())
}
