//! The `svcplane` command: `svcplane server` runs the API server on the embedded store. Flags map
//! one to one onto the `Config` of the crate that owns them; errors end here, as `anyhow`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "svcplane",
    version,
    about = "A lightweight, Kubernetes-compatible service-discovery plane"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server on the embedded store.
    Server(ServerArgs),
}

#[derive(clap::Args)]
struct ServerArgs {
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
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    match cli.command {
        Command::Server(args) => runtime.block_on(server(args)),
    }
}

async fn server(args: ServerArgs) -> anyhow::Result<()> {
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
    // Tests and scripts read these two lines to find the server.
    println!("svcplane API server listening on {}", running.url);
    println!("export KUBECONFIG={}", running.kubeconfig.display());
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
        _ = terminate() => {}
    }
    tracing::info!("shutting down");
    shutdown.cancel();
    let _ = running.task.await;
    Ok(())
}

#[cfg(unix)]
async fn terminate() {
    if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        s.recv().await;
    }
}

#[cfg(not(unix))]
async fn terminate() {
    std::future::pending::<()>().await
}
