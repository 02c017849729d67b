//! What the scheduler and the IP allocator need of every pod, kept up to date per watch event:
//! pods per node, the pod IPs in use, and which pods are still unbound or without an IP.
//! Recomputing these from the whole cache for every decision made building a 100k-pod cluster
//! quadratic; with the index each decision costs O(nodes) or O(log pods).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::Ipv4Addr;

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

use crate::cidr::Ipv4Cidr;
use crate::pod_cache::CachedPod;

/// One pod as the index sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Facts {
    key: ObjectRef<CachedPod>,
    /// `spec.nodeName`, empty when unbound.
    node: String,
    ip: Option<Ipv4Addr>,
    /// Succeeded or Failed: no longer takes room on its node.
    finished: bool,
}

impl Facts {
    fn of(pod: &CachedPod) -> Facts {
        Facts {
            // Name and namespace only: `from_obj` also copies the uid and resourceVersion,
            // which keys do not compare, into every one of the index's two keys per pod.
            key: ObjectRef::new(&pod.name_any()).within(&pod.namespace().unwrap_or_default()),
            node: pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .unwrap_or_default(),
            ip: pod
                .status
                .as_ref()
                .and_then(|s| s.pod_ip.as_deref())
                .and_then(|ip| ip.parse().ok()),
            finished: matches!(
                pod.status.as_ref().and_then(|s| s.phase.as_deref()),
                Some("Succeeded" | "Failed")
            ),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct PodIndex {
    /// By pod uid.
    pods: HashMap<String, Facts>,
    /// Unfinished pods bound to each node, as keys (to requeue them when the node changes).
    on_node: HashMap<String, HashSet<ObjectRef<CachedPod>>>,
    /// IPs in use, with how many pods show each (briefly more than one after a reuse).
    ips: BTreeMap<Ipv4Addr, usize>,
}

impl PodIndex {
    /// Applies one watch event (after the reflector applied it). A re-list is taken whole at
    /// `InitDone` from `all`, the store's content then.
    pub(crate) fn observe(
        &mut self,
        event: &watcher::Event<CachedPod>,
        all: impl FnOnce() -> Vec<CachedPod>,
    ) {
        match event {
            watcher::Event::Apply(pod) => self.apply(pod),
            watcher::Event::Delete(pod) => {
                if let Some(uid) = pod.uid() {
                    self.remove(&uid);
                }
            }
            watcher::Event::InitDone => {
                *self = PodIndex::default();
                for pod in all() {
                    self.apply(&pod);
                }
            }
            watcher::Event::Init | watcher::Event::InitApply(_) => {}
        }
    }

    fn apply(&mut self, pod: &CachedPod) {
        let Some(uid) = pod.uid() else { return };
        let facts = Facts::of(pod);
        if self.pods.get(&uid) == Some(&facts) {
            return;
        }
        self.remove(&uid);
        if !facts.node.is_empty() && !facts.finished {
            self.on_node
                .entry(facts.node.clone())
                .or_default()
                .insert(facts.key.clone());
        }
        if let Some(ip) = facts.ip {
            *self.ips.entry(ip).or_default() += 1;
        }
        self.pods.insert(uid, facts);
    }

    fn remove(&mut self, uid: &str) {
        let Some(old) = self.pods.remove(uid) else {
            return;
        };
        if let Some(keys) = self.on_node.get_mut(&old.node) {
            keys.remove(&old.key);
            if keys.is_empty() {
                self.on_node.remove(&old.node);
            }
        }
        if let Some(ip) = old.ip
            && let Some(n) = self.ips.get_mut(&ip)
        {
            *n -= 1;
            if *n == 0 {
                self.ips.remove(&ip);
            }
        }
    }

    /// Unfinished pods bound to `node`.
    pub(crate) fn pods_on(&self, node: &str) -> usize {
        self.on_node.get(node).map_or(0, HashSet::len)
    }

    /// The pods to look at again when `node` changes: those bound to it and the unbound ones.
    pub(crate) fn affected_by_node(&self, node: &str) -> Vec<ObjectRef<CachedPod>> {
        let bound = self.on_node.get(node).into_iter().flatten().cloned();
        let unbound = self
            .pods
            .values()
            .filter(|f| f.node.is_empty())
            .map(|f| f.key.clone());
        bound.chain(unbound).collect()
    }

    /// Whether the pod exists and is not bound yet.
    pub(crate) fn is_unbound(&self, uid: &str) -> bool {
        self.pods.get(uid).is_some_and(|f| f.node.is_empty())
    }

    pub(crate) fn exists(&self, uid: &str) -> bool {
        self.pods.contains_key(uid)
    }

    /// Whether the pod exists and shows no IP yet.
    pub(crate) fn awaits_ip(&self, uid: &str) -> bool {
        self.pods.get(uid).is_some_and(|f| f.ip.is_none())
    }

    /// The pod IPs in use inside `cidr`.
    pub(crate) fn ips_in(&self, cidr: &Ipv4Cidr) -> HashSet<Ipv4Addr> {
        self.ips
            .range(cidr.addr()..=cidr.last())
            .map(|(ip, _)| *ip)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pod_cache::{CachedPodSpec, CachedPodStatus};

    fn pod(name: &str, node: &str, ip: Option<&str>, phase: &str) -> CachedPod {
        let mut p = CachedPod::default();
        p.metadata.namespace = Some("default".into());
        p.metadata.name = Some(name.into());
        p.metadata.uid = Some(format!("uid-{name}"));
        p.spec = Some(CachedPodSpec {
            node_name: (!node.is_empty()).then(|| node.to_string()),
            ..CachedPodSpec::default()
        });
        p.status = Some(CachedPodStatus {
            pod_ip: ip.map(str::to_string),
            phase: Some(phase.into()),
        });
        p
    }

    #[test]
    fn counts_ips_and_unbound_pods_follow_the_events() {
        let mut index = PodIndex::default();
        let cidr: Ipv4Cidr = "10.244.1.0/24".parse().unwrap();
        index.observe(
            &watcher::Event::Apply(pod("a", "", None, "Pending")),
            Vec::new,
        );
        assert!(index.is_unbound("uid-a") && index.awaits_ip("uid-a"));
        assert_eq!(index.affected_by_node("node-1").len(), 1);
        index.observe(
            &watcher::Event::Apply(pod("a", "node-1", None, "Pending")),
            Vec::new,
        );
        assert!(!index.is_unbound("uid-a"));
        assert_eq!(index.pods_on("node-1"), 1);
        let running = pod("a", "node-1", Some("10.244.1.2"), "Running");
        index.observe(&watcher::Event::Apply(running.clone()), Vec::new);
        assert!(!index.awaits_ip("uid-a"));
        assert_eq!(
            index.ips_in(&cidr),
            HashSet::from(["10.244.1.2".parse().unwrap()])
        );
        assert!(index.ips_in(&"10.244.2.0/24".parse().unwrap()).is_empty());
        index.observe(
            &watcher::Event::Apply(pod("b", "node-1", Some("10.244.1.3"), "Succeeded")),
            Vec::new,
        );
        assert_eq!(index.pods_on("node-1"), 1, "a finished pod takes no room");
        assert_eq!(index.ips_in(&cidr).len(), 2);
        index.observe(&watcher::Event::Delete(running), Vec::new);
        assert!(!index.exists("uid-a"));
        assert_eq!(index.pods_on("node-1"), 0);
        assert_eq!(index.ips_in(&cidr).len(), 1);
    }

    #[test]
    fn a_relist_replaces_everything() {
        let mut index = PodIndex::default();
        index.observe(
            &watcher::Event::Apply(pod("gone", "node-1", Some("10.244.1.9"), "Running")),
            Vec::new,
        );
        index.observe(&watcher::Event::InitDone, || {
            vec![pod("new", "node-2", None, "Pending")]
        });
        assert!(!index.exists("uid-gone"));
        assert_eq!(index.pods_on("node-1"), 0);
        assert_eq!(index.pods_on("node-2"), 1);
        assert!(index.ips_in(&"10.244.0.0/16".parse().unwrap()).is_empty());
    }
}
