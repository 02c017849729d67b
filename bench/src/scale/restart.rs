//! `scale-restart`: how long a restarted `svcplane server` takes to serve a built cluster
//! again. bench/run.sh stops the server that `scale` built, notes the time, starts it again on
//! the same data dir and runs this, which measures from that moment:
//! - **API ready**: `/readyz` answers 200 and a pod list answers;
//! - **DNS ready**: the DNS server gives the right answer to every query of the gate's sample
//!   (Service A, headless A, SRV, PTR, misses), so every Service and EndpointSlice is in its zone;
//! - **settled**: the controllers and the agent have gone over every object again (their
//!   re-list after the restart) and the server is back to idle: its CPU over 2 s falls below a
//!   fifth of a core. The RSS is read then.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde::{Deserialize, Serialize};

use crate::Output;
use crate::client::{ApiArgs, Endpoint, Proto};
use crate::dns::check::{ask, verdict};
use crate::dns::queries::parse_expected;
use crate::procfs;
use crate::results::{Record, record};
use crate::stats::kib_to_mb;

/// Below this many cores of server CPU (over one window) the server counts as idle.
const IDLE_CORES: f64 = 0.2;
const IDLE_WINDOW: Duration = Duration::from_secs(2);

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    api: ApiArgs,
    /// When the server was started, as Unix seconds (`date +%s.%N`).
    #[arg(long)]
    since: f64,
    /// The server's DNS address.
    #[arg(long)]
    dns: SocketAddr,
    /// The gate's sample with expected answers (written by `scale --dns-queries`).
    #[arg(long)]
    expected: PathBuf,
    #[arg(long)]
    server_pid: u32,
    /// The cluster's size, for the report.
    #[arg(long)]
    services: usize,
    #[arg(long)]
    pods: u64,
    #[arg(long)]
    nodes: usize,
    /// Longest to wait for each step.
    #[arg(long, default_value = "10m", value_parser = crate::parse_duration)]
    timeout: Duration,
    #[command(flatten)]
    out: Output,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestartResult {
    pub services: usize,
    pub pods: u64,
    pub nodes: usize,
    /// Seconds from the start of the process.
    pub api_ready_s: f64,
    pub dns_ready_s: f64,
    pub settled_s: f64,
    /// Server CPU seconds from the start until settled.
    pub cpu_s: f64,
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

fn since(start: f64) -> f64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    now - start
}

pub async fn run(args: Args) -> Result<()> {
    let endpoint = Endpoint::new(&args.api)?;
    let deadline = |what: &str| {
        let elapsed = since(args.since);
        if elapsed > args.timeout.as_secs_f64() {
            bail!("{what} not reached {elapsed:.0} s after the restart");
        }
        Ok(())
    };

    loop {
        if api_ready(&endpoint).await {
            break;
        }
        deadline("API ready")?;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let api_ready_s = since(args.since);
    println!("restart: API ready {api_ready_s:.2} s after the start");

    let text = std::fs::read_to_string(&args.expected)
        .with_context(|| format!("reading {}", args.expected.display()))?;
    let sample = parse_expected(&text)?;
    let sock = UdpSocket::bind("127.0.0.1:0")?;
    sock.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut id: u16 = 0;
    loop {
        // Stop at the first wrong answer; go on from it on the next pass.
        let wrong = sample.iter().find(|q| {
            id = id.wrapping_add(1);
            let reply = ask(&sock, args.dns, id, q, 1).ok().flatten();
            verdict(q, reply.as_ref()).is_some()
        });
        if wrong.is_none() {
            break;
        }
        deadline("DNS ready")?;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let dns_ready_s = since(args.since);
    println!(
        "restart: DNS answers all {} sampled queries right {dns_ready_s:.2} s after the start",
        sample.len()
    );

    let mut before = procfs::cpu_seconds(args.server_pid)?;
    loop {
        tokio::time::sleep(IDLE_WINDOW).await;
        let now = procfs::cpu_seconds(args.server_pid)?;
        if (now - before) / IDLE_WINDOW.as_secs_f64() < IDLE_CORES {
            break;
        }
        before = now;
        deadline("idle")?;
    }
    let settled_s = since(args.since);
    let cpu_s = procfs::cpu_seconds(args.server_pid)?;
    let memory = procfs::memory(args.server_pid)?;
    println!(
        "restart: settled {settled_s:.1} s after the start ({cpu_s:.1} s of server CPU), VmRSS {:.1} MB, VmHWM {:.1} MB",
        kib_to_mb(memory.rss_kib),
        kib_to_mb(memory.hwm_kib)
    );
    record(
        &args.out,
        Record::Restart(RestartResult {
            services: args.services,
            pods: args.pods,
            nodes: args.nodes,
            api_ready_s,
            dns_ready_s,
            settled_s,
            cpu_s,
            rss_kib: memory.rss_kib,
            hwm_kib: memory.hwm_kib,
        }),
    )
}

/// `/readyz` is 200 and a one-item pod list answers.
async fn api_ready(endpoint: &Endpoint) -> bool {
    let Ok(mut sender) = endpoint.connect(Proto::H1).await else {
        return false;
    };
    for path in ["/readyz", "/api/v1/pods?limit=1"] {
        let Ok(request) = endpoint.request(Method::GET, path, Bytes::new()) else {
            return false;
        };
        if sender.call(request, &[StatusCode::OK]).await.is_err() {
            return false;
        }
    }
    true
}
