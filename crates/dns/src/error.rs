//! Typed errors of the `dns` crate.

use std::net::{IpAddr, SocketAddr};

/// Everything that can go wrong in the DNS crate that a caller may want to tell apart.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `Config` value is out of range or malformed.
    #[error("invalid DNS config: {0}")]
    Config(String),
    /// A name could not be turned into a wire-format domain name (too long, bad label).
    #[error("invalid domain name {name:?}: {reason}")]
    Name { name: String, reason: String },
    /// An IP address of an unexpected family or value reached a place that cannot hold it.
    #[error("unexpected address {0}")]
    Address(IpAddr),
    /// A response could not be encoded (hickory-proto refused it).
    #[error("encoding a response failed: {0}")]
    Encode(String),
    /// A listening socket could not be bound (address in use, no permission, ...).
    #[error("binding {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// No upstream server gave a usable answer (timeouts, refused, garbage).
    #[error("upstream {addr}: {reason}")]
    Upstream { addr: SocketAddr, reason: String },
    /// `/etc/resolv.conf` (or the given file) could not be read.
    #[error("reading {path}: {source}")]
    ResolvConf {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A watch stream of the API ended for good (it only ends when the client is dropped).
    #[error("the {0} watch ended")]
    WatchEnded(&'static str),
    /// Socket-level failure while serving.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
