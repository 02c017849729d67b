//! End to end for the cluster DNS with the real `dig` and `nslookup` (Debian bind9-dnsutils):
//! objects are written with kubectl (no controllers needed: the tests write EndpointSlices
//! themselves), answers are read from the DNS inside `svcplane server` and from a standalone
//! `svcplane dns`. Every server listens on loopback port 0; forwarding goes only to a fake
//! upstream on loopback started here, never to a real resolver.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use testkit::{Server, ok};

const BIN: &str = env!("CARGO_BIN_EXE_svcplane");
/// How long a change may take to show in DNS before a test fails.
const SETTLE: Duration = Duration::from_secs(10);
const ZONE: &str = "default.svc.cluster.local";

/// A server with its DNS on a free port; `upstream` is `none` unless a test brings one.
fn server(upstream: &str) -> Result<(Server, u16)> {
    let s = Server::start(
        Path::new(BIN),
        &[
            "--dns-listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--dns-upstream",
            upstream,
        ],
    )?;
    let port = port_of(
        &s.reported("svcplane DNS listening on ")
            .context("no DNS address reported")?,
    )?;
    Ok((s, port))
}

fn port_of(addr: &str) -> Result<u16> {
    Ok(addr.parse::<std::net::SocketAddr>()?.port())
}

/// `dig @127.0.0.1 -p PORT <args>`, one try with a short timeout.
fn dig(port: u16, args: &[&str]) -> Result<String> {
    let out = Command::new("dig")
        .args(["@127.0.0.1", "-p", &port.to_string(), "+time=2", "+tries=1"])
        .args(args)
        .output()
        .context("running dig (apt-get install bind9-dnsutils)")?;
    ok(out)
}

/// `dig +short`, as sorted lines.
fn short(port: u16, args: &[&str]) -> Result<Vec<String>> {
    let mut a = args.to_vec();
    a.push("+short");
    let mut lines: Vec<String> = dig(port, &a)?.lines().map(str::to_string).collect();
    lines.sort();
    Ok(lines)
}

/// Polls `f` until it returns true, or fails after [`SETTLE`] with the last value seen.
fn eventually<T: std::fmt::Debug>(
    mut probe: impl FnMut() -> Result<T>,
    done: impl Fn(&T) -> bool,
) -> Result<T> {
    let deadline = Instant::now() + SETTLE;
    loop {
        let v = probe()?;
        if done(&v) {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("condition not reached in {SETTLE:?}; last: {v:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn apply(s: &Server, yaml: &str) -> Result<()> {
    ok(s.kubectl_stdin(&["apply", "-f", "-"], yaml)?)?;
    Ok(())
}

fn example(name: &str) -> Result<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name);
    Ok(std::fs::read_to_string(path)?)
}

/// An EndpointSlice for `svc` with port `httpport` 80 and these (ip, ready, hostname).
fn slice(name: &str, svc: &str, endpoints: &[(&str, bool, Option<&str>)]) -> String {
    let mut y = format!(
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: {name}\n  \
         labels:\n    kubernetes.io/service-name: {svc}\naddressType: IPv4\nports:\n- name: httpport\n  \
         port: 80\n  protocol: TCP\nendpoints:\n"
    );
    for (ip, ready, hostname) in endpoints {
        y.push_str(&format!(
            "- addresses: [\"{ip}\"]\n  conditions: {{ready: {ready}}}\n"
        ));
        if let Some(h) = hostname {
            y.push_str(&format!("  hostname: {h}\n"));
        }
    }
    y
}

fn headless(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  clusterIP: None\n  \
         ports:\n  - name: httpport\n    port: 80\n    protocol: TCP\n"
    )
}

const SEED_SVC: &str = "my-nginx-headless-svc";

fn seed(s: &Server) -> Result<()> {
    apply(s, &example("headless-svc.yaml")?)?;
    apply(
        s,
        &slice(
            "my-nginx-headless-svc-abc",
            SEED_SVC,
            &[("10.244.36.116", true, None), ("10.244.36.118", true, None)],
        ),
    )
}

fn seed_name() -> String {
    format!("{SEED_SVC}.{ZONE}")
}

#[test]
fn headless_service_endpoints_rotate_and_follow_changes() -> Result<()> {
    let (s, port) = server("none")?;
    seed(&s)?;
    let name = seed_name();
    let ips = eventually(|| short(port, &[&name, "A"]), |v| v.len() == 2)?;
    assert_eq!(ips, ["10.244.36.116", "10.244.36.118"]);

    // The order rotates between queries.
    let mut firsts = std::collections::BTreeSet::new();
    for _ in 0..4 {
        let out = dig(port, &[&name, "A", "+short"])?;
        firsts.insert(out.lines().next().unwrap_or_default().to_string());
    }
    assert_eq!(firsts.len(), 2, "first address never changed: {firsts:?}");

    // nslookup prints the seed's shape.
    let out = ok(Command::new("nslookup")
        .args([&format!("-port={port}"), &name, "127.0.0.1"])
        .output()?)?;
    assert!(out.contains(&format!("Name:\t{name}")), "{out}");
    assert!(out.contains("Address: 10.244.36.116"), "{out}");
    assert!(out.contains("Address: 10.244.36.118"), "{out}");

    // SRV: one per endpoint, endpoint port, dashed-IP targets; PTR back to them.
    let srv = short(port, &[&format!("_httpport._tcp.{name}"), "SRV"])?;
    assert_eq!(
        srv,
        [
            format!("0 50 80 10-244-36-116.{name}."),
            format!("0 50 80 10-244-36-118.{name}.")
        ]
    );
    assert_eq!(
        short(port, &["-x", "10.244.36.116"])?,
        [format!("10-244-36-116.{name}.")]
    );

    // A third endpoint shows up, then one that turns unready goes away.
    apply(
        &s,
        &slice(
            "my-nginx-headless-svc-abc",
            SEED_SVC,
            &[
                ("10.244.36.116", true, None),
                ("10.244.36.118", true, None),
                ("10.244.36.120", true, None),
            ],
        ),
    )?;
    eventually(|| short(port, &[&name, "A"]), |v| v.len() == 3)?;
    apply(
        &s,
        &slice(
            "my-nginx-headless-svc-abc",
            SEED_SVC,
            &[
                ("10.244.36.116", true, None),
                ("10.244.36.118", false, None),
                ("10.244.36.120", true, None),
            ],
        ),
    )?;
    let ips = eventually(|| short(port, &[&name, "A"]), |v| v.len() == 2)?;
    assert_eq!(ips, ["10.244.36.116", "10.244.36.120"]);
    Ok(())
}

#[test]
fn cluster_ip_srv_ptr_external_name_and_negative_answers() -> Result<()> {
    let (s, port) = server("none")?;
    let kubernetes = format!("kubernetes.{ZONE}");
    assert_eq!(
        eventually(|| short(port, &[&kubernetes, "A"]), |v| !v.is_empty())?,
        ["10.96.0.1"]
    );
    assert_eq!(
        short(port, &[&format!("_https._tcp.{kubernetes}"), "SRV"])?,
        [format!("0 100 443 {kubernetes}.")]
    );
    assert_eq!(
        short(port, &["-x", "10.96.0.1"])?,
        [format!("{kubernetes}.")]
    );

    apply(
        &s,
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: alias\nspec:\n  type: ExternalName\n  \
         externalName: kubernetes.default.svc.cluster.local\n",
    )?;
    let alias = format!("alias.{ZONE}");
    let answer = eventually(
        || dig(port, &[&alias, "A", "+noall", "+answer"]),
        |v| v.contains("CNAME"),
    )?;
    let lines: Vec<&str> = answer.lines().collect();
    assert_eq!(lines.len(), 2, "{answer}");
    assert!(
        lines[0].contains(&format!("CNAME\t{kubernetes}.")),
        "{answer}"
    );
    assert!(lines[1].ends_with("A\t10.96.0.1"), "{answer}");

    // NXDOMAIN and NODATA both carry the zone SOA in AUTHORITY.
    let nx = dig(port, &[&format!("nope.{ZONE}"), "A"])?;
    assert!(nx.contains("status: NXDOMAIN"), "{nx}");
    assert!(nx.contains("AUTHORITY: 1"), "{nx}");
    assert!(
        nx.contains("cluster.local.\t\t5\tIN\tSOA\tns.dns.cluster.local."),
        "{nx}"
    );
    let nodata = dig(port, &[&kubernetes, "AAAA"])?;
    assert!(nodata.contains("status: NOERROR"), "{nodata}");
    assert!(nodata.contains("ANSWER: 0, AUTHORITY: 1"), "{nodata}");
    assert!(
        nodata.contains("IN\tSOA\tns.dns.cluster.local."),
        "{nodata}"
    );
    // Out-of-zone names without an upstream are REFUSED.
    let refused = dig(port, &["example.org", "A"])?;
    assert!(refused.contains("status: REFUSED"), "{refused}");
    Ok(())
}

#[test]
fn statefulset_hostnames_and_tcp_for_large_answers() -> Result<()> {
    let (s, port) = server("none")?;
    apply(&s, &headless("nginx"))?;
    apply(
        &s,
        &slice("nginx-abc", "nginx", &[("10.244.1.7", true, Some("web-0"))]),
    )?;
    let web0 = format!("web-0.nginx.{ZONE}");
    assert_eq!(
        eventually(|| short(port, &[&web0, "A"]), |v| !v.is_empty())?,
        ["10.244.1.7"]
    );
    assert_eq!(short(port, &["-x", "10.244.1.7"])?, [format!("{web0}.")]);

    // 40 A records do not fit in 512 bytes: TC over UDP, complete over TCP. dig's default
    // EDNS size (1232) would fit them, so EDNS is off to get the classic 512-byte limit.
    apply(&s, &headless("big"))?;
    let eps: Vec<String> = (1..=40).map(|i| format!("10.244.2.{i}")).collect();
    let eps: Vec<(&str, bool, Option<&str>)> =
        eps.iter().map(|ip| (ip.as_str(), true, None)).collect();
    apply(&s, &slice("big-abc", "big", &eps))?;
    let big = format!("big.{ZONE}");
    let udp = eventually(
        || dig(port, &[&big, "A", "+noedns", "+ignore"]),
        |v| v.contains("status: NOERROR"),
    )?;
    let flags = udp
        .lines()
        .find(|l| l.starts_with(";; flags:"))
        .unwrap_or_default();
    assert!(flags.contains(" tc"), "{udp}");
    let full = dig(port, &[&big, "A", "+noedns"])?;
    assert!(full.contains("Truncated, retrying in TCP mode"), "{full}");
    assert!(full.contains("ANSWER: 40"), "{full}");
    Ok(())
}

/// A child process killed by PID when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `svcplane dns` against `s` and returns it with its DNS and metrics addresses.
fn standalone(s: &Server) -> Result<(Proc, u16, String)> {
    let mut child = Proc(
        Command::new(BIN)
            .args([
                "dns",
                "--kubeconfig",
                &s.kubeconfig.display().to_string(),
                "--dns-listen",
                "127.0.0.1:0",
                "--metrics-listen",
                "127.0.0.1:0",
                "--dns-upstream",
                "none",
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?,
    );
    let stdout = child.0.stdout.take().context("stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let (mut dns, mut metrics) = (None, None);
    while dns.is_none() || metrics.is_none() {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .context("svcplane dns did not report its addresses")?;
        if let Some(a) = line.strip_prefix("svcplane DNS listening on ") {
            dns = Some(port_of(a.trim())?);
        } else if let Some(a) = line.strip_prefix("svcplane DNS metrics on ") {
            metrics = Some(a.trim().to_string());
        }
    }
    Ok((child, dns.unwrap_or_default(), metrics.unwrap_or_default()))
}

/// A plain HTTP/1.1 GET on loopback: (status code, body).
fn http_get(addr: &str, path: &str) -> Result<(u16, String)> {
    let mut conn = TcpStream::connect(addr)?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    conn.read_to_string(&mut text)?;
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .context("no HTTP status")?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    Ok((status, body.to_string()))
}

fn requests_total(metrics: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("coredns_dns_requests_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[test]
fn standalone_dns_gives_the_same_answers_and_metrics_count() -> Result<()> {
    let (s, port) = server("none")?;
    seed(&s)?;
    let name = seed_name();
    let (_dns, standalone_port, metrics) = standalone(&s)?;
    for (qname, qtype) in [
        (name.as_str(), "A"),
        (&format!("kubernetes.{ZONE}"), "A"),
        (&format!("_httpport._tcp.{name}"), "SRV"),
    ] {
        let inside = eventually(|| short(port, &[qname, qtype]), |v| !v.is_empty())?;
        let alone = eventually(|| short(standalone_port, &[qname, qtype]), |v| *v == inside)?;
        assert_eq!(alone, inside);
    }
    assert_eq!(
        short(standalone_port, &["-x", "10.96.0.1"])?,
        [format!("kubernetes.{ZONE}.")]
    );

    let (code, _) = http_get(&metrics, "/ready")?;
    assert_eq!(code, 200);
    assert_eq!(http_get(&metrics, "/health")?.0, 200);
    let (_, before) = http_get(&metrics, "/metrics")?;
    for _ in 0..3 {
        dig(standalone_port, &[&format!("nope.{ZONE}"), "A"])?;
    }
    let (_, after) = http_get(&metrics, "/metrics")?;
    assert_eq!(
        requests_total(&after),
        requests_total(&before) + 3,
        "{after}"
    );
    assert!(after.contains("rcode=\"NXDOMAIN\""), "{after}");
    assert!(
        after.contains("coredns_dns_request_duration_seconds_bucket{"),
        "{after}"
    );
    Ok(())
}

#[test]
fn forwards_out_of_zone_names_to_the_upstream() -> Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    let upstream = rt.block_on(dns::testing::FakeUpstream::start());
    let (s, port) = server(&upstream.addr.to_string())?;

    let out = dig(port, &["one.example.org", "A"])?;
    assert!(out.contains("status: NOERROR"), "{out}");
    assert!(out.contains(" ra"), "forwarded answers have RA: {out}");
    assert_eq!(short(port, &["one.example.org", "A"])?, ["192.0.2.1"]);
    let nx = dig(port, &["nx.example.org", "A"])?;
    assert!(nx.contains("status: NXDOMAIN"), "{nx}");

    // A reverse miss falls through to the upstream; cluster reverse names stay local.
    assert_eq!(
        short(port, &["-x", "192.0.2.9"])?,
        [dns::testing::PTR_TARGET]
    );
    eventually(
        || short(port, &["-x", "10.96.0.1"]),
        |v| *v == [format!("kubernetes.{ZONE}.")],
    )?;

    // An ExternalName out of the zone: the CNAME, then the upstream's address.
    apply(
        &s,
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: ext\nspec:\n  type: ExternalName\n  \
         externalName: db.example.org\n",
    )?;
    let answer = eventually(
        || dig(port, &[&format!("ext.{ZONE}"), "A", "+noall", "+answer"]),
        |v| v.lines().count() == 2,
    )?;
    let lines: Vec<&str> = answer.lines().collect();
    assert!(lines[0].contains("CNAME\tdb.example.org."), "{answer}");
    assert!(lines[1].ends_with("A\t192.0.2.1"), "{answer}");
    drop(s);
    drop(upstream);
    Ok(())
}
