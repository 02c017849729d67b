//! What to elect on and how fast: the defaults and checks of client-go's `LeaderElectionConfig`
//! as kube-controller-manager sets them.

use std::time::Duration;

use crate::error::{Error, Result};

/// Namespace of the Lease (kube-controller-manager's `--leader-elect-resource-namespace`).
pub const DEFAULT_NAMESPACE: &str = "kube-system";
/// Name of the Lease svcplane's controllers elect on.
pub const DEFAULT_NAME: &str = "svcplane-controllers";
/// How long a candidate waits, from the last change it saw, before taking a lease over.
pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(15);
/// How long the leader keeps trying to renew before it stops leading.
pub const DEFAULT_RENEW_DEADLINE: Duration = Duration::from_secs(10);
/// Time between attempts to acquire or renew.
pub const DEFAULT_RETRY_PERIOD: Duration = Duration::from_secs(2);
/// client-go's `JitterFactor`: a candidate waits up to this many retry periods more, so that
/// candidates started together spread out. The renew deadline must leave room for it.
pub const JITTER_FACTOR: f64 = 1.2;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub namespace: String,
    pub name: String,
    /// Unique per candidate process: two candidates with one identity would both lead.
    pub identity: String,
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            namespace: DEFAULT_NAMESPACE.into(),
            name: DEFAULT_NAME.into(),
            identity: default_identity(),
            lease_duration: DEFAULT_LEASE_DURATION,
            renew_deadline: DEFAULT_RENEW_DEADLINE,
            retry_period: DEFAULT_RETRY_PERIOD,
        }
    }
}

impl Config {
    /// `leaseDurationSeconds` as written: whole seconds, as client-go truncates.
    pub fn lease_duration_seconds(&self) -> i32 {
        i32::try_from(self.lease_duration.as_secs()).unwrap_or(i32::MAX)
    }

    /// client-go's checks: the lease outlives the renew deadline (so a leader that cannot renew
    /// stops before anyone may take over), and the deadline leaves room for jittered retries.
    pub fn validate(&self) -> Result<()> {
        let invalid = |msg: String| Err(Error::InvalidConfig(msg));
        if self.namespace.is_empty() || self.name.is_empty() {
            return invalid("the lease namespace and name must not be empty".into());
        }
        if self.identity.is_empty() {
            return invalid("the identity must not be empty".into());
        }
        if self.retry_period.is_zero() {
            return invalid("the retry period must be positive".into());
        }
        // Others time the lease by the whole seconds written in it, not by our Duration.
        let written = Duration::from_secs(u64::from(self.lease_duration_seconds().unsigned_abs()));
        if written <= self.renew_deadline {
            return invalid(format!(
                "the lease duration ({:?}, {}s in whole seconds) must be greater than the renew deadline ({:?})",
                self.lease_duration,
                self.lease_duration_seconds(),
                self.renew_deadline
            ));
        }
        if self.renew_deadline.as_secs_f64() <= JITTER_FACTOR * self.retry_period.as_secs_f64() {
            return invalid(format!(
                "the renew deadline ({:?}) must be greater than {JITTER_FACTOR} × the retry period ({:?})",
                self.renew_deadline, self.retry_period
            ));
        }
        Ok(())
    }
}

/// `<hostname>_<uuid>`, as kube-controller-manager names itself: the hostname says where the
/// leader runs, the UUID keeps two processes on one host apart.
pub fn default_identity() -> String {
    format!("{}_{}", hostname(), uuid::Uuid::new_v4())
}

/// The host name without a libc call: the kernel's, then `$HOSTNAME`, then `localhost`.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(lease: u64, renew_ms: u64, retry_ms: u64) -> Config {
        Config {
            lease_duration: Duration::from_secs(lease),
            renew_deadline: Duration::from_millis(renew_ms),
            retry_period: Duration::from_millis(retry_ms),
            ..Config::default()
        }
    }

    #[test]
    fn defaults_are_kube_controller_managers_and_valid() {
        let c = Config::default();
        assert_eq!(
            (c.namespace.as_str(), c.name.as_str()),
            ("kube-system", "svcplane-controllers")
        );
        assert_eq!(c.lease_duration_seconds(), 15);
        c.validate().unwrap();
    }

    #[test]
    fn timing_rules() {
        let cases = [
            // (lease s, renew ms, retry ms, valid)
            (15, 10_000, 2_000, true),
            (6, 4_000, 1_000, true),
            (10, 10_000, 2_000, false), // lease must exceed the deadline
            (3, 2_500, 2_000, true),
            (3, 2_500, 2_100, false), // the deadline must exceed 1.2 × retry
            (3, 2_000, 0, false),
            (0, 0, 0, false),
        ];
        for (lease, renew, retry, valid) in cases {
            let c = with(lease, renew, retry);
            assert_eq!(c.validate().is_ok(), valid, "{c:?}");
        }
        // Sub-second parts are dropped from the Lease, so 10.5s does not beat a 10s deadline.
        let c = Config {
            lease_duration: Duration::from_millis(10_500),
            ..with(0, 10_000, 2_000)
        };
        assert!(c.validate().is_err());
        let empty = Config {
            identity: String::new(),
            ..Config::default()
        };
        assert!(empty.validate().is_err());
    }

    #[test]
    fn identities_are_host_and_unique() {
        let (a, b) = (default_identity(), default_identity());
        assert_ne!(a, b);
        let (host, id) = a.rsplit_once('_').unwrap();
        assert!(!host.is_empty());
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{a}");
    }
}
