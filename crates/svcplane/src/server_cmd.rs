//! `svcplane server`: the API server on the embedded store (or on etcd, with `--etcd-servers`),
//! then the in-process clients of it.
//!
//! Several replicas can share one etcd. The API server and the DNS (read-only) run on every
//! replica; the controllers and the node agent write, so they run only on the replica that holds
//! the `kube-system/svcplane-controllers` Lease (kube-controller-manager's `--leader-elect`).
//! Replicas given one `--pki-dir` share the CA and admin token, so one kubeconfig reaches each.
//! On the embedded store there is one process by construction (redb locks its file), so the
//! election is skipped there: a restart after a crash would otherwise wait a lease duration for
//! its own dead predecessor's lease to run out.

use std::net::SocketAddr;
use std::path::PathBuf;
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
    /// Memory for the embedded store's page cache, in MiB (unused with `--etcd-servers`).
    #[arg(long, default_value_t = store::EmbeddedConfig::default().cache_size >> 20)]
    store_cache_mib: usize,
    /// How many of the latest writes the embedded store keeps for watches to resume from; a
    /// watcher further behind is told `410 Gone` and lists again (unused with `--etcd-servers`,
    /// whose history is kept by compaction).
    #[arg(long, default_value_t = store::DEFAULT_HISTORY)]
    watch_history: usize,
    /// The longest time between durable commits of the embedded store file (e.g. 500ms, 2s);
    /// writes in between are durable in its write-ahead log, which a restart replays.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    store_checkpoint_interval: Duration,
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
    #[command(flatten)]
    leader_election: Box<LeaderElectionFlags>,
    #[command(flatten)]
    endpoints: Box<EndpointFlags>,
    #[command(flatten)]
    tls: Box<TlsFlags>,
}

/// Where the serving credentials come from (see `apiserver::tls`).
#[derive(clap::Args)]
struct TlsFlags {
    /// Directory of the cluster CA (`ca.crt`, `ca.key`) and admin token (`admin.token`),
    /// created by the first server to start. Replicas on one etcd give the same dir, so one
    /// kubeconfig works against all of them; each signs its own serving certificate with the
    /// CA. [default: <data-dir>/pki]
    #[arg(long)]
    pki_dir: Option<PathBuf>,
    /// Another name (IP or DNS name) for the serving certificate to cover, repeatable or
    /// comma-separated; `localhost`, loopback, the listen and the advertise address always are.
    #[arg(long, value_delimiter = ',')]
    tls_san: Vec<String>,
}

/// How this replica appears in the `default/kubernetes` Endpoints (kube-apiserver's flags, plus
/// the lease duration, which kube-apiserver fixes at 15s).
#[derive(clap::Args)]
struct EndpointFlags {
    /// The address clients reach this server at, listed in the `default/kubernetes` Endpoints
    /// with the port it listens on. [default: the --listen address, or when that is loopback or
    /// unspecified, the address of the default route's interface]
    #[arg(long)]
    advertise_address: Option<std::net::IpAddr>,
    /// `lease`: every replica renews a lease and the Endpoints list the replicas whose lease is
    /// live; `none`: the Endpoints are not maintained.
    #[arg(long, default_value = "lease", value_parser = ["lease", "none"])]
    endpoint_reconciler_type: String,
    /// How long a replica stays in the Endpoints after its last renewal (it renews every third
    /// of this); a clean shutdown removes it at once.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    endpoint_lease_duration: Duration,
}

impl EndpointFlags {
    /// The address clients reach this server at, if there is one.
    fn advertise(&self, listen: SocketAddr) -> Option<std::net::IpAddr> {
        self.advertise_address
            .or_else(|| apiserver::endpoint_leases::default_advertise_address(listen.ip()))
    }

    /// The reconciler's settings, or `None` when it is off or there is no address to advertise.
    fn config(&self, listen: SocketAddr) -> Option<apiserver::EndpointLeases> {
        if self.endpoint_reconciler_type == "none" {
            return None;
        }
        let Some(advertise_address) = self.advertise(listen) else {
            tracing::warn!(
                "no address to advertise (no default route): the default/kubernetes Endpoints \
                 are not maintained; set --advertise-address"
            );
            return None;
        };
        Some(apiserver::EndpointLeases {
            advertise_address,
            lease_duration: self.endpoint_lease_duration,
        })
    }
}

/// kube-controller-manager's leader election flags, for the controllers and the node agent.
#[derive(clap::Args)]
struct LeaderElectionFlags {
    /// Run the controllers and the node agent only while holding the leader Lease, so that
    /// replicas on one etcd never run two sets. Takes effect with `--etcd-servers` only: the
    /// embedded store serves a single process.
    #[arg(
        long,
        default_value_t = true,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    leader_elect: bool,
    /// How long the others wait, from the leader's last renewal they saw, before taking over.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    leader_elect_lease_duration: Duration,
    /// How long the leader keeps failing to renew before it stops; less than the lease duration.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    leader_elect_renew_deadline: Duration,
    /// Time between tries to acquire or renew the Lease.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    leader_elect_retry_period: Duration,
    /// Name of the Lease elected on.
    #[arg(long, default_value = election::DEFAULT_NAME)]
    leader_elect_resource_name: String,
    /// Namespace of the Lease elected on.
    #[arg(long, default_value = election::DEFAULT_NAMESPACE)]
    leader_elect_resource_namespace: String,
    /// This replica's name in the Lease; must be unique among replicas.
    /// [default: <hostname>_<random UUID>]
    #[arg(long)]
    leader_elect_identity: Option<String>,
}

impl LeaderElectionFlags {
    /// The election to run, validated; `None` when there is none (see the module doc).
    fn config(&self, on_etcd: bool) -> anyhow::Result<Option<election::Config>> {
        if !self.leader_elect {
            return Ok(None);
        }
        let config = election::Config {
            namespace: self.leader_elect_resource_namespace.clone(),
            name: self.leader_elect_resource_name.clone(),
            identity: self
                .leader_elect_identity
                .clone()
                .unwrap_or_else(election::default_identity),
            lease_duration: self.leader_elect_lease_duration,
            renew_deadline: self.leader_elect_renew_deadline,
            retry_period: self.leader_elect_retry_period,
        };
        // Checked even where it is skipped, so a flag mistake shows before it matters.
        config.validate()?;
        Ok(on_etcd.then_some(config))
    }
}

/// kube-apiserver's etcd flags. Without `--etcd-servers` the store is the data dir's file.
#[derive(clap::Args)]
pub(crate) struct EtcdFlags {
    /// etcd client URLs, comma-separated: keep all objects in etcd instead of the data dir, so
    /// that several servers can share them.
    #[arg(long, value_delimiter = ',')]
    pub(crate) etcd_servers: Vec<String>,
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
    /// The deadline of each etcd request: past it (etcd without quorum), the API answers 503.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    etcd_request_timeout: Duration,
}

impl EtcdFlags {
    pub(crate) fn config(&self) -> store::EtcdConfig {
        let mut config = store::EtcdConfig::new(self.etcd_servers.clone());
        config.prefix = self.etcd_prefix.clone();
        config.request_timeout = self.etcd_request_timeout;
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
async fn open_store(args: &ServerArgs) -> anyhow::Result<Arc<dyn store::Store>> {
    let etcd = &args.etcd;
    if !etcd.etcd_servers.is_empty() {
        let servers = etcd.etcd_servers.join(",");
        let store = store::EtcdStore::connect(etcd.config())
            .await
            .with_context(|| format!("connecting to etcd at {servers}"))?;
        return Ok(Arc::new(store));
    }
    let store_path = args.data_dir.join("store.redb");
    let config = store::EmbeddedConfig {
        cache_size: args.store_cache_mib.saturating_mul(1 << 20),
        history: args.watch_history,
        checkpoint_interval: args.store_checkpoint_interval,
        ..store::EmbeddedConfig::default()
    };
    let store = store::RedbStore::open(&store_path, config)
        .with_context(|| format!("opening the store {}", store_path.display()))?;
    Ok(Arc::new(store))
}

/// What only the leader runs: the controllers and the node agent, until `leading` is cancelled.
async fn leader_work(
    flags: Arc<(controllers_cmd::ControllerFlags, agent_cmd::AgentFlags)>,
    client: kube::Client,
    leading: CancellationToken,
) {
    let (controllers, agent) = &*flags;
    let mut tasks = Vec::new();
    match controllers_cmd::start_in_server(controllers, client.clone(), leading.clone()).await {
        Ok(started) => tasks.extend(started),
        Err(e) => tracing::error!(error = %e, "starting the controllers failed"),
    }
    match agent_cmd::start_in_server(agent, client, leading).await {
        Ok(started) => tasks.extend(started),
        Err(e) => tracing::error!(error = %e, "starting the node agent failed"),
    }
    for task in tasks {
        let _ = task.await;
    }
}

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    if args.insecure_http && !args.listen.ip().is_loopback() {
        anyhow::bail!(
            "--insecure-http serves without authentication and is only allowed on a loopback address"
        );
    }
    // A replica with nothing to lead stays out of the election, so it never holds the Lease
    // while the controllers and agent run nowhere.
    let nothing_to_lead = args.controllers.is_off() && args.agent.is_off();
    let election = args
        .leader_election
        .config(!args.etcd.etcd_servers.is_empty())?
        .filter(|_| !nothing_to_lead);
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating the data dir {}", args.data_dir.display()))?;
    let store = open_store(&args).await?;
    let mut config = apiserver::Config::new(args.data_dir.clone());
    config.listen = args.listen;
    config.pki_dir = args.tls.pki_dir;
    // Clients that reach this replica at its advertised address verify it by that address.
    config.tls_sans = args
        .endpoints
        .advertise(args.listen)
        .map(|ip| ip.to_string())
        .into_iter()
        .chain(args.tls.tls_san.into_iter().filter(|name| !name.is_empty()))
        .collect();
    config.insecure_http = args.insecure_http;
    config.service_cidrs = args.service_cidr;
    config.endpoint_leases = args.endpoints.config(args.listen);
    // etcd can become unreachable while the server runs; the embedded store cannot.
    config.watch_cache = !args.etcd.etcd_servers.is_empty();
    let shutdown = CancellationToken::new();
    let running = apiserver::start(config, store, shutdown.clone()).await?;
    println!("svcplane API server listening on {}", running.url);

    let client = crate::client_from_kubeconfig(&running.kubeconfig).await?;
    // The clients stop first, while the API still serves: the leader releases its Lease
    // through it on the way out.
    let stop_clients = shutdown.child_token();
    let mut tasks = Vec::new();
    let flags = Arc::new((args.controllers, args.agent));
    let work = {
        let client = client.clone();
        move |leading| leader_work(flags.clone(), client.clone(), leading)
    };
    match election {
        // In the background: the kubeconfig line below must not wait for the election.
        Some(config) => {
            tracing::info!(
                lease = %format!("{}/{}", config.namespace, config.name),
                identity = %config.identity,
                "controllers and node agent run under leader election"
            );
            let (client, stop) = (client.clone(), stop_clients.clone());
            tasks.push(tokio::spawn(async move {
                if let Err(e) = election::run(config, client, stop, work).await {
                    tracing::error!(error = %e, "leader election stopped");
                }
            }));
        }
        None => tasks.push(tokio::spawn(work(stop_clients.clone()))),
    }
    tasks.extend(dns_cmd::start_in_server(&args.dns, client, stop_clients.clone()).await?);

    // Tests and scripts read the lines above and this one, which comes last, to find the server.
    println!("export KUBECONFIG={}", running.kubeconfig.display());
    crate::shutdown_signal().await;
    tracing::info!("shutting down");
    stop_clients.cancel();
    for task in tasks {
        let _ = task.await;
    }
    shutdown.cancel();
    let _ = running.task.await;
    Ok(())
}
