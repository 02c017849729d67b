//! Containers of all kinds: names, images, ports, env, mounts, policies, security contexts.

use std::collections::HashSet;

use super::handlers::{ProbeKind, validate_lifecycle, validate_probe_kind};
use super::resources::validate_resources;
use super::{
    MAX_INT32, PULL_POLICIES, SUPPORTED_PROTOCOLS, TERMINATION_MESSAGE_POLICIES, dns1123_label, s,
    validate_enum,
};
use crate::FieldError;
use crate::k8s::api::core::v1::{
    Container, ContainerPort, EnvVar, PodSecurityContext, PodSpec, SecurityContext,
};
use crate::validation::Path;
use crate::validation::names::{self, inclusive_range_error};
use crate::validation::render::quote;

/// Regular containers: required, unique names, probes and handlers allowed.
pub(super) fn validate_containers(
    containers: &[Container],
    grace: Option<i64>,
    path: &Path,
) -> Vec<FieldError> {
    if containers.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let mut errs = Vec::new();
    let mut names = HashSet::new();
    for (i, c) in containers.iter().enumerate() {
        let p = path.index(i);
        errs.extend(validate_container_common(c, &p));
        if !names.insert(c.name.as_str()) {
            errs.push(FieldError::duplicate(p.child("name"), quote(&c.name)));
        }
        errs.extend(validate_probes_and_hooks(c, grace, &p));
        if c.restart_policy.is_some() {
            errs.push(FieldError::forbidden(
                p.child("restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    errs.extend(check_host_port_conflicts(containers, path));
    errs
}

/// Lifecycle hooks and probes, allowed on regular and restartable init containers.
fn validate_probes_and_hooks(c: &Container, grace: Option<i64>, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(lifecycle) = &c.lifecycle {
        errs.extend(validate_lifecycle(
            lifecycle,
            grace,
            &path.child("lifecycle"),
        ));
    }
    for (probe, kind, field) in [
        (&c.liveness_probe, ProbeKind::Liveness, "livenessProbe"),
        (&c.readiness_probe, ProbeKind::Readiness, "readinessProbe"),
        (&c.startup_probe, ProbeKind::Startup, "startupProbe"),
    ] {
        errs.extend(validate_probe_kind(
            probe.as_ref(),
            kind,
            grace,
            &path.child(field),
        ));
    }
    errs
}

/// Init containers run one by one; only restartable ("sidecar") ones may have probes.
pub(super) fn validate_init_containers(
    containers: &[Container],
    regular: &[Container],
    grace: Option<i64>,
    path: &Path,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut names: HashSet<&str> = regular.iter().map(|c| c.name.as_str()).collect();
    for (i, c) in containers.iter().enumerate() {
        let p = path.index(i);
        errs.extend(validate_container_common(c, &p));
        let restart_always = match c.restart_policy.as_deref() {
            None => false,
            Some("Always") => true,
            Some(other) => {
                errs.push(FieldError::not_supported(
                    p.child("restartPolicy"),
                    other,
                    &["Always"],
                ));
                false
            }
        };
        if names.contains(c.name.as_str()) {
            errs.push(FieldError::duplicate(p.child("name"), quote(&c.name)));
        } else if !c.name.is_empty() {
            names.insert(c.name.as_str());
        }
        errs.extend(check_host_port_conflicts(std::slice::from_ref(c), path));
        if restart_always {
            errs.extend(validate_probes_and_hooks(c, grace, &p));
        } else {
            let forbidden = "may not be set for init containers without restartPolicy=Always";
            for (field, set) in [
                ("lifecycle", c.lifecycle.is_some()),
                ("livenessProbe", c.liveness_probe.is_some()),
                ("readinessProbe", c.readiness_probe.is_some()),
                ("startupProbe", c.startup_probe.is_some()),
            ] {
                if set {
                    errs.push(FieldError::forbidden(p.child(field), forbidden));
                }
            }
        }
    }
    errs
}

/// Ephemeral containers may only be added through their subresource; here we only keep
/// their names unique across all container kinds.
pub(super) fn validate_ephemeral_container_names(spec: &PodSpec, path: &Path) -> Vec<FieldError> {
    let mut all: HashSet<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
    all.extend(
        spec.init_containers
            .iter()
            .flatten()
            .map(|c| c.name.as_str()),
    );
    let mut errs = Vec::new();
    for (i, ec) in spec.ephemeral_containers.iter().flatten().enumerate() {
        let p = path.index(i).child("name");
        if ec.name.is_empty() {
            errs.push(FieldError::required(&p, ""));
        } else {
            errs.extend(dns1123_label(&ec.name, &p));
        }
        if !all.insert(ec.name.as_str()) {
            errs.push(FieldError::duplicate(&p, quote(&ec.name)));
        }
    }
    errs
}

/// Checks shared by all container kinds (`validateContainerCommon`).
fn validate_container_common(c: &Container, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name_path = path.child("name");
    if c.name.is_empty() {
        errs.push(FieldError::required(&name_path, ""));
    } else {
        errs.extend(dns1123_label(&c.name, &name_path));
    }
    if s(&c.image).is_empty() {
        errs.push(FieldError::required(path.child("image"), ""));
    }
    errs.extend(validate_enum(
        s(&c.termination_message_policy),
        TERMINATION_MESSAGE_POLICIES,
        &path.child("terminationMessagePolicy"),
    ));
    errs.extend(validate_container_ports(
        c.ports.as_deref().unwrap_or_default(),
        &path.child("ports"),
    ));
    errs.extend(validate_env(
        c.env.as_deref().unwrap_or_default(),
        &path.child("env"),
    ));
    errs.extend(validate_volume_mounts(c, &path.child("volumeMounts")));
    errs.extend(validate_enum(
        s(&c.image_pull_policy),
        PULL_POLICIES,
        &path.child("imagePullPolicy"),
    ));
    if let Some(resources) = &c.resources {
        errs.extend(validate_resources(resources, &path.child("resources")));
    }
    if let Some(sc) = &c.security_context {
        errs.extend(validate_security_context(
            sc,
            &path.child("securityContext"),
        ));
    }
    errs
}

/// Pods (not templates) may not have images padded with whitespace.
pub(super) fn validate_images_not_padded(containers: &[Container], path: &Path) -> Vec<FieldError> {
    containers
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let image = s(&c.image);
            (image.trim() != image).then(|| {
                FieldError::invalid(
                    path.index(i).child("image"),
                    quote(image),
                    "must not have leading or trailing whitespace",
                )
            })
        })
        .collect()
}

fn validate_container_ports(ports: &[ContainerPort], path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = path.index(i);
        let name = s(&port.name);
        if !name.is_empty() {
            let msgs = names::is_valid_port_name(name);
            if !msgs.is_empty() {
                errs.extend(
                    msgs.iter()
                        .map(|m| FieldError::invalid(p.child("name"), quote(name), m)),
                );
            } else if !names.insert(name) {
                errs.push(FieldError::duplicate(p.child("name"), quote(name)));
            }
        }
        if port.container_port == 0 {
            errs.push(FieldError::required(p.child("containerPort"), ""));
        } else {
            for m in names::is_valid_port_num(i64::from(port.container_port)) {
                errs.push(FieldError::invalid(
                    p.child("containerPort"),
                    port.container_port,
                    &m,
                ));
            }
        }
        if let Some(hp) = port.host_port.filter(|hp| *hp != 0) {
            for m in names::is_valid_port_num(i64::from(hp)) {
                errs.push(FieldError::invalid(p.child("hostPort"), hp, &m));
            }
        }
        errs.extend(validate_enum(
            s(&port.protocol),
            SUPPORTED_PROTOCOLS,
            &p.child("protocol"),
        ));
    }
    errs
}

/// Two containers may not claim the same host port (per protocol and host IP).
fn check_host_port_conflicts(containers: &[Container], path: &Path) -> Vec<FieldError> {
    let mut seen = HashSet::new();
    let mut errs = Vec::new();
    for (ci, c) in containers.iter().enumerate() {
        for (pi, port) in c.ports.iter().flatten().enumerate() {
            let hp = port.host_port.unwrap_or(0);
            if hp == 0 {
                continue;
            }
            let key = format!("{}/{}/{hp}", s(&port.protocol), s(&port.host_ip));
            if seen.contains(&key) {
                errs.push(FieldError::duplicate(
                    path.index(ci).child("ports").index(pi).child("hostPort"),
                    quote(&key),
                ));
            } else {
                seen.insert(key);
            }
        }
    }
    errs
}

fn validate_env(vars: &[EnvVar], path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, var) in vars.iter().enumerate() {
        let p = path.index(i);
        if var.name.is_empty() {
            errs.push(FieldError::required(p.child("name"), ""));
        } else {
            for m in names::is_relaxed_env_var_name(&var.name) {
                errs.push(FieldError::invalid(p.child("name"), quote(&var.name), &m));
            }
        }
        let Some(from) = &var.value_from else {
            continue;
        };
        let vp = p.child("valueFrom");
        let sources = [
            from.field_ref.is_some(),
            from.resource_field_ref.is_some(),
            from.config_map_key_ref.is_some(),
            from.secret_key_ref.is_some(),
        ]
        .into_iter()
        .filter(|set| *set)
        .count();
        if sources == 0 {
            errs.push(FieldError::invalid(
                &vp,
                quote(""),
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if !s(&var.value).is_empty() {
            errs.push(FieldError::invalid(
                &vp,
                quote(""),
                "may not be specified when `value` is not empty",
            ));
        } else if sources > 1 {
            errs.push(FieldError::invalid(
                &vp,
                quote(""),
                "may not have more than one field specified at a time",
            ));
        }
        for (field, key) in [
            (
                "configMapKeyRef",
                from.config_map_key_ref.as_ref().map(|r| &r.key),
            ),
            ("secretKeyRef", from.secret_key_ref.as_ref().map(|r| &r.key)),
        ] {
            let Some(key) = key else { continue };
            let kp = vp.child(field).child("key");
            if key.is_empty() {
                errs.push(FieldError::required(&kp, ""));
            } else {
                for m in names::is_config_map_key(key) {
                    errs.push(FieldError::invalid(&kp, quote(key), &m));
                }
            }
        }
    }
    errs
}

/// Mount names and paths. Upstream also reports mounts of unknown volumes as `Not found`;
/// `CauseType` has no NotFound variant yet, so that check is left out.
fn validate_volume_mounts(c: &Container, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut mount_points = HashSet::new();
    for (i, mount) in c.volume_mounts.iter().flatten().enumerate() {
        let p = path.index(i);
        if mount.name.is_empty() {
            errs.push(FieldError::required(p.child("name"), ""));
        }
        if mount.mount_path.is_empty() {
            errs.push(FieldError::required(p.child("mountPath"), ""));
        }
        if !mount_points.insert(mount.mount_path.as_str()) {
            errs.push(FieldError::invalid(
                p.child("mountPath"),
                quote(&mount.mount_path),
                "must be unique",
            ));
        }
        // Upstream reports sub-path errors on the list path (`volumeMounts.subPath`), without
        // the index; kept for identical output.
        let sub_path = s(&mount.sub_path);
        let sub_path_expr = s(&mount.sub_path_expr);
        if !sub_path.is_empty() {
            errs.extend(validate_local_descending_path(
                sub_path,
                &path.child("subPath"),
            ));
        }
        if !sub_path_expr.is_empty() {
            if !sub_path.is_empty() {
                errs.push(FieldError::invalid(
                    p.child("subPathExpr"),
                    quote(sub_path_expr),
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            errs.extend(validate_local_descending_path(
                sub_path_expr,
                &path.child("subPathExpr"),
            ));
        }
    }
    errs
}

/// Relative paths that stay inside the volume.
fn validate_local_descending_path(value: &str, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if value.starts_with('/') {
        errs.push(FieldError::invalid(
            path,
            quote(value),
            "must be a relative path",
        ));
    }
    if value.split('/').any(|part| part == "..") {
        errs.push(FieldError::invalid(
            path,
            quote(value),
            "must not contain '..'",
        ));
    }
    errs
}

fn validate_id(value: Option<i64>, path: &Path) -> Option<FieldError> {
    value
        .filter(|v| !(0..=MAX_INT32).contains(v))
        .map(|v| FieldError::invalid(path, v, &inclusive_range_error(0, MAX_INT32)))
}

fn validate_security_context(sc: &SecurityContext, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    errs.extend(validate_id(sc.run_as_user, &path.child("runAsUser")));
    errs.extend(validate_id(sc.run_as_group, &path.child("runAsGroup")));
    if let Some(proc_mount) = sc
        .proc_mount
        .as_deref()
        .filter(|m| !["Default", "Unmasked"].contains(m))
    {
        errs.push(FieldError::not_supported(
            path.child("procMount"),
            proc_mount,
            &["Default", "Unmasked"],
        ));
    }
    errs
}

pub(super) fn validate_pod_security_context(
    sc: &PodSecurityContext,
    spec: &PodSpec,
    path: &Path,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    errs.extend(validate_id(sc.fs_group, &path.child("fsGroup")));
    errs.extend(validate_id(sc.run_as_user, &path.child("runAsUser")));
    errs.extend(validate_id(sc.run_as_group, &path.child("runAsGroup")));
    for (i, gid) in sc.supplemental_groups.iter().flatten().enumerate() {
        errs.extend(validate_id(
            Some(*gid),
            &path.child("supplementalGroups").index(i),
        ));
    }
    if spec.share_process_namespace == Some(true) && spec.host_pid == Some(true) {
        errs.push(FieldError::invalid(
            path.child("shareProcessNamespace"),
            true,
            "ShareProcessNamespace and HostPID cannot both be enabled",
        ));
    }
    const FS_GROUP_POLICIES: &[&str] = &["Always", "OnRootMismatch"];
    if let Some(policy) = sc
        .fs_group_change_policy
        .as_deref()
        .filter(|p| !FS_GROUP_POLICIES.contains(p))
    {
        errs.push(FieldError::not_supported(
            path.child("fsGroupChangePolicy"),
            policy,
            FS_GROUP_POLICIES,
        ));
    }
    errs
}
