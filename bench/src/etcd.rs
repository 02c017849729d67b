//! `etcd-puts`: the anchor. Concurrent raw puts of 1 KiB values to etcd with the Rust
//! etcd-client, all clients sharing its one gRPC (HTTP/2) channel, by the same closed loop as
//! `creates`; with `--txn`, each put is the create-if-absent transaction an API server sends.

use anyhow::{Context, Result, bail};
use etcd_client::{Client, Compare, CompareOp, KvClient, Txn, TxnOp};

use crate::Output;
use crate::client::run_id;
use crate::load::{self, LoadArgs, Worker};
use crate::results::record;

#[derive(clap::Args)]
pub struct Args {
    /// Comma-separated client URLs.
    #[arg(long, default_value = "http://127.0.0.1:2379", value_delimiter = ',')]
    endpoints: Vec<String>,
    /// Write as svcplane creates: a transaction that puts only if the key does not exist.
    #[arg(long)]
    txn: bool,
    #[command(flatten)]
    load: LoadArgs,
    #[command(flatten)]
    out: Output,
}

struct PutWorker {
    kv: KvClient,
    prefix: String,
    value: Vec<u8>,
    txn: bool,
}

impl Worker for PutWorker {
    async fn call(&mut self, seq: u64) -> Result<()> {
        let key = format!("{}/{seq}", self.prefix);
        if self.txn {
            let absent = Compare::create_revision(key.as_str(), CompareOp::Equal, 0);
            let txn =
                Txn::new()
                    .when([absent])
                    .and_then([TxnOp::put(key, self.value.clone(), None)]);
            if !self.kv.txn(txn).await?.succeeded() {
                bail!("key {seq} already existed");
            }
        } else {
            self.kv.put(key, self.value.clone(), None).await?;
        }
        Ok(())
    }
}

pub async fn run(args: Args) -> Result<()> {
    if args.load.clients == 0 {
        bail!("--clients must be at least 1");
    }
    let client = Client::connect(&args.endpoints, None)
        .await
        .with_context(|| format!("connecting to etcd at {}", args.endpoints.join(",")))?;
    let run = run_id();
    let workers = (0..args.load.clients)
        .map(|i| PutWorker {
            kv: client.kv_client(),
            prefix: format!("/bench/{run}/{i}"),
            value: vec![b'x'; args.load.payload],
            txn: args.txn,
        })
        .collect();
    let outcome = load::run(workers, &args.load).await?;

    let transport = "gRPC, HTTP/2, 1 connection".to_string();
    let (what, target) = match args.txn {
        true => ("etcd create transactions", "etcd-txn"),
        false => ("etcd puts", "etcd"),
    };
    println!("{}", outcome.summary(&format!("{what} ({transport})")));
    let clients = args.load.clients;
    record(
        &args.out,
        outcome.into_record(&args.out.label, target, transport, clients),
    )
}
