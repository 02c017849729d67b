//! Why a snapshot could not be written, read or restored, in words an operator acts on.

use std::path::PathBuf;

/// A snapshot result.
pub type Result<T, E = SnapshotError> = std::result::Result<T, E>;

/// Why a snapshot operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Reading the snapshot failed (other than by ending early).
    #[error("reading the snapshot at {at}: {source}")]
    Read {
        at: String,
        #[source]
        source: std::io::Error,
    },

    /// The file does not start with the snapshot magic.
    #[error("not a svcplane snapshot (the file does not start with {magic:?})")]
    NotASnapshot { magic: &'static str },

    #[error(
        "snapshot format version {found} is not supported (this build reads version {supported})"
    )]
    UnsupportedVersion { found: u32, supported: u32 },

    /// The file ends early: an interrupted copy or save.
    #[error("snapshot is truncated: the file ends inside {at}")]
    Truncated { at: String },

    /// The content does not match the SHA-256 recorded at the end of the file.
    #[error(
        "snapshot checksum mismatch: the file records SHA-256 {recorded}, its content has {computed}"
    )]
    ChecksumMismatch { recorded: String, computed: String },

    /// The file is well-formed but describes something impossible (or an entry is malformed).
    #[error("invalid snapshot: {0}")]
    Invalid(String),

    /// Reading the source or writing the target store failed.
    #[error(transparent)]
    Store(#[from] crate::Error),

    /// The embedded store file is held by a running `svcplane server` (redb locks it).
    #[error(
        "the store {path} is in use by a running svcplane server; stop it first, or save through the running server with --kubeconfig"
    )]
    StoreInUse { path: PathBuf },

    /// There is no embedded store to save.
    #[error("no store at {path}")]
    NoStore { path: PathBuf },

    /// Restore refuses to mix a snapshot with existing keys.
    #[error(
        "the target {target} is not empty ({keys} keys); restore into an empty one, or pass --replace to delete what is there first"
    )]
    TargetNotEmpty { target: String, keys: u64 },

    /// An earlier restore into this etcd prefix did not finish.
    #[error(
        "etcd prefix {prefix} holds an unfinished restore (marker key {marker:?}: {note}); run the restore again with --replace"
    )]
    UnfinishedRestore {
        prefix: String,
        marker: String,
        note: String,
    },

    /// A restore into etcd failed part way: some keys are written, the marker stays.
    #[error(
        "restore failed after writing {written} of {total} keys: {cause}. etcd prefix {prefix} now holds a partial restore (marker key {marker:?}; svcplane server refuses to start on it); run the restore again with --replace"
    )]
    PartialRestore {
        written: u64,
        total: u64,
        prefix: String,
        marker: String,
        cause: String,
    },

    /// Connecting to etcd failed.
    #[error("{0}")]
    Etcd(String),

    /// The snapshot stream from a running server ended with an error.
    #[error("the server failed while sending the snapshot: {0}")]
    Remote(String),
}

impl SnapshotError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SnapshotError::Io {
            what,
            path: path.into(),
            source,
        }
    }
}
