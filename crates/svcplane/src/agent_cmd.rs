//! `svcplane agent` and the agent inside `svcplane server`: flags map one to one onto
//! `agent::Config` (defaults there).

use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

#[derive(clap::Args)]
pub struct AgentFlags {
    /// Simulated nodes to register (node-1…node-N); 0 turns the node agent off.
    #[arg(long, default_value_t = 1)]
    nodes: u32,
    /// Range the nodes' pod CIDRs (a /24 each) are carved from.
    #[arg(long, default_value = "10.244.0.0/16", value_parser = parse_cidr)]
    cluster_cidr: agent::Ipv4Cidr,
    /// Delay from a pod getting its IP to Running (e.g. 0s, 200ms).
    #[arg(long, default_value = "200ms", value_parser = parse_duration)]
    pod_start_delay: Duration,
    /// Longest a deleted pod stays Terminating: min(grace period, this).
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    pod_stop_delay: Duration,
    /// Node names are this prefix and a 1-based index.
    #[arg(long, default_value = "node-")]
    node_name_prefix: String,
}

impl AgentFlags {
    /// Whether these flags turn the node agent off (`--nodes 0`).
    pub fn is_off(&self) -> bool {
        self.nodes == 0
    }

    fn config(&self) -> agent::Config {
        agent::Config {
            nodes: self.nodes,
            cluster_cidr: self.cluster_cidr,
            pod_start_delay: self.pod_start_delay,
            pod_stop_delay: self.pod_stop_delay,
            node_name_prefix: self.node_name_prefix.clone(),
            ..agent::Config::default()
        }
    }
}

fn parse_cidr(s: &str) -> Result<agent::Ipv4Cidr, String> {
    s.parse().map_err(|e: agent::Error| e.to_string())
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    agent::parse_duration(s).map_err(|e| e.to_string())
}

#[derive(clap::Args)]
pub struct StandaloneArgs {
    /// The API server to work against.
    #[arg(long)]
    kubeconfig: std::path::PathBuf,
    #[command(flatten)]
    agent: AgentFlags,
}

pub async fn start_in_server(
    args: &AgentFlags,
    client: kube::Client,
    shutdown: CancellationToken,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let config = args.config();
    if config.nodes == 0 {
        return Ok(Vec::new());
    }
    let task = tokio::spawn(async move {
        if let Err(e) = agent::run(config, client, shutdown).await {
            tracing::error!(error = %e, "the node agent stopped");
        }
    });
    Ok(vec![task])
}

pub async fn run_standalone(args: StandaloneArgs) -> anyhow::Result<()> {
    let client = crate::client_from_kubeconfig(&args.kubeconfig).await?;
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        crate::shutdown_signal().await;
        signal.cancel();
    });
    agent::run(args.agent.config(), client, shutdown)
        .await
        .context("running the node agent")
}
