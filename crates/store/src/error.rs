//! The errors of every store operation. Variants are the cases callers branch on; the API server
//! maps them to HTTP statuses (404, 409, 410 Gone reason Expired, 503/504, 500).

/// A store result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The key does not exist (update, delete).
    #[error("key {key:?} not found")]
    NotFound { key: String },

    /// The key already exists (create).
    #[error("key {key:?} already exists")]
    AlreadyExists { key: String },

    /// A mod-revision precondition failed: the key was changed since the caller read it.
    #[error(
        "precondition failed for key {key:?}: expected mod revision {expected}, found {actual}"
    )]
    Conflict {
        key: String,
        expected: i64,
        actual: i64,
    },

    /// The requested revision is older than the retained history (watch start, or a watcher that
    /// fell behind). `oldest` is the oldest revision a watch may start after.
    #[error("revision {requested} is compacted; the oldest revision to watch after is {oldest}")]
    Expired { requested: i64, oldest: i64 },

    /// The backend cannot serve the request right now (IO error, shut down, unreachable).
    #[error("store unavailable: {0}")]
    Unavailable(String),

    /// Stored data cannot be decoded or violates the store's invariants.
    #[error("store data corrupt: {0}")]
    Corrupt(String),
}
