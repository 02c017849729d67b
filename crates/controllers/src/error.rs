//! Typed errors of the `controllers` crate.

/// What can go wrong in a reconcile; callers branch on `Conflict` (requeue soon) vs the rest.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server refused a write because our copy was stale (409) or the object we meant to
    /// create already exists. Level-triggered: requeue and read the latest state.
    #[error("conflict writing {0}")]
    Conflict(String),
    /// Any other API error (network, 5xx, validation).
    #[error("API request failed: {0}")]
    Kube(#[source] kube::Error),
    /// An object could not be converted between typed and JSON forms.
    #[error("encoding {what}: {source}")]
    Encode {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    /// The reflector caches did not become ready (their writer ended, e.g. on shutdown).
    #[error("the informer caches never became ready")]
    NotReady,
}

impl From<kube::Error> for Error {
    fn from(e: kube::Error) -> Self {
        match &e {
            kube::Error::Api(s) if s.code == 409 => Error::Conflict(s.message.clone()),
            _ => Error::Kube(e),
        }
    }
}

impl Error {
    /// A 404 from the API server: the object is already gone, which a reconcile treats as done.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Kube(kube::Error::Api(s)) if s.code == 404)
    }
}

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
