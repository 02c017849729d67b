//! coordination.k8s.io/v1 Leases: durations and transition counts.

use super::meta::{self, MetaRules};
use super::names;
use super::render::quote;
use super::{Path, Validate, dedup};
use crate::FieldError;
use crate::k8s::api::coordination::v1::Lease;

/// Lease validation uses apimachinery's metadata checks, without core's finalizer rule.
const RULES: MetaRules = MetaRules {
    namespaced: true,
    name_fn: names::name_is_dns_subdomain,
    kube_finalizers: false,
};
/// The only coordinated leader election strategy Kubernetes defines.
const STRATEGIES: &[&str] = &["OldestEmulationVersion"];

impl Validate for Lease {
    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let mut errs =
            meta::validate_meta_for(&self.metadata, old.map(|o| &o.metadata), RULES, true);
        let Some(spec) = &self.spec else {
            return dedup(errs);
        };
        let path = Path::new("spec");
        if let Some(d) = spec.lease_duration_seconds.filter(|d| *d <= 0) {
            errs.push(FieldError::invalid(
                path.child("leaseDurationSeconds"),
                d,
                "must be greater than 0",
            ));
        }
        if let Some(t) = spec.lease_transitions.filter(|t| *t < 0) {
            errs.push(FieldError::invalid(
                path.child("leaseTransitions"),
                t,
                meta::IS_NEGATIVE,
            ));
        }
        if let Some(strategy) = &spec.strategy {
            // Upstream appends "strategy" to the strategy path, hence the doubled segment.
            let p = path.child("strategy").child("strategy");
            if strategy.contains('/') {
                for m in names::is_qualified_name(strategy) {
                    errs.push(FieldError::invalid(&p, quote(strategy), &m));
                }
            } else if !STRATEGIES.contains(&strategy.as_str()) {
                errs.push(FieldError::not_supported(&p, strategy, STRATEGIES));
            }
        }
        let preferred = spec.preferred_holder.as_deref().unwrap_or_default();
        if !preferred.is_empty() && spec.strategy.as_deref().unwrap_or_default().is_empty() {
            errs.push(FieldError::forbidden(
                path.child("preferredHolder"),
                "may only be specified if `strategy` is defined",
            ));
        }
        dedup(errs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::api::coordination::v1::LeaseSpec;
    use crate::validation::tests::{assert_errors, meta, strs};

    fn lease(f: impl FnOnce(&mut LeaseSpec)) -> Lease {
        let mut spec = LeaseSpec {
            holder_identity: Some("node-1".into()),
            lease_duration_seconds: Some(40),
            ..Default::default()
        };
        f(&mut spec);
        Lease {
            metadata: meta("kube-node-lease", "node-1"),
            spec: Some(spec),
        }
    }

    #[test]
    fn lease_cases() {
        let cases: Vec<(&str, Lease, Vec<String>)> = vec![
            ("valid", lease(|_| {}), vec![]),
            (
                "zero duration",
                lease(|s| s.lease_duration_seconds = Some(0)),
                strs(&["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]),
            ),
            (
                "negative transitions",
                lease(|s| s.lease_transitions = Some(-1)),
                strs(&[
                    "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
                ]),
            ),
            (
                "preferred holder without strategy",
                lease(|s| s.preferred_holder = Some("node-2".into())),
                strs(&[
                    "spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined",
                ]),
            ),
        ];
        for (name, l, want) in cases {
            assert_errors(name, &l.validate(None), &want);
        }
    }
}
