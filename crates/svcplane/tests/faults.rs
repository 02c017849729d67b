//! Faults under load, each ending with a count of acknowledged writes lost, which must be 0:
//! the etcd leader killed mid-load (and restarted), one of two svcplane replicas SIGKILLed
//! mid-load, and etcd losing quorum (writes fail with a 503/504 Status that says why, and
//! succeed again once quorum is back). A write is acknowledged when the client got a 2xx; at the
//! end every acknowledged object must be readable. Timings are printed, never asserted. Tests
//! skip when the `etcd` binary is absent, unless `CI` is set.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{GetParams, ListParams, PostParams};
use testkit::etcd::EtcdCluster;
use testkit::{Server, fails};

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_svcplane"))
}

/// How long one create may take before the client gives up on it (unacknowledged).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// A server on `etcd` with only the API (no agent, controllers or DNS): the load is the API's.
fn api_server(etcd: &EtcdCluster) -> Result<Server> {
    let endpoints = etcd.endpoints();
    Server::start(
        bin(),
        &[
            "--etcd-servers",
            &endpoints,
            "--nodes",
            "0",
            "--no-controllers",
            "--dns-listen",
            "none",
        ],
    )
}

/// A kube-rs client that reports every failure: kube-rs retries 503 and 504 on its own by
/// default, which would hide the server's answers this file is about.
async fn client(kubeconfig: &Path) -> Result<kube::Client> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig)?;
    let mut config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await?;
    config.default_retry = false;
    Ok(kube::Client::try_from(config)?)
}

fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "data": {"written-by": "faults"},
    }))
    .expect("a valid ConfigMap")
}

/// An acknowledged create: the object's name, which server took it, and when the 2xx came.
struct Ack {
    name: String,
    server: usize,
    at: Instant,
}

/// What a load run saw.
#[derive(Default)]
struct Report {
    acks: Vec<Ack>,
    /// Failed creates by what the client saw (`503 ServiceUnavailable`, `transport`, …), with
    /// one example message each.
    failures: BTreeMap<String, (usize, String)>,
    /// Names of creates that failed or timed out: their outcome is unknown to the client.
    unacknowledged: Vec<String>,
}

impl Report {
    fn failed(&self) -> usize {
        self.failures.values().map(|(n, _)| n).sum()
    }

    fn print(&self, what: &str) {
        eprintln!(
            "{what}: {} creates acknowledged, {} failed",
            self.acks.len(),
            self.failed()
        );
        for (kind, (n, example)) in &self.failures {
            eprintln!("  {n} × {kind}: {example}");
        }
    }

    /// The first acknowledgement at or after `t`.
    fn first_ack_after(&self, t: Instant) -> Option<Instant> {
        self.acks.iter().map(|a| a.at).filter(|&at| at >= t).min()
    }

    /// The longest time without any acknowledgement, between the first and the last one.
    fn longest_gap(&self) -> Duration {
        let mut times: Vec<Instant> = self.acks.iter().map(|a| a.at).collect();
        times.sort();
        times
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or_default()
    }
}

/// Concurrent clients creating ConfigMaps through the servers, `workers` per server, until
/// stopped. Each worker has its own name sequence; each create's outcome is remembered.
struct Load {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Result<Report>>,
}

impl Load {
    fn start(kubeconfigs: Vec<PathBuf>, workers: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(run_load(kubeconfigs, workers, flag))
        });
        Load { stop, thread }
    }

    fn finish(self) -> Result<Report> {
        self.stop.store(true, Ordering::SeqCst);
        match self.thread.join() {
            Ok(report) => report,
            Err(_) => bail!("the load thread panicked"),
        }
    }
}

async fn run_load(
    kubeconfigs: Vec<PathBuf>,
    workers: usize,
    stop: Arc<AtomicBool>,
) -> Result<Report> {
    let mut tasks = Vec::new();
    for (server, kubeconfig) in kubeconfigs.iter().enumerate() {
        let client = client(kubeconfig).await?;
        for worker in 0..workers {
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
            let stop = stop.clone();
            tasks.push(tokio::spawn(async move {
                let mut report = Report::default();
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let name = format!("load-{server}-{worker}-{i}");
                    i += 1;
                    let created = tokio::time::timeout(
                        REQUEST_TIMEOUT,
                        api.create(&PostParams::default(), &config_map(&name)),
                    )
                    .await;
                    let failure = match created {
                        Ok(Ok(_)) => {
                            report.acks.push(Ack {
                                name,
                                server,
                                at: Instant::now(),
                            });
                            continue;
                        }
                        Ok(Err(kube::Error::Api(status))) => (
                            format!("{} {}", status.code, status.reason),
                            status.message.clone(),
                        ),
                        Ok(Err(other)) => ("client error".to_string(), other.to_string()),
                        Err(_) => (
                            "client timeout".to_string(),
                            format!("no answer within {REQUEST_TIMEOUT:?}"),
                        ),
                    };
                    report.unacknowledged.push(name);
                    let entry = report.failures.entry(failure.0).or_insert((0, failure.1));
                    entry.0 += 1;
                    // A dead server refuses at once: do not spin on it.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                report
            }));
        }
    }
    let mut all = Report::default();
    for task in tasks {
        let report = task.await?;
        all.acks.extend(report.acks);
        all.unacknowledged.extend(report.unacknowledged);
        for (kind, (n, example)) in report.failures {
            all.failures.entry(kind).or_insert((0, example)).0 += n;
        }
    }
    Ok(all)
}

/// The names of all ConfigMaps in `default`, read through `server` (a quorum read).
fn stored_names(server: &Server) -> Result<BTreeSet<String>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let api: Api<ConfigMap> = Api::namespaced(client(&server.kubeconfig).await?, "default");
        let list = api.list(&ListParams::default()).await?;
        Ok(list
            .items
            .into_iter()
            .filter_map(|cm| cm.metadata.name)
            .collect())
    })
}

/// Checks every acknowledged create against what `server` now lists; returns the number lost
/// (after printing them), and prints how many unacknowledged creates were applied anyway.
fn count_lost(report: &Report, server: &Server) -> Result<usize> {
    let stored = stored_names(server)?;
    let lost: Vec<&str> = report
        .acks
        .iter()
        .map(|a| a.name.as_str())
        .filter(|name| !stored.contains(*name))
        .collect();
    let applied_anyway = report
        .unacknowledged
        .iter()
        .filter(|name| stored.contains(*name))
        .count();
    eprintln!(
        "acknowledged writes lost: {} of {}; failed creates that were applied anyway: {applied_anyway} of {}",
        lost.len(),
        report.acks.len(),
        report.unacknowledged.len()
    );
    if !lost.is_empty() {
        eprintln!("lost: {lost:?}");
    }
    Ok(lost.len())
}

/// Polls `probe` every 20ms until it returns `Some`, for at most `limit`.
fn wait_for<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> Result<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = probe() {
            return Ok(found);
        }
        ensure!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Kill the etcd leader of 3 members during a write load through svcplane, restart it later:
/// no acknowledged create is lost. Prints how long writes took to resume.
#[test]
fn killing_the_etcd_leader_loses_no_acknowledged_write() -> Result<()> {
    let Some(mut etcd) = EtcdCluster::start_or_skip(3)? else {
        return Ok(());
    };
    let server = api_server(&etcd)?;
    let load = Load::start(vec![server.kubeconfig.clone()], 4);
    std::thread::sleep(Duration::from_secs(2));

    let leader = wait_for("an etcd leader", Duration::from_secs(10), || etcd.leader())?;
    let killed = Instant::now();
    etcd.kill_member(leader);
    let new_leader = wait_for("a new etcd leader", Duration::from_secs(30), || {
        etcd.leader().filter(|&l| l != leader)
    })?;
    let elected = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    etcd.restart_member(leader)?;
    etcd.wait_healthy()?;
    let rejoined = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    let report = load.finish()?;
    report.print("etcd leader killed");

    let first_after_kill = report.first_ack_after(killed);
    let first_after_election = report.first_ack_after(elected);
    eprintln!(
        "etcd member {leader} (leader) killed; member {new_leader} elected {:?} later \
         (as seen by polling /metrics every 20ms)",
        elected - killed
    );
    eprintln!(
        "first acknowledged write after the kill: {:?} after it; first after the election was \
         seen: {:?} after it; longest stretch without an acknowledgement: {:?}",
        first_after_kill.map(|t| t - killed),
        first_after_election.map(|t| t - elected),
        report.longest_gap()
    );
    eprintln!(
        "killed member rejoined {:?} after the kill",
        rejoined - killed
    );
    ensure!(
        report.first_ack_after(rejoined).is_some(),
        "no write was acknowledged after the old leader rejoined"
    );
    assert_eq!(count_lost(&report, &server)?, 0, "acknowledged writes lost");
    Ok(())
}

/// Two svcplane replicas on one etcd, load through both, SIGKILL one: no acknowledged create is
/// lost, and the other keeps acknowledging writes.
#[test]
fn killing_a_replica_loses_no_acknowledged_write() -> Result<()> {
    let Some(etcd) = EtcdCluster::start_or_skip(1)? else {
        return Ok(());
    };
    let survivor = api_server(&etcd)?;
    let mut victim = api_server(&etcd)?;
    let load = Load::start(
        vec![survivor.kubeconfig.clone(), victim.kubeconfig.clone()],
        3,
    );
    std::thread::sleep(Duration::from_secs(2));
    let killed = Instant::now();
    victim.kill();
    std::thread::sleep(Duration::from_secs(3));
    let report = load.finish()?;
    report.print("replica killed");

    let by_server = |server: usize, after: Option<Instant>| {
        report
            .acks
            .iter()
            .filter(|a| a.server == server && after.is_none_or(|t| a.at >= t))
            .count()
    };
    eprintln!(
        "acknowledged through the victim before its kill: {}; through the survivor: {} ({} after the kill)",
        by_server(1, None),
        by_server(0, None),
        by_server(0, Some(killed))
    );
    ensure!(
        by_server(1, None) > 0,
        "the victim took no load before the kill"
    );
    ensure!(
        by_server(0, Some(killed)) > 0,
        "the survivor acknowledged nothing after the other replica was killed"
    );
    assert_eq!(
        count_lost(&report, &survivor)?,
        0,
        "acknowledged writes lost"
    );
    Ok(())
}

/// etcd loses quorum (2 of 3 members killed): a create through svcplane fails with a 503 or
/// 504 Status saying etcd is the problem, for kube-rs and kubectl alike, in bounded time, while
/// gets and lists at `resourceVersion=0` keep being answered from the watch cache (consistent
/// reads fail like writes). Once the members are back, creates succeed again, the cache follows
/// them, and nothing acknowledged before is lost.
#[test]
fn writes_fail_clearly_without_quorum_and_recover() -> Result<()> {
    let Some(mut etcd) = EtcdCluster::start_or_skip(3)? else {
        return Ok(());
    };
    let server = api_server(&etcd)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let api: Api<ConfigMap> =
        Api::namespaced(runtime.block_on(client(&server.kubeconfig))?, "default");
    let create = |name: &str| {
        runtime.block_on(async {
            tokio::time::timeout(
                Duration::from_secs(120),
                api.create(&PostParams::default(), &config_map(name)),
            )
            .await
        })
    };
    create("before-quorum-loss")
        .context("create timed out")?
        .context("create with quorum")?;
    let cached_names = || -> Result<BTreeSet<String>> {
        runtime.block_on(async {
            let list = api.list(&ListParams::default().match_any()).await?;
            Ok(list
                .items
                .into_iter()
                .filter_map(|c| c.metadata.name)
                .collect())
        })
    };
    wait_for(
        "the watch cache to hold the first create",
        Duration::from_secs(10),
        || {
            cached_names()
                .ok()
                .filter(|names| names.contains("before-quorum-loss"))
        },
    )?;

    // The leader and one follower: the member left can elect no one.
    let leader = wait_for("an etcd leader", Duration::from_secs(10), || etcd.leader())?;
    let follower = (0..etcd.len())
        .find(|&i| i != leader)
        .context("no follower")?;
    etcd.kill_member(leader);
    etcd.kill_member(follower);
    let lost_quorum = Instant::now();

    let asked = Instant::now();
    let answer = create("without-quorum").context("the create hung for 120s")?;
    let took = asked.elapsed();
    let status = match answer {
        Ok(_) => bail!("a create succeeded without etcd quorum"),
        Err(kube::Error::Api(status)) => status,
        Err(other) => bail!("expected a Status, got {other}"),
    };
    eprintln!(
        "kube-rs create without quorum ({:?} after the loss) failed after {took:?}: {} {}: {}",
        asked - lost_quorum,
        status.code,
        status.reason,
        status.message
    );
    ensure!(
        status.code == 503 || status.code == 504,
        "code {} is not 503/504: {status:?}",
        status.code
    );
    ensure!(
        status.message.contains("etcd") && status.message.contains("storage"),
        "the message does not say that the storage (etcd) is the problem: {}",
        status.message
    );

    // Once the member left knows it has no leader, a create fails without waiting out the
    // request deadline.
    let asked = Instant::now();
    match create("without-quorum-later").context("the create hung for 120s")? {
        Err(kube::Error::Api(status)) if status.code == 503 || status.code == 504 => eprintln!(
            "a second create ({:?} after the loss) failed after {:?}: {}",
            asked - lost_quorum,
            asked.elapsed(),
            status.message
        ),
        other => bail!("a second create without quorum: {other:?}"),
    }

    let asked = Instant::now();
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kubectl-without-quorum\n";
    let stderr = fails(server.kubectl_stdin(&["create", "-f", "-"], manifest)?)?;
    eprintln!(
        "kubectl create without quorum failed after {:?}: {}",
        asked.elapsed(),
        stderr.trim()
    );
    ensure!(
        stderr.contains("Error from server (ServiceUnavailable)")
            || stderr.contains("Error from server (Timeout)"),
        "{stderr}"
    );

    // Reads of any recent state are answered from the watch cache.
    let names = cached_names().context("a list at resourceVersion=0 without quorum")?;
    ensure!(names.contains("before-quorum-loss"), "{names:?}");
    let got = runtime
        .block_on(api.get_with("before-quorum-loss", &GetParams::any()))
        .context("a get at resourceVersion=0 without quorum")?;
    assert_eq!(got.data, config_map("before-quorum-loss").data);
    let raw = testkit::ok(server.kubectl(&[
        "get",
        "--raw",
        "/api/v1/namespaces/default/configmaps?resourceVersion=0",
    ])?)?;
    ensure!(raw.contains("\"before-quorum-loss\""), "{raw}");
    // A consistent read needs a quorum, as in kube-apiserver.
    match runtime.block_on(api.list(&ListParams::default())) {
        Err(kube::Error::Api(status)) if status.code == 503 || status.code == 504 => {
            eprintln!(
                "a consistent list without quorum: {} {}",
                status.code, status.reason
            )
        }
        other => bail!("a consistent list without quorum: {other:?}"),
    }
    eprintln!("lists and gets at resourceVersion=0 are served without quorum");

    etcd.restart_member(leader)?;
    etcd.restart_member(follower)?;
    let restarted = Instant::now();
    etcd.wait_healthy()?;
    eprintln!("etcd healthy {:?} after the restart", restarted.elapsed());
    let mut attempts = 0;
    loop {
        attempts += 1;
        match create("after-quorum-returns").context("create timed out")? {
            Ok(_) => break,
            // An earlier attempt whose outcome the client never learned was applied after all.
            Err(kube::Error::Api(status)) if status.code == 409 && attempts > 1 => break,
            Err(kube::Error::Api(status)) if status.code == 503 || status.code == 504 => {
                ensure!(
                    restarted.elapsed() < Duration::from_secs(60),
                    "writes did not recover within 60s: {}",
                    status.message
                );
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(other) => bail!("create after recovery: {other}"),
        }
    }
    eprintln!(
        "a create succeeded {:?} after the members restarted ({attempts} attempts)",
        restarted.elapsed()
    );
    let followed = wait_for(
        "the watch cache to follow writes after recovery",
        Duration::from_secs(30),
        || {
            cached_names()
                .ok()
                .filter(|names| names.contains("after-quorum-returns"))
        },
    );
    followed?;
    eprintln!(
        "the watch cache saw the first write after recovery {:?} after the restart",
        restarted.elapsed()
    );
    let stored = stored_names(&server)?;
    for name in ["before-quorum-loss", "after-quorum-returns"] {
        ensure!(stored.contains(name), "{name} is missing: {stored:?}");
    }
    Ok(())
}
