//! `svcplane dns` and the dns inside `svcplane server` (being written).

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

#[derive(clap::Args)]
pub struct DnsFlags {}

#[derive(clap::Args)]
pub struct StandaloneArgs {
    /// The API server to work against.
    #[arg(long)]
    kubeconfig: std::path::PathBuf,
}

pub async fn start_in_server(
    _args: &DnsFlags,
    _client: kube::Client,
    _shutdown: CancellationToken,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    Ok(Vec::new())
}

pub async fn run_standalone(args: StandaloneArgs) -> anyhow::Result<()> {
    let _client = crate::client_from_kubeconfig(&args.kubeconfig).await?;
    anyhow::bail!("not yet available")
}
