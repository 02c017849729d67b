//! Scheduling and naming related fields: tolerations, taints, topology spread, DNS config.

use std::collections::HashSet;

use super::{TAINT_EFFECTS, s, validate_enum};
use crate::FieldError;
use crate::k8s::api::core::v1::{PodSpec, Taint, Toleration};
use crate::validation::names;
use crate::validation::render::{self, quote};
use crate::validation::{Path, ip, meta};

pub(super) fn validate_tolerations(tolerations: &[Toleration], path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, t) in tolerations.iter().enumerate() {
        let p = path.index(i);
        let key = s(&t.key);
        let operator = s(&t.operator);
        let value = s(&t.value);
        let effect = s(&t.effect);
        if !key.is_empty() {
            errs.extend(meta::validate_label_name(key, &p.child("key")));
        }
        if key.is_empty() && operator != "Exists" {
            errs.push(FieldError::invalid(
                p.child("operator"),
                quote(operator),
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if t.toleration_seconds.is_some() && effect != "NoExecute" {
            errs.push(FieldError::invalid(
                p.child("effect"),
                quote(effect),
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match operator {
            "Equal" | "" => {
                let msgs = names::is_valid_label_value(value);
                if !msgs.is_empty() {
                    errs.push(FieldError::invalid(
                        p.child("operator"),
                        quote(value),
                        &msgs.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errs.push(FieldError::invalid(
                        p.child("operator"),
                        quote(value),
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(
                p.child("operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() && !TAINT_EFFECTS.contains(&effect) {
            errs.push(FieldError::not_supported(
                p.child("effect"),
                effect,
                TAINT_EFFECTS,
            ));
        }
    }
    errs
}

/// Taints on Nodes: key, value and effect, unique per (key, effect). (Upstream reports them
/// under `metadata.taints`, not `spec.taints`; callers pass that path to match.)
pub fn validate_taints(taints: &[Taint], path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut seen = HashSet::new();
    for (i, t) in taints.iter().enumerate() {
        let p = path.index(i);
        errs.extend(meta::validate_label_name(&t.key, &p.child("key")));
        let value = s(&t.value);
        let msgs = names::is_valid_label_value(value);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(
                p.child("value"),
                quote(value),
                &msgs.join(";"),
            ));
        }
        if let Some(e) = validate_enum(&t.effect, TAINT_EFFECTS, &p.child("effect")) {
            errs.push(e);
        }
        if !seen.insert((t.effect.as_str(), t.key.as_str())) {
            let mut dup = FieldError::duplicate(
                &p,
                format!(
                    "core.Taint{{Key:{}, Value:{}, Effect:{}, TimeAdded:(*v1.Time)(nil)}}",
                    quote(&t.key),
                    quote(value),
                    quote(&t.effect)
                ),
            );
            dup.message
                .push_str(": taints must be unique by key and effect pair");
            errs.push(dup);
        }
    }
    errs
}

pub(super) fn validate_topology_spread(spec: &PodSpec, path: &Path) -> Vec<FieldError> {
    let constraints = spec
        .topology_spread_constraints
        .as_deref()
        .unwrap_or_default();
    let mut errs = Vec::new();
    for (i, c) in constraints.iter().enumerate() {
        let p = path.index(i);
        if c.max_skew <= 0 {
            errs.push(FieldError::invalid(
                p.child("maxSkew"),
                c.max_skew,
                "must be greater than zero",
            ));
        }
        if c.topology_key.is_empty() {
            errs.push(FieldError::required(
                p.child("topologyKey"),
                "can not be empty",
            ));
        }
        if !["DoNotSchedule", "ScheduleAnyway"].contains(&c.when_unsatisfiable.as_str()) {
            errs.push(FieldError::not_supported(
                p.child("whenUnsatisfiable"),
                &c.when_unsatisfiable,
                &["DoNotSchedule", "ScheduleAnyway"],
            ));
        }
        let repeated = constraints[i + 1..].iter().any(|o| {
            o.topology_key == c.topology_key && o.when_unsatisfiable == c.when_unsatisfiable
        });
        if repeated {
            errs.push(FieldError::duplicate(
                p.child("{topologyKey, whenUnsatisfiable}"),
                quote(&format!("{{{}, {}}}", c.topology_key, c.when_unsatisfiable)),
            ));
        }
        if let Some(sel) = &c.label_selector {
            errs.extend(meta::validate_label_selector(
                sel,
                &p.child("labelSelector"),
            ));
        }
    }
    errs
}

pub(super) fn validate_dns_config(spec: &PodSpec, path: &Path) -> Vec<FieldError> {
    let config = spec.dns_config.as_ref();
    if s(&spec.dns_policy) == "None" {
        match config {
            None => {
                return vec![FieldError::required(
                    path,
                    "must provide `dnsConfig` when `dnsPolicy` is None",
                )];
            }
            Some(c) if c.nameservers.as_ref().is_none_or(Vec::is_empty) => {
                return vec![FieldError::required(
                    path.child("nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                )];
            }
            Some(_) => {}
        }
    }
    let Some(config) = config else {
        return Vec::new();
    };
    let mut errs = Vec::new();
    let nameservers = config.nameservers.as_deref().unwrap_or_default();
    if nameservers.len() > 3 {
        errs.push(FieldError::invalid(
            path.child("nameservers"),
            render::string_slice(Some(nameservers)),
            "must not have more than 3 nameservers",
        ));
    }
    for (i, ns) in nameservers.iter().enumerate() {
        errs.extend(ip::validate_ip(&path.child("nameservers").index(i), ns));
    }
    let searches = config.searches.as_deref().unwrap_or_default();
    if searches.len() > 32 {
        errs.push(FieldError::invalid(
            path.child("searches"),
            render::string_slice(Some(searches)),
            "must not have more than 32 search paths",
        ));
    }
    for (i, search) in searches.iter().enumerate() {
        // RelaxedDNSSearchValidation (on in 1.33) allows "." and underscores.
        if search != "." {
            let trimmed = search.strip_suffix('.').unwrap_or(search);
            for m in names::is_dns1123_subdomain_with_underscore(trimmed) {
                errs.push(FieldError::invalid(
                    path.child("searches").index(i),
                    quote(trimmed),
                    &m,
                ));
            }
        }
    }
    for (i, option) in config.options.iter().flatten().enumerate() {
        if s(&option.name).is_empty() {
            errs.push(FieldError::required(
                path.child("options").index(i),
                "must not be empty",
            ));
        }
    }
    errs
}
