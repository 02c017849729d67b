//! Cluster DNS for svcplane: serves the Kubernetes DNS schema 1.1.0 (plus the CoreDNS
//! `kubernetes` plugin extensions chosen in dns-spec.md) for Services, EndpointSlices,
//! Namespaces and Pods.
//!
//! It owns query-name parsing ([`name`]), the zone view built from cluster objects ([`zone`]),
//! pure answer building ([`answer`], [`record`]), wire handling with hickory-proto ([`wire`])
//! and UDP/TCP serving of a published snapshot ([`server`]). Still to come: the kube-rs
//! watchers that feed the view, the pre-encoded answer cache and upstream forwarding.
//! It only reads the API: DNS never writes any object.

pub mod answer;
pub mod config;
pub mod error;
pub mod name;
pub mod record;
pub mod server;
pub mod wire;
pub mod zone;

#[cfg(test)]
mod fixtures;

pub use answer::answer;
pub use config::{Config, Fallthrough, PodsMode};
pub use error::{Error, Result};
pub use hickory_proto::rr::{DNSClass, RecordType};
pub use record::{Answer, Next, RData, Rcode, Rr};
pub use server::Server;
pub use wire::{Transport, respond};
pub use zone::ZoneView;
