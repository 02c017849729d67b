//! The crate's errors.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The timing would let two candidates lead at once (client-go's `NewLeaderElector` checks).
    #[error("invalid leader election config: {0}")]
    InvalidConfig(String),
    #[error("lease {namespace}/{name}: {source}")]
    Api {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("lease request took longer than {0:?}")]
    Timeout(Duration),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
