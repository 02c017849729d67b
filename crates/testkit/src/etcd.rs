//! Real etcd clusters for tests: `EtcdCluster::start(n)` runs `n` members of the `etcd` binary on
//! free loopback ports (client and peer), each with a data dir in one temp dir, and waits until
//! every member reports healthy. Members are ended by their PID (SIGKILL) when the cluster is
//! dropped; nothing else is ever signalled.
//!
//! A test that needs etcd calls [`EtcdCluster::start_or_skip`]: without the binary it skips with
//! a message, unless `CI` is set, where a missing etcd is a failure (CI must install it).
//!
//! [`EtcdCluster::start_tls`] serves the client URLs over `https://` and requires client
//! certificates signed by a throwaway CA made for the cluster ([`ClientTls`]); peers stay on
//! plain http. Health and leader probes of such a cluster go to a plain-http metrics URL of each
//! member (etcd's `--listen-metrics-urls`), so they need no TLS client.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// How long a cluster may take to elect a leader and report healthy.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts to start a cluster: a free port found by binding can be taken again before etcd
/// binds it, so a failed start is retried on new ports.
const START_ATTEMPTS: usize = 3;
/// Timeout of one HTTP probe of a member.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// One etcd member: its ports, the flags to start it again, and the running child.
struct Member {
    name: String,
    client_url: String,
    /// Where `/health` and `/metrics` answer over plain http: the client URL, or with TLS a
    /// separate metrics URL.
    probe_url: String,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

/// A running etcd cluster of one or more members on loopback.
pub struct EtcdCluster {
    bin: PathBuf,
    members: Vec<Member>,
    tls: Option<ClientTls>,
    _dir: tempfile::TempDir,
}

/// The PEM files a client of a TLS cluster uses, in the cluster's temp dir.
#[derive(Debug, Clone)]
pub struct ClientTls {
    /// The CA that signed the members' serving certificate and the client certificate.
    pub ca_file: PathBuf,
    /// A client certificate the members accept, and its key.
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// A CA that signed nothing of this cluster: verifying the members with it must fail.
    pub untrusted_ca_file: PathBuf,
}

/// Whether `CI` is set to something other than empty, `0` or `false`.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

impl EtcdCluster {
    /// The `etcd` binary on PATH, if any.
    pub fn binary() -> Option<PathBuf> {
        crate::which("etcd")
    }

    /// Starts a cluster of `members`, or returns `None` (after saying why on stderr) when the
    /// `etcd` binary is absent and `CI` is not set. In CI a missing binary is an error.
    pub fn start_or_skip(members: usize) -> Result<Option<EtcdCluster>> {
        if !Self::available()? {
            return Ok(None);
        }
        Self::start(members).map(Some)
    }

    /// [`Self::start_tls`], skipping like [`Self::start_or_skip`] without the `etcd` binary.
    pub fn start_tls_or_skip(members: usize) -> Result<Option<EtcdCluster>> {
        if !Self::available()? {
            return Ok(None);
        }
        Self::start_tls(members).map(Some)
    }

    /// Whether the `etcd` binary is there; without it, says that the test is skipped, or fails
    /// when `CI` is set.
    fn available() -> Result<bool> {
        if Self::binary().is_some() {
            return Ok(true);
        }
        if in_ci() {
            bail!("etcd is not on PATH but CI is set: install the etcd-server package");
        }
        eprintln!(
            "SKIPPED: etcd is not on PATH (apt-get install etcd-server); set CI=true to fail instead"
        );
        Ok(false)
    }

    /// Starts a cluster of `members` (at least one) and waits until every member is healthy.
    pub fn start(members: usize) -> Result<EtcdCluster> {
        Self::start_with(members, false)
    }

    /// Starts a cluster of `members` serving clients over `https://` only to holders of a
    /// client certificate of its own CA (see [`Self::tls`]), and waits until it is healthy.
    pub fn start_tls(members: usize) -> Result<EtcdCluster> {
        Self::start_with(members, true)
    }

    fn start_with(members: usize, tls: bool) -> Result<EtcdCluster> {
        anyhow::ensure!(members > 0, "an etcd cluster needs at least one member");
        let bin = Self::binary().context("etcd is not on PATH")?;
        let mut last = None;
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(&bin, members, tls) {
                Ok(cluster) => return Ok(cluster),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("at least one attempt"))
    }

    fn try_start(bin: &std::path::Path, count: usize, tls: bool) -> Result<EtcdCluster> {
        let dir = tempfile::tempdir().context("creating the etcd temp dir")?;
        let pki = tls
            .then(|| write_pki(&dir.path().join("pki")))
            .transpose()?;
        // Client and peer port of each member, and with TLS a plain-http metrics port.
        let ports: Vec<(u16, u16, Option<u16>)> = (0..count)
            .map(|_| {
                let metrics = tls.then(free_port).transpose()?;
                Ok((free_port()?, free_port()?, metrics))
            })
            .collect::<Result<_>>()?;
        let initial_cluster = ports
            .iter()
            .enumerate()
            .map(|(i, (_, peer, _))| format!("m{i}=http://127.0.0.1:{peer}"))
            .collect::<Vec<_>>()
            .join(",");
        // A token unique to this cluster keeps members of two test clusters from ever joining.
        let token = format!("svcplane-test-{}-{}", std::process::id(), ports[0].0);
        let members = ports
            .iter()
            .enumerate()
            .map(|(i, (client, peer, metrics))| {
                let name = format!("m{i}");
                let scheme = if tls { "https" } else { "http" };
                let client_url = format!("{scheme}://127.0.0.1:{client}");
                let peer_url = format!("http://127.0.0.1:{peer}");
                let data_dir = dir.path().join(&name);
                let mut args = vec![
                    format!("--name={name}"),
                    format!("--data-dir={}", data_dir.display()),
                    format!("--listen-client-urls={client_url}"),
                    format!("--advertise-client-urls={client_url}"),
                    format!("--listen-peer-urls={peer_url}"),
                    format!("--initial-advertise-peer-urls={peer_url}"),
                    format!("--initial-cluster={initial_cluster}"),
                    "--initial-cluster-state=new".to_string(),
                    format!("--initial-cluster-token={token}"),
                    "--logger=zap".to_string(),
                    "--log-level=warn".to_string(),
                ];
                let mut probe_url = client_url.clone();
                if let (Some(pki), Some(metrics)) = (&pki, metrics) {
                    probe_url = format!("http://127.0.0.1:{metrics}");
                    args.extend([
                        format!("--cert-file={}", pki.server_cert.display()),
                        format!("--key-file={}", pki.server_key.display()),
                        format!("--trusted-ca-file={}", pki.client.ca_file.display()),
                        "--client-cert-auth".to_string(),
                        format!("--listen-metrics-urls={probe_url}"),
                    ]);
                }
                Member {
                    log: dir.path().join(format!("{name}.log")),
                    name,
                    client_url,
                    probe_url,
                    args,
                    child: None,
                }
            })
            .collect();
        let mut cluster = EtcdCluster {
            bin: bin.to_path_buf(),
            members,
            tls: pki.map(|pki| pki.client),
            _dir: dir,
        };
        for i in 0..count {
            cluster.spawn(i)?;
        }
        cluster.wait_healthy()?;
        Ok(cluster)
    }

    fn spawn(&mut self, i: usize) -> Result<()> {
        let member = &mut self.members[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&member.log)
            .context("opening the etcd log")?;
        let child = Command::new(&self.bin)
            .args(&member.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        member.child = Some(child);
        Ok(())
    }

    /// Waits until every running member answers `/health` with `true` (it has a leader).
    pub fn wait_healthy(&mut self) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        for i in 0..self.members.len() {
            loop {
                let member = &mut self.members[i];
                let Some(child) = member.child.as_mut() else {
                    break;
                };
                if let Some(status) = child.try_wait()? {
                    member.child = None;
                    bail!(
                        "etcd member {} exited ({status}):\n{}",
                        member.name,
                        log_tail(&member.log)
                    );
                }
                let healthy = http_get(&member.probe_url, "/health")
                    .is_ok_and(|body| body.contains("\"health\":\"true\""));
                if healthy {
                    break;
                }
                if Instant::now() > deadline {
                    bail!(
                        "etcd member {} not healthy within {READY_TIMEOUT:?}:\n{}",
                        member.name,
                        log_tail(&member.log)
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }

    /// The client URLs of all members, running or not, in member order.
    pub fn client_urls(&self) -> Vec<String> {
        self.members.iter().map(|m| m.client_url.clone()).collect()
    }

    /// The client URLs as one comma-separated list (the form of `--etcd-servers`).
    pub fn endpoints(&self) -> String {
        self.client_urls().join(",")
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The PID of member `i`, if it is running.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.members[i].child.as_ref().map(Child::id)
    }

    /// SIGKILLs member `i` (only that child, by its PID) and reaps it.
    pub fn kill_member(&mut self, i: usize) {
        if let Some(mut child) = self.members[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts member `i` again on its data dir and ports (after [`Self::kill_member`]).
    pub fn restart_member(&mut self, i: usize) -> Result<()> {
        self.kill_member(i);
        self.spawn(i)
    }

    /// The index of the member that reports itself leader, among the running ones.
    pub fn leader(&self) -> Option<usize> {
        self.members.iter().position(|m| {
            m.child.is_some()
                && http_get(&m.probe_url, "/metrics")
                    .is_ok_and(|body| body.lines().any(|l| l.trim() == "etcd_server_is_leader 1"))
        })
    }

    /// The last lines of member `i`'s log, for failure messages.
    pub fn log(&self, i: usize) -> String {
        log_tail(&self.members[i].log)
    }

    /// The client certificate and CA files of a cluster started with [`Self::start_tls`].
    pub fn tls(&self) -> Option<&ClientTls> {
        self.tls.as_ref()
    }

    /// Runs `etcdctl` (API v3) with `args` against all members, with the client certificate
    /// of a TLS cluster; `None` when etcdctl is not on PATH.
    pub fn etcdctl(&self, args: &[&str]) -> Result<Option<Output>> {
        let Some(etcdctl) = crate::which("etcdctl") else {
            return Ok(None);
        };
        let mut cmd = Command::new(etcdctl);
        cmd.arg(format!("--endpoints={}", self.endpoints()));
        if let Some(tls) = &self.tls {
            cmd.arg(format!("--cacert={}", tls.ca_file.display()))
                .arg(format!("--cert={}", tls.cert_file.display()))
                .arg(format!("--key={}", tls.key_file.display()));
        }
        let output = cmd
            .args(args)
            .env("ETCDCTL_API", "3")
            .stdin(Stdio::null())
            .output()
            .context("running etcdctl")?;
        Ok(Some(output))
    }
}

/// The files of a TLS cluster: the members' serving certificate and what clients get.
struct Pki {
    server_cert: PathBuf,
    server_key: PathBuf,
    client: ClientTls,
}

/// Makes a throwaway CA in `dir`, a serving certificate for 127.0.0.1 and localhost, a client
/// certificate, both signed by it, and an unrelated CA, and writes them as PEM files.
fn write_pki(dir: &std::path::Path) -> Result<Pki> {
    std::fs::create_dir_all(dir).context("creating the etcd pki dir")?;
    let write = |name: &str, pem: String| -> Result<PathBuf> {
        let path = dir.join(name);
        std::fs::write(&path, pem).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    };
    let (ca_pem, ca) = new_ca("svcplane-test-etcd-ca")?;
    let (untrusted_pem, _) = new_ca("svcplane-test-untrusted-ca")?;
    // etcd's gRPC gateway dials the member itself with the serving pair, so with client
    // certificate auth on, the serving certificate must be good for client auth too.
    let (server_pem, server_key) = new_leaf(
        &ca,
        "etcd-server",
        &["127.0.0.1", "localhost"],
        &[
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
    )?;
    let (client_pem, client_key) = new_leaf(
        &ca,
        "svcplane-test-client",
        &[],
        &[ExtendedKeyUsagePurpose::ClientAuth],
    )?;
    Ok(Pki {
        server_cert: write("server.crt", server_pem)?,
        server_key: write("server.key", server_key)?,
        client: ClientTls {
            ca_file: write("ca.crt", ca_pem)?,
            cert_file: write("client.crt", client_pem)?,
            key_file: write("client.key", client_key)?,
            untrusted_ca_file: write("untrusted-ca.crt", untrusted_pem)?,
        },
    })
}

/// A self-signed CA: its PEM certificate, and the issuer that signs with it.
fn new_ca(common_name: &str) -> Result<(String, Issuer<'static, KeyPair>)> {
    let mut params = CertificateParams::default();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    let key = KeyPair::generate().context("generating a CA key")?;
    let cert = params.self_signed(&key).context("signing a CA")?;
    Ok((cert.pem(), Issuer::new(params, key)))
}

/// A certificate for `names` signed by `ca`: its PEM certificate and PEM key.
fn new_leaf(
    ca: &Issuer<'static, KeyPair>,
    common_name: &str,
    names: &[&str],
    usages: &[ExtendedKeyUsagePurpose],
) -> Result<(String, String)> {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).context("certificate names")?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = usages.to_vec();
    let key = KeyPair::generate().context("generating a key")?;
    let cert = params
        .signed_by(&key, ca)
        .context("signing a certificate")?;
    Ok((cert.pem(), key.serialize_pem()))
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill_member(i);
        }
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The body of a plain HTTP/1.0 GET (etcd serves `/health` and `/metrics` on the client URL).
fn http_get(base: &str, path: &str) -> Result<String> {
    let addr = base.strip_prefix("http://").context("not an http URL")?;
    let mut stream = TcpStream::connect_timeout(&addr.parse()?, PROBE_TIMEOUT)?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .context("malformed HTTP response")?;
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        bail!("GET {path}: {}", head.lines().next().unwrap_or_default());
    }
    Ok(body.to_string())
}

fn log_tail(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_cluster_serves_only_clients_with_its_certificate() -> Result<()> {
        let Some(etcd) = EtcdCluster::start_tls_or_skip(1)? else {
            return Ok(());
        };
        assert!(
            etcd.endpoints().starts_with("https://127.0.0.1:"),
            "{}",
            etcd.endpoints()
        );
        // The probes over the plain metrics URL see the member lead.
        assert_eq!(etcd.leader(), Some(0));
        let Some(put) = etcd.etcdctl(&["put", "/tls-check", "yes"])? else {
            eprintln!("etcdctl is not on PATH: not talking to the TLS cluster");
            return Ok(());
        };
        crate::ok(put)?;
        let got = etcd.etcdctl(&["get", "/tls-check", "--print-value-only"])?;
        assert_eq!(crate::ok(got.context("etcdctl vanished")?)?.trim(), "yes");

        // The same request with the CA but no client certificate is refused.
        let tls = etcd.tls().context("no client TLS files")?;
        let etcdctl = crate::which("etcdctl").context("etcdctl vanished")?;
        let refused = Command::new(etcdctl)
            .arg(format!("--endpoints={}", etcd.endpoints()))
            .arg(format!("--cacert={}", tls.ca_file.display()))
            .args(["get", "/tls-check"])
            .env("ETCDCTL_API", "3")
            .stdin(Stdio::null())
            .output()?;
        crate::fails(refused)?;
        Ok(())
    }
}
