//! `svcplane server`: the API server on the embedded store, then the in-process clients of it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::{agent_cmd, controllers_cmd, dns_cmd};

#[derive(clap::Args)]
pub struct ServerArgs {
    /// Directory for the store, certificates and the kubeconfig.
    #[arg(long, default_value = "./svcplane-data")]
    data_dir: PathBuf,
    /// Address to serve the Kubernetes API on.
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Serve plain HTTP without authentication (loopback only).
    #[arg(long)]
    insecure_http: bool,
    /// Service CIDR; a comma list of two (one per IP family) makes the cluster dual-stack.
    #[arg(long, default_value = "10.96.0.0/12", value_delimiter = ',')]
    service_cidr: Vec<apiserver::Cidr>,
    #[command(flatten)]
    dns: dns_cmd::DnsFlags,
    #[command(flatten)]
    controllers: controllers_cmd::ControllerFlags,
    #[command(flatten)]
    agent: agent_cmd::AgentFlags,
}

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    if args.insecure_http && !args.listen.ip().is_loopback() {
        anyhow::bail!(
            "--insecure-http serves without authentication and is only allowed on a loopback address"
        );
    }
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating the data dir {}", args.data_dir.display()))?;
    let store_path = args.data_dir.join("store.redb");
    let store = store::RedbStore::open(&store_path, store::EmbeddedConfig::default())
        .with_context(|| format!("opening the store {}", store_path.display()))?;
    let store: Arc<dyn store::Store> = Arc::new(store);
    let mut config = apiserver::Config::new(args.data_dir.clone());
    config.listen = args.listen;
    config.insecure_http = args.insecure_http;
    config.service_cidrs = args.service_cidr;
    let shutdown = CancellationToken::new();
    let running = apiserver::start(config, store, shutdown.clone()).await?;
    println!("svcplane API server listening on {}", running.url);

    let client = crate::client_from_kubeconfig(&running.kubeconfig).await?;
    let mut tasks = Vec::new();
    tasks.extend(
        controllers_cmd::start_in_server(&args.controllers, client.clone(), shutdown.clone())
            .await?,
    );
    tasks.extend(agent_cmd::start_in_server(&args.agent, client.clone(), shutdown.clone()).await?);
    tasks.extend(dns_cmd::start_in_server(&args.dns, client, shutdown.clone()).await?);

    // Tests and scripts read the lines above and this one, which comes last, to find the server.
    println!("export KUBECONFIG={}", running.kubeconfig.display());
    crate::shutdown_signal().await;
    tracing::info!("shutting down");
    shutdown.cancel();
    for task in tasks {
        let _ = task.await;
    }
    let _ = running.task.await;
    Ok(())
}
