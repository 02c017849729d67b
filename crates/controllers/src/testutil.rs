//! Object builders for the table-driven plan tests.

use k8s_openapi::api::core::v1::Service;
use serde_json::{Value, json};

use crate::cached_pod::CachedPod;

pub fn from(v: Value) -> CachedPod {
    serde_json::from_value(v).expect("valid pod json")
}

/// A pod in `default` with labels `run=web`, an IP, Ready or not, owned by `owner_uid` if set.
pub fn pod(name: &str, ip: Option<&str>, ready: bool) -> CachedPod {
    let mut status = json!({
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" },
                        "lastTransitionTime": "2024-01-01T00:00:00Z"}],
    });
    if let Some(ip) = ip {
        status["podIP"] = json!(ip);
        status["podIPs"] = json!([{"ip": ip}]);
    }
    from(json!({
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"),
                     "labels": {"run": "web"}, "creationTimestamp": "2024-01-01T00:00:00Z"},
        "spec": {"containers": [{"name": "c", "image": "nginx",
                                 "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]}]},
        "status": status,
    }))
}

/// Change a pod through its JSON form.
pub fn with(p: CachedPod, f: impl FnOnce(&mut Value)) -> CachedPod {
    let mut v = serde_json::to_value(p).expect("pod to json");
    f(&mut v);
    from(v)
}

pub fn service(v: Value) -> Service {
    let mut base = json!({
        "metadata": {"name": "web", "namespace": "default", "uid": "svc-uid", "labels": {"app": "web"}},
        "spec": {"selector": {"run": "web"}, "clusterIP": "10.96.0.20", "ipFamilies": ["IPv4"],
                 "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]},
    });
    merge(&mut base, v);
    serde_json::from_value(base).expect("valid service json")
}

/// JSON merge patch (RFC 7386) of `patch` into `base`.
pub fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    b.remove(&k);
                } else {
                    merge(b.entry(k).or_insert(Value::Null), v);
                }
            }
        }
        (b, p) => *b = p,
    }
}
