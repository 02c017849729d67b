//! The agent's errors. Reconcile failures are retried with a short backoff; only `run`'s
//! startup errors (a bad config, an unreachable API) end the agent.

use std::net::Ipv4Addr;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid CIDR {0:?}: {1}")]
    InvalidCidr(String, &'static str),
    #[error("invalid duration {0:?}: use a number with a unit (ms, s, m, h), e.g. 500ms or 1s")]
    InvalidDuration(String),
    #[error("the cluster CIDR {cluster} has no room for {wanted} node CIDRs of /{prefix}")]
    CidrExhausted {
        cluster: String,
        prefix: u8,
        wanted: usize,
    },
    #[error("node {node}: no free pod IP left in {cidr}")]
    NoFreeIp { node: String, cidr: String },
    #[error("node {0} has no usable podCIDR")]
    NoPodCidr(String),
    #[error("address {0} is outside {1}")]
    OutsideCidr(Ipv4Addr, String),
    #[error("the API request failed: {0}")]
    Kube(#[from] kube::Error),
    #[error("the object cache closed")]
    CacheClosed,
    #[error("encoding an object: {0}")]
    Json(#[from] serde_json::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
