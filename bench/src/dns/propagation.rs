//! `dns-propagation`: how long after an EndpointSlice write svcplane's DNS gives the changed
//! answer. A headless Service's single endpoint is flipped between addresses through the API
//! (merge patch); from just before each write, a UDP client asks the DNS back to back until
//! the new address is the answer. The delay includes the API write (an fsync), the watch event
//! and the DNS's snapshot publishing.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, StatusCode};
use serde_json::json;
use tokio::net::UdpSocket;

use super::wire;
use crate::Output;
use crate::client::{ApiArgs, Endpoint, Proto, ensure_namespace};
use crate::results::{self, DnsPropagationResult, Record};
use crate::stats::Percentiles;

const NAMESPACE: &str = "bench-prop";
const NAME: &str = "flip";
/// One query's wait before it is sent again.
const POLL_TIMEOUT: Duration = Duration::from_millis(50);
/// Give up on a flip after this long (counted as a timeout).
const FLIP_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    api: ApiArgs,
    /// svcplane's DNS address.
    #[arg(long)]
    dns: SocketAddr,
    #[arg(long, default_value_t = 200)]
    flips: usize,
    /// The cluster size, for the report.
    #[arg(long)]
    services: usize,
    #[command(flatten)]
    out: Output,
}

fn ip(k: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 250, (k / 250) as u8, (k % 250 + 1) as u8)
}

fn slice_body(k: usize) -> serde_json::Value {
    json!({"endpoints": [{"addresses": [ip(k).to_string()], "conditions": {"ready": true}}]})
}

/// Asks until the answer is exactly `want`, or FLIP_TIMEOUT passes.
async fn until_answer(sock: &UdpSocket, dns: SocketAddr, name: &str, want: &str) -> Result<bool> {
    let deadline = Instant::now() + FLIP_TIMEOUT;
    let mut id: u16 = 0;
    let mut buf = [0u8; 1500];
    while Instant::now() < deadline {
        id = id.wrapping_add(1);
        sock.send_to(&wire::query(id, name, wire::TYPE_A), dns)
            .await?;
        let Ok(received) = tokio::time::timeout(POLL_TIMEOUT, sock.recv(&mut buf)).await else {
            continue;
        };
        let n = received?;
        if let Some(r) = wire::parse(&buf[..n])
            && r.id == id
            && r.answers.len() == 1
            && r.answers[0] == want
        {
            return Ok(true);
        }
    }
    Ok(false)
}

pub async fn run(args: Args) -> Result<()> {
    let endpoint = Endpoint::new(&args.api)?;
    let mut sender = endpoint.connect(Proto::H2).await?;
    ensure_namespace(&endpoint, &mut sender, NAMESPACE).await?;
    let service = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "spec": {"clusterIP": "None", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]},
    });
    let mut slice = json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": NAME, "namespace": NAMESPACE,
                     "labels": {"kubernetes.io/service-name": NAME}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
    });
    slice["endpoints"] = slice_body(0)["endpoints"].clone();
    for (path, body) in [
        (format!("/api/v1/namespaces/{NAMESPACE}/services"), service),
        (
            format!("/apis/discovery.k8s.io/v1/namespaces/{NAMESPACE}/endpointslices"),
            slice,
        ),
    ] {
        let request = endpoint.request(Method::POST, &path, Bytes::from(body.to_string()))?;
        sender
            .call(request, &[StatusCode::CREATED, StatusCode::CONFLICT])
            .await?;
    }
    let sock = UdpSocket::bind("127.0.0.1:0").await?;
    sock.connect(args.dns).await?;
    let qname = format!("{NAME}.{NAMESPACE}.svc.cluster.local");
    // A rerun starts from whatever the slice holds: put it at address 0 and wait for it.
    let patch_path =
        format!("/apis/discovery.k8s.io/v1/namespaces/{NAMESPACE}/endpointslices/{NAME}");
    let patch = |k: usize| -> Result<_> {
        let mut request = endpoint.request(
            Method::PATCH,
            &patch_path,
            Bytes::from(slice_body(k).to_string()),
        )?;
        request.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/merge-patch+json"),
        );
        Ok(request)
    };
    sender.call(patch(0)?, &[StatusCode::OK]).await?;
    if !until_answer(&sock, args.dns, &qname, &ip(0).to_string()).await? {
        bail!(
            "svcplane's DNS at {} never answered {qname} with {}",
            args.dns,
            ip(0)
        );
    }

    let (mut delays, mut writes, mut timeouts) = (Vec::new(), Vec::new(), 0);
    for k in 1..=args.flips {
        let request = patch(k)?;
        let mut write_sender = sender.share().context("HTTP/2 shares")?;
        let began = Instant::now();
        let write = tokio::spawn(async move {
            write_sender.call(request, &[StatusCode::OK]).await?;
            anyhow::Ok(began.elapsed())
        });
        let seen = until_answer(&sock, args.dns, &qname, &ip(k).to_string()).await?;
        let delay = began.elapsed();
        writes.push(write.await??);
        if seen {
            delays.push(delay);
        } else {
            timeouts += 1;
        }
        // Let the server settle between flips, as separate writes in a cluster would be.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let result = DnsPropagationResult {
        services: args.services,
        flips: args.flips,
        timeouts,
        delay: Percentiles::of(&mut delays),
        write_latency: Percentiles::of(&mut writes),
    };
    println!(
        "propagation ({} services): write to changed answer {}; the writes took {}; {} timeouts",
        result.services, result.delay, result.write_latency, result.timeouts
    );
    results::record(&args.out, Record::DnsPropagation(result))
}
