//! Container resource requests and limits.

use std::collections::BTreeMap;

use super::qualified_name;
use crate::FieldError;
use crate::k8s::api::core::v1::ResourceRequirements;
use crate::k8s::apimachinery::pkg::api::resource::Quantity;
use crate::validation::Path;
use crate::validation::meta::IS_NEGATIVE;
use crate::validation::names;
use crate::validation::render::quote;

/// Resource names kube-apiserver calls standard (`helper.IsStandardResourceName`).
const STANDARD_RESOURCES: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "quota",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "storage",
    "requests.storage",
    "services.nodeports",
    "services.loadbalancers",
];

fn is_hugepages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

/// Resources without a domain, or in the kubernetes.io domain.
fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// Only cpu, memory and ephemeral storage may be requested below their limit.
fn is_overcommit_allowed(name: &str) -> bool {
    is_native_resource(name) && !is_hugepages(name)
}

fn validate_container_resource_name(name: &str, path: &Path) -> Vec<FieldError> {
    let mut errs = qualified_name(name, path);
    if !errs.is_empty() {
        return errs;
    }
    if !name.contains('/') {
        if !STANDARD_RESOURCES.contains(&name) && !is_hugepages(name) {
            errs.push(FieldError::invalid(
                path,
                quote(name),
                "must be a standard resource type or fully qualified",
            ));
        }
        if !["cpu", "memory", "ephemeral-storage"].contains(&name) && !is_hugepages(name) {
            errs.push(FieldError::invalid(
                path,
                quote(name),
                "must be a standard resource for containers",
            ));
        }
    } else if !is_native_resource(name)
        && (name.starts_with("requests.")
            || !names::is_qualified_name(&format!("requests.{name}")).is_empty())
    {
        errs.push(FieldError::invalid(
            path,
            quote(name),
            "doesn't follow extended resource name standard",
        ));
    }
    errs
}

/// A quantity's value, precise enough to compare (`500m`, `1Gi`, `2e3`).
pub(super) fn parse_quantity(q: &Quantity) -> Option<f64> {
    let s = q.0.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '+' | '-' | '.')))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exp if exp.starts_with(['e', 'E']) => 10f64.powi(exp[1..].parse().ok()?),
        _ => return None,
    };
    Some(number * factor)
}

/// Resource names, non-negative quantities, requests within limits. Quantities are printed
/// as written (upstream prints them canonicalized, e.g. `1000m` as `1`).
pub(super) fn validate_resources(r: &ResourceRequirements, path: &Path) -> Vec<FieldError> {
    let empty = BTreeMap::new();
    let limits = r.limits.as_ref().unwrap_or(&empty);
    let requests = r.requests.as_ref().unwrap_or(&empty);
    let lim_path = path.child("limits");
    let req_path = path.child("requests");
    let mut errs = Vec::new();
    let quantity_errs = |name: &str, q: &Quantity, p: &Path, errs: &mut Vec<FieldError>| {
        if let Some(v) = parse_quantity(q) {
            if v < 0.0 {
                errs.push(FieldError::invalid(p, quote(&q.0), IS_NEGATIVE));
            }
            // Extended resources are counted in whole units.
            if !is_native_resource(name) && v.fract() != 0.0 {
                errs.push(FieldError::invalid(p, quote(&q.0), "must be an integer"));
            }
        }
    };
    for (name, q) in limits {
        let p = lim_path.key(name);
        errs.extend(validate_container_resource_name(name, &p));
        quantity_errs(name, q, &p, &mut errs);
    }
    for (name, q) in requests {
        let p = req_path.key(name);
        errs.extend(validate_container_resource_name(name, &p));
        quantity_errs(name, q, &p, &mut errs);
        match limits.get(name) {
            Some(limit) => {
                if let (Some(req), Some(lim)) = (parse_quantity(q), parse_quantity(limit)) {
                    if req != lim && !is_overcommit_allowed(name) {
                        errs.push(FieldError::invalid(
                            &req_path,
                            quote(&q.0),
                            &format!("must be equal to {name} limit of {}", limit.0),
                        ));
                    } else if req > lim {
                        errs.push(FieldError::invalid(
                            &req_path,
                            quote(&q.0),
                            &format!("must be less than or equal to {name} limit of {}", limit.0),
                        ));
                    }
                }
            }
            None if !is_overcommit_allowed(name) => {
                errs.push(FieldError::required(
                    &lim_path,
                    "Limit must be set for non overcommitable resources",
                ));
            }
            None => {}
        }
    }
    errs
}
