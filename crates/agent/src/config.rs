//! The agent's settings, their defaults, and the annotations it understands.

use std::time::Duration;

use crate::cidr::Ipv4Cidr;
use crate::error::Error;

/// Marks objects the agent simulates (set on its Nodes; kwok uses `kwok.x-k8s.io/node: fake`).
pub const SIMULATED_ANNOTATION: &str = "svcplane.dev/simulated";
/// On a Pod: `"false"` keeps its containers (and so the pod) not ready; removing it or any
/// other value lets them be ready again. Tests use it to flip endpoints between ready and not.
pub const POD_READY_ANNOTATION: &str = "svcplane.dev/ready";
/// On a simulated Node: `"false"` makes the agent report the node's Ready condition False, so
/// its pods turn not ready and nothing new is scheduled there. (Patching the Ready condition in
/// `status` directly is overwritten by the next report, as a real kubelet would do.)
pub const NODE_READY_ANNOTATION: &str = "svcplane.dev/node-ready";
/// The scheduler name pods without `spec.schedulerName` get; other names are left alone.
pub const SCHEDULER_NAME: &str = "default-scheduler";

/// How the agent simulates nodes. `Default` gives the documented defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// How many Nodes to register (`node-1`…`node-N`). 0 turns the agent off entirely: no
    /// nodes, no scheduling, pods stay Pending. Default 1.
    pub nodes: u32,
    /// Node names are this prefix and a 1-based index. Default `node-`.
    pub node_name_prefix: String,
    /// Range the nodes' pod CIDRs are carved from. Default `10.244.0.0/16`.
    pub cluster_cidr: Ipv4Cidr,
    /// Length of each node's pod CIDR. Default 24 (node-i gets `10.244.i.0/24`).
    pub node_cidr_prefix: u8,
    /// Time from a pod getting its IP (phase Pending, containers creating) to Running. Default
    /// 200ms, so watchers see the Pending step; 0 goes to Running in one write.
    pub pod_start_delay: Duration,
    /// Upper bound on how long a deleted pod stays Terminating before the agent removes it: it
    /// waits min(deletionGracePeriodSeconds, this). Default 500ms.
    pub pod_stop_delay: Duration,
    /// Lease renewal period (kubelet: 10s).
    pub lease_interval: Duration,
    /// `leaseDurationSeconds` written on node Leases (kubelet: 40).
    pub lease_duration_seconds: i32,
    /// How often an unchanged node status is re-reported, refreshing `lastHeartbeatTime`
    /// (kubelet: 5m when nothing changed; shorter here so heartbeats are visibly alive).
    pub node_status_interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            nodes: 1,
            node_name_prefix: "node-".into(),
            cluster_cidr: "10.244.0.0/16".parse().expect("valid default CIDR"),
            node_cidr_prefix: 24,
            pod_start_delay: Duration::from_millis(200),
            pod_stop_delay: Duration::from_millis(500),
            lease_interval: Duration::from_secs(10),
            lease_duration_seconds: 40,
            node_status_interval: Duration::from_secs(60),
        }
    }
}

impl Config {
    /// The name of the `index`-th node (1-based).
    pub fn node_name(&self, index: u32) -> String {
        format!("{}{index}", self.node_name_prefix)
    }

    /// The 1-based index of one of our node names.
    pub fn node_index(&self, name: &str) -> Option<u32> {
        let index: u32 = name.strip_prefix(&self.node_name_prefix)?.parse().ok()?;
        (1..=self.nodes).contains(&index).then_some(index)
    }

    pub fn node_names(&self) -> Vec<String> {
        (1..=self.nodes).map(|i| self.node_name(i)).collect()
    }
}

/// A duration as flags take it: `0`, `500ms`, `1s`, `1.5s`, `2m`, `1h`.
pub fn parse_duration(text: &str) -> Result<Duration, Error> {
    let invalid = || Error::InvalidDuration(text.to_string());
    let t = text.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(invalid)?;
    let (number, unit) = t.split_at(split);
    let number: f64 = number.parse().map_err(|_| invalid())?;
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(invalid()),
    };
    Duration::try_from_secs_f64(number * scale).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for (text, want) in [
            ("0", Some(0)),
            ("0s", Some(0)),
            ("500ms", Some(500)),
            ("1s", Some(1000)),
            ("1.5s", Some(1500)),
            ("2m", Some(120_000)),
            ("1h", Some(3_600_000)),
            ("5", None),
            ("s", None),
            ("-1s", None),
            ("1d", None),
        ] {
            assert_eq!(
                parse_duration(text).ok().map(|d| d.as_millis()),
                want,
                "{text}"
            );
        }
    }

    #[test]
    fn node_names_and_indexes() {
        let config = Config {
            nodes: 3,
            ..Config::default()
        };
        assert_eq!(config.node_names(), ["node-1", "node-2", "node-3"]);
        assert_eq!(config.node_index("node-2"), Some(2));
        assert_eq!(config.node_index("node-4"), None);
        assert_eq!(config.node_index("worker-1"), None);
    }
}
