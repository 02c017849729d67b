//! `svcplane server --etcd-servers https://… --etcd-cafile … --etcd-certfile … --etcd-keyfile …`
//! against a real etcd that serves clients over TLS and requires client certificates
//! (`testkit::etcd::EtcdCluster::start_tls`): the real kubectl writes and reads through it, the
//! object is an etcd key, and a server without a client certificate or trusting the wrong CA
//! refuses to start with an error that says so. Each test skips when the `etcd` binary is
//! absent, unless `CI` is set.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use testkit::etcd::{ClientTls, EtcdCluster};
use testkit::{Server, ok};

/// A guard against a hung child only; the outcome is judged by exit status and stderr.
const EXIT_GUARD: Duration = Duration::from_secs(120);

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_svcplane"))
}

fn tls_of(etcd: &EtcdCluster) -> Result<&ClientTls> {
    etcd.tls().context("the cluster was started without TLS")
}

/// The etcd flags of a server that trusts `ca` and presents `identity` (certificate, key).
fn etcd_flags(etcd: &EtcdCluster, ca: &Path, identity: Option<(&Path, &Path)>) -> Vec<String> {
    let mut flags = vec![
        "--etcd-servers".to_string(),
        etcd.endpoints(),
        "--etcd-cafile".to_string(),
        ca.display().to_string(),
    ];
    if let Some((cert, key)) = identity {
        flags.extend([
            "--etcd-certfile".to_string(),
            cert.display().to_string(),
            "--etcd-keyfile".to_string(),
            key.display().to_string(),
        ]);
    }
    flags.extend(["--nodes".to_string(), "0".to_string()]);
    flags
}

/// A server on the TLS `etcd` with the cluster's CA and client certificate.
fn server_on(etcd: &EtcdCluster) -> Result<Server> {
    let tls = tls_of(etcd)?;
    let flags = etcd_flags(etcd, &tls.ca_file, Some((&tls.cert_file, &tls.key_file)));
    let args: Vec<&str> = flags.iter().map(String::as_str).collect();
    Server::start(bin(), &args)
}

#[test]
fn kubectl_through_a_server_on_tls_etcd() -> Result<()> {
    let Some(etcd) = EtcdCluster::start_tls_or_skip(1)? else {
        return Ok(());
    };
    assert!(
        etcd.endpoints().starts_with("https://127.0.0.1:"),
        "{}",
        etcd.endpoints()
    );
    let mut s = server_on(&etcd)?;
    assert_eq!(
        ok(s.kubectl(&["create", "service", "clusterip", "tls-svc", "--tcp=80:8080"])?)?.trim(),
        "service/tls-svc created"
    );
    let port = ok(s.kubectl(&[
        "get",
        "svc",
        "tls-svc",
        "-o",
        "jsonpath={.spec.ports[0].targetPort}",
    ])?)?;
    assert_eq!(port.trim(), "8080");

    // The object is an etcd key, read by etcdctl with the client certificate.
    if let Some(out) = etcd.etcdctl(&["get", "/registry/services/", "--prefix", "--keys-only"])? {
        let keys = ok(out)?;
        assert!(
            keys.lines()
                .any(|k| k == "/registry/services/specs/default/tls-svc"),
            "{keys}"
        );
    } else {
        eprintln!("etcdctl is not on PATH: not reading the key from etcd directly");
    }

    // A new server with a new data dir finds the Service in etcd, over TLS again.
    s.kill();
    let s = server_on(&etcd)?;
    let port = ok(s.kubectl(&[
        "get",
        "svc",
        "tls-svc",
        "-o",
        "jsonpath={.spec.ports[0].targetPort}",
    ])?)?;
    assert_eq!(port.trim(), "8080");
    Ok(())
}

/// Runs `svcplane server` with `etcd_flags`, which must make it exit; its output.
fn server_that_must_exit(etcd_flags: &[String]) -> Result<Output> {
    let temp = tempfile::tempdir()?;
    let data_dir = temp.path().join("data");
    let mut child = Command::new(bin())
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data_dir)
        .args([
            "--dns-listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
        ])
        .args(etcd_flags)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting svcplane server")?;
    let started = Instant::now();
    while child.try_wait()?.is_none() {
        if started.elapsed() > EXIT_GUARD {
            let _ = child.kill();
            let output = child.wait_with_output()?;
            bail!(
                "the server kept running:\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(child.wait_with_output()?)
}

/// The stderr of a server that failed to start, checked to name etcd and TLS or certificates,
/// and to have served nothing.
fn refused(output: Output) -> Result<String> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success(),
        "the server succeeded:\n{stdout}\n{stderr}"
    );
    assert!(
        !stdout.contains("listening on"),
        "the server served before failing: {stdout}"
    );
    assert!(
        stderr.contains("connecting to etcd at https://"),
        "{stderr}"
    );
    let lower = stderr.to_lowercase();
    assert!(
        lower.contains("certificate") || lower.contains("tls"),
        "the error names neither TLS nor a certificate: {stderr}"
    );
    Ok(stderr)
}

#[test]
fn server_refuses_tls_etcd_without_client_certificate_or_with_wrong_ca() -> Result<()> {
    let Some(etcd) = EtcdCluster::start_tls_or_skip(1)? else {
        return Ok(());
    };
    let tls = tls_of(&etcd)?.clone();

    // The members require a client certificate; this server has none.
    let stderr = refused(server_that_must_exit(&etcd_flags(
        &etcd,
        &tls.ca_file,
        None,
    ))?)?;
    assert!(
        stderr.contains("no client certificate was given"),
        "{stderr}"
    );
    eprintln!("without a client certificate:\n{stderr}");

    // The members' certificate was not signed by the CA this server trusts.
    let stderr = refused(server_that_must_exit(&etcd_flags(
        &etcd,
        &tls.untrusted_ca_file,
        Some((&tls.cert_file, &tls.key_file)),
    ))?)?;
    assert!(stderr.contains("invalid peer certificate"), "{stderr}");
    eprintln!("with the wrong CA:\n{stderr}");

    // The same etcd still serves a correctly configured server.
    let s = server_on(&etcd)?;
    ok(s.kubectl(&["get", "svc", "kubernetes"])?)?;
    Ok(())
}
