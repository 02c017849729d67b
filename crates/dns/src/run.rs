//! Starting the whole DNS service from a [`Config`] and an API client: bind every listener
//! first (so a bind error leaves nothing running), then spawn the servers, the metrics
//! endpoint and the watch feeder, all stopped by one cancellation token.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Upstream};
use crate::error::{Error, Result};
use crate::forward::{Forwarder, read_resolv_conf};
use crate::metrics::{Metrics, serve_http};
use crate::server::{Handler, Server};
use crate::source;
use crate::zone::ZoneView;

/// Where `Upstream::ResolvConf` reads its nameservers.
pub const RESOLV_CONF: &str = "/etc/resolv.conf";

/// A started DNS service.
pub struct Running {
    /// The bound DNS addresses (UDP and TCP each), in `config.listen` order, real ports.
    pub dns: Vec<SocketAddr>,
    /// The bound metrics address, if enabled.
    pub metrics: Option<SocketAddr>,
    /// The upstreams in use (empty: out-of-zone names are REFUSED).
    pub upstreams: Vec<SocketAddr>,
    /// Servers, metrics and feeder; they end when the token is cancelled.
    pub tasks: Vec<JoinHandle<()>>,
}

/// Binds and starts everything. `config` must come from [`Config::validated`].
pub async fn start(
    config: Config,
    client: kube::Client,
    shutdown: CancellationToken,
) -> Result<Running> {
    let (tx, rx) = watch::channel(Arc::new(ZoneView::unsynced(&config)));
    let metrics = Arc::new(Metrics::new());

    let mut servers = Vec::new();
    let mut dns = Vec::new();
    // Sockets first, then the handler: its upstreams must exclude our own bound addresses
    // (a resolv.conf pointing at us would make a forwarding loop).
    let mut sockets = Vec::new();
    for &addr in &config.listen {
        let (udp, tcp) = crate::server::bind_sockets(addr)?;
        let local = udp.local_addr()?;
        dns.push(local);
        sockets.push((udp, tcp));
    }
    let metrics_listener = match config.metrics_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|source| Error::Bind { addr, source })?,
        ),
        None => None,
    };
    let upstreams: Vec<SocketAddr> = match &config.upstream {
        Upstream::Servers(list) => list.clone(),
        Upstream::ResolvConf => read_resolv_conf(Path::new(RESOLV_CONF))?,
    }
    .into_iter()
    .filter(|u| !dns.contains(u))
    .collect();

    let handler = Arc::new(
        Handler::new(rx.clone())
            .with_forwarder(Arc::new(Forwarder::new(upstreams.clone())))
            .with_metrics(metrics.clone()),
    );
    for (udp, tcp) in sockets {
        servers.push(Server::from_std(udp, tcp, handler.clone())?);
    }

    let mut tasks = Vec::new();
    for server in servers {
        let stop = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(err) = server.run(stop.cancelled_owned()).await {
                tracing::error!(%err, "DNS server stopped");
            }
        }));
    }
    let metrics_addr = match metrics_listener {
        Some(listener) => {
            let addr = listener.local_addr()?;
            let stop = shutdown.clone();
            tasks.push(tokio::spawn(async move {
                if let Err(err) = serve_http(listener, metrics, rx, stop.cancelled_owned()).await {
                    tracing::error!(%err, "DNS metrics endpoint stopped");
                }
            }));
            Some(addr)
        }
        None => None,
    };
    let stop = shutdown.clone();
    tasks.push(tokio::spawn(async move {
        if let Err(err) = source::run(client, config, tx, stop.cancelled_owned()).await {
            tracing::error!(%err, "DNS watches stopped");
        }
    }));
    Ok(Running {
        dns,
        metrics: metrics_addr,
        upstreams,
        tasks,
    })
}
