//! Pods, pod specs and pod templates (core `ValidatePod*`).
//!
//! Covered: containers (names, images, ports, env, volume mounts, pull and termination
//! policies, probes and lifecycle handlers, resources, security context), init and
//! ephemeral containers, volumes (names and one source each), restart and DNS policies,
//! host names, node and service account names, tolerations, topology spread, DNS config,
//! readiness and scheduling gates, and the update rules (only images, activeDeadlineSeconds,
//! added tolerations and removed scheduling gates may change).
//! Not covered: affinity terms, volume source internals, windows options, resource claims.
//!
//! `containers`, `handlers` (probes, lifecycle hooks), `resources`, `volumes`, `scheduling`
//! (tolerations, taints, topology spread, DNS config) and `update` hold the parts.

use std::collections::HashSet;

use self::containers::{
    validate_containers, validate_ephemeral_container_names, validate_images_not_padded,
    validate_init_containers, validate_pod_security_context,
};
use self::scheduling::{validate_dns_config, validate_tolerations, validate_topology_spread};
use self::update::validate_pod_spec_update;
use self::volumes::validate_volumes;
use super::meta::{self, MetaRules};
use super::names::{self, inclusive_range_error};
use super::render::quote;
use super::{Path, Validate, dedup, ip};
use crate::FieldError;
use crate::k8s::api::core::v1::{Pod, PodSpec, PodTemplateSpec};
use crate::k8s::apimachinery::pkg::util::intstr::IntOrString;

mod containers;
mod handlers;
mod resources;
mod scheduling;
#[cfg(test)]
mod tests;
mod update;
mod volumes;

pub use self::scheduling::validate_taints;

const MAX_INT32: i64 = i32::MAX as i64;
const SUPPORTED_PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];
const DNS_POLICIES: &[&str] = &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
const PULL_POLICIES: &[&str] = &["Always", "IfNotPresent", "Never"];
const TERMINATION_MESSAGE_POLICIES: &[&str] = &["File", "FallbackToLogsOnError"];
const TAINT_EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// Which object the pod spec belongs to: a Pod gets a few checks templates do not.
#[derive(Clone, Copy)]
pub struct PodOpts {
    pub resource_is_pod: bool,
}

fn s(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or_default()
}

impl Validate for Pod {
    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let rules = MetaRules::NAMESPACED_SUBDOMAIN;
        let empty = PodSpec::default();
        let spec = self.spec.as_ref().unwrap_or(&empty);
        let spec_path = Path::new("spec");
        let mut errs = Vec::new();
        if let Some(old) = old {
            errs.extend(meta::validate_object_meta_update(
                &self.metadata,
                &old.metadata,
                rules,
            ));
        }
        // Pods are re-validated in full on updates too (upstream validatePodMetadataAndSpec).
        errs.extend(meta::validate_object_meta(&self.metadata, rules));
        errs.extend(validate_pod_spec(
            spec,
            &spec_path,
            PodOpts {
                resource_is_pod: true,
            },
        ));
        errs.extend(validate_images_not_padded(
            &spec.containers,
            &spec_path.child("containers"),
        ));
        errs.extend(validate_images_not_padded(
            spec.init_containers.as_deref().unwrap_or_default(),
            &spec_path.child("initContainers"),
        ));

        match old {
            None => {
                if spec
                    .ephemeral_containers
                    .as_ref()
                    .is_some_and(|e| !e.is_empty())
                {
                    errs.push(FieldError::forbidden(
                        spec_path.child("ephemeralContainers"),
                        "cannot be set on create",
                    ));
                }
                if !s(&spec.node_name).is_empty()
                    && spec
                        .scheduling_gates
                        .as_ref()
                        .is_some_and(|g| !g.is_empty())
                {
                    errs.push(FieldError::forbidden(
                        spec_path.child("nodeName"),
                        "cannot be set until all schedulingGates have been cleared",
                    ));
                }
            }
            Some(old) => {
                let old_spec = old.spec.as_ref().unwrap_or(&empty);
                errs.extend(validate_pod_spec_update(spec, old_spec));
            }
        }
        dedup(errs)
    }
}

/// The pod template of a workload: labels and annotations sit directly under the template
/// path (`spec.template.labels`), as upstream reports them.
pub fn validate_pod_template_spec(template: &PodTemplateSpec, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let meta = template.metadata.as_ref();
    errs.extend(meta::validate_labels(
        meta.and_then(|m| m.labels.as_ref()),
        &path.child("labels"),
    ));
    errs.extend(meta::validate_annotations(
        meta.and_then(|m| m.annotations.as_ref()),
        &path.child("annotations"),
    ));
    let empty = PodSpec::default();
    let spec = template.spec.as_ref().unwrap_or(&empty);
    errs.extend(validate_pod_spec(
        spec,
        &path.child("spec"),
        PodOpts {
            resource_is_pod: false,
        },
    ));
    if spec
        .ephemeral_containers
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        errs.push(FieldError::forbidden(
            path.child("spec").child("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errs
}

/// core `ValidatePodSpec`, in upstream's order.
pub fn validate_pod_spec(spec: &PodSpec, path: &Path, opts: PodOpts) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let grace = spec.termination_grace_period_seconds;
    if grace.is_none() {
        errs.push(FieldError::required(
            path.child("terminationGracePeriodSeconds"),
            "",
        ));
    }

    errs.extend(validate_volumes(
        spec.volumes.as_deref().unwrap_or_default(),
        &path.child("volumes"),
    ));
    let init = spec.init_containers.as_deref().unwrap_or_default();
    errs.extend(validate_containers(
        &spec.containers,
        grace,
        &path.child("containers"),
    ));
    errs.extend(validate_init_containers(
        init,
        &spec.containers,
        grace,
        &path.child("initContainers"),
    ));
    errs.extend(validate_ephemeral_container_names(
        spec,
        &path.child("ephemeralContainers"),
    ));

    if spec.host_network == Some(true) {
        for (i, c) in spec.containers.iter().enumerate() {
            for (j, p) in c.ports.iter().flatten().enumerate() {
                let hp = p.host_port.unwrap_or(0);
                if (opts.resource_is_pod || hp != 0) && hp != p.container_port {
                    errs.push(FieldError::invalid(
                        path.child("containers")
                            .index(i)
                            .child("ports")
                            .index(j)
                            .child("hostPort"),
                        hp,
                        "must match `containerPort` when `hostNetwork` is true",
                    ));
                }
            }
        }
    }

    errs.extend(validate_enum(
        s(&spec.restart_policy),
        RESTART_POLICIES,
        &path.child("restartPolicy"),
    ));
    errs.extend(validate_enum(
        s(&spec.dns_policy),
        DNS_POLICIES,
        &path.child("dnsPolicy"),
    ));
    errs.extend(meta::validate_labels(
        spec.node_selector.as_ref(),
        &path.child("nodeSelector"),
    ));
    if let Some(sc) = &spec.security_context {
        errs.extend(validate_pod_security_context(
            sc,
            spec,
            &path.child("securityContext"),
        ));
    }
    errs.extend(validate_dns_config(spec, &path.child("dnsConfig")));
    for (i, gate) in spec.readiness_gates.iter().flatten().enumerate() {
        let p = path.child("readinessGates").index(i).child("conditionType");
        errs.extend(qualified_name(&gate.condition_type, &p));
    }
    let mut seen_gates = HashSet::new();
    for (i, gate) in spec.scheduling_gates.iter().flatten().enumerate() {
        let p = path.child("schedulingGates").index(i);
        errs.extend(qualified_name(&gate.name, &p));
        if !seen_gates.insert(gate.name.as_str()) {
            errs.push(FieldError::duplicate(&p, quote(&gate.name)));
        }
    }
    errs.extend(validate_topology_spread(
        spec,
        &path.child("topologySpreadConstraints"),
    ));

    let service_account = s(&spec.service_account_name);
    if !service_account.is_empty() {
        for msg in names::is_dns1123_subdomain(service_account) {
            errs.push(FieldError::invalid(
                path.child("serviceAccountName"),
                quote(service_account),
                &msg,
            ));
        }
    }
    let node_name = s(&spec.node_name);
    if !node_name.is_empty() {
        for msg in names::is_dns1123_subdomain(node_name) {
            errs.push(FieldError::invalid(
                path.child("nodeName"),
                quote(node_name),
                &msg,
            ));
        }
    }
    if let Some(ads) = spec
        .active_deadline_seconds
        .filter(|v| !(1..=MAX_INT32).contains(v))
    {
        errs.push(FieldError::invalid(
            path.child("activeDeadlineSeconds"),
            ads,
            &inclusive_range_error(1, MAX_INT32),
        ));
    }
    for (field, value) in [
        ("hostname", s(&spec.hostname)),
        ("subdomain", s(&spec.subdomain)),
    ] {
        if !value.is_empty() {
            errs.extend(dns1123_label(value, &path.child(field)));
        }
    }
    errs.extend(validate_tolerations(
        spec.tolerations.as_deref().unwrap_or_default(),
        &path.child("tolerations"),
    ));
    for (i, alias) in spec.host_aliases.iter().flatten().enumerate() {
        let p = path.child("hostAliases").index(i);
        errs.extend(ip::validate_ip(&p.child("ip"), &alias.ip));
        for (j, host) in alias.hostnames.iter().flatten().enumerate() {
            errs.extend(dns1123_subdomain(host, &p.child("hostnames").index(j)));
        }
    }
    let priority_class = s(&spec.priority_class_name);
    if !priority_class.is_empty() {
        errs.extend(dns1123_subdomain(
            priority_class,
            &path.child("priorityClassName"),
        ));
    }
    if let Some(runtime_class) = &spec.runtime_class_name {
        errs.extend(dns1123_subdomain(
            runtime_class,
            &path.child("runtimeClassName"),
        ));
    }
    if let Some(policy) = &spec.preemption_policy {
        errs.extend(validate_enum(
            policy,
            &["PreemptLowerPriority", "Never"],
            &path.child("preemptionPolicy"),
        ));
    }
    if let Some(os) = &spec.os {
        if os.name.is_empty() {
            errs.push(FieldError::required(
                path.child("os").child("name"),
                "cannot be empty",
            ));
        } else if !["linux", "windows"].contains(&os.name.as_str()) {
            errs.push(FieldError::not_supported(
                path.child("os"),
                &os.name,
                &["linux", "windows"],
            ));
        }
    }
    errs
}

/// A required enumerated string: `Required value` when empty, else `Unsupported value`.
fn validate_enum(value: &str, supported: &[&str], path: &Path) -> Option<FieldError> {
    if value.is_empty() {
        Some(FieldError::required(path, ""))
    } else if !supported.contains(&value) {
        Some(FieldError::not_supported(path, value, supported))
    } else {
        None
    }
}

fn dns1123_label(value: &str, path: &Path) -> Vec<FieldError> {
    names::is_dns1123_label(value)
        .into_iter()
        .map(|m| FieldError::invalid(path, quote(value), &m))
        .collect()
}

fn dns1123_subdomain(value: &str, path: &Path) -> Vec<FieldError> {
    names::is_dns1123_subdomain(value)
        .into_iter()
        .map(|m| FieldError::invalid(path, quote(value), &m))
        .collect()
}

fn qualified_name(value: &str, path: &Path) -> Vec<FieldError> {
    names::is_qualified_name(value)
        .into_iter()
        .map(|m| FieldError::invalid(path, quote(value), &m))
        .collect()
}

/// A port given as a number or an IANA service name (probes, Service targetPort).
pub fn validate_port_num_or_name(port: &IntOrString, path: &Path) -> Vec<FieldError> {
    match port {
        IntOrString::Int(n) => names::is_valid_port_num(i64::from(*n))
            .into_iter()
            .map(|m| FieldError::invalid(path, n, &m))
            .collect(),
        IntOrString::String(name) => names::is_valid_port_name(name)
            .into_iter()
            .map(|m| FieldError::invalid(path, quote(name), &m))
            .collect(),
    }
}
