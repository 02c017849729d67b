//! `dns-perf`: one dnsperf run against one server, pinned to its own core, with the server's
//! CPU time over the run read from /proc. Server CPU per query (its utime+stime over the run,
//! divided by the queries completed) is the figure to compare on a shared 2-core machine: qps
//! is capped by dnsperf's own core for the fastest servers and moves with the neighbours' load.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::Output;
use crate::procfs;
use crate::results::{self, DnsPerfResult, Record};
use crate::stats::Percentiles;

#[derive(clap::Args)]
pub struct Args {
    /// Server name for the report (`svcplane`, `knot`, …).
    #[arg(long)]
    server: String,
    #[arg(long)]
    server_pid: u32,
    #[arg(long)]
    addr: SocketAddr,
    /// dnsperf query file.
    #[arg(long)]
    queries: PathBuf,
    /// What the file holds: `mix` or one query type.
    #[arg(long, default_value = "mix")]
    kind: String,
    #[arg(long)]
    services: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u32,
    /// dnsperf `-c` (sockets).
    #[arg(long, default_value_t = 4)]
    clients: u32,
    /// dnsperf `-T`.
    #[arg(long, default_value_t = 1)]
    threads: u32,
    /// dnsperf `-q`: queries in flight.
    #[arg(long, default_value_t = 100)]
    outstanding: u32,
    /// The core dnsperf runs on (`taskset -c`).
    #[arg(long, default_value = "1")]
    core: String,
    /// Run dnsperf with `-v` and compute percentiles from every query's latency: this costs
    /// dnsperf CPU, so such runs give the latency and the others the throughput.
    #[arg(long)]
    latency: bool,
    #[command(flatten)]
    out: Output,
}

/// dnsperf's summary lines.
#[derive(Default)]
struct Summary {
    sent: u64,
    completed: u64,
    lost: u64,
    qps: f64,
    mean_latency_ms: f64,
    rcodes: String,
    run_s: f64,
}

fn first_number(s: &str) -> Option<f64> {
    s.split_whitespace().next()?.parse().ok()
}

fn parse_summary_line(line: &str, s: &mut Summary) {
    let Some((key, value)) = line.trim().split_once(':') else {
        return;
    };
    let value = value.trim();
    match key {
        "Queries sent" => s.sent = first_number(value).unwrap_or(0.0) as u64,
        "Queries completed" => s.completed = first_number(value).unwrap_or(0.0) as u64,
        "Queries lost" => s.lost = first_number(value).unwrap_or(0.0) as u64,
        "Queries per second" => s.qps = first_number(value).unwrap_or(0.0),
        "Run time (s)" => s.run_s = first_number(value).unwrap_or(0.0),
        "Average Latency (s)" => s.mean_latency_ms = first_number(value).unwrap_or(0.0) * 1e3,
        "Response codes" => s.rcodes = value.to_string(),
        _ => {}
    }
}

/// `> NOERROR name A 0.000123`: the latency in seconds.
fn verbose_latency(line: &str) -> Option<Duration> {
    let rest = line.strip_prefix("> ")?;
    Duration::try_from_secs_f64(rest.rsplit(' ').next()?.parse().ok()?).ok()
}

/// The child's CPU seconds, read once it has exited but before it is reaped (a zombie keeps
/// its counters), polling: dnsperf's own CPU says whether the client was the limit.
fn wait_keeping_cpu(child: &mut std::process::Child) -> Result<(std::process::ExitStatus, f64)> {
    let pid = child.id();
    let mut cpu = 0.0;
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if let Ok(c) = procfs::cpu_seconds(pid) {
            cpu = c;
        }
        let zombie = stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
        if zombie || stat.is_empty() {
            return Ok((child.wait()?, cpu));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `pid` and its descendants: NSD answers from forked children, and a process's own counters
/// leave out children that have not exited.
fn process_tree(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(p) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // After the parenthesised name: state, then the parent's PID.
        if let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
        {
            parents.push((p, ppid));
        }
    }
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    tree
}

fn tree_cpu(tree: &[u32]) -> f64 {
    tree.iter()
        .filter_map(|p| procfs::cpu_seconds(*p).ok())
        .sum()
}

pub fn run(args: Args) -> Result<()> {
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", &args.core, "dnsperf", "-s"])
        .arg(args.addr.ip().to_string())
        .args(["-p", &args.addr.port().to_string()])
        .arg("-d")
        .arg(&args.queries)
        .args(["-l", &args.seconds.to_string()])
        .args(["-c", &args.clients.to_string()])
        .args(["-T", &args.threads.to_string()])
        .args(["-q", &args.outstanding.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if args.latency {
        cmd.arg("-v");
    }
    let tree = process_tree(args.server_pid);
    let (server_before, machine_before) = (tree_cpu(&tree), procfs::machine_busy_seconds()?);
    let own_before = procfs::cpu_seconds(std::process::id())?;
    let started = Instant::now();
    let mut child = cmd.spawn().context("starting taskset dnsperf")?;
    let stdout = child.stdout.take().context("dnsperf stdout")?;
    let mut summary = Summary::default();
    let mut latencies = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        match verbose_latency(&line) {
            Some(l) => latencies.push(l),
            None => parse_summary_line(&line, &mut summary),
        }
    }
    let (status, client_cpu) = wait_keeping_cpu(&mut child)?;
    let server_s = tree_cpu(&tree) - server_before;
    let machine_s = procfs::machine_busy_seconds()? - machine_before;
    let own_s = procfs::cpu_seconds(std::process::id())? - own_before;
    let wall = started.elapsed().as_secs_f64();
    if !status.success() || summary.completed == 0 {
        bail!(
            "dnsperf failed ({status}) against {} at {}",
            args.server,
            args.addr
        );
    }
    // The largest process of the tree: NSD's forked children share their parent's pages.
    let rss_kib = tree
        .iter()
        .filter_map(|p| procfs::memory(*p).ok())
        .map(|m| m.rss_kib)
        .max()
        .unwrap_or(0);
    let result = DnsPerfResult {
        label: args.out.label.clone(),
        services: args.services,
        server: args.server.clone(),
        kind: args.kind.clone(),
        seconds: summary.run_s,
        sent: summary.sent,
        completed: summary.completed,
        lost: summary.lost,
        qps: summary.qps,
        mean_latency_ms: summary.mean_latency_ms,
        latency: (!latencies.is_empty()).then(|| Percentiles::of(&mut latencies)),
        rcodes: summary.rcodes,
        server_cpu_us_per_query: server_s * 1e6 / summary.completed as f64,
        server_cores: server_s / wall,
        client_cores: client_cpu / wall,
        other_cores: (machine_s - server_s - client_cpu - own_s).max(0.0) / wall,
        rss_kib,
        verbose: args.latency,
    };
    println!(
        "{} {} {} ({} services): {:.0} qps, mean {:.3} ms{}, {:.2} µs server CPU/query, \
         server {:.2} / dnsperf {:.2} / other {:.2} cores, RSS {:.1} MB, {}",
        result.label,
        result.server,
        result.kind,
        result.services,
        result.qps,
        result.mean_latency_ms,
        result.latency.map_or(String::new(), |p| format!(", {p}")),
        result.server_cpu_us_per_query,
        result.server_cores,
        result.client_cores,
        result.other_cores,
        crate::stats::kib_to_mb(result.rss_kib),
        result.rcodes,
    );
    results::record(&args.out, Record::DnsPerf(result))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dnsperf_output() {
        let mut s = Summary::default();
        for line in [
            "  Queries sent:         67072",
            "  Queries completed:    67070 (100.00%)",
            "  Response codes:       NOERROR 33536 (50.00%), NXDOMAIN 33534 (50.00%)",
            "  Queries per second:   67038.212741",
            "  Average Latency (s):  0.001268 (min 0.000013, max 0.023918)",
        ] {
            parse_summary_line(line, &mut s);
        }
        assert_eq!((s.sent, s.completed), (67072, 67070));
        assert!((s.qps - 67038.2).abs() < 0.1);
        assert!((s.mean_latency_ms - 1.268).abs() < 1e-9);
        assert!(s.rcodes.starts_with("NOERROR 33536"));
        assert_eq!(
            verbose_latency("> NOERROR x.test A 0.000630"),
            Some(Duration::from_micros(630))
        );
    }
}
