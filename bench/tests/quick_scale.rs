//! The scale benchmark's tooling at a small size, so it cannot rot between real runs: the
//! generated cluster is built through a real `svcplane server` (controllers and node agent on),
//! readiness flips are observed on the watches, and `report` renders the page section from the
//! recorded result. Only completion and the recorded counts are checked, never timings.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};
use testkit::Server;

/// The `svcplane` binary next to `apibench` (built by `cargo test --workspace`; built here when
/// only this package's tests run).
fn svcplane() -> Result<PathBuf> {
    let apibench = Path::new(env!("CARGO_BIN_EXE_apibench"));
    let bin = apibench.with_file_name("svcplane");
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "svcplane"])
            .status()
            .context("building svcplane")?;
        ensure!(status.success(), "building svcplane failed");
    }
    Ok(bin)
}

#[test]
fn a_small_cluster_is_built_flipped_and_reported() -> Result<()> {
    let mut server = Server::start(&svcplane()?, &["--nodes", "5", "--pod-start-delay", "0s"])?;
    let dir = tempfile::tempdir()?;
    let results = dir.path().join("scale.jsonl");
    let queries = dir.path().join("dns");
    let pid = server.pid().context("server pid")?.to_string();
    let run = Command::new(env!("CARGO_BIN_EXE_apibench"))
        .args(["scale", "--url", &server.url, "--kubeconfig"])
        .arg(&server.kubeconfig)
        .args(["--server-pid", &pid, "--services", "20", "--pods", "120"])
        .args([
            "--nodes",
            "5",
            "--flips",
            "6",
            "--build-timeout",
            "5m",
            "--dns-queries",
        ])
        .arg(&queries)
        .arg("--json")
        .arg(&results)
        .output()?;
    let stdout = String::from_utf8_lossy(&run.stdout);
    ensure!(
        run.status.success(),
        "apibench scale failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let recorded: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&results)?.trim())?;
    assert_eq!(recorded["bench"], "scale");
    assert_eq!(recorded["pods"], 120);
    assert_eq!(recorded["flips"], 6);
    assert_eq!(recorded["timeouts"], 0, "{stdout}");
    let expected = std::fs::read_to_string(queries.join("expected.tsv"))?;
    assert!(expected.lines().count() >= 5, "{expected}");
    assert!(std::fs::metadata(queries.join("queries.txt"))?.len() > 0);

    // The restart probe: the same server, stopped and started again on its data dir.
    server.terminate(std::time::Duration::from_secs(30))?;
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs_f64();
    server.restart()?;
    let dns = server
        .reported("svcplane DNS listening on ")
        .context("the restarted server's DNS address")?;
    let pid = server.pid().context("server pid")?.to_string();
    let probe = Command::new(env!("CARGO_BIN_EXE_apibench"))
        .args(["scale-restart", "--url", &server.url, "--kubeconfig"])
        .arg(&server.kubeconfig)
        .args(["--since", &since.to_string(), "--dns", &dns, "--expected"])
        .arg(queries.join("expected.tsv"))
        .args(["--server-pid", &pid, "--services", "20", "--pods", "120"])
        .args(["--nodes", "5", "--timeout", "2m", "--json"])
        .arg(&results)
        .output()?;
    ensure!(
        probe.status.success(),
        "apibench scale-restart failed:\n{}\n{}",
        String::from_utf8_lossy(&probe.stdout),
        String::from_utf8_lossy(&probe.stderr)
    );

    let page = dir.path().join("benchmarks.md");
    let report = Command::new(env!("CARGO_BIN_EXE_apibench"))
        .args(["report", "--results"])
        .arg(&results)
        .arg("--out")
        .arg(&page)
        .args(["--command", "quick_scale test"])
        .output()?;
    ensure!(
        report.status.success(),
        "report failed: {}",
        String::from_utf8_lossy(&report.stderr)
    );
    let page = std::fs::read_to_string(&page)?;
    assert!(page.contains("## Controllers at scale"), "{page}");
    assert!(page.contains("| 20 | 120 | 5 |"), "{page}");
    assert!(page.contains("### Restart"), "{page}");
    Ok(())
}
