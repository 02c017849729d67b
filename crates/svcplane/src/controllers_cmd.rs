//! `svcplane controllers` and the controllers inside `svcplane server`: flags map one to one
//! onto `controllers::Config`.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

#[derive(clap::Args)]
pub struct ControllerFlags {
    /// Run no controllers (no endpoints, slices, workloads or garbage collection).
    #[arg(long)]
    no_controllers: bool,
    /// Most endpoints in one EndpointSlice.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    max_endpoints_per_slice: u32,
    /// Seconds between full resyncs of every controller's keys.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    controllers_resync_seconds: u64,
}

impl ControllerFlags {
    /// Whether these flags turn the controllers off.
    pub fn is_off(&self) -> bool {
        self.no_controllers
    }

    fn config(&self) -> controllers::Config {
        controllers::Config {
            disabled: self.no_controllers,
            max_endpoints_per_slice: self.max_endpoints_per_slice as usize,
            resync_period: Duration::from_secs(self.controllers_resync_seconds),
            ..controllers::Config::default()
        }
    }
}

#[derive(clap::Args)]
pub struct StandaloneArgs {
    /// The API server to work against.
    #[arg(long)]
    kubeconfig: std::path::PathBuf,
    #[command(flatten)]
    flags: ControllerFlags,
}

pub async fn start_in_server(
    args: &ControllerFlags,
    client: kube::Client,
    shutdown: CancellationToken,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let config = args.config();
    if config.disabled {
        return Ok(Vec::new());
    }
    Ok(vec![tokio::spawn(async move {
        if let Err(e) = controllers::run(config, client, shutdown).await {
            tracing::error!(error = %e, "controllers stopped");
        }
    })])
}

pub async fn run_standalone(args: StandaloneArgs) -> anyhow::Result<()> {
    let client = crate::client_from_kubeconfig(&args.kubeconfig).await?;
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(controllers::run(
        args.flags.config(),
        client,
        shutdown.clone(),
    ));
    println!(
        "svcplane controllers running against {}",
        args.kubeconfig.display()
    );
    crate::shutdown_signal().await;
    shutdown.cancel();
    run.await??;
    Ok(())
}
