//! Probes and lifecycle hooks, which share their handler types.

use super::{s, validate_port_num_or_name};
use crate::FieldError;
use crate::k8s::api::core::v1::{ExecAction, HTTPGetAction, Lifecycle, LifecycleHandler, Probe};
use crate::k8s::apimachinery::pkg::util::intstr::IntOrString;
use crate::validation::names;
use crate::validation::render::quote;
use crate::validation::{Path, meta};

#[derive(Clone, Copy, PartialEq)]
pub(super) enum ProbeKind {
    Liveness,
    Readiness,
    Startup,
}

pub(super) fn validate_probe_kind(
    probe: Option<&Probe>,
    kind: ProbeKind,
    grace: Option<i64>,
    path: &Path,
) -> Vec<FieldError> {
    let Some(probe) = probe else {
        return Vec::new();
    };
    let mut errs = validate_probe(probe, grace, path);
    let success = probe.success_threshold.unwrap_or(0);
    match kind {
        // Liveness and startup probes act on the first success or failure.
        ProbeKind::Liveness | ProbeKind::Startup if success != 1 => {
            errs.push(FieldError::invalid(
                path.child("successThreshold"),
                success,
                "must be 1",
            ));
        }
        ProbeKind::Readiness => {
            if let Some(tgps) = probe.termination_grace_period_seconds {
                errs.push(FieldError::invalid(
                    path.child("terminationGracePeriodSeconds"),
                    tgps,
                    "must not be set for readinessProbes",
                ));
            }
        }
        _ => {}
    }
    errs
}

fn validate_probe(probe: &Probe, grace: Option<i64>, path: &Path) -> Vec<FieldError> {
    let actions = [
        probe.exec.as_ref().map(Action::Exec),
        probe.http_get.as_ref().map(Action::HttpGet),
        probe
            .tcp_socket
            .as_ref()
            .map(|t| Action::TcpSocket(&t.port)),
        probe.grpc.as_ref().map(|g| Action::Grpc(g.port)),
    ];
    let mut errs = validate_handler(
        &actions.into_iter().flatten().collect::<Vec<_>>(),
        grace,
        path,
    );
    for (field, value) in [
        ("initialDelaySeconds", probe.initial_delay_seconds),
        ("timeoutSeconds", probe.timeout_seconds),
        ("periodSeconds", probe.period_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ] {
        errs.extend(meta::validate_nonnegative(
            i64::from(value.unwrap_or(0)),
            &path.child(field),
        ));
    }
    if let Some(tgps) = probe.termination_grace_period_seconds.filter(|t| *t <= 0) {
        errs.push(FieldError::invalid(
            path.child("terminationGracePeriodSeconds"),
            tgps,
            "must be greater than 0",
        ));
    }
    errs
}

/// One action of a probe or lifecycle hook.
enum Action<'a> {
    Exec(&'a ExecAction),
    HttpGet(&'a HTTPGetAction),
    TcpSocket(&'a IntOrString),
    Grpc(i32),
    Sleep(i64),
}

impl Action<'_> {
    fn field(&self) -> &'static str {
        match self {
            Action::Exec(_) => "exec",
            Action::HttpGet(_) => "httpGet",
            Action::TcpSocket(_) => "tcpSocket",
            Action::Grpc(_) => "grpc",
            Action::Sleep(_) => "sleep",
        }
    }
}

/// Exactly one action; the first one set is validated, the others are forbidden.
fn validate_handler(actions: &[Action<'_>], grace: Option<i64>, path: &Path) -> Vec<FieldError> {
    let Some((first, rest)) = actions.split_first() else {
        return vec![FieldError::required(path, "must specify a handler type")];
    };
    let mut errs = validate_action(first, grace, &path.child(first.field()));
    for extra in rest {
        errs.push(FieldError::forbidden(
            path.child(extra.field()),
            "may not specify more than 1 handler type",
        ));
    }
    errs
}

fn validate_action(action: &Action<'_>, grace: Option<i64>, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    match action {
        Action::Exec(exec) => {
            if exec.command.as_ref().is_none_or(Vec::is_empty) {
                errs.push(FieldError::required(path.child("command"), ""));
            }
        }
        Action::HttpGet(http) => {
            if s(&http.path).is_empty() {
                errs.push(FieldError::required(path.child("path"), ""));
            }
            errs.extend(validate_port_num_or_name(&http.port, &path.child("port")));
            let scheme = s(&http.scheme);
            if !["HTTP", "HTTPS"].contains(&scheme) {
                errs.push(FieldError::not_supported(
                    path.child("scheme"),
                    scheme,
                    &["HTTP", "HTTPS"],
                ));
            }
            for header in http.http_headers.iter().flatten() {
                for m in names::is_http_header_name(&header.name) {
                    errs.push(FieldError::invalid(
                        path.child("httpHeaders"),
                        quote(&header.name),
                        &m,
                    ));
                }
            }
        }
        Action::TcpSocket(port) => {
            errs.extend(validate_port_num_or_name(port, &path.child("port")))
        }
        Action::Grpc(port) => errs.extend(validate_port_num_or_name(
            &IntOrString::Int(*port),
            &path.child("port"),
        )),
        Action::Sleep(seconds) => {
            // Without a grace period the pod spec already reports that; nothing to compare.
            if let Some(grace) = grace.filter(|g| *seconds < 0 || seconds > g) {
                errs.push(FieldError::invalid(
                    path,
                    seconds,
                    &format!(
                        "must be non-negative and less than terminationGracePeriodSeconds ({grace})"
                    ),
                ));
            }
        }
    }
    errs
}

fn validate_lifecycle_handler(
    h: &LifecycleHandler,
    grace: Option<i64>,
    path: &Path,
) -> Vec<FieldError> {
    let actions = [
        h.exec.as_ref().map(Action::Exec),
        h.http_get.as_ref().map(Action::HttpGet),
        h.tcp_socket.as_ref().map(|t| Action::TcpSocket(&t.port)),
        h.sleep.as_ref().map(|action| Action::Sleep(action.seconds)),
    ];
    validate_handler(
        &actions.into_iter().flatten().collect::<Vec<_>>(),
        grace,
        path,
    )
}

pub(super) fn validate_lifecycle(
    l: &Lifecycle,
    grace: Option<i64>,
    path: &Path,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(h) = &l.post_start {
        errs.extend(validate_lifecycle_handler(
            h,
            grace,
            &path.child("postStart"),
        ));
    }
    if let Some(h) = &l.pre_stop {
        errs.extend(validate_lifecycle_handler(h, grace, &path.child("preStop")));
    }
    errs
}
