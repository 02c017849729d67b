//! `creates`: concurrent clients POSTing ~1 KiB ConfigMaps to svcplane. Every acknowledged create
//! is durable (the store fsyncs before the response), so this is the API's durable write rate.

use std::sync::Arc;

use anyhow::{Result, bail};
use hyper::{Method, StatusCode};

use crate::Output;
use crate::client::{ApiArgs, Endpoint, Proto, Sender, configmap, ensure_namespace, run_id};
use crate::load::{self, LoadArgs, Worker};
use crate::results::record;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    api: ApiArgs,
    #[command(flatten)]
    load: LoadArgs,
    /// h2: the clients multiplex over `--connections` HTTP/2 connections (as client-go does);
    /// h1: each client has its own HTTP/1.1 connection.
    #[arg(long, value_enum, default_value = "h2")]
    proto: Proto,
    /// HTTP/2 connections shared by the clients.
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Namespace to create in (created if missing).
    #[arg(long, default_value = "bench")]
    namespace: String,
    #[command(flatten)]
    out: Output,
}

struct CreateWorker {
    endpoint: Arc<Endpoint>,
    sender: Sender,
    path: Arc<str>,
    /// Unique per client and run: `{prefix}-{seq}` is the object name.
    prefix: String,
    payload: Arc<str>,
}

impl Worker for CreateWorker {
    async fn call(&mut self, seq: u64) -> Result<()> {
        let body = configmap(&format!("{}-{seq}", self.prefix), &self.payload);
        let request = self.endpoint.request(Method::POST, &self.path, body)?;
        self.sender.call(request, &[StatusCode::CREATED]).await?;
        Ok(())
    }
}

pub async fn run(args: Args) -> Result<()> {
    if args.load.clients == 0 || args.connections == 0 {
        bail!("--clients and --connections must be at least 1");
    }
    let endpoint = Endpoint::new(&args.api)?;
    let mut senders = Vec::new();
    // Connections are opened before the clock starts: the handshakes are not what is measured.
    let connections = match args.proto {
        Proto::H1 => args.load.clients,
        Proto::H2 => args.connections.min(args.load.clients),
    };
    for _ in 0..connections {
        senders.push(endpoint.connect(args.proto).await?);
    }
    ensure_namespace(&endpoint, &mut senders[0], &args.namespace).await?;

    let path: Arc<str> = format!("/api/v1/namespaces/{}/configmaps", args.namespace).into();
    let payload: Arc<str> = "x".repeat(args.load.payload).into();
    let run = run_id();
    let workers = (0..args.load.clients)
        .map(|i| {
            let sender = match args.proto {
                Proto::H1 => senders.pop().expect("one connection per client"),
                Proto::H2 => senders[i % connections].share().expect("HTTP/2 shares"),
            };
            CreateWorker {
                endpoint: endpoint.clone(),
                sender,
                path: path.clone(),
                prefix: format!("c{run}-{i}"),
                payload: payload.clone(),
            }
        })
        .collect();
    let outcome = load::run(workers, &args.load).await?;

    let transport = format!(
        "{}, {}",
        if endpoint.is_tls() {
            "HTTPS"
        } else {
            "plain HTTP"
        },
        match args.proto {
            Proto::H1 => format!("HTTP/1.1, {connections} connections"),
            Proto::H2 if connections == 1 => "HTTP/2, 1 connection".to_string(),
            Proto::H2 => format!("HTTP/2, {connections} connections"),
        }
    );
    println!(
        "{}",
        outcome.summary(&format!("svcplane creates ({transport})"))
    );
    let clients = args.load.clients;
    record(
        &args.out,
        outcome.into_record(&args.out.label, "svcplane", transport, clients),
    )
}
