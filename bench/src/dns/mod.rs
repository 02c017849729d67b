//! The DNS benchmark: a cluster-shaped workload generated from its size (`model`), written as
//! svcplane objects (`load`), as zone data for the peer servers (`zone`) and as dnsperf query
//! files (`queries`); a correctness gate (`check`), dnsperf runs with server CPU from /proc
//! (`perf`), write-to-answer propagation (`propagation`) and the fixed-answer ceiling
//! (`responder`). bench/run.sh starts the servers and runs these in order.

pub mod check;
pub mod load;
pub mod model;
pub mod perf;
pub mod propagation;
pub mod queries;
pub mod responder;
pub mod wire;
pub mod zone;

use std::path::PathBuf;

use anyhow::{Context, Result};

#[derive(clap::Args)]
pub struct WorkloadArgs {
    #[arg(long)]
    services: usize,
    /// Directory for the zone files, peer data and query files.
    #[arg(long)]
    out: PathBuf,
    /// Queries in the mixed dnsperf file (each per-type file has a fifth as many).
    #[arg(long, default_value_t = 100_000)]
    queries: usize,
    /// Queries of each type in the correctness gate's sample.
    #[arg(long, default_value_t = 200)]
    sample: usize,
}

/// `dns-workload`: writes every file the peers and dnsperf need for a cluster of this size.
pub fn workload(args: WorkloadArgs) -> Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let cluster = model::generate(args.services);
    zone::write_all(&cluster, &args.out)?;
    queries::write_all(&cluster, &args.out, args.queries, args.sample)?;
    println!(
        "{} Services ({} ClusterIP, {} headless with {} pods) in {} namespaces -> {}",
        cluster.services.len(),
        cluster.cluster_ip().count(),
        cluster.headless().count(),
        cluster.pods(),
        cluster.namespaces.len(),
        args.out.display()
    );
    Ok(())
}
