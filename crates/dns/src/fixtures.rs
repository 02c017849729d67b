//! A small cluster for tests: every shape of Service dns-spec.md distinguishes.

use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::{Value, json};

use crate::config::Config;
use crate::zone::ZoneView;

pub const SERIAL: u32 = 1_700_000_000;

fn from<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("fixture matches the k8s schema")
}

fn ns(name: &str) -> Namespace {
    from(json!({"metadata": {"name": name}}))
}

fn svc(ns: &str, name: &str, spec: Value) -> Service {
    from(json!({"metadata": {"namespace": ns, "name": name}, "spec": spec}))
}

fn slice(
    ns: &str,
    name: &str,
    svc: &str,
    family: &str,
    ports: Value,
    endpoints: Value,
) -> EndpointSlice {
    from(json!({
        "metadata": {"namespace": ns, "name": name, "labels": {"kubernetes.io/service-name": svc}},
        "addressType": family,
        "ports": ports,
        "endpoints": endpoints,
    }))
}

fn pod(ns: &str, name: &str, ip: &str) -> Pod {
    from(json!({"metadata": {"namespace": ns, "name": name}, "status": {"podIP": ip}}))
}

fn ep(ip: &str, ready: Option<bool>, hostname: Option<&str>, pod: &str) -> Value {
    let mut v =
        json!({"addresses": [ip], "targetRef": {"kind": "Pod", "name": pod, "namespace": "demo"}});
    if let Some(r) = ready {
        v["conditions"] = json!({"ready": r});
    }
    if let Some(h) = hostname {
        v["hostname"] = json!(h);
    }
    v
}

pub fn services() -> Vec<Service> {
    vec![
        svc(
            "kube-system",
            "kube-dns",
            json!({"clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"], "ports": [
            {"name": "dns", "port": 53, "protocol": "UDP"},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
            {"name": "metrics", "port": 9153, "protocol": "TCP"}]}),
        ),
        // ClusterIP with named ports and endpoints.
        svc(
            "demo",
            "web",
            json!({"clusterIP": "10.96.1.10", "clusterIPs": ["10.96.1.10"], "ports": [
            {"name": "http", "port": 80, "protocol": "TCP"},
            {"name": "https", "port": 443, "protocol": "TCP"}]}),
        ),
        // ClusterIP with one unnamed port and no endpoints.
        svc(
            "demo",
            "plain",
            json!({"clusterIP": "10.96.1.11", "ports": [{"port": 8080}]}),
        ),
        // Dual stack.
        svc(
            "demo",
            "dual",
            json!({"clusterIP": "10.96.1.12", "clusterIPs": ["10.96.1.12", "fd00:10:96::c"],
            "ipFamilies": ["IPv4", "IPv6"], "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}),
        ),
        // Headless StatefulSet service: web-0, web-1 ready, web-2 not.
        svc(
            "demo",
            "nginx",
            json!({"clusterIP": "None", "ports": [{"name": "web", "port": 80, "protocol": "TCP"}]}),
        ),
        // ClusterIP Service selecting the same StatefulSet pods (two PTRs for web-0).
        svc(
            "demo",
            "nginx-lb",
            json!({"clusterIP": "10.96.1.20", "ports": [{"name": "web", "port": 80, "protocol": "TCP"}]}),
        ),
        // Headless without hostnames, dual-stack endpoints.
        svc(
            "default",
            "my-nginx-headless-svc",
            json!({"clusterIP": "None", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}),
        ),
        // Headless with zero ready endpoints.
        svc(
            "demo",
            "unready",
            json!({"clusterIP": "None", "ports": [{"name": "web", "port": 80, "protocol": "TCP"}]}),
        ),
        // Headless without ports.
        svc("demo", "portless", json!({"clusterIP": "None"})),
        svc(
            "demo",
            "alias",
            json!({"type": "ExternalName", "externalName": "web.demo.svc.cluster.local"}),
        ),
        svc(
            "demo",
            "ext",
            json!({"type": "ExternalName", "externalName": "example.com."}),
        ),
        svc(
            "demo",
            "iplit",
            json!({"type": "ExternalName", "externalName": "1.2.3.4"}),
        ),
        svc(
            "demo",
            "dangling",
            json!({"type": "ExternalName", "externalName": "missing.demo.svc.cluster.local"}),
        ),
    ]
}

pub fn slices() -> Vec<EndpointSlice> {
    let web_port = json!([{"name": "web", "port": 8080, "protocol": "TCP"}]);
    vec![
        slice(
            "kube-system",
            "kube-dns-abc",
            "kube-dns",
            "IPv4",
            json!([{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
                   {"name": "metrics", "port": 9153, "protocol": "TCP"}]),
            json!([ep("10.244.0.5", Some(true), None, "coredns-1")]),
        ),
        slice(
            "demo",
            "web-abc",
            "web",
            "IPv4",
            json!([{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "https", "port": 8443, "protocol": "TCP"}]),
            json!([
                ep("10.244.1.10", Some(true), None, "web-7d9-a"),
                ep("10.244.1.11", None, None, "web-7d9-b")
            ]),
        ),
        slice("demo", "plain-abc", "plain", "IPv4", json!([]), json!([])),
        slice(
            "demo",
            "nginx-abc",
            "nginx",
            "IPv4",
            web_port.clone(),
            json!([
                ep("10.244.1.20", Some(true), Some("web-0"), "web-0"),
                ep("10.244.2.21", Some(true), Some("web-1"), "web-1"),
                ep("10.244.2.22", Some(false), Some("web-2"), "web-2")
            ]),
        ),
        // A second slice repeating web-0's address: answers must not repeat it.
        slice(
            "demo",
            "nginx-def",
            "nginx",
            "IPv4",
            web_port.clone(),
            json!([ep("10.244.1.20", Some(true), Some("web-0"), "web-0")]),
        ),
        slice(
            "demo",
            "nginx-lb-abc",
            "nginx-lb",
            "IPv4",
            web_port.clone(),
            json!([
                ep("10.244.1.20", Some(true), None, "web-0"),
                ep("10.244.2.21", Some(true), None, "web-1")
            ]),
        ),
        slice(
            "default",
            "my-nginx-headless-svc-v4",
            "my-nginx-headless-svc",
            "IPv4",
            json!([{"name": "http", "port": 80, "protocol": "TCP"}]),
            json!([ep("10.244.36.116", Some(true), None, "my-nginx-1")]),
        ),
        slice(
            "default",
            "my-nginx-headless-svc-v6",
            "my-nginx-headless-svc",
            "IPv6",
            json!([{"name": "http", "port": 80, "protocol": "TCP"}]),
            json!([ep("fd00:10:244:2::72", Some(true), None, "my-nginx-1")]),
        ),
        slice(
            "demo",
            "unready-abc",
            "unready",
            "IPv4",
            web_port,
            json!([ep("10.244.3.3", Some(false), None, "u-1")]),
        ),
        slice(
            "demo",
            "portless-abc",
            "portless",
            "IPv4",
            json!([]),
            json!([ep("10.244.3.30", None, None, "p-1")]),
        ),
    ]
}

pub fn namespaces() -> Vec<Namespace> {
    ["default", "kube-system", "demo", "quiet"]
        .into_iter()
        .map(ns)
        .collect()
}

pub fn pods() -> Vec<Pod> {
    vec![
        pod("demo", "web-0", "10.244.1.20"),
        pod("demo", "web-1", "10.244.2.21"),
    ]
}

/// The fixture cluster under `config`, with a pinned SOA serial.
pub fn view(config: &Config) -> ZoneView {
    let mut v = ZoneView::build(config, &services(), &slices(), &namespaces(), &pods());
    v.set_serial(SERIAL);
    v
}
