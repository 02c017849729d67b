//! The seed story end to end, with every component in one `svcplane server` and only real
//! clients: kubectl applies a Deployment and a headless Service, the agent runs the pods, the
//! controllers publish their endpoints, and `nslookup`/`dig` resolve the Service to the pods'
//! IPs, rotated between queries, following scale-ups and readiness.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use testkit::example;
use testkit::{Server, ok};

const HEADLESS: &str = "my-nginx-headless-svc.default.svc.cluster.local";

/// Poll `check` until it returns `Some`, failing after `secs`.
fn eventually<T>(secs: u64, what: &str, mut check: impl FnMut() -> Result<Option<T>>) -> Result<T> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check()? {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn dig(port: &str, args: &[&str]) -> Result<String> {
    let out = std::process::Command::new("dig")
        .args(["@127.0.0.1", "-p", port, "+short"])
        .args(args)
        .output()?;
    ok(out)
}

fn ips(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// IPs of the ready pods labelled run=my-nginx, as kubectl reports them.
fn ready_pod_ips(s: &Server) -> Result<BTreeSet<String>> {
    let out = ok(s.kubectl(&["get", "pods", "-l", "run=my-nginx", "-o",
        r#"jsonpath={range .items[*]}{.status.podIP} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}"#])?)?;
    Ok(out
        .lines()
        .filter_map(|l| l.strip_suffix(" True"))
        .map(String::from)
        .collect())
}

#[test]
fn headless_service_resolves_to_ready_pods() -> Result<()> {
    let s = Server::start(
        Path::new(env!("CARGO_BIN_EXE_svcplane")),
        &["--dns-upstream", "none", "--pod-start-delay", "0s"],
    )?;
    let port = s
        .reported("svcplane DNS listening on ")
        .and_then(|a| a.rsplit(':').next().map(String::from))
        .expect("DNS port");

    assert_eq!(
        ok(s.kubectl(&["apply", "-f", &example("headless-svc.yaml")])?)?.trim(),
        "service/my-nginx-headless-svc created"
    );
    assert_eq!(
        ok(s.kubectl(&["apply", "-f", &example("my-nginx-deployment.yaml")])?)?.trim(),
        "deployment.apps/my-nginx created"
    );
    ok(s.kubectl(&["rollout", "status", "deployment/my-nginx", "--timeout=60s"])?)?;

    // `get pods -o wide --show-labels` has the seed's shape: Running pods with IPs, a node and
    // the pod-template-hash label.
    let pods = ok(s.kubectl(&["get", "pods", "-o", "wide", "--show-labels"])?)?;
    let header: Vec<&str> = pods
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED",
            "NODE",
            "READINESS",
            "GATES",
            "LABELS"
        ]
    );
    let rows: Vec<Vec<&str>> = pods
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{pods}");
    for r in &rows {
        assert!(
            r[0].starts_with("my-nginx-") && r[0].matches('-').count() == 3,
            "{pods}"
        );
        assert_eq!((r[1], r[2], r[3]), ("1/1", "Running", "0"), "{pods}");
        assert!(r[5].starts_with("10.244.") && r[6] == "node-1", "{pods}");
        assert!(
            r[9].contains("pod-template-hash=")
                && r[9].contains("run=my-nginx")
                && r[9].contains("version=v1"),
            "{pods}"
        );
    }
    let want = ready_pod_ips(&s)?;
    assert_eq!(want.len(), 2);

    // describe lists both endpoints, as ip:80.
    let describe = ok(s.kubectl(&["describe", "svc", "my-nginx-headless-svc"])?)?;
    let endpoints_line = describe
        .lines()
        .find(|l| l.starts_with("Endpoints:"))
        .unwrap_or_default()
        .to_string();
    for ip in &want {
        assert!(endpoints_line.contains(&format!("{ip}:80")), "{describe}");
    }

    // nslookup answers one Address per pod, like the seed.
    let answered = eventually(20, "both pod IPs in DNS", || {
        let got = ips(&dig(&port, &[HEADLESS, "A"])?);
        Ok((got == want).then_some(got))
    })?;
    let lookup = ok(std::process::Command::new("nslookup")
        .args([&format!("-port={port}"), HEADLESS, "127.0.0.1"])
        .output()?)?;
    for ip in &answered {
        assert!(
            lookup.contains(&format!("Name:\t{HEADLESS}\nAddress: {ip}")),
            "{lookup}"
        );
    }
    // The order rotates between queries.
    let orders: BTreeSet<String> = (0..6)
        .map(|_| dig(&port, &[HEADLESS, "A"]))
        .collect::<Result<_>>()?;
    assert!(orders.len() > 1, "answers never rotated: {orders:?}");

    // Scale to 3: the third pod's IP is in DNS within a moment.
    ok(s.kubectl(&["scale", "deployment", "my-nginx", "--replicas=3"])?)?;
    let three = eventually(30, "three ready pods", || {
        let ips = ready_pod_ips(&s)?;
        Ok((ips.len() == 3).then_some(ips))
    })?;
    eventually(20, "three IPs in DNS", || {
        Ok((ips(&dig(&port, &[HEADLESS, "A"])?) == three).then_some(()))
    })?;

    // A pod turning unready leaves the answer.
    let pod = ok(s.kubectl(&[
        "get",
        "pods",
        "-l",
        "run=my-nginx",
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ])?)?;
    let pod_ip = ok(s.kubectl(&["get", "pod", &pod, "-o", "jsonpath={.status.podIP}"])?)?;
    ok(s.kubectl(&["annotate", "pod", &pod, "svcplane.dev/ready=false"])?)?;
    eventually(20, "the unready pod gone from DNS", || {
        let got = ips(&dig(&port, &[HEADLESS, "A"])?);
        Ok((got.len() == 2 && !got.contains(&pod_ip)).then_some(()))
    })?;
    let ep = ok(s.kubectl(&[
        "get",
        "endpoints",
        "my-nginx-headless-svc",
        "-o",
        "jsonpath={.subsets[0].notReadyAddresses[*].ip}",
    ])?)?;
    assert_eq!(ep, pod_ip);
    Ok(())
}
