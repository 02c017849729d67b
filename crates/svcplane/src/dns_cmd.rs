//! `svcplane dns` and the DNS inside `svcplane server`: the `--dns-*` flags map one to one
//! onto `dns::Config`; `dns::start` does the rest. Both modes run the same code against the
//! API through kube-rs.
//!
//! `--dns-listen none` turns the DNS off (no watches, no metrics).

use std::net::{IpAddr, SocketAddr};

use anyhow::Context;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What `--dns-pods` accepts (dns-spec.md §3.9).
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum PodsArg {
    Disabled,
    Insecure,
    Verified,
}

#[derive(clap::Args, Debug, Clone)]
pub struct DnsFlags {
    /// Address to serve DNS on, UDP and TCP (repeatable; port 0 picks one). `none` turns the
    /// DNS off. [default: 127.0.0.1:10053]
    #[arg(long = "dns-listen", value_name = "ADDR|none")]
    dns_listen: Vec<String>,
    /// The cluster domain served authoritatively.
    #[arg(long = "dns-zone", default_value = "cluster.local")]
    dns_zone: String,
    /// Reverse zones answered with PTR records (repeatable or comma list).
    #[arg(
        long = "dns-reverse-zone",
        value_delimiter = ',',
        default_value = "in-addr.arpa,ip6.arpa"
    )]
    dns_reverse_zone: Vec<String>,
    /// Pod records `a-b-c-d.<ns>.pod.<zone>`: disabled, insecure (no check) or verified
    /// (watches every pod).
    #[arg(long = "dns-pods", value_enum, default_value = "insecure")]
    dns_pods: PodsArg,
    /// TTL of every cluster record, 0-3600 seconds.
    #[arg(long = "dns-ttl", default_value_t = 5)]
    dns_ttl: u32,
    /// Name endpoints without a hostname after their pod instead of the dashed IP.
    #[arg(long = "dns-endpoint-pod-names")]
    dns_endpoint_pod_names: bool,
    /// Only these namespaces resolve (repeatable or comma list); all when not given.
    #[arg(long = "dns-namespaces", value_delimiter = ',')]
    dns_namespaces: Vec<String>,
    /// ClusterIP Services without ready endpoints answer NXDOMAIN.
    #[arg(long = "dns-ignore-empty-service")]
    dns_ignore_empty_service: bool,
    /// Ignore EndpointSlices: no headless or endpoint records.
    #[arg(long = "dns-noendpoints")]
    dns_noendpoints: bool,
    /// Zones whose NXDOMAIN goes on to the upstream (repeatable or comma list); `all` for every
    /// zone, `none` for none. [default: in-addr.arpa,ip6.arpa]
    #[arg(
        long = "dns-fallthrough",
        value_delimiter = ',',
        value_name = "ZONE|all|none"
    )]
    dns_fallthrough: Vec<String>,
    /// Upstream resolver IP[:PORT] for names outside the zones (repeatable). `none` disables
    /// forwarding (REFUSED). [default: the nameservers of /etc/resolv.conf]
    #[arg(long = "dns-upstream", value_name = "ADDR|none")]
    dns_upstream: Vec<String>,
    /// Address for the DNS `/metrics`, `/health` and `/ready` over HTTP; `none` turns them
    /// off. [default: 127.0.0.1:9153]
    #[arg(long = "metrics-listen", value_name = "ADDR|none")]
    metrics_listen: Option<String>,
}

#[derive(clap::Args)]
pub struct StandaloneArgs {
    /// The API server to work against.
    #[arg(long)]
    kubeconfig: std::path::PathBuf,
    #[command(flatten)]
    dns: DnsFlags,
}

fn is_none(v: &str) -> bool {
    v.eq_ignore_ascii_case("none")
}

/// `IP:PORT`, or a bare IP with `default_port`.
fn parse_addr(v: &str, default_port: u16) -> anyhow::Result<SocketAddr> {
    if let Ok(addr) = v.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let ip: IpAddr = v
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .with_context(|| format!("{v:?} is not an IP address or IP:PORT"))?;
    Ok(SocketAddr::new(ip, default_port))
}

impl DnsFlags {
    /// The `dns::Config` these flags describe.
    fn config(&self) -> anyhow::Result<dns::Config> {
        let defaults = dns::Config::default();
        let listen = match self.dns_listen.as_slice() {
            [] => defaults.listen.clone(),
            [v] if is_none(v) => Vec::new(),
            vs => vs
                .iter()
                .map(|v| parse_addr(v, 53))
                .collect::<anyhow::Result<_>>()
                .context("--dns-listen")?,
        };
        let metrics_listen = match self.metrics_listen.as_deref() {
            None => defaults.metrics_listen,
            Some(v) if is_none(v) => None,
            Some(v) => Some(parse_addr(v, 9153).context("--metrics-listen")?),
        };
        let upstream = match self.dns_upstream.as_slice() {
            [] => dns::Upstream::ResolvConf,
            [v] if is_none(v) => dns::Upstream::Servers(Vec::new()),
            vs => dns::Upstream::Servers(
                vs.iter()
                    .map(|v| parse_addr(v, 53))
                    .collect::<anyhow::Result<_>>()
                    .context("--dns-upstream")?,
            ),
        };
        let fallthrough = match self.dns_fallthrough.as_slice() {
            [] => defaults.fallthrough.clone(),
            [v] if is_none(v) => dns::Fallthrough::Off,
            [v] if v.eq_ignore_ascii_case("all") => dns::Fallthrough::All,
            vs => dns::Fallthrough::Zones(vs.to_vec()),
        };
        let config = dns::Config {
            zone: self.dns_zone.clone(),
            reverse_zones: self.dns_reverse_zone.clone(),
            ttl: self.dns_ttl,
            pods: match self.dns_pods {
                PodsArg::Disabled => dns::PodsMode::Disabled,
                PodsArg::Insecure => dns::PodsMode::Insecure,
                PodsArg::Verified => dns::PodsMode::Verified,
            },
            endpoint_pod_names: self.dns_endpoint_pod_names,
            namespaces: self.dns_namespaces.clone(),
            ignore_empty_service: self.dns_ignore_empty_service,
            noendpoints: self.dns_noendpoints,
            fallthrough,
            self_ips: Vec::new(),
            listen,
            metrics_listen,
            upstream,
        };
        Ok(config.validated()?)
    }
}

/// Binds, prints the addresses (tests read these lines) and spawns the DNS tasks.
async fn start(
    config: dns::Config,
    client: kube::Client,
    shutdown: CancellationToken,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    if config.listen.is_empty() {
        return Ok(Vec::new());
    }
    let running = dns::start(config, client, shutdown).await?;
    for addr in &running.dns {
        println!("svcplane DNS listening on {addr}");
    }
    if let Some(addr) = running.metrics {
        println!("svcplane DNS metrics on {addr}");
    }
    if running.upstreams.is_empty() {
        tracing::info!("no DNS upstream: names outside the cluster zones are REFUSED");
    }
    Ok(running.tasks)
}

pub async fn start_in_server(
    args: &DnsFlags,
    client: kube::Client,
    shutdown: CancellationToken,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let mut config = args.config()?;
    // The all-in-one server must not fail because a default port is taken (another svcplane,
    // parallel tests): it runs without that part and says so. Asked-for addresses are errors.
    loop {
        match start(config.clone(), client.clone(), shutdown.clone()).await {
            Err(err) => match err.downcast_ref::<dns::Error>() {
                Some(dns::Error::Bind { addr, .. })
                    if args.dns_listen.is_empty() && *addr == dns::config::DEFAULT_LISTEN =>
                {
                    tracing::warn!(%addr, "DNS disabled: its default address is in use; pass --dns-listen");
                    return Ok(Vec::new());
                }
                Some(dns::Error::Bind { addr, .. })
                    if args.metrics_listen.is_none() && Some(*addr) == config.metrics_listen =>
                {
                    tracing::warn!(%addr, "DNS metrics disabled: the default address is in use; pass --metrics-listen");
                    config.metrics_listen = None;
                }
                _ => return Err(err),
            },
            ok => return ok,
        }
    }
}

pub async fn run_standalone(args: StandaloneArgs) -> anyhow::Result<()> {
    let client = crate::client_from_kubeconfig(&args.kubeconfig).await?;
    let config = args.dns.config()?;
    if config.listen.is_empty() {
        anyhow::bail!("--dns-listen none leaves nothing to run");
    }
    let shutdown = CancellationToken::new();
    let tasks = start(config, client, shutdown.clone()).await?;
    crate::shutdown_signal().await;
    tracing::info!("shutting down");
    shutdown.cancel();
    for task in tasks {
        let _ = task.await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        dns: DnsFlags,
    }

    fn config(args: &[&str]) -> anyhow::Result<dns::Config> {
        let cli = Cli::try_parse_from(std::iter::once("x").chain(args.iter().copied()))?;
        cli.dns.config()
    }

    #[test]
    fn defaults_are_dns_config_defaults() {
        assert_eq!(
            config(&[]).unwrap(),
            dns::Config::default().validated().unwrap()
        );
    }

    #[test]
    fn flags_map_one_to_one() {
        let c = config(&[
            "--dns-listen",
            "127.0.0.1:0",
            "--dns-listen",
            "[::1]:0",
            "--dns-zone",
            "Example.Internal.",
            "--dns-pods",
            "verified",
            "--dns-ttl",
            "30",
            "--dns-endpoint-pod-names",
            "--dns-namespaces",
            "a,b",
            "--dns-ignore-empty-service",
            "--dns-noendpoints",
            "--dns-fallthrough",
            "all",
            "--dns-upstream",
            "127.0.0.1:5353",
            "--dns-upstream",
            "::1",
            "--metrics-listen",
            "none",
        ])
        .unwrap();
        assert_eq!(c.listen.len(), 2);
        assert_eq!(c.zone, "example.internal");
        assert_eq!(c.pods, dns::PodsMode::Verified);
        assert_eq!(c.ttl, 30);
        assert!(c.endpoint_pod_names && c.ignore_empty_service && c.noendpoints);
        assert_eq!(c.namespaces, ["a", "b"]);
        assert_eq!(c.fallthrough, dns::Fallthrough::All);
        assert_eq!(
            c.upstream,
            dns::Upstream::Servers(vec![
                "127.0.0.1:5353".parse().unwrap(),
                "[::1]:53".parse().unwrap()
            ])
        );
        assert_eq!(c.metrics_listen, None);
        let off = config(&["--dns-listen", "none", "--dns-upstream", "none"]).unwrap();
        assert!(off.listen.is_empty());
        assert_eq!(off.upstream, dns::Upstream::Servers(Vec::new()));
        assert!(config(&["--dns-ttl", "4000"]).is_err());
        assert!(config(&["--dns-upstream", "resolver.example"]).is_err());
    }
}
