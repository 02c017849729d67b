//! The `default/kubernetes` Endpoints list the live API server replicas, like kube-apiserver's
//! lease endpoint reconciler (`--endpoint-reconciler-type=lease`).
//!
//! Every replica keeps a lease record at `/registry/masterleases/<ip>:<port>` (the key layout
//! kube-apiserver uses for its `/masterleases/<ip>` keys), renews it every third of its lease
//! duration, deletes it on a clean shutdown, and after each renewal sets the Endpoints to the
//! replicas whose records are live. Replicas on one host differ by port, so the Endpoints carry
//! one subset per port.
//!
//! Why raw store keys and not a coordination.k8s.io Lease per replica: the records are the
//! server's bookkeeping, like the ClusterIP allocations next to them, not objects a user should
//! list, edit or delete by accident; and a renewal then costs one store write, with no
//! admission and no watch event to every Lease watcher (the controllers' election watches
//! Leases). kube-apiserver hides its records from the API the same way.
//!
//! The store has no TTL (etcd's leases would tie records to one backend), so expiry is judged
//! the way client-go's leader election judges a Lease, by the observer's own clock: a record is
//! live while its mod revision changed less than its holder's lease duration ago, as this
//! replica saw it. Clocks of different replicas never meet, so skew cannot expire a live
//! replica. A replica that has just started counts every record it finds as freshly renewed,
//! which errs towards listing a dead replica for one more lease duration, never towards
//! dropping a live one. An expired record is deleted by whichever replica notices first, with
//! the mod revision it saw as precondition, so a renewal in between wins.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::error::{ApiError, Result};
use crate::registry::{Registry, WriteOptions};

/// The store prefix of the replicas' lease records.
pub const LEASE_PREFIX: &str = store::snapshot::PROCESS_RECORDS_PREFIX;

/// kube-apiserver's lease TTL for its endpoint records.
pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(15);

/// The field manager of the Endpoints writes.
const FIELD_MANAGER: &str = "svcplane-endpoint-reconciler";

/// Immediate retries of a round whose Endpoints write lost to another replica's.
const MAX_CONFLICTS: usize = 5;

/// How long a clean shutdown may spend removing this replica (etcd may be unreachable).
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// How this replica takes part in the `default/kubernetes` Endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointLeases {
    /// The address other clients reach this replica at (kube-apiserver's
    /// `--advertise-address`); the port is the one the server listens on.
    pub advertise_address: IpAddr,
    /// How long this replica's record counts as live after each renewal.
    pub lease_duration: Duration,
}

impl EndpointLeases {
    /// Checks what the Endpoints validation would reject, before the server starts.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let ip = self.advertise_address;
        if ip.is_unspecified() || ip.is_loopback() || ip.is_multicast() {
            return Err(format!(
                "advertise address {ip} cannot be an endpoint: it must not be unspecified, \
                 loopback or multicast"
            ));
        }
        if self.lease_duration < Duration::from_millis(10) {
            return Err(format!(
                "endpoint lease duration {:?} is too short",
                self.lease_duration
            ));
        }
        Ok(())
    }
}

/// The address kube-apiserver advertises when none is given: the listen address if clients
/// elsewhere can reach it, else the address of the interface the default route leaves by (found
/// by asking the kernel for a route; `connect` on UDP sends nothing). `None` when there is no
/// such interface (no network), or the route's source is itself unusable.
pub fn default_advertise_address(listen: IpAddr) -> Option<IpAddr> {
    if !listen.is_unspecified() && !listen.is_loopback() {
        return Some(listen);
    }
    // Documentation addresses (RFC 5737, RFC 3849): never routed specifically, so the lookup
    // resolves the default route, and nothing is ever sent to them.
    let (local, remote): (SocketAddr, SocketAddr) = match listen {
        IpAddr::V4(_) => (
            (Ipv4Addr::UNSPECIFIED, 0).into(),
            (Ipv4Addr::new(192, 0, 2, 1), 9).into(),
        ),
        IpAddr::V6(_) => (
            (Ipv6Addr::UNSPECIFIED, 0).into(),
            (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 9).into(),
        ),
    };
    let socket = UdpSocket::bind(local).ok()?;
    socket.connect(remote).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified() && !ip.is_loopback()).then_some(ip)
}

/// The stored record of one replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeaseRecord {
    address: IpAddr,
    port: u16,
    /// The holder's lease duration: observers expire the record by it, so replicas with
    /// different settings agree on each other's expiry.
    lease_duration_millis: u64,
    /// The holder's wall clock at renewal, for people reading the store; expiry never uses it.
    renew_time: String,
}

impl LeaseRecord {
    fn endpoint(&self) -> SocketAddr {
        SocketAddr::new(self.address, self.port)
    }
}

fn record_key(endpoint: SocketAddr) -> String {
    format!("{LEASE_PREFIX}{endpoint}")
}

/// When this replica last saw each record change, by key.
#[derive(Debug, Default)]
struct Observations {
    seen: HashMap<String, (i64, Instant)>,
}

/// One record as listed: key, mod revision and content.
struct Listed {
    key: String,
    mod_revision: i64,
    record: LeaseRecord,
}

impl Observations {
    /// Splits `listed` into the live endpoints and the expired `(key, mod revision)`s at `now`,
    /// and forgets records that are gone.
    fn judge(&mut self, listed: &[Listed], now: Instant) -> (Vec<SocketAddr>, Vec<(String, i64)>) {
        self.seen
            .retain(|key, _| listed.iter().any(|l| &l.key == key));
        let (mut live, mut expired) = (Vec::new(), Vec::new());
        for l in listed {
            let seen = self
                .seen
                .entry(l.key.clone())
                .or_insert((l.mod_revision, now));
            if seen.0 != l.mod_revision {
                *seen = (l.mod_revision, now);
            }
            let duration = Duration::from_millis(l.record.lease_duration_millis);
            if now.saturating_duration_since(seen.1) < duration {
                live.push(l.record.endpoint());
            } else {
                expired.push((l.key.clone(), l.mod_revision));
            }
        }
        (live, expired)
    }
}

fn endpoints_type() -> &'static api::resources::ResourceType {
    api::resources::by_kind("v1", "Endpoints").expect("Endpoints are served")
}

/// The Endpoints subsets for `endpoints`: one subset per port, addresses sorted, as the
/// Endpoints API repacks them (kube-apiserver's replicas share one port, so it writes one).
fn subsets(endpoints: &[SocketAddr]) -> Value {
    let mut by_port: BTreeMap<u16, Vec<IpAddr>> = BTreeMap::new();
    for e in endpoints {
        by_port.entry(e.port()).or_default().push(e.ip());
    }
    let subsets: Vec<Value> = by_port
        .into_iter()
        .map(|(port, mut ips)| {
            ips.sort();
            ips.dedup();
            let addresses: Vec<Value> =
                ips.iter().map(|ip| json!({"ip": ip.to_string()})).collect();
            json!({
                "addresses": addresses,
                "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
            })
        })
        .collect();
    Value::Array(subsets)
}

/// One replica's reconciler.
struct Reconciler {
    registry: Arc<Registry>,
    me: SocketAddr,
    lease_duration: Duration,
    observations: Observations,
    /// The mod revision of this replica's record as last written.
    my_revision: Option<i64>,
}

/// Keeps this replica's record and the Endpoints until `shutdown`, then removes the replica.
pub async fn run(
    registry: Arc<Registry>,
    config: EndpointLeases,
    port: u16,
    shutdown: CancellationToken,
) {
    let mut reconciler = Reconciler {
        registry,
        me: SocketAddr::new(config.advertise_address, port),
        lease_duration: config.lease_duration,
        observations: Observations::default(),
        my_revision: None,
    };
    let interval = config.lease_duration / 3;
    loop {
        if let Err(e) = reconciler.renew_and_reconcile().await {
            tracing::warn!(error = %e, "updating the kubernetes Endpoints failed; will retry");
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(interval) => {}
        }
    }
    match tokio::time::timeout(SHUTDOWN_TIMEOUT, reconciler.remove_self()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "removing this replica from the kubernetes Endpoints failed")
        }
        Err(_) => tracing::warn!(
            "removing this replica from the kubernetes Endpoints timed out; it expires after {:?}",
            config.lease_duration
        ),
    }
}

impl Reconciler {
    async fn renew_and_reconcile(&mut self) -> Result<()> {
        self.renew().await?;
        self.reconcile(false).await
    }

    /// Writes this replica's record (a new renew time, hence a new mod revision).
    async fn renew(&mut self) -> Result<()> {
        let record = LeaseRecord {
            address: self.me.ip(),
            port: self.me.port(),
            lease_duration_millis: u64::try_from(self.lease_duration.as_millis())
                .unwrap_or(u64::MAX),
            renew_time: jiff::Timestamp::now().to_string(),
        };
        let value = bytes::Bytes::from(serde_json::to_vec(&record).expect("records serialize"));
        let key = record_key(self.me);
        let store = &self.registry.store;
        // Nobody else writes this key but a previous process on the same address, whose record
        // this one takes over; another replica may delete it (expired while we were stalled).
        let written = match store.update(&key, value.clone(), None).await {
            Err(store::Error::NotFound { .. }) => match store.create(&key, value.clone()).await {
                Err(store::Error::AlreadyExists { .. }) => store.update(&key, value, None).await,
                other => other,
            },
            other => other,
        }?;
        self.my_revision = Some(written.mod_revision);
        Ok(())
    }

    /// Sets the Endpoints to the live records (without this replica's when `leaving`), and
    /// deletes the expired ones.
    ///
    /// The Endpoints are read before the records and written with that read's resourceVersion:
    /// a replica that removed itself after our read makes our write conflict, and one that
    /// removed itself before it had deleted its record before our list. So a stale list never
    /// puts a departed replica back. A conflict is retried at once: a departing replica must
    /// not leave while a concurrent write still lists it.
    async fn reconcile(&mut self, leaving: bool) -> Result<()> {
        for _ in 0..MAX_CONFLICTS {
            let current = self.read_endpoints().await?;
            let listed = self.list().await?;
            let (mut live, expired) = self.observations.judge(&listed, Instant::now());
            if !leaving && !live.contains(&self.me) {
                // Our own record is live by definition while we run, whatever a stall made it
                // look like.
                live.push(self.me);
            }
            self.delete_expired(expired).await?;
            if self.write_endpoints(current, &live).await? {
                return Ok(());
            }
        }
        Err(ApiError::Unavailable(
            "the kubernetes Endpoints kept changing under concurrent writes".into(),
        ))
    }

    async fn delete_expired(&self, expired: Vec<(String, i64)>) -> Result<()> {
        for (key, revision) in expired {
            if key == record_key(self.me) {
                continue;
            }
            match self.registry.store.delete(&key, Some(revision)).await {
                Ok(_) => tracing::info!(%key, "removed an expired API server lease"),
                // Renewed, or removed by another replica, in the meantime.
                Err(store::Error::NotFound { .. } | store::Error::Conflict { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    async fn list(&self) -> Result<Vec<Listed>> {
        let page = self
            .registry
            .store
            .list(LEASE_PREFIX, store::ListOptions::default())
            .await?;
        let mut listed = Vec::with_capacity(page.items.len());
        for kv in page.items {
            match serde_json::from_slice::<LeaseRecord>(&kv.value) {
                Ok(record) => listed.push(Listed {
                    key: kv.key,
                    mod_revision: kv.mod_revision,
                    record,
                }),
                // Not ours to interpret; it never becomes an endpoint.
                Err(e) => {
                    tracing::warn!(key = %kv.key, error = %e, "ignoring a malformed API server lease")
                }
            }
        }
        Ok(listed)
    }

    async fn read_endpoints(&self) -> Result<Option<Value>> {
        match self
            .registry
            .get(endpoints_type(), Some("default"), "kubernetes")
            .await
        {
            Ok(current) => Ok(Some(current)),
            Err(ApiError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes the Endpoints `current` (as read, or missing) if their subsets differ from
    /// `live`, keeping the rest of the object (labels a user added). False when another replica
    /// wrote them since `current` was read.
    async fn write_endpoints(&self, current: Option<Value>, live: &[SocketAddr]) -> Result<bool> {
        let rt = endpoints_type();
        let desired = subsets(live);
        let opts = WriteOptions {
            field_manager: FIELD_MANAGER.into(),
            dry_run: false,
        };
        let Some(mut obj) = current else {
            let obj = json!({
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {"name": "kubernetes", "namespace": "default"},
                "subsets": desired,
            });
            return match self.registry.create(rt, Some("default"), obj, &opts).await {
                Ok(_) => Ok(true),
                Err(ApiError::AlreadyExists { .. }) => Ok(false),
                Err(e) => Err(e),
            };
        };
        let empty = json!([]);
        if obj.get("subsets").unwrap_or(&empty) == &desired {
            return Ok(true);
        }
        obj["subsets"] = desired;
        // The object carries the resourceVersion it was read at: the update's precondition.
        match self
            .registry
            .update(rt, Some("default"), "kubernetes", obj, None, &opts)
            .await
        {
            Ok(_) => Ok(true),
            Err(ApiError::Conflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes this replica's record and drops it from the Endpoints, so clients stop using it
    /// now rather than a lease duration later.
    async fn remove_self(&mut self) -> Result<()> {
        match self
            .registry
            .store
            .delete(&record_key(self.me), self.my_revision)
            .await
        {
            // NotFound: expired and removed by another replica. Conflict: a new process on the
            // same address took the record over; it is theirs now.
            Ok(_) | Err(store::Error::NotFound { .. }) => {}
            Err(store::Error::Conflict { .. }) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        self.reconcile(true).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(endpoint: &str, rev: i64, millis: u64) -> Listed {
        let endpoint: SocketAddr = endpoint.parse().unwrap();
        Listed {
            key: record_key(endpoint),
            mod_revision: rev,
            record: LeaseRecord {
                address: endpoint.ip(),
                port: endpoint.port(),
                lease_duration_millis: millis,
                renew_time: String::new(),
            },
        }
    }

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn records_expire_a_lease_after_their_last_observed_change() {
        let mut obs = Observations::default();
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let a = |rev| listed("192.0.2.1:6443", rev, 3_000);
        let b = |rev| listed("192.0.2.1:6444", rev, 10_000);

        // First sight counts as a renewal, whatever the record's age.
        let (live, expired) = obs.judge(&[a(1), b(2)], t0);
        assert_eq!(live, addrs(&["192.0.2.1:6443", "192.0.2.1:6444"]));
        assert!(expired.is_empty());
        // a renews, b does not: both live until b's own (longer) duration runs out.
        let (live, _) = obs.judge(&[a(5), b(2)], t0 + 2 * s);
        assert_eq!(live.len(), 2);
        let (live, _) = obs.judge(&[a(5), b(2)], t0 + 4 * s);
        assert_eq!(live.len(), 2, "a: 2s since its renewal seen at 2s");
        let (live, expired) = obs.judge(&[a(5), b(2)], t0 + 6 * s);
        assert_eq!(live, addrs(&["192.0.2.1:6444"]), "a: 4s since its renewal");
        assert_eq!(expired, vec![(a(5).key, 5)]);
        let (live, expired) = obs.judge(&[a(7), b(2)], t0 + 10 * s);
        assert_eq!(
            live,
            addrs(&["192.0.2.1:6443"]),
            "a renewed again; b is 10s old"
        );
        assert_eq!(expired, vec![(b(2).key, 2)]);
        // A record deleted and created again starts over.
        let (live, _) = obs.judge(&[a(7)], t0 + 11 * s);
        assert_eq!(live.len(), 1);
        let (live, _) = obs.judge(&[a(7), b(20)], t0 + 12 * s);
        assert_eq!(live.len(), 2);
    }

    #[test]
    fn subsets_group_replicas_by_port() {
        let got = subsets(&addrs(&[
            "192.0.2.9:6444",
            "192.0.2.1:6443",
            "192.0.2.2:6443",
            "192.0.2.1:6443",
        ]));
        assert_eq!(
            got,
            json!([
                {"addresses": [{"ip": "192.0.2.1"}, {"ip": "192.0.2.2"}],
                 "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]},
                {"addresses": [{"ip": "192.0.2.9"}],
                 "ports": [{"name": "https", "port": 6444, "protocol": "TCP"}]},
            ])
        );
        assert_eq!(subsets(&[]), json!([]));
    }

    #[test]
    fn advertise_addresses() {
        let given: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(default_advertise_address(given), Some(given));
        // From loopback: the default route's source, if this machine has one; never loopback.
        if let Some(ip) = default_advertise_address("127.0.0.1".parse().unwrap()) {
            assert!(!ip.is_loopback() && !ip.is_unspecified(), "{ip}");
        }
        let bad = |ip: &str| EndpointLeases {
            advertise_address: ip.parse().unwrap(),
            lease_duration: DEFAULT_LEASE_DURATION,
        };
        assert!(bad("127.0.0.1").validate().is_err());
        assert!(bad("::").validate().is_err());
        assert!(bad("192.0.2.7").validate().is_ok());
    }

    async fn registry() -> Arc<Registry> {
        let store: Arc<dyn store::Store> = Arc::new(store::MemoryStore::new());
        let alloc =
            crate::ipalloc::Allocator::new(store.clone(), vec!["10.96.0.0/12".parse().unwrap()]);
        let registry = Arc::new(Registry::new(store, alloc));
        crate::bootstrap::run(&registry, 6443).await.unwrap();
        registry
    }

    fn reconciler(registry: &Arc<Registry>, me: &str, lease: Duration) -> Reconciler {
        Reconciler {
            registry: registry.clone(),
            me: me.parse().unwrap(),
            lease_duration: lease,
            observations: Observations::default(),
            my_revision: None,
        }
    }

    async fn endpoints(registry: &Registry) -> Value {
        let rt = api::resources::by_kind("v1", "Endpoints").unwrap();
        registry
            .get(rt, Some("default"), "kubernetes")
            .await
            .unwrap()["subsets"]
            .clone()
    }

    #[tokio::test]
    async fn replicas_join_leave_and_expire() {
        let registry = registry().await;
        let lease = Duration::from_millis(300);
        let mut a = reconciler(&registry, "192.0.2.1:6443", lease);
        let mut b = reconciler(&registry, "192.0.2.1:6444", lease);
        a.renew_and_reconcile().await.unwrap();
        assert_eq!(
            endpoints(&registry).await,
            subsets(&addrs(&["192.0.2.1:6443"]))
        );
        b.renew_and_reconcile().await.unwrap();
        let both = subsets(&addrs(&["192.0.2.1:6443", "192.0.2.1:6444"]));
        assert_eq!(endpoints(&registry).await, both);
        // A round that changes nothing writes nothing.
        let rt = api::resources::by_kind("v1", "Endpoints").unwrap();
        let before = registry
            .get(rt, Some("default"), "kubernetes")
            .await
            .unwrap();
        a.renew_and_reconcile().await.unwrap();
        let after = registry
            .get(rt, Some("default"), "kubernetes")
            .await
            .unwrap();
        assert_eq!(
            before["metadata"]["resourceVersion"],
            after["metadata"]["resourceVersion"]
        );

        // b stops renewing: a drops it once a lease has passed since a saw it change.
        tokio::time::sleep(lease + Duration::from_millis(50)).await;
        a.renew_and_reconcile().await.unwrap();
        assert_eq!(
            endpoints(&registry).await,
            subsets(&addrs(&["192.0.2.1:6443"]))
        );
        let left = registry
            .store
            .list(LEASE_PREFIX, store::ListOptions::default())
            .await
            .unwrap();
        assert_eq!(left.items.len(), 1, "the expired record is deleted");

        // b comes back, then leaves cleanly: gone at once.
        b.renew_and_reconcile().await.unwrap();
        assert_eq!(endpoints(&registry).await, both);
        b.remove_self().await.unwrap();
        assert_eq!(
            endpoints(&registry).await,
            subsets(&addrs(&["192.0.2.1:6443"]))
        );
        a.remove_self().await.unwrap();
        assert_eq!(endpoints(&registry).await, json!([]));
    }
}
