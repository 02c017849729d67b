//! Real etcd clusters for tests: `EtcdCluster::start(n)` runs `n` members of the `etcd` binary on
//! free loopback ports (client and peer), each with a data dir in one temp dir, and waits until
//! every member reports healthy. Members are ended by their PID (SIGKILL) when the cluster is
//! dropped; nothing else is ever signalled.
//!
//! A test that needs etcd calls [`EtcdCluster::start_or_skip`]: without the binary it skips with
//! a message, unless `CI` is set, where a missing etcd is a failure (CI must install it).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

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
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

/// A running etcd cluster of one or more members on loopback.
pub struct EtcdCluster {
    bin: PathBuf,
    members: Vec<Member>,
    _dir: tempfile::TempDir,
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
        if Self::binary().is_none() {
            if in_ci() {
                bail!("etcd is not on PATH but CI is set: install the etcd-server package");
            }
            eprintln!(
                "SKIPPED: etcd is not on PATH (apt-get install etcd-server); set CI=true to fail instead"
            );
            return Ok(None);
        }
        Self::start(members).map(Some)
    }

    /// Starts a cluster of `members` (at least one) and waits until every member is healthy.
    pub fn start(members: usize) -> Result<EtcdCluster> {
        anyhow::ensure!(members > 0, "an etcd cluster needs at least one member");
        let bin = Self::binary().context("etcd is not on PATH")?;
        let mut last = None;
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(&bin, members) {
                Ok(cluster) => return Ok(cluster),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("at least one attempt"))
    }

    fn try_start(bin: &std::path::Path, count: usize) -> Result<EtcdCluster> {
        let dir = tempfile::tempdir().context("creating the etcd temp dir")?;
        let ports: Vec<(u16, u16)> = (0..count)
            .map(|_| Ok((free_port()?, free_port()?)))
            .collect::<Result<_>>()?;
        let initial_cluster = ports
            .iter()
            .enumerate()
            .map(|(i, (_, peer))| format!("m{i}=http://127.0.0.1:{peer}"))
            .collect::<Vec<_>>()
            .join(",");
        // A token unique to this cluster keeps members of two test clusters from ever joining.
        let token = format!("svcplane-test-{}-{}", std::process::id(), ports[0].0);
        let members = ports
            .iter()
            .enumerate()
            .map(|(i, (client, peer))| {
                let name = format!("m{i}");
                let client_url = format!("http://127.0.0.1:{client}");
                let peer_url = format!("http://127.0.0.1:{peer}");
                let data_dir = dir.path().join(&name);
                let args = vec![
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
                Member {
                    log: dir.path().join(format!("{name}.log")),
                    name,
                    client_url,
                    args,
                    child: None,
                }
            })
            .collect();
        let mut cluster = EtcdCluster {
            bin: bin.to_path_buf(),
            members,
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
                let healthy = http_get(&member.client_url, "/health")
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
                && http_get(&m.client_url, "/metrics")
                    .is_ok_and(|body| body.lines().any(|l| l.trim() == "etcd_server_is_leader 1"))
        })
    }

    /// The last lines of member `i`'s log, for failure messages.
    pub fn log(&self, i: usize) -> String {
        log_tail(&self.members[i].log)
    }
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
