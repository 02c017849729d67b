//! `svcplane snapshot save|restore|status`: backups of every object as of one store revision,
//! like `etcdctl snapshot save` / `etcdutl snapshot restore`, for either store.
//!
//! Where `save` reads from: etcd with `--etcd-servers` (the server's flags); a running server
//! with `--kubeconfig` (redb locks the embedded store file, so the server streams it from its
//! own open store); else the embedded store file of `--data-dir`, which needs the server
//! stopped. `restore` writes a new embedded store into `--data-dir`, or into etcd; moving from
//! the embedded store to etcd is a save from one and a restore into the other.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use futures::AsyncReadExt;
use store::snapshot::{self, RestoreOptions, Restored, SnapshotFile, Summary};

use crate::server_cmd::EtcdFlags;

/// The file `svcplane server` keeps the embedded store in, inside its data dir.
const STORE_FILE: &str = "store.redb";
/// The data dir `svcplane server` uses by default.
const DEFAULT_DATA_DIR: &str = "./svcplane-data";
/// The API path a running server streams its snapshot from (`apiserver`'s snapshot module).
const SNAPSHOT_PATH: &str = "/svcplane/snapshot";

#[derive(clap::Args)]
pub struct SnapshotArgs {
    #[command(subcommand)]
    command: SnapshotCommand,
}

#[derive(clap::Subcommand)]
enum SnapshotCommand {
    /// Save every object, as of one store revision, to FILE.
    Save(SaveArgs),
    /// Restore FILE into a new embedded store (--data-dir) or into etcd (--etcd-servers).
    Restore(RestoreArgs),
    /// Verify FILE (structure, count, checksum) and print what it holds.
    Status(StatusArgs),
}

#[derive(clap::Args)]
struct SaveArgs {
    /// Where to write the snapshot; replaced only once the new one is complete and verified.
    file: PathBuf,
    /// Save the embedded store of this data dir; its server must be stopped (use --kubeconfig
    /// for a running one). [default: ./svcplane-data]
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Save through a running server (any store), authenticated as in this kubeconfig.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    #[command(flatten)]
    etcd: Box<EtcdFlags>,
}

#[derive(clap::Args)]
struct RestoreArgs {
    /// The snapshot to restore; it is verified before anything is written.
    file: PathBuf,
    /// Restore as the embedded store of this data dir (the server must be stopped).
    /// [default: ./svcplane-data]
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Delete what the target holds first, instead of refusing a non-empty target.
    #[arg(long)]
    replace: bool,
    /// Embedded store only: start the restored store this many revisions after the snapshot's
    /// (like etcdutl's --bump-revision with --mark-compacted), so clients still holding
    /// resourceVersions from after the backup get 410 Gone and relist.
    #[arg(long, default_value_t = 0)]
    bump_revision: u32,
    #[command(flatten)]
    etcd: Box<EtcdFlags>,
}

#[derive(clap::Args)]
struct StatusArgs {
    /// The snapshot to verify.
    file: PathBuf,
}

pub async fn run(args: SnapshotArgs) -> anyhow::Result<()> {
    match args.command {
        SnapshotCommand::Save(args) => save(args).await,
        SnapshotCommand::Restore(args) => restore(args).await,
        SnapshotCommand::Status(args) => {
            let summary = snapshot::verify(&args.file)
                .with_context(|| format!("verifying {}", args.file.display()))?;
            print_summary(&args.file, &summary);
            Ok(())
        }
    }
}

async fn save(args: SaveArgs) -> anyhow::Result<()> {
    let on_etcd = !args.etcd.etcd_servers.is_empty();
    let sources = [on_etcd, args.kubeconfig.is_some(), args.data_dir.is_some()];
    if sources.iter().filter(|&&given| given).count() > 1 {
        bail!("save from one source: --etcd-servers, --kubeconfig or --data-dir");
    }
    let file = &args.file;
    let saving = || format!("saving the snapshot {}", file.display());
    let summary = if on_etcd {
        let servers = args.etcd.etcd_servers.join(",");
        let mut config = args.etcd.config();
        // A save only reads; compaction is the servers' business.
        config.compaction_interval = None;
        let store = store::EtcdStore::connect(config)
            .await
            .with_context(|| format!("connecting to etcd at {servers}"))?;
        let export = store::Store::export(&store, "")
            .await
            .context("reading etcd")?;
        snapshot::save(export, format!("etcd {servers}"), file)
            .await
            .with_context(saving)?
    } else if let Some(kubeconfig) = &args.kubeconfig {
        save_from_server(kubeconfig, file)
            .await
            .with_context(saving)?
    } else {
        let data_dir = args.data_dir.unwrap_or_else(|| DEFAULT_DATA_DIR.into());
        let store_path = data_dir.join(STORE_FILE);
        let export = snapshot::export_embedded(&store_path).await?;
        let source = format!("embedded store {}", store_path.display());
        snapshot::save(export, source, file)
            .await
            .with_context(saving)?
    };
    println!(
        "Saved {}: {} keys at revision {} ({} bytes, sha256 {})",
        file.display(),
        summary.header.count,
        summary.header.revision,
        summary.bytes,
        summary.sha256
    );
    Ok(())
}

/// Streams the snapshot a running server serves into `file`, verified before it is kept.
async fn save_from_server(kubeconfig: &Path, file: &Path) -> anyhow::Result<Summary> {
    let client = crate::client_from_kubeconfig(kubeconfig).await?;
    let request = http::Request::get(SNAPSHOT_PATH)
        .body(Vec::new())
        .context("building the snapshot request")?;
    let mut body = client
        .request_stream(request)
        .await
        .context("asking the server for a snapshot")?;
    let mut out = SnapshotFile::create(file)?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = body
            .read(&mut buf)
            .await
            // The server cut the stream: say so rather than report a truncated file.
            .map_err(|e| snapshot::SnapshotError::Remote(e.to_string()))?;
        if n == 0 {
            break;
        }
        out.write(&buf[..n])?;
    }
    Ok(out.commit()?)
}

async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let options = RestoreOptions {
        replace: args.replace,
        bump_revision: i64::from(args.bump_revision),
    };
    let file = &args.file;
    if !args.etcd.etcd_servers.is_empty() {
        if args.data_dir.is_some() {
            bail!("restore into one target: --etcd-servers or --data-dir");
        }
        let servers = args.etcd.etcd_servers.join(",");
        let config = args.etcd.config();
        let prefix = config.prefix.clone();
        let restored = snapshot::restore_etcd(file, config, &options)
            .await
            .with_context(|| format!("restoring {} into etcd at {servers}", file.display()))?;
        report(
            file,
            &restored,
            &format!("etcd prefix {prefix} at {servers}"),
        );
        println!(
            "etcd is at revision {}: restored objects have new resourceVersions; start servers with `svcplane server --etcd-servers {servers}`",
            restored.revision
        );
        return Ok(());
    }
    let data_dir = args.data_dir.unwrap_or_else(|| DEFAULT_DATA_DIR.into());
    let store_path = data_dir.join(STORE_FILE);
    let restored = snapshot::restore_embedded(file, &store_path, &options)
        .with_context(|| format!("restoring {} into {}", file.display(), data_dir.display()))?;
    report(file, &restored, &store_path.display().to_string());
    println!(
        "The store is at revision {}; start it with `svcplane server --data-dir {}`",
        restored.revision,
        data_dir.display()
    );
    Ok(())
}

fn report(file: &Path, restored: &Restored, target: &str) {
    let replaced = match restored.replaced {
        0 => String::new(),
        n => format!(" (replacing {n} keys)"),
    };
    println!(
        "Restored {} keys from {} (revision {}, sha256 {}) into {target}{replaced}",
        restored.written,
        file.display(),
        restored.summary.header.revision,
        restored.summary.sha256
    );
}

fn print_summary(file: &Path, summary: &Summary) {
    let header = &summary.header;
    let taken = jiff::Timestamp::from_second(header.taken_at)
        .map_or_else(|_| header.taken_at.to_string(), |t| t.to_string());
    println!("file:      {}", file.display());
    println!("format:    svcplane snapshot v{}", snapshot::FORMAT_VERSION);
    println!("revision:  {}", header.revision);
    println!("keys:      {}", header.count);
    println!("bytes:     {}", summary.bytes);
    println!("sha256:    {} (verified)", summary.sha256);
    println!("taken at:  {taken}");
    println!("source:    {}", header.source);
}
