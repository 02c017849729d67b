//! apibench: svcplane's API and DNS benchmarks. Each subcommand measures one thing against a
//! server that is already running (bench/run.sh starts the servers and runs these in one
//! sequence): durable creates over HTTP, raw etcd puts as the anchor, watch fan-out delay, RSS,
//! and for DNS the workload files, loading, the correctness gate, dnsperf runs and propagation;
//! `report` turns the recorded results into docs/benchmarks.md.

mod client;
mod cpu;
mod creates;
mod dns;
mod dns_plot;
mod etcd;
mod kubeconfig;
mod load;
mod procfs;
mod report;
mod report_dns;
mod report_etcd;
mod report_scale;
mod results;
mod scale;
mod stats;
mod watch;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "apibench", about = "svcplane API benchmark")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Concurrent clients POSTing ~1 KiB ConfigMaps: durable creates/s and latency.
    Creates(creates::Args),
    /// Concurrent raw 1 KiB etcd puts: the anchor for `creates`.
    EtcdPuts(etcd::Args),
    /// Many concurrent watches; the delay from a write to each watcher seeing it.
    WatchFanout(watch::Args),
    /// VmRSS (and its peak) of a process.
    Rss(RssArgs),
    /// Print a free loopback TCP port (for starting servers in run.sh).
    FreePort,
    /// Render recorded results as Markdown (docs/benchmarks.md).
    Report(report::Args),
    /// Write a cluster-shaped DNS workload: zone files, peer data, dnsperf query files.
    DnsWorkload(dns::WorkloadArgs),
    /// Load the same cluster into svcplane through its API.
    DnsLoad(dns::load::Args),
    /// The correctness gate: every server against the expected answers.
    DnsCheck(dns::check::Args),
    /// One pinned dnsperf run, with the server's CPU per query.
    DnsPerf(dns::perf::Args),
    /// EndpointSlice write to changed DNS answer, over many flips.
    DnsPropagation(dns::propagation::Args),
    /// The fixed-answer UDP responder (the ceiling).
    DnsResponder(dns::responder::Args),
    /// Build a generated cluster through the API with controllers and agent; readiness flips.
    Scale(scale::Args),
    /// After `scale`: a restarted server's time to serve the API and the cluster's DNS again.
    ScaleRestart(scale::restart::Args),
}

/// Where a measurement is recorded, besides the human-readable line on stdout.
#[derive(clap::Args, Clone)]
pub struct Output {
    /// Append the result as one JSON line to this file (read by `report`).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// A name for this measurement; `report` pairs svcplane and etcd runs with the same label.
    #[arg(long, default_value = "")]
    pub label: String,
}

#[derive(clap::Args)]
struct RssArgs {
    #[arg(long)]
    pid: u32,
    /// What the process is, e.g. `svcplane` or `etcd`.
    #[arg(long, default_value = "svcplane")]
    process: String,
    #[command(flatten)]
    out: Output,
}

/// Durations as `10s`, `500ms`, `2m` or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("invalid duration: {s:?}"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("invalid duration unit in {s:?} (use ms, s or m)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Creates(args) => creates::run(args).await,
        Command::EtcdPuts(args) => etcd::run(args).await,
        Command::WatchFanout(args) => watch::run(args).await,
        Command::Rss(args) => rss(args),
        Command::FreePort => {
            // The port is free once the listener is dropped; run.sh hands it to a server right
            // away, so a collision would need another process to pick the same port meanwhile.
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            println!("{}", listener.local_addr()?.port());
            Ok(())
        }
        Command::Report(args) => report::run(args),
        Command::DnsWorkload(args) => dns::workload(args),
        Command::DnsLoad(args) => dns::load::run(args).await,
        Command::DnsCheck(args) => dns::check::run(args),
        Command::DnsPerf(args) => dns::perf::run(args),
        Command::DnsPropagation(args) => dns::propagation::run(args).await,
        Command::DnsResponder(args) => dns::responder::run(args),
        Command::Scale(args) => scale::run(args).await,
        Command::ScaleRestart(args) => scale::restart::run(args).await,
    }
}

fn rss(args: RssArgs) -> Result<()> {
    let memory = procfs::memory(args.pid)?;
    println!(
        "{} (pid {}) {}: VmRSS {:.1} MB, VmHWM {:.1} MB",
        args.process,
        args.pid,
        args.out.label,
        stats::kib_to_mb(memory.rss_kib),
        stats::kib_to_mb(memory.hwm_kib),
    );
    results::record(
        &args.out,
        results::Record::Rss(results::RssResult {
            label: args.out.label.clone(),
            process: args.process,
            rss_kib: memory.rss_kib,
            hwm_kib: memory.hwm_kib,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("5h").is_err());
        assert!(parse_duration("s").is_err());
    }
}
