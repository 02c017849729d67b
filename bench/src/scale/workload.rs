//! The cluster the scale benchmark builds, derived deterministically from its size so every run
//! (and the expected totals the benchmark waits for) agree.
//!
//! Shape (issue 6, shared/design/perf-anchors.md): N Services in max(N/100, 1) namespaces; about
//! 70% ClusterIP with a named port `http` → container port `http` (8080), 28% headless
//! (port 8080) with 3–20 pods each, every third headless Service backed by a StatefulSet (pods
//! with hostnames), the rest by Deployments; one Service in 50 is an ExternalName with no pods.
//! The M pods are spread so the headless Services get their 3–20 and the ClusterIP Services share
//! the rest as evenly as whole numbers allow.

use serde_json::{Value, json};

/// The container port every pod declares, named `http`.
pub const TARGET_PORT: u16 = 8080;
/// The Service port of ClusterIP Services.
pub const SERVICE_PORT: u16 = 80;
/// Namespaces are `scale-0`, `scale-1`…
pub const NAMESPACE_PREFIX: &str = "scale-";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    ClusterIp,
    Headless,
    ExternalName,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    Deployment,
    StatefulSet,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    pub namespace: String,
    pub name: String,
    pub kind: ServiceKind,
    /// What runs the pods behind it, and how many (None for ExternalName).
    pub backend: Option<(Workload, u32)>,
}

#[derive(Debug, Clone)]
pub struct Cluster {
    pub namespaces: Vec<String>,
    pub services: Vec<ServiceSpec>,
}

/// SplitMix64: a tiny deterministic generator, enough to vary sizes without a dependency.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

impl Cluster {
    pub fn generate(services: usize, pods: usize) -> Cluster {
        let namespace_count = (services / 100).max(1);
        let namespaces: Vec<String> = (0..namespace_count)
            .map(|i| format!("{NAMESPACE_PREFIX}{i}"))
            .collect();
        let mut rng = SplitMix(0x5ca1e);
        let kinds: Vec<ServiceKind> = (0..services)
            .map(|i| match i % 50 {
                49 => ServiceKind::ExternalName,
                r if r % 10 >= 7 => ServiceKind::Headless,
                _ => ServiceKind::ClusterIp,
            })
            .collect();
        // Headless Services take 3–20 pods each (fewer if the total is too small); ClusterIP
        // Services share what is left, the remainder going one each to the first ones.
        let mut sizes = vec![0u32; services];
        let mut left = pods as u64;
        for (i, kind) in kinds.iter().enumerate() {
            if *kind == ServiceKind::Headless {
                let want = 3 + rng.below(18);
                sizes[i] = want.min(left) as u32;
                left -= u64::from(sizes[i]);
            }
        }
        let cluster_ips: Vec<usize> = (0..services)
            .filter(|&i| kinds[i] == ServiceKind::ClusterIp)
            .collect();
        if !cluster_ips.is_empty() {
            let each = left / cluster_ips.len() as u64;
            let extra = (left % cluster_ips.len() as u64) as usize;
            for (n, &i) in cluster_ips.iter().enumerate() {
                sizes[i] = (each + u64::from(n < extra)) as u32;
            }
        }
        let mut headless_seen = 0usize;
        let services = kinds
            .iter()
            .enumerate()
            .map(|(i, &kind)| {
                let backend = match kind {
                    ServiceKind::ExternalName => None,
                    ServiceKind::ClusterIp => Some((Workload::Deployment, sizes[i])),
                    ServiceKind::Headless => {
                        headless_seen += 1;
                        let workload = if headless_seen.is_multiple_of(3) {
                            Workload::StatefulSet
                        } else {
                            Workload::Deployment
                        };
                        Some((workload, sizes[i]))
                    }
                };
                ServiceSpec {
                    namespace: namespaces[i % namespace_count].clone(),
                    name: format!("svc-{i}"),
                    kind,
                    backend,
                }
            })
            .collect();
        Cluster {
            namespaces,
            services,
        }
    }

    /// Pods the cluster runs once built.
    pub fn pods(&self) -> u64 {
        self.services
            .iter()
            .filter_map(|s| s.backend)
            .map(|(_, n)| u64::from(n))
            .sum()
    }

    pub fn count(&self, kind: ServiceKind) -> usize {
        self.services.iter().filter(|s| s.kind == kind).count()
    }

    pub fn workloads(&self, workload: Workload) -> usize {
        self.services
            .iter()
            .filter(|s| matches!(s.backend, Some((w, _)) if w == workload))
            .count()
    }
}

impl ServiceSpec {
    fn labels(&self) -> Value {
        json!({"app": self.name})
    }

    pub fn service_json(&self) -> Value {
        let metadata = json!({"name": self.name, "namespace": self.namespace});
        let spec = match self.kind {
            ServiceKind::ClusterIp => json!({
                "selector": self.labels(),
                "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": "http"}],
            }),
            ServiceKind::Headless => json!({
                "clusterIP": "None",
                "selector": self.labels(),
                "ports": [{"name": "http", "port": TARGET_PORT, "targetPort": TARGET_PORT}],
            }),
            ServiceKind::ExternalName => json!({
                "type": "ExternalName",
                "externalName": format!("{}.example.com", self.name),
            }),
        };
        json!({"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec})
    }

    /// The Deployment or StatefulSet behind the Service, with its API collection path.
    pub fn workload_json(&self) -> Option<(String, Value)> {
        let (workload, replicas) = self.backend?;
        let template = json!({
            "metadata": {"labels": self.labels()},
            "spec": {"containers": [{
                "name": "app",
                "image": "nginx:1.27",
                "ports": [{"name": "http", "containerPort": TARGET_PORT}],
            }]},
        });
        let (kind, plural, extra) = match workload {
            Workload::Deployment => ("Deployment", "deployments", json!({})),
            Workload::StatefulSet => (
                "StatefulSet",
                "statefulsets",
                json!({"serviceName": self.name, "podManagementPolicy": "Parallel"}),
            ),
        };
        let mut spec = json!({
            "replicas": replicas,
            "selector": {"matchLabels": self.labels()},
            "template": template,
        });
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        let body = json!({
            "apiVersion": "apps/v1",
            "kind": kind,
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": spec,
        });
        let path = format!("/apis/apps/v1/namespaces/{}/{plural}", self.namespace);
        Some((path, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shape_matches_the_description() {
        let cluster = Cluster::generate(10_000, 100_000);
        assert_eq!(cluster.namespaces.len(), 100);
        assert_eq!(cluster.services.len(), 10_000);
        assert_eq!(cluster.pods(), 100_000);
        assert_eq!(cluster.count(ServiceKind::ExternalName), 200);
        let headless = cluster.count(ServiceKind::Headless);
        assert!((2_700..=3_000).contains(&headless), "{headless}");
        for s in &cluster.services {
            if let (ServiceKind::Headless, Some((_, n))) = (s.kind, s.backend) {
                assert!((3..=20).contains(&n), "{} has {n} pods", s.name);
            }
        }
        let sets = cluster.workloads(Workload::StatefulSet);
        assert_eq!(sets, headless / 3);
    }

    #[test]
    fn small_sizes_keep_the_pod_total() {
        for (services, pods) in [(1, 7), (10, 0), (100, 1_000), (37, 5)] {
            let cluster = Cluster::generate(services, pods);
            assert_eq!(cluster.pods(), pods as u64, "{services} services");
        }
    }

    #[test]
    fn the_same_size_gives_the_same_cluster() {
        let a = Cluster::generate(500, 5_000);
        let b = Cluster::generate(500, 5_000);
        assert_eq!(a.services, b.services);
    }

    #[test]
    fn manifests_name_their_parts() {
        let cluster = Cluster::generate(100, 1_000);
        let set = cluster
            .services
            .iter()
            .find(|s| matches!(s.backend, Some((Workload::StatefulSet, _))))
            .unwrap();
        let (path, body) = set.workload_json().unwrap();
        assert_eq!(
            path,
            format!("/apis/apps/v1/namespaces/{}/statefulsets", set.namespace)
        );
        assert_eq!(body["spec"]["serviceName"], set.name.as_str());
        assert_eq!(
            body["spec"]["template"]["metadata"]["labels"]["app"],
            set.name.as_str()
        );
        let svc = set.service_json();
        assert_eq!(svc["spec"]["clusterIP"], "None");
        let external = cluster
            .services
            .iter()
            .find(|s| s.kind == ServiceKind::ExternalName)
            .unwrap();
        assert!(external.workload_json().is_none());
    }
}
