//! Pods: the READY count, the STATUS reason and the RESTARTS summary kubectl shows.
//!
//! STATUS is not a stored field. It starts from the phase (or `status.reason`, e.g.
//! `Evicted`), is replaced by the first init container that has not finished
//! (`Init:1/2`, `Init:CrashLoopBackOff`), otherwise by the most telling app container state
//! (`ContainerCreating`, `CrashLoopBackOff`, `Completed`), and finally by `Terminating`
//! while a deletion is pending.

use serde_json::Value;

use super::fields::{
    bool_at, int_at, is_set, items_at, name, or, since, str_at, struct_at, time_at,
};
use super::{AGE, Column, NAME, age};

/// `status.reason` the node lifecycle controller sets on pods of an unreachable node.
const NODE_UNREACHABLE_REASON: &str = "NodeLost";

pub(super) const POD_COLUMNS: &[Column] = &[
    NAME,
    Column::string(
        "Ready",
        "Ready containers out of all long-running containers.",
    ),
    Column::string("Status", "Summary of the pod's phase and container states."),
    Column::string(
        "Restarts",
        "Container restarts, and how long ago the last one was.",
    ),
    AGE,
    Column::string("IP", "The pod's primary IP address.").wide(),
    Column::string("Node", "The node the pod is bound to.").wide(),
    Column::string(
        "Nominated Node",
        "The node the scheduler is making room on.",
    )
    .wide(),
    Column::string(
        "Readiness Gates",
        "Readiness gates that are true, out of all.",
    )
    .wide(),
];

pub(super) fn pod_cells(pod: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let summary = Summary::of(pod);
    vec![
        name(pod).into(),
        format!("{}/{}", summary.ready, summary.total).into(),
        summary.reason.into(),
        summary.restarts.display(now).into(),
        age(pod, now).into(),
        pod_ip(pod).into(),
        or(str_at(pod, "/spec/nodeName"), "<none>").into(),
        or(str_at(pod, "/status/nominatedNodeName"), "<none>").into(),
        readiness_gates(pod).into(),
    ]
}

/// The computed Ready, Status and Restarts of a pod.
struct Summary {
    ready: usize,
    total: usize,
    reason: String,
    restarts: Restarts,
}

/// Restart count and the latest time a counted container last terminated.
#[derive(Clone, Copy, Default)]
struct Restarts {
    count: i64,
    last: Option<jiff::Timestamp>,
}

impl Restarts {
    fn add(&mut self, status: &Value) {
        // Saturating: a corrupt count must not abort printing the whole list.
        self.count = self.count.saturating_add(int_at(status, "/restartCount"));
        let finished = time_at(status, "/lastState/terminated/finishedAt");
        self.last = self.last.max(finished);
    }

    /// `0`, `3`, or `3 (5m ago)` when the last termination time is known.
    fn display(self, now: jiff::Timestamp) -> String {
        match self.last {
            Some(last) if self.count != 0 => {
                format!("{} ({} ago)", self.count, since(Some(last), now))
            }
            _ => self.count.to_string(),
        }
    }
}

impl Summary {
    fn of(pod: &Value) -> Self {
        let phase = str_at(pod, "/status/phase");
        let sidecars: Vec<&str> = items_at(pod, "/spec/initContainers")
            .iter()
            .filter(|container| is_sidecar(container))
            .map(|container| str_at(container, "/name"))
            .collect();
        let mut summary = Summary {
            ready: 0,
            total: items_at(pod, "/spec/containers").len() + sidecars.len(),
            reason: initial_reason(pod, phase),
            restarts: Restarts::default(),
        };

        let mut sidecar_restarts = Restarts::default();
        let initializing = summary.scan_init_containers(pod, &sidecars, &mut sidecar_restarts);
        if !initializing || has_true_condition(pod, "Initialized") {
            // Once initialized, only sidecars' restarts still matter among init containers.
            summary.restarts = sidecar_restarts;
            summary.scan_containers(pod);
        }

        if is_set(pod, "/metadata/deletionTimestamp") {
            if str_at(pod, "/status/reason") == NODE_UNREACHABLE_REASON {
                summary.reason = "Unknown".into();
            } else if !matches!(phase, "Succeeded" | "Failed") {
                summary.reason = "Terminating".into();
            }
        }
        summary
    }

    /// Walks init container statuses in order, counting restarts, until one explains why
    /// the pod is still initializing. Returns whether one did.
    fn scan_init_containers(
        &mut self,
        pod: &Value,
        sidecars: &[&str],
        sidecar_restarts: &mut Restarts,
    ) -> bool {
        let declared = items_at(pod, "/spec/initContainers").len();
        for (index, status) in items_at(pod, "/status/initContainerStatuses")
            .iter()
            .enumerate()
        {
            self.restarts.add(status);
            let is_sidecar = sidecars.contains(&str_at(status, "/name"));
            if is_sidecar {
                sidecar_restarts.add(status);
            }

            let terminated = struct_at(status, "/state/terminated");
            if terminated.is_some_and(|t| int_at(t, "/exitCode") == 0) {
                continue;
            }
            if is_sidecar && bool_at(status, "/started") {
                if bool_at(status, "/ready") {
                    self.ready += 1;
                }
                continue;
            }
            let waiting_reason = str_at(status, "/state/waiting/reason");
            self.reason = match terminated {
                Some(terminated) => terminated_reason(terminated, "Init:"),
                None if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" => {
                    format!("Init:{waiting_reason}")
                }
                None => format!("Init:{index}/{declared}"),
            };
            return true;
        }
        false
    }

    /// Walks app container statuses from last to first, so the first container's state
    /// has the final word on the reason.
    fn scan_containers(&mut self, pod: &Value) {
        let mut has_running = false;
        for status in items_at(pod, "/status/containerStatuses").iter().rev() {
            self.restarts.add(status);
            let waiting_reason = str_at(status, "/state/waiting/reason");
            let terminated = struct_at(status, "/state/terminated");
            if !waiting_reason.is_empty() {
                self.reason = waiting_reason.to_owned();
            } else if let Some(terminated) = terminated {
                self.reason = terminated_reason(terminated, "");
            } else if bool_at(status, "/ready") && is_set(status, "/state/running") {
                has_running = true;
                self.ready += 1;
            }
        }
        // A finished container next to a still-running one does not make the pod Completed.
        if self.reason == "Completed" && has_running {
            self.reason = if has_true_condition(pod, "Ready") {
                "Running"
            } else {
                "NotReady"
            }
            .into();
        }
    }
}

/// The phase, overridden by `status.reason` and then by a scheduling gate.
fn initial_reason(pod: &Value, phase: &str) -> String {
    let gated = items_at(pod, "/status/conditions").iter().any(|condition| {
        str_at(condition, "/type") == "PodScheduled"
            && str_at(condition, "/reason") == "SchedulingGated"
    });
    if gated {
        return "SchedulingGated".into();
    }
    or(str_at(pod, "/status/reason"), phase).to_owned()
}

/// Init containers with `restartPolicy: Always` keep running beside the app containers, so
/// they count towards READY.
fn is_sidecar(init_container: &Value) -> bool {
    str_at(init_container, "/restartPolicy") == "Always"
}

/// A terminated state's reason, or `Signal:N` / `ExitCode:N` when it gives none.
fn terminated_reason(terminated: &Value, prefix: &str) -> String {
    let reason = str_at(terminated, "/reason");
    let signal = int_at(terminated, "/signal");
    if !reason.is_empty() {
        format!("{prefix}{reason}")
    } else if signal != 0 {
        format!("{prefix}Signal:{signal}")
    } else {
        format!("{prefix}ExitCode:{}", int_at(terminated, "/exitCode"))
    }
}

/// Whether the first pod condition of `condition_type` is `True`.
fn has_true_condition(pod: &Value, condition_type: &str) -> bool {
    condition_status(pod, condition_type) == Some("True")
}

fn condition_status<'a>(pod: &'a Value, condition_type: &str) -> Option<&'a str> {
    items_at(pod, "/status/conditions")
        .iter()
        .find(|condition| str_at(condition, "/type") == condition_type)
        .map(|condition| str_at(condition, "/status"))
}

/// The primary pod IP; objects may carry only the legacy singular `podIP`.
fn pod_ip(pod: &Value) -> &str {
    let primary = items_at(pod, "/status/podIPs")
        .first()
        .map_or_else(|| str_at(pod, "/status/podIP"), |ip| str_at(ip, "/ip"));
    or(primary, "<none>")
}

/// `true/total` over `spec.readinessGates`, or `<none>` when the pod declares none.
fn readiness_gates(pod: &Value) -> String {
    let gates = items_at(pod, "/spec/readinessGates");
    if gates.is_empty() {
        return "<none>".into();
    }
    let passing = gates
        .iter()
        .filter(|gate| condition_status(pod, str_at(gate, "/conditionType")) == Some("True"))
        .count();
    format!("{passing}/{}", gates.len())
}

#[cfg(test)]
mod tests {
    use super::super::cells;
    use serde_json::{Value, json};

    fn now() -> jiff::Timestamp {
        "2024-06-01T12:00:00Z".parse().unwrap()
    }

    /// A pod created 4m22s ago, bound to k8s-node1, with the given spec and status merged in.
    fn pod(spec: Value, status: Value) -> Value {
        let mut pod = json!({
            "metadata": {"name": "p", "creationTimestamp": "2024-06-01T11:55:38Z"},
            "spec": {"nodeName": "k8s-node1", "containers": [{"name": "app", "image": "nginx"}]},
            "status": {"phase": "Running", "podIP": "10.244.0.5"},
        });
        merge(&mut pod["spec"], spec);
        merge(&mut pod["status"], status);
        pod
    }

    fn merge(target: &mut Value, patch: Value) {
        if let (Some(target), Value::Object(patch)) = (target.as_object_mut(), patch) {
            target.extend(patch);
        }
    }

    fn running(ready: bool, restarts: i64) -> Value {
        json!({"name": "app", "ready": ready, "restartCount": restarts,
               "state": {"running": {"startedAt": "2024-06-01T11:56:00Z"}}})
    }

    /// Ready, Status and Restarts cells.
    fn summary(obj: &Value) -> [Value; 3] {
        let row = cells("Pod", obj, now());
        [row[1].clone(), row[2].clone(), row[3].clone()]
    }

    #[test]
    fn seed_running_pod() {
        let obj = json!({
            "metadata": {"name": "my-nginx-6f6bcdf657-98h45",
                         "creationTimestamp": "2024-06-01T11:55:38Z",
                         "labels": {"pod-template-hash": "6f6bcdf657", "run": "my-nginx"}},
            "spec": {"nodeName": "k8s-node1",
                     "containers": [{"name": "my-nginx", "image": "nginx"}]},
            "status": {"phase": "Running", "podIP": "10.244.36.116",
                       "podIPs": [{"ip": "10.244.36.116"}],
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": "my-nginx", "ready": true,
                                              "restartCount": 0, "started": true,
                                              "state": {"running": {}}}]},
        });
        assert_eq!(
            Value::from(cells("Pod", &obj, now())),
            json!([
                "my-nginx-6f6bcdf657-98h45",
                "1/1",
                "Running",
                "0",
                "4m22s",
                "10.244.36.116",
                "k8s-node1",
                "<none>",
                "<none>"
            ])
        );
    }

    #[test]
    fn status_ready_and_restarts() {
        let cases = [
            (
                "pending, nothing reported yet",
                pod(json!({}), json!({"phase": "Pending"})),
                ["0/1", "Pending", "0"],
            ),
            (
                "container creating",
                pod(
                    json!({}),
                    json!({"phase": "Pending", "containerStatuses": [
                    {"name": "app", "ready": false, "restartCount": 0,
                     "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
                ),
                ["0/1", "ContainerCreating", "0"],
            ),
            (
                "crash loop with restart age",
                pod(
                    json!({}),
                    json!({"containerStatuses": [
                    {"name": "app", "ready": false, "restartCount": 2,
                     "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                     "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                                  "finishedAt": "2024-06-01T11:55:00Z"}}}]}),
                ),
                ["0/1", "CrashLoopBackOff", "2 (5m ago)"],
            ),
            (
                "restarts without a known finish time",
                pod(json!({}), json!({"containerStatuses": [running(true, 4)]})),
                ["1/1", "Running", "4"],
            ),
            (
                "latest termination across containers wins",
                pod(
                    json!({"containers": [{"name": "a"}, {"name": "b"}]}),
                    json!({"containerStatuses": [
                    {"name": "a", "ready": true, "restartCount": 1, "state": {"running": {}},
                     "lastState": {"terminated": {"finishedAt": "2024-06-01T10:00:00Z"}}},
                    {"name": "b", "ready": true, "restartCount": 2, "state": {"running": {}},
                     "lastState": {"terminated": {"finishedAt": "2024-06-01T11:30:00Z"}}}]}),
                ),
                ["2/2", "Running", "3 (30m ago)"],
            ),
            (
                "completed",
                pod(
                    json!({}),
                    json!({"phase": "Succeeded", "containerStatuses": [
                    {"name": "app", "ready": false, "restartCount": 0,
                     "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
                ),
                ["0/1", "Completed", "0"],
            ),
            (
                "completed container beside a running one, pod ready",
                pod(
                    json!({"containers": [{"name": "a"}, {"name": "b"}]}),
                    json!({
                    "conditions": [{"type": "Ready", "status": "True"}],
                    "containerStatuses": [
                        {"name": "a", "ready": true, "state": {"running": {}}},
                        {"name": "b", "ready": false,
                         "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
                ),
                ["1/2", "Running", "0"],
            ),
            (
                "completed container beside a running one, pod not ready",
                pod(
                    json!({"containers": [{"name": "a"}, {"name": "b"}]}),
                    json!({
                    "conditions": [{"type": "Ready", "status": "False"}],
                    "containerStatuses": [
                        {"name": "a", "ready": true, "state": {"running": {}}},
                        {"name": "b", "ready": false,
                         "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
                ),
                ["1/2", "NotReady", "0"],
            ),
            (
                "first container's state has the last word",
                pod(
                    json!({"containers": [{"name": "a"}, {"name": "b"}]}),
                    json!({"containerStatuses": [
                    {"name": "a", "state": {"waiting": {"reason": "ImagePullBackOff"}}},
                    {"name": "b", "state": {"waiting": {"reason": "ErrImagePull"}}}]}),
                ),
                ["0/2", "ImagePullBackOff", "0"],
            ),
            (
                "terminated without reason shows exit code",
                pod(
                    json!({}),
                    json!({"phase": "Failed", "containerStatuses": [
                    {"name": "app", "state": {"terminated": {"exitCode": 137}}}]}),
                ),
                ["0/1", "ExitCode:137", "0"],
            ),
            (
                "terminated without reason shows signal",
                pod(
                    json!({}),
                    json!({"phase": "Failed", "containerStatuses": [
                    {"name": "app", "state": {"terminated": {"exitCode": 0, "signal": 9}}}]}),
                ),
                ["0/1", "Signal:9", "0"],
            ),
            (
                "running but not ready",
                pod(json!({}), json!({"containerStatuses": [running(false, 0)]})),
                ["0/1", "Running", "0"],
            ),
            (
                "evicted keeps status reason",
                pod(json!({}), json!({"phase": "Failed", "reason": "Evicted"})),
                ["0/1", "Evicted", "0"],
            ),
            (
                "scheduling gated",
                pod(
                    json!({}),
                    json!({"phase": "Pending", "conditions": [
                    {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
                ),
                ["0/1", "SchedulingGated", "0"],
            ),
        ];
        for (name, obj, want) in cases {
            assert_eq!(summary(&obj), want.map(Value::from), "{name}");
        }
    }

    fn with_inits(init_statuses: Value, extra_status: Value) -> Value {
        let mut status = json!({"phase": "Pending", "initContainerStatuses": init_statuses,
                                "containerStatuses": [
                                    {"name": "app", "state": {"waiting": {"reason": "PodInitializing"}}}]});
        merge(&mut status, extra_status);
        pod(
            json!({"initContainers": [{"name": "init-a"}, {"name": "init-b"}]}),
            status,
        )
    }

    #[test]
    fn init_containers() {
        let done = json!({"name": "init-a", "restartCount": 0,
                          "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}});
        let cases = [
            (
                "first init running",
                with_inits(
                    json!([{"name": "init-a", "state": {"running": {}}},
                                  {"name": "init-b", "state": {"waiting": {"reason": "PodInitializing"}}}]),
                    json!({}),
                ),
                ["0/1", "Init:0/2", "0"],
            ),
            (
                "second init waiting on PodInitializing counts as progress",
                with_inits(
                    json!([done, {"name": "init-b",
                                         "state": {"waiting": {"reason": "PodInitializing"}}}]),
                    json!({}),
                ),
                ["0/1", "Init:1/2", "0"],
            ),
            (
                "init crash loop counts its restarts",
                with_inits(
                    json!([{"name": "init-a", "restartCount": 3,
                                   "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                                   "lastState": {"terminated": {"exitCode": 1,
                                                                "finishedAt": "2024-06-01T11:59:00Z"}}}]),
                    json!({}),
                ),
                ["0/1", "Init:CrashLoopBackOff", "3 (60s ago)"],
            ),
            (
                "init failed with reason",
                with_inits(
                    json!([{"name": "init-a",
                                   "state": {"terminated": {"exitCode": 2, "reason": "Error"}}}]),
                    json!({}),
                ),
                ["0/1", "Init:Error", "0"],
            ),
            (
                "init failed without reason",
                with_inits(
                    json!([{"name": "init-a", "state": {"terminated": {"exitCode": 2}}}]),
                    json!({}),
                ),
                ["0/1", "Init:ExitCode:2", "0"],
            ),
            (
                "init killed by signal",
                with_inits(
                    json!([{"name": "init-a",
                                   "state": {"terminated": {"exitCode": 1, "signal": 15}}}]),
                    json!({}),
                ),
                ["0/1", "Init:Signal:15", "0"],
            ),
            (
                "all inits done: app containers decide, init restarts drop out",
                with_inits(
                    json!([{"name": "init-a", "restartCount": 5,
                                   "state": {"terminated": {"exitCode": 0}}},
                                  {"name": "init-b", "state": {"terminated": {"exitCode": 0}}}]),
                    json!({"phase": "Running", "containerStatuses": [running(true, 0)]}),
                ),
                ["1/1", "Running", "0"],
            ),
            (
                "initialized condition: app containers count, init restarts and reason stay",
                with_inits(
                    json!([{"name": "init-a", "restartCount": 1,
                                   "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]),
                    json!({"phase": "Running",
                                  "conditions": [{"type": "Initialized", "status": "True"}],
                                  "containerStatuses": [running(true, 0)]}),
                ),
                ["1/1", "Init:CrashLoopBackOff", "0"],
            ),
            (
                "initialized condition: a waiting app container takes over the reason",
                with_inits(
                    json!([{"name": "init-a",
                                   "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]),
                    json!({"phase": "Running",
                                  "conditions": [{"type": "Initialized", "status": "True"}],
                                  "containerStatuses": [{"name": "app", "restartCount": 1,
                                                         "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}),
                ),
                ["0/1", "CrashLoopBackOff", "1"],
            ),
        ];
        for (name, obj, want) in cases {
            assert_eq!(summary(&obj), want.map(Value::from), "{name}");
        }
    }

    #[test]
    fn sidecar_init_containers() {
        let spec = json!({"initContainers": [{"name": "proxy", "restartPolicy": "Always"},
                                             {"name": "setup"}]});
        let cases = [
            (
                "started sidecar counts as ready and keeps its restarts",
                pod(
                    spec.clone(),
                    json!({
                    "initContainerStatuses": [
                        {"name": "proxy", "started": true, "ready": true, "restartCount": 2,
                         "state": {"running": {}},
                         "lastState": {"terminated": {"finishedAt": "2024-06-01T11:50:00Z"}}},
                        {"name": "setup", "restartCount": 1,
                         "state": {"terminated": {"exitCode": 0}}}],
                    "containerStatuses": [running(true, 1)]}),
                ),
                ["2/2", "Running", "3 (10m ago)"],
            ),
            (
                "sidecar not started yet blocks initialization",
                pod(
                    spec.clone(),
                    json!({
                    "phase": "Pending",
                    "initContainerStatuses": [
                        {"name": "proxy", "started": false, "state": {"running": {}}},
                        {"name": "setup", "state": {"waiting": {"reason": "PodInitializing"}}}],
                    "containerStatuses": [
                        {"name": "app", "state": {"waiting": {"reason": "PodInitializing"}}}]}),
                ),
                ["0/2", "Init:0/2", "0"],
            ),
            (
                "started but unready sidecar",
                pod(
                    spec,
                    json!({
                    "initContainerStatuses": [
                        {"name": "proxy", "started": true, "ready": false,
                         "state": {"running": {}}},
                        {"name": "setup", "state": {"terminated": {"exitCode": 0}}}],
                    "containerStatuses": [running(true, 0)]}),
                ),
                ["1/2", "Running", "0"],
            ),
        ];
        for (name, obj, want) in cases {
            assert_eq!(summary(&obj), want.map(Value::from), "{name}");
        }
    }

    #[test]
    fn deletion() {
        let deleting = |status: Value| {
            let mut obj = pod(json!({}), status);
            obj["metadata"]["deletionTimestamp"] = json!("2024-06-01T11:59:00Z");
            obj
        };
        let cases = [
            (
                "running pod being deleted",
                deleting(json!({"containerStatuses": [running(true, 0)]})),
                ["1/1", "Terminating", "0"],
            ),
            (
                "node lost",
                deleting(json!({"reason": "NodeLost", "containerStatuses": [running(true, 0)]})),
                ["1/1", "Unknown", "0"],
            ),
            (
                "succeeded pod keeps its terminal reason",
                deleting(json!({"phase": "Succeeded", "containerStatuses": [
                    {"name": "app", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]})),
                ["0/1", "Completed", "0"],
            ),
            (
                "failed pod keeps its terminal reason",
                deleting(json!({"phase": "Failed", "containerStatuses": [
                    {"name": "app", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]})),
                ["0/1", "Error", "0"],
            ),
        ];
        for (name, obj, want) in cases {
            assert_eq!(summary(&obj), want.map(Value::from), "{name}");
        }
    }

    #[test]
    fn wide_cells() {
        let wide = |obj: &Value| Value::from(cells("Pod", obj, now())[5..].to_vec());
        let cases = [
            (
                "podIPs win over podIP",
                pod(
                    json!({}),
                    json!({"podIP": "10.0.0.1",
                                      "podIPs": [{"ip": "10.0.0.2"}, {"ip": "fd00::2"}]}),
                ),
                json!(["10.0.0.2", "k8s-node1", "<none>", "<none>"]),
            ),
            (
                "unscheduled with nomination",
                json!({"metadata": {"name": "p"},
                       "spec": {"containers": [{"name": "app"}]},
                       "status": {"phase": "Pending", "nominatedNodeName": "node-b"}}),
                json!(["<none>", "<none>", "node-b", "<none>"]),
            ),
            (
                "readiness gates",
                pod(
                    json!({"readinessGates": [{"conditionType": "example.com/lb"},
                                              {"conditionType": "example.com/dns"}]}),
                    json!({"conditions": [{"type": "example.com/lb", "status": "True"},
                                          {"type": "example.com/dns", "status": "False"}]}),
                ),
                json!(["10.244.0.5", "k8s-node1", "<none>", "1/2"]),
            ),
        ];
        for (name, obj, want) in cases {
            assert_eq!(wide(&obj), want, "{name}");
        }
    }
}
