//! `svcplane server`: the API server on the embedded store (or on etcd, with `--etcd-servers`),
//! then the in-process clients of it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

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
    // Boxed: `ServerArgs` is a variant of the binary's command enum, and clippy's
    // `large_enum_variant` counts every flag.
    #[command(flatten)]
    etcd: Box<EtcdFlags>,
}

/// kube-apiserver's etcd flags. Without `--etcd-servers` the store is the data dir's file.
#[derive(clap::Args)]
struct EtcdFlags {
    /// etcd client URLs, comma-separated: keep all objects in etcd instead of the data dir, so
    /// that several servers can share them.
    #[arg(long, value_delimiter = ',')]
    etcd_servers: Vec<String>,
    /// The etcd key prefix of all objects (it takes the place of `/registry` in their keys).
    #[arg(long, default_value = store::etcd::DEFAULT_PREFIX)]
    etcd_prefix: String,
    /// CA file to verify the etcd members' certificates (with `https://` servers).
    #[arg(long)]
    etcd_cafile: Option<PathBuf>,
    /// Client certificate file for etcd; needs `--etcd-keyfile`.
    #[arg(long)]
    etcd_certfile: Option<PathBuf>,
    /// Client key file for etcd.
    #[arg(long)]
    etcd_keyfile: Option<PathBuf>,
    /// How often to compact etcd's history, keeping one interval of it; `0` turns it off.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    etcd_compaction_interval: Duration,
}

impl EtcdFlags {
    fn config(&self) -> store::EtcdConfig {
        let mut config = store::EtcdConfig::new(self.etcd_servers.clone());
        config.prefix = self.etcd_prefix.clone();
        config.compaction_interval =
            Some(self.etcd_compaction_interval).filter(|interval| !interval.is_zero());
        if self.etcd_cafile.is_some() || self.etcd_certfile.is_some() || self.etcd_keyfile.is_some()
        {
            config.tls = Some(store::etcd::EtcdTls {
                ca_file: self.etcd_cafile.clone(),
                cert_file: self.etcd_certfile.clone(),
                key_file: self.etcd_keyfile.clone(),
            });
        }
        config
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    agent::parse_duration(s).map_err(|e| e.to_string())
}

/// The store: etcd if `--etcd-servers` names any, else the embedded file in the data dir.
async fn open_store(data_dir: &Path, etcd: &EtcdFlags) -> anyhow::Result<Arc<dyn store::Store>> {
    if !etcd.etcd_servers.is_empty() {
        let servers = etcd.etcd_servers.join(",");
        let store = store::EtcdStore::connect(etcd.config())
            .await
            .with_context(|| format!("connecting to etcd at {servers}"))?;
        return Ok(Arc::new(store));
    }
    let store_path = data_dir.join("store.redb");
    let store = store::RedbStore::open(&store_path, store::EmbeddedConfig::default())
        .with_context(|| format!("opening the store {}", store_path.display()))?;
    Ok(Arc::new(store))
}

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    if args.insecure_http && !args.listen.ip().is_loopback() {
        anyhow::bail!(
            "--insecure-http serves without authentication and is only allowed on a loopback address"
        );
    }
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating the data dir {}", args.data_dir.display()))?;
    let store = open_store(&args.data_dir, &args.etcd).await?;
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
