//! `dns-load`: loads a generated cluster into svcplane through its API: Namespaces, Services
//! with the ClusterIPs of the model, and, for headless Services (with `--pods`, for every
//! Service), an EndpointSlice written directly (the server runs with `--no-controllers
//! --nodes 0`, so nothing else writes slices and the DNS content is exactly the model's).
//! Creates go over shared HTTP/2 connections with many in flight, as a bulk client-go loader
//! would.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use bytes::Bytes;
use futures::StreamExt;
use hyper::{Method, StatusCode};
use serde_json::json;

use super::model::{self, Kind, SERVICE_PORT, Service, TARGET_PORT};
use crate::client::{ApiArgs, Endpoint, Proto, Sender, ensure_namespace};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    api: ApiArgs,
    #[arg(long)]
    services: usize,
    /// The memory shape: this many pods spread over all Services, ClusterIP ones included
    /// (default: the benchmark shape, endpoints on headless Services only).
    #[arg(long)]
    pods: Option<usize>,
    /// Creates in flight.
    #[arg(long, default_value_t = 128)]
    concurrency: usize,
    /// HTTP/2 connections shared by the creates.
    #[arg(long, default_value_t = 2)]
    connections: usize,
}

pub fn service_json(svc: &Service) -> serde_json::Value {
    let cluster_ip = match &svc.kind {
        Kind::ClusterIp(ip) => ip.to_string(),
        Kind::Headless(_) => "None".into(),
    };
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": svc.name, "namespace": svc.namespace},
        "spec": {
            "clusterIP": cluster_ip,
            "ports": [{"name": "http", "protocol": "TCP", "port": SERVICE_PORT, "targetPort": TARGET_PORT}],
        },
    })
}

pub fn slice_json(svc: &Service) -> serde_json::Value {
    let endpoints: Vec<_> = svc
        .slice_endpoints()
        .iter()
        .map(|ep| {
            let mut e = json!({"addresses": [ep.ip.to_string()], "conditions": {"ready": true}});
            if let Some(h) = &ep.hostname {
                e["hostname"] = json!(h);
            }
            e
        })
        .collect();
    json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {
            "name": format!("{}-1", svc.name), "namespace": svc.namespace,
            "labels": {"kubernetes.io/service-name": svc.name},
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"name": "http", "protocol": "TCP", "port": TARGET_PORT}],
    })
}

/// POSTs `body` to `path`; an existing object (a rerun) is fine.
async fn create(
    endpoint: &Endpoint,
    sender: &mut Sender,
    path: String,
    body: String,
) -> Result<()> {
    let request = endpoint.request(Method::POST, &path, Bytes::from(body))?;
    sender
        .call(request, &[StatusCode::CREATED, StatusCode::CONFLICT])
        .await
        .with_context(|| format!("POST {path}"))?;
    Ok(())
}

pub async fn run(args: Args) -> Result<()> {
    let started = Instant::now();
    let cluster = Arc::new(match args.pods {
        Some(pods) => model::generate_with_pods(args.services, pods),
        None => model::generate(args.services),
    });
    let endpoint = Endpoint::new(&args.api)?;
    let mut senders = Vec::new();
    for _ in 0..args.connections.max(1) {
        senders.push(endpoint.connect(Proto::H2).await?);
    }
    for ns in &cluster.namespaces {
        ensure_namespace(&endpoint, &mut senders[0], ns).await?;
    }
    // Services first, then slices: a slice never names a Service that is not there yet.
    for phase in ["services", "endpointslices"] {
        let jobs: Vec<(String, String)> = cluster
            .services
            .iter()
            .filter_map(|svc| match phase {
                "services" => Some((
                    format!("/api/v1/namespaces/{}/services", svc.namespace),
                    service_json(svc).to_string(),
                )),
                _ => (!svc.slice_endpoints().is_empty()).then(|| {
                    (
                        format!(
                            "/apis/discovery.k8s.io/v1/namespaces/{}/endpointslices",
                            svc.namespace
                        ),
                        slice_json(svc).to_string(),
                    )
                }),
            })
            .collect();
        let count = jobs.len();
        let phase_start = Instant::now();
        let mut results =
            futures::stream::iter(jobs.into_iter().enumerate().map(|(i, (path, body))| {
                let endpoint = endpoint.clone();
                let mut sender = senders[i % senders.len()].share().expect("HTTP/2 shares");
                async move { create(&endpoint, &mut sender, path, body).await }
            }))
            .buffer_unordered(args.concurrency.max(1));
        while let Some(r) = results.next().await {
            r?;
        }
        let s = phase_start.elapsed().as_secs_f64();
        println!(
            "created {count} {phase} in {s:.1} s ({:.0}/s)",
            count as f64 / s
        );
    }
    println!(
        "loaded {} Services ({} pods) in {} namespaces in {:.1} s",
        cluster.services.len(),
        cluster.pods(),
        cluster.namespaces.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
