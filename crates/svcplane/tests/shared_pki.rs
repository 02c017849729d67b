//! Replicas sharing one PKI: two `svcplane server`s on one etcd given one `--pki-dir` trust one
//! CA and accept one admin token, so a single kubeconfig reaches either replica with TLS
//! verification on, only its server URL changed (`kubectl --server`). A replica with a PKI of
//! its own is refused by that CA, and its token by the others. Skips when the `etcd` binary is
//! absent, unless `CI` is set.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use testkit::etcd::EtcdCluster;
use testkit::wait_for;
use testkit::{Server, fails, ok};

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_svcplane"))
}

/// Poll `probe` every 200ms until it returns `Some`, for at most `limit`.
/// The A records `dig` gets for `name` from the DNS server at `dns` (`host:port`).
fn dig(dns: &str, name: &str) -> Result<Vec<String>> {
    let (host, port) = dns.rsplit_once(':').context("DNS address without a port")?;
    let out = Command::new("dig")
        .args([
            &format!("@{host}"),
            "-p",
            port,
            name,
            "+short",
            "+time=2",
            "+tries=1",
        ])
        .output()
        .context("running dig")?;
    Ok(ok(out)?.split_whitespace().map(String::from).collect())
}

/// A replica on `etcd` with its own data dir, taking its CA and token from `pki` when given.
/// Controllers on, no nodes: the replicas elect a leader through their own API.
fn replica(
    etcd: &EtcdCluster,
    pki: Option<&Path>,
    identity: &str,
    extra: &[&str],
) -> Result<Server> {
    let endpoints = etcd.endpoints();
    let pki = pki.map(|p| p.display().to_string());
    let mut args = vec![
        "--etcd-servers",
        &endpoints,
        "--nodes",
        "0",
        "--leader-elect-identity",
        identity,
    ];
    if let Some(pki) = &pki {
        args.extend(["--pki-dir", pki]);
    }
    args.extend(extra);
    Server::start(bin(), &args)
}

/// A name only replica A's serving certificate carries (`--tls-san`); never resolved.
const NAME: &str = "api.svcplane.test";

/// Replica B's advertise address (documentation range: data only, nothing connects to it).
const ADVERTISE: &str = "192.0.2.10";

/// The kubeconfig `s` wrote, with its own server URL.
fn kubeconfig(s: &Server) -> Result<String> {
    std::fs::read_to_string(&s.kubeconfig).with_context(|| s.kubeconfig.display().to_string())
}

#[test]
fn replicas_sharing_a_pki_dir_accept_one_kubeconfig() -> Result<()> {
    let Some(etcd) = EtcdCluster::start_or_skip(1)? else {
        return Ok(());
    };
    // A replica with a PKI of its own, on the same etcd. Started first, it also makes the
    // cluster's bootstrap objects, which replicas starting together on an empty etcd would race
    // to create (a race of the bootstrap, not of the PKI).
    let stranger = replica(&etcd, None, "replica-c", &[])?;
    let shared = tempfile::tempdir()?;
    let pki = shared.path().join("pki");
    // Started together, so that both find the PKI dir empty: one CA must come out of it.
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| replica(&etcd, Some(&pki), "replica-a", &["--tls-san", NAME]));
        let b = scope.spawn(|| {
            replica(
                &etcd,
                Some(&pki),
                "replica-b",
                &["--advertise-address", ADVERTISE],
            )
        });
        (a.join(), b.join())
    });
    let (a, b) = (
        a.map_err(|_| anyhow::anyhow!("starting replica a panicked"))??,
        b.map_err(|_| anyhow::anyhow!("starting replica b panicked"))??,
    );
    ensure!(a.url != b.url && a.data_dir() != b.data_dir());
    for file in ["ca.crt", "ca.key", "admin.token"] {
        ensure!(pki.join(file).is_file(), "{file} missing from the PKI dir");
        ensure!(
            !a.data_dir().join("pki").join(file).exists(),
            "{file} made in the data dir although --pki-dir is given"
        );
    }

    // One kubeconfig: the replicas' differ in their server URL only.
    let config = kubeconfig(&a)?;
    ensure!(config.contains("certificate-authority-data:"), "{config}");
    ensure!(!config.contains("insecure-skip-tls-verify"), "{config}");
    assert_eq!(kubeconfig(&b)?.replace(&b.url, &a.url), config);
    let token = std::fs::read_to_string(pki.join("admin.token"))?;
    ensure!(config.contains(&format!("token: {}", token.trim())));

    // A's kubeconfig against each replica, TLS verified against the shared CA, A's token
    // accepted by B; a write through B is read back through A.
    for s in [&a, &b] {
        let out = ok(a.kubectl(&[
            "--server",
            &s.url,
            "get",
            "namespace",
            "default",
            "-o",
            "name",
        ])?)?;
        assert_eq!(out.trim(), "namespace/default", "through {}", s.url);
    }
    // Each replica's certificate names what that replica was told to: A's carries the extra
    // name, B's its advertise address (which A's does not), and not A's extra name.
    ok(b.kubectl(&["--tls-server-name", ADVERTISE, "get", "namespaces"])?)?;
    let not_advertised =
        fails(a.kubectl(&["--tls-server-name", ADVERTISE, "get", "namespaces"])?)?;
    ensure!(
        not_advertised.contains("x509") && not_advertised.contains(ADVERTISE),
        "expected a name mismatch, got: {not_advertised}"
    );
    ok(a.kubectl(&[
        "--server",
        &a.url,
        "--tls-server-name",
        NAME,
        "get",
        "namespaces",
    ])?)?;
    let wrong_name = fails(b.kubectl(&["--tls-server-name", NAME, "get", "namespaces"])?)?;
    ensure!(
        wrong_name.contains("x509") && wrong_name.contains(NAME),
        "expected a name mismatch, got: {wrong_name}"
    );
    ok(a.kubectl(&[
        "--server",
        &b.url,
        "create",
        "service",
        "clusterip",
        "shared-pki",
        "--tcp=80:80",
    ])?)?;
    let cluster_ip = ok(a.kubectl(&[
        "--server",
        &a.url,
        "get",
        "service",
        "shared-pki",
        "-o",
        "jsonpath={.spec.clusterIP}",
    ])?)?;
    ensure!(!cluster_ip.is_empty(), "no ClusterIP");

    // The in-process clients of each replica (DNS; the elected controllers) still reach their
    // own replica with the shared credentials.
    for s in [&a, &b] {
        let dns = s
            .reported("svcplane DNS listening on ")
            .context("no DNS address reported")?;
        wait_for(
            "the Service in the replica's DNS",
            Duration::from_secs(15),
            || {
                let got = dig(&dns, "shared-pki.default.svc.cluster.local")?;
                Ok((got == [cluster_ip.clone()]).then_some(()))
            },
        )?;
    }
    wait_for(
        "the controllers to make the Service's EndpointSlice",
        Duration::from_secs(40),
        || {
            let out = ok(b.kubectl(&[
                "get",
                "endpointslices",
                "-l",
                "kubernetes.io/service-name=shared-pki",
                "-o",
                "name",
            ])?)?;
            Ok((!out.trim().is_empty()).then_some(()))
        },
    )?;

    // The replica with a PKI of its own serves (its own kubeconfig works), but the shared CA
    // does not vouch for it, and the others refuse its token.
    assert_eq!(
        ok(stranger.kubectl(&["get", "service", "shared-pki", "-o", "name"])?)?.trim(),
        "service/shared-pki"
    );
    let refused = fails(a.kubectl(&["--server", &stranger.url, "get", "namespaces"])?)?;
    ensure!(
        refused.contains("x509") && refused.contains("unknown authority"),
        "expected a TLS verification error, got: {refused}"
    );
    let stranger_token =
        std::fs::read_to_string(stranger.data_dir().join("pki").join("admin.token"))?;
    ensure!(stranger_token.trim() != token.trim());
    for s in [&a, &b] {
        let denied = fails(a.kubectl(&[
            "--server",
            &s.url,
            "--token",
            stranger_token.trim(),
            "get",
            "namespaces",
        ])?)?;
        ensure!(
            denied.contains("Unauthorized"),
            "expected 401 from {}, got: {denied}",
            s.url
        );
    }
    Ok(())
}
