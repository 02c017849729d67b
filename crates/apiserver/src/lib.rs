//! svcplane's Kubernetes API server: the only component that touches the store. It serves
//! discovery, OpenAPI, the REST verbs with watch, patches and Tables, turns every failure into a
//! Kubernetes `Status`, allocates ClusterIPs, runs namespace termination, and authenticates
//! clients with the admin token over TLS. It never interprets objects beyond what
//! kube-apiserver itself does: controllers and DNS are clients.

mod bootstrap;
mod discovery;
pub mod endpoint_leases;
pub mod error;
mod http;
pub mod ipalloc;
mod managed_fields;
mod namespaces;
mod object;
mod openapi;
mod patch;
#[cfg(test)]
mod perf_tests;
mod registry;
mod repair;
mod request;
mod services;
mod snapshot;
mod tables;
pub mod tls;
mod watch;
mod watch_cache;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use store::Store;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use discovery::{KUBE_MAJOR, KUBE_MINOR};
pub use endpoint_leases::EndpointLeases;
pub use ipalloc::Cidr;

/// How the API server is run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (default 127.0.0.1:6443). Port 0 picks a free port.
    pub listen: SocketAddr,
    /// Holds `pki/` (this server's serving certificate, and by default the CA and token) and
    /// `kubeconfig`.
    pub data_dir: PathBuf,
    /// The dir of the CA and admin token, shared by replicas that must accept one kubeconfig
    /// (default: `<data_dir>/pki`).
    pub pki_dir: Option<PathBuf>,
    /// Names (IPs or DNS names) the serving certificate covers besides `localhost`, loopback and
    /// the listen address, e.g. the advertise address.
    pub tls_sans: Vec<String>,
    /// Serve plain HTTP without authentication (loopback use only).
    pub insecure_http: bool,
    /// Service CIDRs, one per IP family (default 10.96.0.0/12).
    pub service_cidrs: Vec<Cidr>,
    /// List this server in the `default/kubernetes` Endpoints while it runs (default: not).
    pub endpoint_leases: Option<EndpointLeases>,
    /// Answer `resourceVersion=0` gets and lists from a watch-fed copy of the store, which
    /// keeps serving while the store is unreachable (for etcd; default: off).
    pub watch_cache: bool,
}

impl Config {
    pub fn new(data_dir: PathBuf) -> Self {
        Config {
            listen: "127.0.0.1:6443".parse().expect("static address"),
            data_dir,
            pki_dir: None,
            tls_sans: Vec::new(),
            insecure_http: false,
            service_cidrs: vec!["10.96.0.0/12".parse().expect("static CIDR")],
            endpoint_leases: None,
            watch_cache: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("bootstrap failed: {0}")]
    Bootstrap(#[from] error::ApiError),
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// A started API server.
pub struct Running {
    /// The address it listens on (the real port when port 0 was asked for).
    pub addr: SocketAddr,
    /// `http://…` or `https://…`.
    pub url: String,
    /// The kubeconfig written for this server.
    pub kubeconfig: PathBuf,
    /// Ends when `shutdown` is cancelled.
    pub task: JoinHandle<()>,
}

/// Bind, bootstrap and serve until `shutdown` is cancelled.
pub async fn start(
    config: Config,
    store: Arc<dyn Store>,
    shutdown: CancellationToken,
) -> Result<Running, StartError> {
    if config.service_cidrs.is_empty() || config.service_cidrs.len() > 2 {
        return Err(StartError::Config(
            "--service-cidr takes one CIDR, or two of different families".into(),
        ));
    }
    if config.service_cidrs.len() == 2
        && config.service_cidrs[0].family() == config.service_cidrs[1].family()
    {
        return Err(StartError::Config(
            "dual-stack service CIDRs must be of different IP families".into(),
        ));
    }
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: config.listen,
        source,
    })?;
    std::fs::create_dir_all(&config.data_dir).map_err(|source| tls::TlsError::Io {
        path: config.data_dir.clone(),
        source,
    })?;

    if let Some(leases) = &config.endpoint_leases {
        leases.validate().map_err(StartError::Config)?;
    }
    let alloc = ipalloc::Allocator::new(store.clone(), config.service_cidrs.clone());
    let registry = Arc::new(registry::Registry::new(store, alloc));
    bootstrap::run(&registry, addr.port()).await?;

    let serving_dir = config.data_dir.join("pki");
    let (url, creds) = if config.insecure_http {
        (format!("http://{addr}"), None)
    } else {
        (
            format!("https://{addr}"),
            Some(tls::ensure(
                config.pki_dir.as_ref().unwrap_or(&serving_dir),
                &serving_dir,
                &tls::subject_alt_names(addr, &config.tls_sans),
            )?),
        )
    };
    let kubeconfig = config.data_dir.join("kubeconfig");
    tls::write_kubeconfig(&kubeconfig, &tls::kubeconfig(&url, creds.as_ref()))?;
    let acceptor = creds
        .as_ref()
        .map(tls::server_config)
        .transpose()?
        .map(tokio_rustls::TlsAcceptor::from);

    let cached_reads = config
        .watch_cache
        .then(|| watch_cache::CachedReads::start(&registry, shutdown.clone()));
    let app = Arc::new(http::App {
        registry: registry.clone(),
        cached_reads,
        token: creds.map(|c| c.token),
        server_address: addr.to_string(),
        shutdown: shutdown.clone(),
    });
    // The reconciler removes this replica from the Endpoints on shutdown: `task` waits for it.
    let endpoints = config.endpoint_leases.clone().map(|leases| {
        tokio::spawn(endpoint_leases::run(
            registry.clone(),
            leases,
            addr.port(),
            shutdown.clone(),
        ))
    });
    tokio::spawn(repair::run(registry.clone(), shutdown.clone()));
    tokio::spawn(namespaces::run(registry, shutdown.clone()));
    let router = http::router(app);
    let task = tokio::spawn(async move {
        serve(listener, acceptor, router, shutdown).await;
        if let Some(endpoints) = endpoints {
            let _ = endpoints.await;
        }
    });
    Ok(Running {
        addr,
        url,
        kubeconfig,
        task,
    })
}

async fn serve(
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    router: axum::Router,
    shutdown: CancellationToken,
) {
    loop {
        let (tcp, peer) = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let router = router.clone();
        let acceptor = acceptor.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = TowerToHyperService::new(router);
            let builder = auto::Builder::new(TokioExecutor::new());
            let result = match acceptor {
                Some(acceptor) => match acceptor.accept(tcp).await {
                    Ok(tls) => {
                        let conn =
                            builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
                        tokio::select! { r = conn => r, _ = shutdown.cancelled() => Ok(()) }
                    }
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                },
                None => {
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
                    tokio::select! { r = conn => r, _ = shutdown.cancelled() => Ok(()) }
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
}
