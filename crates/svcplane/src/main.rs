//! The `svcplane` command. `svcplane server` runs everything in one process: the API server on
//! the embedded store plus, as clients of that API, the controllers, the node agent and the
//! cluster DNS. Each of those also runs alone against any Kubernetes API server. `svcplane
//! snapshot` backs up and restores the store. Flags map one
//! to one onto the `Config` of the crate that owns them; errors end here, as `anyhow`.

mod agent_cmd;
mod controllers_cmd;
mod dns_cmd;
mod server_cmd;
mod snapshot_cmd;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// jemalloc, with a background thread that returns freed memory to the OS (set at build time in
/// .cargo/config.toml). glibc's malloc kept what bursts of work freed: a restart's re-lists at
/// 10k pods left 392 MiB resident of a 162 MB peak heap, against 238 MiB within 20 s with
/// jemalloc. It also cost less CPU: 57-59 against 64-68 µs of server CPU per create at 64
/// clients (same run).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
    /// Run the API server on the embedded store, with controllers, node agent and DNS.
    Server(Box<server_cmd::ServerArgs>),
    /// Run the cluster DNS alone against a Kubernetes API server.
    Dns(dns_cmd::StandaloneArgs),
    /// Run the controllers alone against a Kubernetes API server.
    Controllers(controllers_cmd::StandaloneArgs),
    /// Run the simulated node agent alone against a Kubernetes API server.
    Agent(agent_cmd::StandaloneArgs),
    /// Back up every object as of one store revision, and restore it (embedded store or etcd).
    Snapshot(snapshot_cmd::SnapshotArgs),
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
    runtime.block_on(async {
        match cli.command {
            Command::Server(args) => server_cmd::run(*args).await,
            Command::Dns(args) => dns_cmd::run_standalone(args).await,
            Command::Controllers(args) => controllers_cmd::run_standalone(args).await,
            Command::Agent(args) => agent_cmd::run_standalone(args).await,
            Command::Snapshot(args) => snapshot_cmd::run(args).await,
        }
    })
}

/// A kube-rs client from a kubeconfig file (the one `svcplane server` writes, or any other).
pub async fn client_from_kubeconfig(path: &std::path::Path) -> anyhow::Result<kube::Client> {
    let kubeconfig = kube::config::Kubeconfig::read_from(path)
        .with_context(|| format!("reading the kubeconfig {}", path.display()))?;
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .context("loading the kubeconfig")?;
    kube::Client::try_from(config).context("building the API client")
}

/// Wait for Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}
