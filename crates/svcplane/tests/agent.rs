//! End to end for the simulated node agent, with the real kubectl: nodes register Ready with
//! Leases, pods are scheduled (spread, nodeSelector, no fit), get IPs from their node's /24 and
//! run, readiness follows the `svcplane.dev/ready` and `svcplane.dev/node-ready` annotations,
//! deletion completes through the graceful path, `--nodes 0` turns it all off, and restarts keep
//! CIDRs and never hand out an IP that a pod holds.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use testkit::{Server, ok};

const DEADLINE: Duration = Duration::from_secs(30);

fn server(extra: &[&str]) -> Result<Server> {
    Server::start(Path::new(env!("CARGO_BIN_EXE_svcplane")), extra)
}

/// Retry `check` until it returns `Some` or the deadline passes; the error names `what` and
/// the last observation.
fn poll<T>(what: &str, mut check: impl FnMut() -> Result<(Option<T>, String)>) -> Result<T> {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < DEADLINE {
        let (found, seen) = check()?;
        if let Some(v) = found {
            return Ok(v);
        }
        last = seen;
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("timed out waiting for {what}; last seen:\n{last}")
}

/// Rows of a kubectl table as column → cell maps, by whitespace: right for the leading
/// columns we read, whose headers and cells have no spaces (later ones such as
/// `NOMINATED NODE` do, so the first header of a name wins).
fn rows(table: &str) -> Vec<BTreeMap<String, String>> {
    let mut lines = table.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    lines
        .map(|l| {
            let mut row = BTreeMap::new();
            for (h, cell) in header.iter().zip(l.split_whitespace()) {
                row.entry(h.to_string()).or_insert_with(|| cell.to_string());
            }
            row
        })
        .collect()
}

fn row(table: &str, name: &str) -> Option<BTreeMap<String, String>> {
    rows(table)
        .into_iter()
        .find(|r| r.get("NAME").map(String::as_str) == Some(name))
}

fn kubectl(s: &Server, args: &[&str]) -> Result<String> {
    ok(s.kubectl(args)?)
}

fn apply(s: &Server, yaml: &str) -> Result<String> {
    ok(s.kubectl_stdin(&["apply", "-f", "-"], yaml)?)
}

fn pod_yaml(name: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{app: {name}}}\nspec:\n{extra_spec}  containers:\n  - name: app\n    image: nginx\n"
    )
}

/// Wait until `pod` shows `ready` (e.g. `1/1`) and `status` in `get pods -o wide`; the row.
fn wait_pod(s: &Server, pod: &str, ready: &str, status: &str) -> Result<BTreeMap<String, String>> {
    poll(&format!("pod {pod} {ready} {status}"), || {
        let wide = kubectl(s, &["get", "pods", "-o", "wide"])?;
        let found = row(&wide, pod).filter(|r| r["READY"] == ready && r["STATUS"] == status);
        Ok((found, wide))
    })
}

/// Text with every run of whitespace as one space, so `describe`'s alignment does not matter.
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn jsonpath(s: &Server, args: &[&str], path: &str) -> Result<String> {
    let jp = format!("jsonpath={path}");
    let mut all = args.to_vec();
    all.extend(["-o", &jp]);
    kubectl(s, &all)
}

fn node_cidrs(s: &Server) -> Result<BTreeMap<String, String>> {
    let out = jsonpath(
        s,
        &["get", "nodes"],
        "{range .items[*]}{.metadata.name}={.spec.podCIDR}{\"\\n\"}{end}",
    )?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(n, c)| (n.to_string(), c.to_string()))
        .collect())
}

fn in_cidr(ip: &str, cidr: &str) -> bool {
    let (Ok(ip), Some((net, prefix))) = (ip.parse::<Ipv4Addr>(), cidr.split_once('/')) else {
        return false;
    };
    let (Ok(net), Ok(prefix)) = (net.parse::<Ipv4Addr>(), prefix.parse::<u32>()) else {
        return false;
    };
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(net)
}

fn wait_nodes_ready(s: &Server, n: usize) -> Result<String> {
    poll(&format!("{n} Ready nodes"), || {
        let out = kubectl(s, &["get", "nodes"])?;
        let ready = rows(&out).iter().filter(|r| r["STATUS"] == "Ready").count();
        Ok(((ready == n).then(|| out.clone()), out))
    })
}

#[test]
fn nodes_register_ready_with_cidrs_and_leases() -> Result<()> {
    let s = server(&["--nodes", "2"])?;
    let table = wait_nodes_ready(&s, 2)?;
    for name in ["node-1", "node-2"] {
        let r = row(&table, name).with_context(|| format!("{name} in\n{table}"))?;
        assert_eq!(r["STATUS"], "Ready", "{table}");
        assert_eq!(r["ROLES"], "<none>", "{table}");
        assert_eq!(r["VERSION"], "v1.33.0", "{table}");
    }
    let cidrs = node_cidrs(&s)?;
    assert_eq!(cidrs["node-1"], "10.244.1.0/24");
    assert_eq!(cidrs["node-2"], "10.244.2.0/24");

    let wide = kubectl(&s, &["get", "nodes", "-o", "wide"])?;
    let r = row(&wide, "node-1").context("node-1")?;
    assert_eq!(r["INTERNAL-IP"], "172.18.0.2", "{wide}");
    assert!(wide.contains("svcplane://simulated"), "{wide}");
    let labels = jsonpath(&s, &["get", "node", "node-2"], "{.metadata.labels}")?;
    assert!(
        labels.contains(r#""kubernetes.io/hostname":"node-2""#),
        "{labels}"
    );
    assert!(labels.contains(r#""kubernetes.io/os":"linux""#), "{labels}");
    let annotations = jsonpath(&s, &["get", "node", "node-2"], "{.metadata.annotations}")?;
    assert!(
        annotations.contains(r#""svcplane.dev/simulated":"true""#),
        "{annotations}"
    );

    let leases = poll("node leases", || {
        let out = kubectl(&s, &["get", "leases", "-n", "kube-node-lease"])?;
        let found = ["node-1", "node-2"]
            .iter()
            .all(|n| row(&out, n).is_some_and(|r| r["HOLDER"] == *n));
        Ok((found.then(|| out.clone()), out))
    })?;
    assert!(leases.contains("node-1"), "{leases}");
    let duration = jsonpath(
        &s,
        &["get", "lease", "node-1", "-n", "kube-node-lease"],
        "{.spec.leaseDurationSeconds}",
    )?;
    assert_eq!(duration, "40");
    Ok(())
}

#[test]
fn pods_are_scheduled_spread_and_run_with_ips_from_their_nodes() -> Result<()> {
    let s = server(&["--nodes", "2", "--pod-start-delay", "0s"])?;
    wait_nodes_ready(&s, 2)?;
    kubectl(&s, &["run", "web-a", "--image=nginx"])?;
    apply(&s, &pod_yaml("web-b", ""))?;
    let a = wait_pod(&s, "web-a", "1/1", "Running")?;
    let b = wait_pod(&s, "web-b", "1/1", "Running")?;
    assert_eq!(a["RESTARTS"], "0");
    // Two pods on two empty nodes: one each.
    let nodes: BTreeSet<&str> = [a["NODE"].as_str(), b["NODE"].as_str()].into();
    assert_eq!(nodes, BTreeSet::from(["node-1", "node-2"]), "{a:?} {b:?}");
    assert_ne!(a["IP"], b["IP"]);
    let cidrs = node_cidrs(&s)?;
    for r in [&a, &b] {
        assert!(
            in_cidr(&r["IP"], &cidrs[&r["NODE"]]),
            "{r:?} not in {cidrs:?}"
        );
    }
    kubectl(
        &s,
        &[
            "wait",
            "--for=condition=Ready",
            "pod/web-a",
            "--timeout=30s",
        ],
    )?;

    let describe = squash(&kubectl(&s, &["describe", "pod", "web-a"])?);
    for want in [
        "Status: Running",
        &format!("IP: {}", a["IP"]),
        &format!("Node: {}/172.18.0.", a["NODE"]),
        "Container ID: svcplane://",
        "State: Running",
        "Ready: True",
        "default-scheduler Successfully assigned default/web-a to",
        "Pulling",
        "Pulled",
        "Created",
        "Started",
    ] {
        assert!(describe.contains(want), "missing {want:?} in\n{describe}");
    }
    Ok(())
}

#[test]
fn readiness_follows_the_pod_and_node_annotations() -> Result<()> {
    let s = server(&["--nodes", "1", "--pod-start-delay", "0s"])?;
    wait_nodes_ready(&s, 1)?;
    apply(&s, &pod_yaml("flip", ""))?;
    wait_pod(&s, "flip", "1/1", "Running")?;

    kubectl(&s, &["annotate", "pod", "flip", "svcplane.dev/ready=false"])?;
    wait_pod(&s, "flip", "0/1", "Running")?;
    let ready = jsonpath(
        &s,
        &["get", "pod", "flip"],
        "{.status.conditions[?(@.type==\"Ready\")].status}",
    )?;
    assert_eq!(ready, "False");
    kubectl(
        &s,
        &[
            "annotate",
            "--overwrite",
            "pod",
            "flip",
            "svcplane.dev/ready=true",
        ],
    )?;
    wait_pod(&s, "flip", "1/1", "Running")?;
    kubectl(
        &s,
        &["wait", "--for=condition=Ready", "pod/flip", "--timeout=30s"],
    )?;

    // The node goes NotReady: so does its pod (its container stays ready, as with a real
    // kubelet that stopped reporting).
    kubectl(
        &s,
        &[
            "annotate",
            "node",
            "node-1",
            "svcplane.dev/node-ready=false",
        ],
    )?;
    poll("node-1 NotReady", || {
        let out = kubectl(&s, &["get", "nodes"])?;
        Ok((
            row(&out, "node-1").filter(|r| r["STATUS"] == "NotReady"),
            out,
        ))
    })?;
    kubectl(
        &s,
        &[
            "wait",
            "--for=condition=Ready=false",
            "pod/flip",
            "--timeout=30s",
        ],
    )?;
    kubectl(
        &s,
        &["annotate", "node", "node-1", "svcplane.dev/node-ready-"],
    )?;
    kubectl(
        &s,
        &["wait", "--for=condition=Ready", "pod/flip", "--timeout=30s"],
    )?;
    Ok(())
}

#[test]
fn a_pod_that_fits_nowhere_stays_pending_with_failed_scheduling() -> Result<()> {
    let s = server(&["--nodes", "2", "--pod-start-delay", "0s"])?;
    wait_nodes_ready(&s, 2)?;
    apply(&s, &pod_yaml("picky", "  nodeSelector:\n    disk: tape\n"))?;
    let describe = poll("FailedScheduling in describe", || {
        let out = kubectl(&s, &["describe", "pod", "picky"])?;
        Ok((out.contains("FailedScheduling").then(|| out.clone()), out))
    })?;
    assert!(
        describe.contains(
            "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
        ),
        "{describe}"
    );
    assert!(squash(&describe).contains("Status: Pending"), "{describe}");
    let cond = jsonpath(
        &s,
        &["get", "pod", "picky"],
        "{.status.conditions[?(@.type==\"PodScheduled\")].reason}",
    )?;
    assert_eq!(cond, "Unschedulable");
    assert_eq!(
        jsonpath(&s, &["get", "pod", "picky"], "{.spec.nodeName}")?,
        ""
    );

    // Give a node the label: the pod is scheduled there.
    kubectl(&s, &["label", "node", "node-2", "disk=tape"])?;
    let r = wait_pod(&s, "picky", "1/1", "Running")?;
    assert_eq!(r["NODE"], "node-2");
    Ok(())
}

#[test]
fn delete_completes_through_the_graceful_path_and_exec_fails_fast() -> Result<()> {
    let s = server(&[
        "--nodes",
        "1",
        "--pod-start-delay",
        "0s",
        "--pod-stop-delay",
        "1s",
    ])?;
    wait_nodes_ready(&s, 1)?;
    apply(&s, &pod_yaml("doomed", ""))?;
    wait_pod(&s, "doomed", "1/1", "Running")?;

    // exec: nothing runs, so the API answers at once with a clear error rather than hanging.
    let started = Instant::now();
    let out = std::process::Command::new("timeout")
        .args(["20", "kubectl", "exec", "doomed", "--", "true"])
        .env("KUBECONFIG", &s.kubeconfig)
        .output()?;
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "exec succeeded?");
    assert!(
        elapsed < Duration::from_secs(10),
        "exec took {elapsed:?}: {stderr}"
    );
    assert!(stderr.contains("simulated"), "{stderr}");
    eprintln!("kubectl exec said: {}", stderr.trim());

    // delete waits for the pod to be gone: the server marks it (grace 30s), the agent stops
    // the containers and removes it after min(30s, --pod-stop-delay 1s).
    let started = Instant::now();
    let deleted = kubectl(&s, &["delete", "pod", "doomed", "--timeout=30s"])?;
    assert_eq!(deleted.trim(), "pod \"doomed\" deleted");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let gone = s.kubectl(&["get", "pod", "doomed"])?;
    assert!(!gone.status.success());
    let events = kubectl(
        &s,
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=doomed,reason=Killing",
        ],
    )?;
    assert!(events.contains("Stopping container app"), "{events}");
    Ok(())
}

#[test]
fn no_nodes_turns_the_agent_off() -> Result<()> {
    let s = server(&["--nodes", "0"])?;
    apply(&s, &pod_yaml("lonely", ""))?;
    // Nothing will ever happen; watch for a while that nothing does.
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        let nodes = s.kubectl(&["get", "nodes", "-o", "name"])?;
        assert_eq!(String::from_utf8_lossy(&nodes.stdout).trim(), "");
        let r = row(&kubectl(&s, &["get", "pods", "-o", "wide"])?, "lonely").context("lonely")?;
        assert_eq!(
            (r["STATUS"].as_str(), r["NODE"].as_str()),
            ("Pending", "<none>")
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let events = kubectl(
        &s,
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=lonely",
            "-o",
            "name",
        ],
    )?;
    assert_eq!(events.trim(), "");
    Ok(())
}

#[test]
fn restart_keeps_node_cidrs_and_never_reuses_a_held_ip() -> Result<()> {
    let mut s = server(&["--nodes", "2", "--pod-start-delay", "0s"])?;
    wait_nodes_ready(&s, 2)?;
    for i in 0..4 {
        apply(&s, &pod_yaml(&format!("before-{i}"), ""))?;
    }
    for i in 0..4 {
        wait_pod(&s, &format!("before-{i}"), "1/1", "Running")?;
    }
    let cidrs = node_cidrs(&s)?;
    s.restart()?;
    wait_nodes_ready(&s, 2)?;
    assert_eq!(node_cidrs(&s)?, cidrs);
    for i in 0..4 {
        apply(&s, &pod_yaml(&format!("after-{i}"), ""))?;
    }
    let mut ips = BTreeSet::new();
    for prefix in ["before", "after"] {
        for i in 0..4 {
            let r = wait_pod(&s, &format!("{prefix}-{i}"), "1/1", "Running")?;
            assert!(in_cidr(&r["IP"], &cidrs[&r["NODE"]]), "{r:?}");
            assert!(
                ips.insert(r["IP"].clone()),
                "IP {} handed out twice",
                r["IP"]
            );
        }
    }
    Ok(())
}
