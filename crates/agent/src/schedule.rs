//! The scheduling choice, pure: which node a pod goes to, or why none fits, in the words of
//! kube-scheduler's FailedScheduling message. Filters: node readiness (as the
//! `node.kubernetes.io/not-ready` taint), `spec.unschedulable`, NoSchedule/NoExecute taints and
//! tolerations, `spec.nodeSelector`, and the node's pod capacity. Score: fewest pods (spread),
//! then name, so the choice is deterministic.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Taint, Toleration};

/// What the scheduler needs to know about a node.
#[derive(Debug, Clone)]
pub struct NodeFacts<'a> {
    pub name: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    pub ready: bool,
    pub unschedulable: bool,
    pub taints: &'a [Taint],
    /// Pods bound to the node that are not finished (plus ones being bound right now).
    pub pods: usize,
    /// `status.allocatable.pods`.
    pub max_pods: usize,
}

/// What the scheduler needs to know about a pod.
#[derive(Debug, Clone, Default)]
pub struct PodNeeds<'a> {
    pub node_selector: Option<&'a BTreeMap<String, String>>,
    pub tolerations: &'a [Toleration],
}

/// No node fits; `message` is the FailedScheduling event and PodScheduled condition text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unschedulable {
    pub message: String,
}

const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";

/// Pick the node for `pod`.
pub fn choose(pod: &PodNeeds<'_>, nodes: &[NodeFacts<'_>]) -> Result<String, Unschedulable> {
    if nodes.is_empty() {
        return Err(Unschedulable {
            message: "no nodes available to schedule pods".into(),
        });
    }
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut fits: Vec<&NodeFacts<'_>> = Vec::new();
    for node in nodes {
        match filter(pod, node) {
            Ok(()) => fits.push(node),
            Err(reason) => *reasons.entry(reason).or_default() += 1,
        }
    }
    if let Some(best) = fits
        .iter()
        .min_by(|a, b| a.pods.cmp(&b.pods).then(a.name.cmp(b.name)))
    {
        return Ok(best.name.to_string());
    }
    // kube-scheduler's FitError: reasons with their node counts, sorted as strings.
    let mut parts: Vec<String> = reasons
        .iter()
        .map(|(reason, n)| format!("{n} {reason}"))
        .collect();
    parts.sort();
    Err(Unschedulable {
        message: format!(
            "0/{} nodes are available: {}.",
            nodes.len(),
            parts.join(", ")
        ),
    })
}

/// Why `node` cannot take `pod`, in the order kube-scheduler's filters run.
fn filter(pod: &PodNeeds<'_>, node: &NodeFacts<'_>) -> Result<(), String> {
    if node.unschedulable {
        return Err("node(s) were unschedulable".into());
    }
    if let Some(selector) = pod.node_selector
        && !selector
            .iter()
            .all(|(k, v)| node.labels.get(k).is_some_and(|l| l == v))
    {
        return Err("node(s) didn't match Pod's node affinity/selector".into());
    }
    let not_ready = Taint {
        key: NOT_READY_TAINT.into(),
        effect: "NoSchedule".into(),
        ..Taint::default()
    };
    let implied = (!node.ready).then_some(&not_ready);
    for taint in node.taints.iter().chain(implied) {
        let blocking = matches!(taint.effect.as_str(), "NoSchedule" | "NoExecute");
        if blocking && !pod.tolerations.iter().any(|t| tolerates(t, taint)) {
            return Err(format!(
                "node(s) had untolerated taint {{{}: {}}}",
                taint.key,
                taint.value.as_deref().unwrap_or_default()
            ));
        }
    }
    if node.pods >= node.max_pods {
        return Err("Too many pods".into());
    }
    Ok(())
}

/// Toleration semantics of `v1.Toleration.ToleratesTaint`.
fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    let effect = t.effect.as_deref().unwrap_or_default();
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = t.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match t.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" => {
            t.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    struct N {
        name: &'static str,
        labels: BTreeMap<String, String>,
        ready: bool,
        unschedulable: bool,
        taints: Vec<Taint>,
        pods: usize,
    }

    fn n(name: &'static str, pods: usize) -> N {
        N {
            name,
            labels: labels(&[("kubernetes.io/hostname", name)]),
            ready: true,
            unschedulable: false,
            taints: Vec::new(),
            pods,
        }
    }

    fn facts(nodes: &[N]) -> Vec<NodeFacts<'_>> {
        nodes
            .iter()
            .map(|n| NodeFacts {
                name: n.name,
                labels: &n.labels,
                ready: n.ready,
                unschedulable: n.unschedulable,
                taints: &n.taints,
                pods: n.pods,
                max_pods: 110,
            })
            .collect()
    }

    #[test]
    fn choices() {
        let disk_ssd = labels(&[("disk", "ssd")]);
        let nowhere = labels(&[("disk", "tape")]);
        let node_2 = labels(&[("kubernetes.io/hostname", "node-2")]);
        let tolerate_all = [Toleration {
            operator: Some("Exists".into()),
            ..Toleration::default()
        }];
        let dedicated = Taint {
            key: "dedicated".into(),
            value: Some("db".into()),
            effect: "NoSchedule".into(),
            ..Taint::default()
        };
        let ssd = |mut node: N| {
            node.labels.insert("disk".into(), "ssd".into());
            node
        };
        let not_ready = |mut node: N| {
            node.ready = false;
            node
        };
        let cordoned = |mut node: N| {
            node.unschedulable = true;
            node
        };
        let tainted = |mut node: N| {
            node.taints.push(dedicated.clone());
            node
        };
        let full = |mut node: N| {
            node.pods = 110;
            node
        };
        let none = PodNeeds::default();
        // (case, pod, nodes, chosen node or FailedScheduling message)
        type Case<'a> = (
            &'static str,
            PodNeeds<'a>,
            Vec<N>,
            Result<&'static str, &'static str>,
        );
        let cases: Vec<Case<'_>> = vec![
            (
                "spreads to the emptiest node",
                PodNeeds::default(),
                vec![n("node-1", 3), n("node-2", 1)],
                Ok("node-2"),
            ),
            (
                "ties go to the first name",
                none.clone(),
                vec![n("node-2", 0), n("node-1", 0)],
                Ok("node-1"),
            ),
            (
                "nodeSelector restricts",
                PodNeeds {
                    node_selector: Some(&disk_ssd),
                    ..none.clone()
                },
                vec![n("node-1", 0), ssd(n("node-2", 5))],
                Ok("node-2"),
            ),
            (
                "hostname selector",
                PodNeeds {
                    node_selector: Some(&node_2),
                    ..none.clone()
                },
                vec![n("node-1", 0), n("node-2", 9)],
                Ok("node-2"),
            ),
            (
                "selector matching nothing",
                PodNeeds {
                    node_selector: Some(&nowhere),
                    ..none.clone()
                },
                vec![n("node-1", 0), n("node-2", 0)],
                Err(
                    "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.",
                ),
            ),
            (
                "not-ready nodes are skipped",
                none.clone(),
                vec![not_ready(n("node-1", 0)), n("node-2", 4)],
                Ok("node-2"),
            ),
            (
                "mixed reasons are counted and sorted",
                PodNeeds {
                    node_selector: Some(&disk_ssd),
                    ..none.clone()
                },
                vec![
                    not_ready(ssd(n("node-1", 0))),
                    n("node-2", 0),
                    cordoned(n("node-3", 0)),
                ],
                Err(
                    "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 1 node(s) were unschedulable.",
                ),
            ),
            (
                "a toleration for everything allows not-ready and tainted nodes",
                PodNeeds {
                    tolerations: &tolerate_all,
                    ..none.clone()
                },
                vec![not_ready(n("node-1", 0)), tainted(n("node-2", 1))],
                Ok("node-1"),
            ),
            (
                "taints block",
                none.clone(),
                vec![tainted(n("node-1", 0))],
                Err("0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: db}."),
            ),
            (
                "full nodes",
                none.clone(),
                vec![full(n("node-1", 0))],
                Err("0/1 nodes are available: 1 Too many pods."),
            ),
            (
                "no nodes",
                none.clone(),
                vec![],
                Err("no nodes available to schedule pods"),
            ),
        ];
        for (name, pod, nodes, want) in cases {
            let got = choose(&pod, &facts(&nodes));
            assert_eq!(
                got,
                want.map(str::to_string).map_err(|m| Unschedulable {
                    message: m.to_string()
                }),
                "{name}"
            );
        }
    }

    #[test]
    fn toleration_matching() {
        let taint = Taint {
            key: "k".into(),
            value: Some("v".into()),
            effect: "NoSchedule".into(),
            ..Taint::default()
        };
        let t = |key: Option<&str>, op: Option<&str>, value: Option<&str>, effect: Option<&str>| {
            Toleration {
                key: key.map(Into::into),
                operator: op.map(Into::into),
                value: value.map(Into::into),
                effect: effect.map(Into::into),
                ..Toleration::default()
            }
        };
        for (tol, want) in [
            (t(Some("k"), None, Some("v"), None), true),
            (t(Some("k"), Some("Equal"), Some("w"), None), false),
            (t(Some("k"), Some("Exists"), None, Some("NoSchedule")), true),
            (t(Some("k"), Some("Exists"), None, Some("NoExecute")), false),
            (t(None, Some("Exists"), None, None), true),
            (t(Some("other"), Some("Exists"), None, None), false),
        ] {
            assert_eq!(tolerates(&tol, &taint), want, "{tol:?}");
        }
    }
}
