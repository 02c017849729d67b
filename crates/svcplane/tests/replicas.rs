//! Replicas and leader election: several `svcplane server`s on one etcd elect one leader on the
//! `kube-system/svcplane-controllers` Lease, and only it runs the controllers and the node agent.
//! When the leader dies the other takes over within the lease duration, and the cluster goes on
//! with one set of controllers (no duplicate pods). In-process candidates racing on one Lease
//! never lead at once: not when they start together, not on handover, not when the leader is
//! cut off from the API. Tests on etcd skip when the `etcd` binary is absent, unless `CI` is set.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use testkit::etcd::EtcdCluster;
use testkit::{Server, ok};
use testkit::{example, wait_for};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_svcplane"))
}

/// Poll `probe` every 200ms until it returns `Some`, for at most `limit`.
/// kubectl's jsonpath output, split on whitespace.
fn words(s: &Server, args: &[&str]) -> Result<Vec<String>> {
    Ok(ok(s.kubectl(args)?)?
        .split_whitespace()
        .map(String::from)
        .collect())
}

/// The controllers' Lease holder ("" when there is no Lease or nobody holds it).
fn holder(s: &Server) -> Result<String> {
    let out = s.kubectl(&[
        "get",
        "lease",
        "-n",
        "kube-system",
        "svcplane-controllers",
        "-o",
        "jsonpath={.spec.holderIdentity}",
        "--ignore-not-found",
    ])?;
    Ok(ok(out)?.trim().to_string())
}

/// The my-nginx pods as (phase, IP).
fn nginx_pods(s: &Server) -> Result<Vec<(String, String)>> {
    let out = ok(s.kubectl(&[
        "get",
        "pods",
        "-l",
        "run=my-nginx",
        "-o",
        r#"jsonpath={range .items[*]}{.status.phase} {.status.podIP}{"\n"}{end}"#,
    ])?)?;
    Ok(out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut parts = l.split_whitespace();
            let phase = parts.next().unwrap_or_default().to_string();
            (phase, parts.next().unwrap_or_default().to_string())
        })
        .collect())
}

/// The IPs of `n` Running my-nginx pods, once there are exactly `n` and they all are.
fn running_ips(s: &Server, n: usize) -> Result<Option<BTreeSet<String>>> {
    let pods = nginx_pods(s)?;
    let ips: BTreeSet<String> = pods
        .iter()
        .filter(|(phase, ip)| phase == "Running" && !ip.is_empty())
        .map(|(_, ip)| ip.clone())
        .collect();
    Ok((pods.len() == n && ips.len() == n).then_some(ips))
}

fn endpoint_ips(s: &Server) -> Result<BTreeSet<String>> {
    Ok(words(
        s,
        &[
            "get",
            "endpoints",
            "my-nginx-headless-svc",
            "-o",
            "jsonpath={.subsets[*].addresses[*].ip}",
        ],
    )?
    .into_iter()
    .collect())
}

fn dig(dns: &str, name: &str) -> Result<BTreeSet<String>> {
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

/// Short election timings for the tests: 6s lease, 4s renew deadline, 1s retry period.
const LEASE: Duration = Duration::from_secs(6);

fn replica(etcd: &EtcdCluster, identity: &str) -> Result<Server> {
    let endpoints = etcd.endpoints();
    Server::start(
        bin(),
        &[
            "--etcd-servers",
            &endpoints,
            "--nodes",
            "1",
            "--leader-elect-identity",
            identity,
            "--leader-elect-lease-duration",
            "6s",
            "--leader-elect-renew-deadline",
            "4s",
            "--leader-elect-retry-period",
            "1s",
        ],
    )
}

/// Two full replicas on one etcd: one leader runs the controllers and the agent; SIGKILL it and
/// the other takes over within the lease duration, scales with no duplicate pods, and its DNS
/// answers with the new set.
#[test]
fn the_survivor_takes_over_the_controllers_and_the_agent() -> Result<()> {
    let Some(etcd) = EtcdCluster::start_or_skip(1)? else {
        return Ok(());
    };
    let started = Instant::now();
    let a = replica(&etcd, "replica-a")?;
    let b = replica(&etcd, "replica-b")?;
    let leader = wait_for("a leader", LEASE * 2, || {
        let h = holder(&a)?;
        Ok((!h.is_empty()).then_some(h))
    })?;
    ensure!(
        leader == "replica-a" || leader == "replica-b",
        "unexpected holder {leader}"
    );
    assert_eq!(holder(&b)?, leader, "both replicas see one holder");
    eprintln!("{leader} leads after {:?}", started.elapsed());

    assert_eq!(
        ok(a.kubectl(&["apply", "-f", &example("my-nginx-deployment.yaml")])?)?.trim(),
        "deployment.apps/my-nginx created"
    );
    assert_eq!(
        ok(a.kubectl(&["apply", "-f", &example("headless-svc.yaml")])?)?.trim(),
        "service/my-nginx-headless-svc created"
    );
    let two = wait_for("2 Running pods", Duration::from_secs(30), || {
        running_ips(&a, 2)
    })?;
    wait_for("2 endpoints", Duration::from_secs(15), || {
        Ok((endpoint_ips(&b)? == two).then_some(()))
    })?;
    // One agent registered the node once, not one per replica.
    assert_eq!(words(&a, &["get", "nodes", "-o", "name"])?, ["node/node-1"]);
    eprintln!(
        "2 pods Running and in the endpoints after {:?}",
        started.elapsed()
    );

    let (mut dead, survivor, survivor_id) = if leader == "replica-a" {
        (a, b, "replica-b")
    } else {
        (b, a, "replica-a")
    };
    let killed = Instant::now();
    dead.kill();
    wait_for(
        "the survivor to take over",
        LEASE + Duration::from_secs(10),
        || Ok((holder(&survivor)? == survivor_id).then_some(())),
    )?;
    let takeover = killed.elapsed();
    eprintln!("{survivor_id} took over {takeover:?} after the leader was killed");
    // The survivor saw the last renewal up to one jittered retry (≤ 2.2s) after it was written,
    // waits a lease from then, and tries again up to one more jittered retry later.
    assert!(
        takeover <= LEASE + Duration::from_secs(6),
        "takeover took {takeover:?}, lease {LEASE:?}"
    );
    let transitions = words(
        &survivor,
        &[
            "get",
            "lease",
            "-n",
            "kube-system",
            "svcplane-controllers",
            "-o",
            "jsonpath={.spec.leaseTransitions}",
        ],
    )?;
    assert_eq!(
        transitions,
        ["1"],
        "created by one, taken over by the other"
    );

    assert_eq!(
        ok(survivor.kubectl(&["scale", "deployment", "my-nginx", "--replicas=3"])?)?.trim(),
        "deployment.apps/my-nginx scaled"
    );
    let three = wait_for("3 Running pods", Duration::from_secs(30), || {
        running_ips(&survivor, 3)
    })?;
    assert!(
        three.is_superset(&two),
        "the old pods stay: {two:?} {three:?}"
    );
    wait_for("3 endpoints", Duration::from_secs(15), || {
        Ok((endpoint_ips(&survivor)? == three).then_some(()))
    })?;
    eprintln!(
        "scaled to 3 through the survivor after {:?}",
        started.elapsed()
    );
    let dns = survivor
        .reported("svcplane DNS listening on ")
        .context("the survivor reported no DNS address")?;
    wait_for("DNS to answer the 3 pods", Duration::from_secs(10), || {
        Ok((dig(&dns, "my-nginx-headless-svc.default.svc.cluster.local")? == three).then_some(()))
    })?;

    // Still one set of everything a moment later: no late duplicate from a second controller.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(nginx_pods(&survivor)?.len(), 3);
    let sets = words(
        &survivor,
        &["get", "rs", "-l", "run=my-nginx", "-o", "name"],
    )?;
    assert_eq!(sets.len(), 1, "{sets:?}");
    assert_eq!(
        words(&survivor, &["get", "nodes", "-o", "name"])?,
        ["node/node-1"]
    );
    eprintln!("replica failover story: {:?}", started.elapsed());
    Ok(())
}

/// SIGTERM (by PID) to the leader: it stops its controllers and releases the Lease on the way
/// out, so the other replica takes over on its next try, not a whole lease duration (15s by
/// default, used here) later.
#[test]
fn a_clean_shutdown_hands_the_lease_over_at_once() -> Result<()> {
    let Some(etcd) = EtcdCluster::start_or_skip(1)? else {
        return Ok(());
    };
    let endpoints = etcd.endpoints();
    let start = |identity: &str| {
        Server::start(
            bin(),
            &[
                "--etcd-servers",
                &endpoints,
                "--nodes",
                "0",
                "--leader-elect-identity",
                identity,
            ],
        )
    };
    let a = start("replica-a")?;
    wait_for("replica-a to lead", Duration::from_secs(10), || {
        Ok((holder(&a)? == "replica-a").then_some(()))
    })?;
    let b = start("replica-b")?;
    // B has seen the lease held, so only a release (or 15s) lets it in.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(holder(&b)?, "replica-a");
    let pid = a.pid().context("replica-a is not running")?;
    let terminated = Instant::now();
    ok(Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .output()?)?;
    wait_for("replica-b to take over", Duration::from_secs(20), || {
        Ok((holder(&b)? == "replica-b").then_some(()))
    })?;
    let handover = terminated.elapsed();
    eprintln!("replica-b took over {handover:?} after SIGTERM to the leader");
    assert!(
        handover < Duration::from_secs(8),
        "{handover:?}: the lease was not released"
    );
    Ok(())
}

/// Who believes it leads, as the candidates' work reports it.
#[derive(Default)]
struct Leadership {
    leading: AtomicUsize,
    overlapped: AtomicBool,
    leader: Mutex<Option<usize>>,
    /// When the current stretch of leadership began and the last one ended.
    started: Mutex<Option<Instant>>,
    stopped: Mutex<Option<Instant>>,
}

impl Leadership {
    fn leader(&self) -> Option<usize> {
        *self.leader.lock().unwrap()
    }

    async fn wait_leader(&self, other_than: Option<usize>, limit: Duration) -> Result<usize> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(i) = self.leader().filter(|i| Some(*i) != other_than) {
                return Ok(i);
            }
            ensure!(Instant::now() < deadline, "no new leader within {limit:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Candidate `index` on `client`: its work marks it leading until its token is cancelled.
fn candidate(
    index: usize,
    config: election::Config,
    client: kube::Client,
    state: Arc<Leadership>,
) -> (CancellationToken, JoinHandle<()>) {
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    let task = tokio::spawn(async move {
        let work = move |leading: CancellationToken| {
            let state = state.clone();
            async move {
                if state.leading.fetch_add(1, Ordering::SeqCst) != 0 {
                    state.overlapped.store(true, Ordering::SeqCst);
                }
                *state.started.lock().unwrap() = Some(Instant::now());
                *state.leader.lock().unwrap() = Some(index);
                leading.cancelled().await;
                *state.leader.lock().unwrap() = None;
                *state.stopped.lock().unwrap() = Some(Instant::now());
                state.leading.fetch_sub(1, Ordering::SeqCst);
            }
        };
        election::run(config, client, stop, work)
            .await
            .expect("a valid config");
    });
    (shutdown, task)
}

/// Sample the number of believed leaders every few milliseconds until `done`.
fn watch_overlap(state: Arc<Leadership>, done: CancellationToken) -> JoinHandle<usize> {
    tokio::spawn(async move {
        let mut most = 0;
        while !done.is_cancelled() {
            most = most.max(state.leading.load(Ordering::SeqCst));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        most
    })
}

fn config(
    lease: &str,
    identity: String,
    lease_s: u64,
    renew_ms: u64,
    retry_ms: u64,
) -> election::Config {
    election::Config {
        namespace: "default".into(),
        name: lease.into(),
        identity,
        lease_duration: Duration::from_secs(lease_s),
        renew_deadline: Duration::from_millis(renew_ms),
        retry_period: Duration::from_millis(retry_ms),
    }
}

/// Four candidates start at once on one Lease (all see it missing and create it; all see it
/// released and write over it): at every moment at most one leads, and a clean shutdown hands
/// over within a few retry periods instead of a lease duration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn candidates_racing_on_one_lease_never_both_lead() -> Result<()> {
    let server = Server::start(bin(), &["--nodes", "0", "--no-controllers"])?;
    let client = server.client().await?;
    let state = Arc::new(Leadership::default());
    let done = CancellationToken::new();
    let most = watch_overlap(state.clone(), done.clone());
    // Lease 5s: a handover that waited for expiry instead of the release would take ≥ 4.5s.
    let configs: Vec<election::Config> = (0..4)
        .map(|_| config("race", election::default_identity(), 5, 3_000, 500))
        .collect();
    let mut candidates: Vec<_> = configs
        .iter()
        .enumerate()
        .map(|(i, c)| Some(candidate(i, c.clone(), client.clone(), state.clone())))
        .collect();
    let leases: Api<Lease> = Api::namespaced(client.clone(), "default");

    let mut previous = None;
    for round in 0..4 {
        let asked = Instant::now();
        let leader = state.wait_leader(previous, Duration::from_secs(10)).await?;
        let handover = asked.elapsed();
        let spec = leases
            .get("race")
            .await?
            .spec
            .context("lease without spec")?;
        assert_eq!(
            spec.holder_identity.as_ref(),
            Some(&configs[leader].identity)
        );
        assert_eq!(
            spec.lease_transitions,
            Some(round),
            "one transition per new leader"
        );
        assert_eq!(spec.lease_duration_seconds, Some(5));
        assert!(spec.acquire_time.is_some() && spec.renew_time.is_some());
        eprintln!("round {round}: candidate {leader} leads after {handover:?}");
        if round > 0 {
            assert!(
                handover < Duration::from_secs(4),
                "handover took {handover:?}"
            );
        }
        // Let it renew a few times while the others keep trying.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        assert_eq!(state.leader(), Some(leader), "the leader keeps leading");
        let (stop, task) = candidates[leader]
            .take()
            .context("leader already stopped")?;
        stop.cancel();
        task.await?;
        previous = Some(leader);
    }
    let spec = leases
        .get("race")
        .await?
        .spec
        .context("lease without spec")?;
    assert_eq!(
        spec.holder_identity.as_deref(),
        Some(""),
        "released on shutdown"
    );
    assert_eq!(spec.lease_duration_seconds, Some(1));
    done.cancel();
    assert_eq!(most.await?, 1, "exactly one leader at a time");
    assert!(
        !state.overlapped.load(Ordering::SeqCst),
        "two leaders at once"
    );
    Ok(())
}

/// A leader whose API server dies cannot renew: it stops leading within the renew deadline,
/// before the candidate on the other replica may take over (a lease duration after the last
/// renewal it saw).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_the_api_stops_before_another_takes_over() -> Result<()> {
    let Some(etcd) = EtcdCluster::start_or_skip(1)? else {
        return Ok(());
    };
    let endpoints = etcd.endpoints();
    // The servers' own election is off: only the test's candidates use the Lease.
    let flags = [
        "--etcd-servers",
        &endpoints,
        "--nodes",
        "0",
        "--leader-elect=false",
    ];
    let mut a = Server::start(bin(), &flags)?;
    let b = Server::start(bin(), &flags)?;
    let state = Arc::new(Leadership::default());
    let done = CancellationToken::new();
    let most = watch_overlap(state.clone(), done.clone());
    // Lease 4s, renew deadline 2s: the cut-off leader has 2s to stop before anyone takes over.
    let (first, second) = (
        config("cut-off", "on-a".into(), 4, 2_000, 500),
        config("cut-off", "on-b".into(), 4, 2_000, 500),
    );
    let (_stop_a, on_a) = candidate(0, first, a.client().await?, state.clone());
    ensure!(state.wait_leader(None, Duration::from_secs(10)).await? == 0);
    let (stop_b, on_b) = candidate(1, second, b.client().await?, state.clone());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(state.leader(), Some(0), "the leader keeps leading");

    let killed = Instant::now();
    a.kill();
    ensure!(state.wait_leader(Some(0), Duration::from_secs(15)).await? == 1);
    let took_over = killed.elapsed();
    let stopped = state
        .stopped
        .lock()
        .unwrap()
        .context("the cut-off leader never stopped")?;
    let started = state.started.lock().unwrap().context("no start")?;
    let stepped_down = stopped.duration_since(killed);
    eprintln!(
        "cut-off leader stopped after {stepped_down:?}; the other took over after {took_over:?}"
    );
    assert!(
        stepped_down <= Duration::from_millis(2_500),
        "{stepped_down:?}"
    );
    assert!(
        stopped < started,
        "the old leader stopped before the new one started"
    );
    assert!(
        took_over >= Duration::from_secs(2),
        "{took_over:?}: not before its lease ran out"
    );

    stop_b.cancel();
    on_b.await?;
    on_a.abort();
    done.cancel();
    assert_eq!(most.await?, 1);
    assert!(
        !state.overlapped.load(Ordering::SeqCst),
        "two leaders at once"
    );
    Ok(())
}

/// The address the endpoint tests advertise (documentation range, data only: nothing connects
/// to it). Both replicas run on one host, so they differ by port, as in the Endpoints.
const ADVERTISE: &str = "192.0.2.10";

/// A replica that advertises [`ADVERTISE`] and keeps its endpoint lease for `lease`.
fn endpoint_replica(etcd: &EtcdCluster, lease: &str) -> Result<Server> {
    let endpoints = etcd.endpoints();
    Server::start(
        bin(),
        &[
            "--etcd-servers",
            &endpoints,
            "--nodes",
            "0",
            "--advertise-address",
            ADVERTISE,
            "--endpoint-lease-duration",
            lease,
        ],
    )
}

/// `ip:port` of each replica, as the kubernetes Endpoints should list them.
fn advertised(servers: &[&Server]) -> Result<BTreeSet<String>> {
    servers
        .iter()
        .map(|s| {
            let port = s.url.rsplit(':').next().context("URL without a port")?;
            Ok(format!("{ADVERTISE}:{port}"))
        })
        .collect()
}

/// `ip:port` pairs of `default/kubernetes`, read with kubectl from `s`.
fn kubernetes_endpoints(s: &Server) -> Result<BTreeSet<String>> {
    let out = ok(s.kubectl(&["get", "endpoints", "kubernetes", "-o", "json"])?)?;
    let ep: serde_json::Value = serde_json::from_str(&out)?;
    let mut found = BTreeSet::new();
    for subset in ep["subsets"].as_array().into_iter().flatten() {
        for address in subset["addresses"].as_array().into_iter().flatten() {
            for port in subset["ports"].as_array().into_iter().flatten() {
                ensure!(
                    port["name"] == "https" && port["protocol"] == "TCP",
                    "{port}"
                );
                found.insert(format!(
                    "{}:{}",
                    address["ip"].as_str().unwrap_or(""),
                    port["port"]
                ));
            }
        }
    }
    Ok(found)
}

/// `ip:port` pairs of the EndpointSlices of `default/kubernetes` (mirrored from the Endpoints
/// by the leader's mirroring controller).
fn kubernetes_slices(s: &Server) -> Result<BTreeSet<String>> {
    let out = ok(s.kubectl(&[
        "get",
        "endpointslices",
        "-l",
        "kubernetes.io/service-name=kubernetes",
        "-o",
        "json",
    ])?)?;
    let list: serde_json::Value = serde_json::from_str(&out)?;
    let mut found = BTreeSet::new();
    for slice in list["items"].as_array().into_iter().flatten() {
        for endpoint in slice["endpoints"].as_array().into_iter().flatten() {
            for address in endpoint["addresses"].as_array().into_iter().flatten() {
                for port in slice["ports"].as_array().into_iter().flatten() {
                    found.insert(format!(
                        "{}:{}",
                        address.as_str().unwrap_or(""),
                        port["port"]
                    ));
                }
            }
        }
    }
    Ok(found)
}

/// kube-apiserver's lease endpoint reconciler: `default/kubernetes` lists the live replicas.
/// A SIGKILLed replica leaves once its lease expires, a restarted one comes back (on its new
/// port), and a cleanly stopped one leaves at once, without waiting for its (1h) lease.
#[test]
fn the_kubernetes_endpoints_list_the_live_replicas() -> Result<()> {
    let Some(etcd) = EtcdCluster::start_or_skip(1)? else {
        return Ok(());
    };
    let lease = Duration::from_secs(3);
    let a = endpoint_replica(&etcd, "3s")?;
    let mut b = endpoint_replica(&etcd, "3s")?;
    let both = advertised(&[&a, &b])?;
    let listed = |want: &BTreeSet<String>, s: &Server| -> Result<Option<()>> {
        Ok((&kubernetes_endpoints(s)? == want).then_some(()))
    };
    wait_for("both replicas in the Endpoints", lease * 3, || {
        listed(&both, &a)
    })?;
    assert_eq!(
        kubernetes_endpoints(&b)?,
        both,
        "one view through either replica"
    );
    wait_for(
        "both replicas in the mirrored slices",
        Duration::from_secs(30),
        || Ok((kubernetes_slices(&b)? == both).then_some(())),
    )?;

    let killed = Instant::now();
    b.kill();
    let only_a = advertised(&[&a])?;
    wait_for("the killed replica to leave", lease * 5, || {
        listed(&only_a, &a)
    })?;
    eprintln!(
        "SIGKILLed replica left the Endpoints {:?} after the kill (lease {lease:?})",
        killed.elapsed()
    );
    wait_for("the slices to follow", Duration::from_secs(30), || {
        Ok((kubernetes_slices(&a)? == only_a).then_some(()))
    })?;

    b.restart()?;
    let both = advertised(&[&a, &b])?;
    wait_for("the restarted replica to come back", lease * 3, || {
        listed(&both, &a)
    })?;

    let mut c = endpoint_replica(&etcd, "1h")?;
    let three = advertised(&[&a, &b, &c])?;
    wait_for("a third replica to join", lease * 3, || listed(&three, &b))?;
    let status = c.terminate(Duration::from_secs(20))?;
    ensure!(status.success(), "clean shutdown exited with {status}");
    // Its lease had most of an hour to run: only the shutdown can have removed it.
    assert_eq!(kubernetes_endpoints(&a)?, both);
    Ok(())
}
