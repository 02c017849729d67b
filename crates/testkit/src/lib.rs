//! Test support, dev-only: start the real `svcplane` binary on a free loopback port with a
//! temporary data dir, find its kubeconfig, and run real clients (kubectl through the gcloud
//! dispatcher or a pinned `kubectl.1.<minor>`, and kube-rs) against it. Servers are ended by
//! their PID when dropped; temporary dirs are removed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, bail};

pub mod etcd;

/// How long a server may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `svcplane server` child process.
pub struct Server {
    child: Option<Child>,
    bin: PathBuf,
    args: Vec<String>,
    data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    cache_dir: tempfile::TempDir,
    startup: Vec<String>,
    pub url: String,
    pub kubeconfig: PathBuf,
}

impl Server {
    /// Start `bin server` on 127.0.0.1 with a free port, a fresh data dir and `extra` flags.
    pub fn start(bin: &Path, extra: &[&str]) -> Result<Server> {
        let temp = tempfile::tempdir().context("creating a data dir")?;
        let data_dir = temp.path().join("data");
        let mut server = Server::start_in(bin, &data_dir, extra)?;
        server._temp = Some(temp);
        Ok(server)
    }

    /// Start on a given data dir (which outlives the server, e.g. for restarts).
    pub fn start_in(bin: &Path, data_dir: &Path, extra: &[&str]) -> Result<Server> {
        let mut args = vec![
            "server".to_string(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--data-dir".into(),
            data_dir.display().to_string(),
        ];
        // Parallel tests must not fight over the fixed default DNS and metrics ports.
        for (flag, free) in [
            ("--dns-listen", "127.0.0.1:0"),
            ("--metrics-listen", "127.0.0.1:0"),
        ] {
            if !extra.contains(&flag) {
                args.extend([flag.to_string(), free.to_string()]);
            }
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut server = Server {
            child: None,
            bin: bin.to_path_buf(),
            args,
            data_dir: data_dir.to_path_buf(),
            _temp: None,
            cache_dir: tempfile::tempdir().context("creating a kubectl cache dir")?,
            startup: Vec::new(),
            url: String::new(),
            kubeconfig: PathBuf::new(),
        };
        server.spawn()?;
        Ok(server)
    }

    fn spawn(&mut self) -> Result<()> {
        let mut child = Command::new(&self.bin)
            .args(&self.args)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        let stdout = child.stdout.take().context("server stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        self.child = Some(child);
        let deadline = std::time::Instant::now() + START_TIMEOUT;
        // The server prints its addresses, one per line, and the kubeconfig line last.
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = rx
                .recv_timeout(left)
                .context("the server did not report its address in time")?;
            let last = line.starts_with("export KUBECONFIG=");
            lines.push(line);
            if last {
                break;
            }
        }
        self.startup = lines;
        self.url = self
            .reported("svcplane API server listening on ")
            .context("no API address reported")?;
        self.kubeconfig = PathBuf::from(
            self.reported("export KUBECONFIG=")
                .context("no kubeconfig reported")?,
        );
        Ok(())
    }

    /// The rest of the startup line that begins with `prefix`, e.g. an address the server reported.
    pub fn reported(&self, prefix: &str) -> Option<String> {
        self.startup
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .map(|s| s.trim().to_string())
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL the server (only this child, by its PID) and reap it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM the server (only this child, by its PID) and wait for it to exit, for a clean
    /// shutdown; SIGKILL if it is not gone within `limit`.
    pub fn terminate(&mut self, limit: Duration) -> Result<std::process::ExitStatus> {
        let mut child = self.child.take().context("the server is not running")?;
        let pid = child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status()?;
        anyhow::ensure!(sent.success(), "kill -TERM {pid} failed");
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("the server did not exit within {limit:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Start the same server again on the same data dir (a new port).
    pub fn restart(&mut self) -> Result<()> {
        self.kill();
        self.spawn()
    }

    /// Run the kubectl the dispatcher picks for this server, with a private cache dir.
    pub fn kubectl(&self, args: &[&str]) -> Result<Output> {
        self.kubectl_with("kubectl", args, None)
    }

    /// Run a pinned `kubectl.1.<minor>` from beside the dispatcher.
    pub fn kubectl_minor(&self, minor: u32, args: &[&str]) -> Result<Output> {
        let bin = pinned_kubectl(minor)?;
        self.kubectl_with(&bin.display().to_string(), args, None)
    }

    /// Run kubectl with `stdin` fed to it (for `apply -f -`).
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Result<Output> {
        self.kubectl_with("kubectl", args, Some(stdin))
    }

    fn kubectl_with(&self, bin: &str, args: &[&str], stdin: Option<&str>) -> Result<Output> {
        use std::io::Write;
        let mut cmd = Command::new(bin);
        cmd.arg(format!("--cache-dir={}", self.cache_dir.path().display()))
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", self.cache_dir.path())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().with_context(|| format!("running {bin}"))?;
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .context("kubectl stdin")?
                .write_all(input.as_bytes())?;
        }
        Ok(child.wait_with_output()?)
    }

    /// A kube-rs client for this server.
    pub async fn client(&self) -> Result<kube::Client> {
        let kc = kube::config::Kubeconfig::read_from(&self.kubeconfig)?;
        let config =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await?;
        Ok(kube::Client::try_from(config)?)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `kubectl.1.<minor>` next to the dispatcher on PATH.
pub fn pinned_kubectl(minor: u32) -> Result<PathBuf> {
    let dispatcher = which("kubectl").context("kubectl is not on PATH")?;
    let real = std::fs::canonicalize(&dispatcher).unwrap_or(dispatcher);
    let bin = real
        .parent()
        .context("kubectl has no folder")?
        .join(format!("kubectl.1.{minor}"));
    if !bin.exists() {
        bail!("{} does not exist", bin.display());
    }
    Ok(bin)
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// stdout of a successful command, or an error carrying its stderr.
pub fn ok(output: Output) -> Result<String> {
    if !output.status.success() {
        bail!(
            "command failed ({}):\nstdout: {}\nstderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// stderr of a command that must fail.
pub fn fails(output: Output) -> Result<String> {
    if output.status.success() {
        bail!(
            "command succeeded but should have failed:\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
    Ok(String::from_utf8_lossy(&output.stderr).into_owned())
}

/// The path of a manifest in the repository's `examples/`.
pub fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .display()
        .to_string()
}

/// Polls `probe` every 200 ms until it finds something, or fails after `limit` naming `what`
/// and the last probe's error.
pub fn wait_for<T>(
    what: &str,
    limit: Duration,
    mut probe: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let last = probe();
        if let Ok(Some(found)) = last {
            return Ok(found);
        }
        if std::time::Instant::now() > deadline {
            bail!(
                "{what}: not within {limit:?} (last probe: {last:?})",
                last = last.err()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
