//! Cluster DNS for svcplane: serves the Kubernetes DNS schema 1.1.0 (plus the CoreDNS
//! `kubernetes` plugin extensions chosen in dns-spec.md) for Services, EndpointSlices,
//! Namespaces and Pods.
//!
//! It owns query-name parsing ([`name`]), the zone view built from cluster objects ([`zone`]),
//! pure answer building ([`answer`], [`record`]), wire handling with hickory-proto ([`wire`]),
//! UDP/TCP serving of a published snapshot ([`server`]), the kube-rs watchers that feed the
//! view ([`source`]), forwarding to upstream resolvers with a TTL cache ([`forward`],
//! [`cache`]), CoreDNS-named Prometheus metrics ([`metrics`]) and the wiring of it all
//! ([`run`]). The hot path parses common queries by hand ([`packet`]) and replays replies
//! pre-encoded per snapshot ([`precomputed`]).
//! It only reads the API: DNS never writes any object.

pub mod answer;
pub mod cache;
pub mod config;
pub mod cow;
pub mod error;
pub mod forward;
pub mod metrics;
pub mod name;
pub mod packet;
pub mod precomputed;
pub mod record;
pub mod reverse;
pub mod run;
pub mod server;
pub mod source;
pub mod testing;
pub mod wire;
pub mod zone;

#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fixtures;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;

pub use answer::answer;
pub use config::{Config, Fallthrough, PodsMode, Upstream};
pub use error::{Error, Result};
pub use hickory_proto::rr::{DNSClass, RecordType};
pub use record::{Answer, Next, RData, Rcode, Rr};
pub use run::{Running, start};
pub use server::{Handler, Server};
pub use wire::{Transport, respond, respond_uncached};
pub use zone::ZoneView;
