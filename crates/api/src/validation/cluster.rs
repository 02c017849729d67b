//! Cluster-scoped core kinds: Namespaces and Nodes.

use std::collections::HashSet;

use super::meta::{self, MetaRules};
use super::names;
use super::pod::validate_taints;
use super::render::{self, quote};
use super::{Path, Validate, dedup, ip};
use crate::FieldError;
use crate::k8s::api::core::v1::{Namespace, Node};

const NAMESPACE_RULES: MetaRules = MetaRules {
    namespaced: false,
    name_fn: names::name_is_dns_label,
    kube_finalizers: true,
};
const NODE_RULES: MetaRules = MetaRules {
    namespaced: false,
    name_fn: names::name_is_dns_subdomain,
    kube_finalizers: true,
};

impl Validate for Namespace {
    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let mut errs = meta::validate_meta_for(
            &self.metadata,
            old.map(|o| &o.metadata),
            NAMESPACE_RULES,
            true,
        );
        // spec.finalizers errors point at the list, not the entry, as upstream.
        let path = Path::new("spec").child("finalizers");
        let finalizers = self
            .spec
            .as_ref()
            .and_then(|s| s.finalizers.as_deref())
            .unwrap_or_default();
        for f in finalizers {
            for m in names::is_qualified_name(f) {
                errs.push(FieldError::invalid(&path, quote(f), &m));
            }
            if !f.contains('/')
                && !["kubernetes", "orphan", "foregroundDeletion"].contains(&f.as_str())
            {
                errs.push(FieldError::invalid(
                    &path,
                    quote(f),
                    "name is neither a standard finalizer name nor is it fully qualified",
                ));
            }
        }
        dedup(errs)
    }
}

impl Validate for Node {
    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let mut errs =
            meta::validate_meta_for(&self.metadata, old.map(|o| &o.metadata), NODE_RULES, true);
        let spec = self.spec.clone().unwrap_or_default();
        // Upstream reports taint errors under metadata.taints; kept for identical output.
        errs.extend(validate_taints(
            spec.taints.as_deref().unwrap_or_default(),
            &Path::new("metadata").child("taints"),
        ));
        errs.extend(validate_node_resources(self));

        let cidrs = spec.pod_cidrs.as_deref().unwrap_or_default();
        let cidr_path = Path::new("spec").child("podCIDRs");
        for (i, cidr) in cidrs.iter().enumerate() {
            if !is_cidr(cidr) {
                errs.push(FieldError::invalid(
                    cidr_path.index(i),
                    quote(cidr),
                    "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                ));
            }
        }
        if cidrs.len() > 1 {
            let v6 = cidrs.iter().filter(|c| c.contains(':')).count();
            if cidrs.len() > 2 || v6 != 1 {
                errs.push(FieldError::invalid(
                    &cidr_path,
                    render::string_slice(Some(cidrs)),
                    "may specify no more than one CIDR for each IP family",
                ));
            }
            let mut seen = HashSet::new();
            for (i, cidr) in cidrs.iter().enumerate() {
                if !seen.insert(cidr) {
                    errs.push(FieldError::duplicate(cidr_path.index(i), quote(cidr)));
                }
            }
        }

        if let Some(old) = old {
            let old_spec = old.spec.clone().unwrap_or_default();
            let old_cidrs = old_spec.pod_cidrs.as_deref().unwrap_or_default();
            // The controller manager may assign CIDRs once; after that they are fixed.
            if !old_cidrs.is_empty() && old_cidrs != cidrs {
                errs.push(FieldError::forbidden(
                    &cidr_path,
                    "node updates may not change podCIDR except from \"\" to valid",
                ));
            }
            let old_provider = old_spec.provider_id.as_deref().unwrap_or_default();
            if !old_provider.is_empty() && spec.provider_id.as_deref() != Some(old_provider) {
                errs.push(FieldError::forbidden(
                    "spec.providerID",
                    "node updates may not change providerID except from \"\" to valid",
                ));
            }
            if spec.external_id != old_spec.external_id {
                errs.push(FieldError::forbidden(
                    "spec.externalID",
                    "may not be updated",
                ));
            }
        }
        dedup(errs)
    }
}

fn is_cidr(value: &str) -> bool {
    value.split_once('/').is_some_and(|(addr, prefix)| {
        let max = match ip::parse_ip_sloppy(addr) {
            Some(_) if addr.contains(':') => 128,
            Some(_) => 32,
            None => return false,
        };
        prefix.len() <= 3 && prefix.parse::<u8>().is_ok_and(|p| p <= max)
    })
}

/// Capacity and allocatable quantities may not be negative.
fn validate_node_resources(node: &Node) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(status) = &node.status else {
        return errs;
    };
    for (field, list) in [
        ("capacity", &status.capacity),
        ("allocatable", &status.allocatable),
    ] {
        for (name, q) in list.iter().flatten() {
            if q.0.trim_start().starts_with('-') {
                errs.push(FieldError::invalid(
                    Path::new("status").child(field).child(name),
                    quote(&q.0),
                    meta::IS_NEGATIVE,
                ));
            }
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defaults::ApplyDefaults;
    use crate::k8s::api::core::v1::{NamespaceSpec, NodeSpec, Taint};
    use crate::validation::tests::{assert_errors, meta, strs};

    fn namespace(name: &str) -> Namespace {
        let mut ns = Namespace {
            metadata: meta("", name),
            ..Default::default()
        };
        ns.apply_defaults();
        ns
    }

    #[test]
    fn namespace_cases() {
        let cases: Vec<(&str, Namespace, Vec<String>)> = vec![
            ("valid", namespace("demo"), vec![]),
            (
                "dots are not allowed",
                namespace("my.ns"),
                strs(&["metadata.name: Invalid value: \"my.ns\": must not contain dots"]),
            ),
            (
                "namespace set on a cluster-scoped object",
                Namespace {
                    metadata: meta("default", "demo"),
                    ..namespace("demo")
                },
                strs(&["metadata.namespace: Forbidden: not allowed on this type"]),
            ),
            (
                "bad spec finalizer",
                Namespace {
                    spec: Some(NamespaceSpec {
                        finalizers: Some(vec!["custom".into()]),
                    }),
                    ..namespace("demo")
                },
                strs(&[
                    "spec.finalizers: Invalid value: \"custom\": name is neither a standard finalizer name nor is it fully qualified",
                ]),
            ),
        ];
        for (name, ns, want) in cases {
            assert_errors(name, &ns.validate(None), &want);
        }
        let renamed = namespace("other");
        assert_errors(
            "rename",
            &renamed.validate(Some(&namespace("demo"))),
            &["metadata.name: Invalid value: \"other\": field is immutable"],
        );
    }

    fn node(f: impl FnOnce(&mut NodeSpec)) -> Node {
        let mut spec = NodeSpec::default();
        f(&mut spec);
        Node {
            metadata: meta("", "worker-1"),
            spec: Some(spec),
            ..Default::default()
        }
    }

    #[test]
    fn node_cases() {
        let taint = |key: &str, effect: &str| Taint {
            key: key.into(),
            effect: effect.into(),
            ..Default::default()
        };
        let cases: Vec<(&str, Node, Vec<String>)> = vec![
            ("valid", node(|_| {}), vec![]),
            (
                "bad taint effect",
                node(|s| s.taints = Some(vec![taint("k", "Never")])),
                strs(&[
                    "metadata.taints[0].effect: Unsupported value: \"Never\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
                ]),
            ),
            (
                "duplicate taints",
                node(|s| s.taints = Some(vec![taint("k", "NoSchedule"), taint("k", "NoSchedule")])),
                strs(&[
                    "metadata.taints[1]: Duplicate value: core.Taint{Key:\"k\", Value:\"\", Effect:\"NoSchedule\", TimeAdded:(*v1.Time)(nil)}: taints must be unique by key and effect pair",
                ]),
            ),
            (
                "bad pod CIDR",
                node(|s| s.pod_cidrs = Some(vec!["10.0.0.0/40".into()])),
                strs(&[
                    "spec.podCIDRs[0]: Invalid value: \"10.0.0.0/40\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                ]),
            ),
        ];
        for (name, n, want) in cases {
            assert_errors(name, &n.validate(None), &want);
        }
        let old = node(|s| s.pod_cidrs = Some(vec!["10.0.1.0/24".into()]));
        let new = node(|s| s.pod_cidrs = Some(vec!["10.0.2.0/24".into()]));
        assert_errors(
            "cidr change",
            &new.validate(Some(&old)),
            &[
                "spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid",
            ],
        );
    }
}
