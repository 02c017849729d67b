//! Service discovery kinds: Service, Endpoints and EndpointSlice.

use std::collections::BTreeSet;

use serde_json::Value;

use super::fields::{
    first_few, format_labels, int_at, items_at, join_host_port, name, object_at, opt_int_at, or,
    str_at,
};
use super::{AGE, Column, NAME, age};

/// API defaults, for stored objects that lack them (upstream prints defaulted objects).
const DEFAULT_SERVICE_TYPE: &str = "ClusterIP";
const DEFAULT_PROTOCOL: &str = "TCP";

pub(super) const SERVICE_COLUMNS: &[Column] = &[
    NAME,
    Column::string("Type", "How the service is exposed."),
    Column::string(
        "Cluster-IP",
        "The service's virtual IP, or None when headless.",
    ),
    Column::string(
        "External-IP",
        "Addresses the service is reachable on from outside.",
    ),
    Column::string("Port(s)", "Ports the service exposes, with node ports."),
    AGE,
    Column::string("Selector", "Labels of the pods the service routes to.").wide(),
];

pub(super) fn service_cells(svc: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let svc_type = or(str_at(svc, "/spec/type"), DEFAULT_SERVICE_TYPE);
    vec![
        name(svc).into(),
        svc_type.into(),
        cluster_ip(svc).into(),
        external_ip(svc, svc_type).into(),
        or(&service_ports(svc), "<none>").into(),
        age(svc, now).into(),
        format_labels(object_at(svc, "/spec/selector")).into(),
    ]
}

/// The primary cluster IP (`None` for headless services), or `<none>`.
fn cluster_ip(svc: &Value) -> &str {
    // v1 objects may carry only the legacy singular field; upstream's conversion copies it
    // into clusterIPs before printing.
    let primary = items_at(svc, "/spec/clusterIPs")
        .first()
        .and_then(Value::as_str)
        .unwrap_or_else(|| str_at(svc, "/spec/clusterIP"));
    or(primary, "<none>")
}

fn external_ip(svc: &Value, svc_type: &str) -> String {
    let external_ips: Vec<&str> = items_at(svc, "/spec/externalIPs")
        .iter()
        .map(|ip| ip.as_str().unwrap_or(""))
        .collect();
    match svc_type {
        "ClusterIP" | "NodePort" if external_ips.is_empty() => "<none>".into(),
        "ClusterIP" | "NodePort" => external_ips.join(","),
        "LoadBalancer" => {
            let mut all = load_balancer_ingress(svc);
            all.extend(external_ips);
            if all.is_empty() {
                "<pending>".into()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => str_at(svc, "/spec/externalName").into(),
        _ => "<unknown>".into(),
    }
}

/// Ingress IPs (or hostnames when an entry has no IP), sorted and de-duplicated.
fn load_balancer_ingress(svc: &Value) -> Vec<&str> {
    let addresses: BTreeSet<&str> = items_at(svc, "/status/loadBalancer/ingress")
        .iter()
        .map(|ingress| or(str_at(ingress, "/ip"), str_at(ingress, "/hostname")))
        .filter(|address| !address.is_empty())
        .collect();
    addresses.into_iter().collect()
}

/// `80/TCP`, or `80:30080/TCP` with a node port, joined by `,`.
fn service_ports(svc: &Value) -> String {
    items_at(svc, "/spec/ports")
        .iter()
        .map(|port| {
            let number = int_at(port, "/port");
            let protocol = or(str_at(port, "/protocol"), DEFAULT_PROTOCOL);
            match int_at(port, "/nodePort") {
                node_port if node_port > 0 => format!("{number}:{node_port}/{protocol}"),
                _ => format!("{number}/{protocol}"),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) const ENDPOINTS_COLUMNS: &[Column] = &[
    NAME,
    Column::string("Endpoints", "Ready addresses and ports behind the service."),
    AGE,
];

pub(super) fn endpoints_cells(ep: &Value, now: jiff::Timestamp) -> Vec<Value> {
    vec![
        name(ep).into(),
        endpoint_addresses(ep).into(),
        age(ep, now).into(),
    ]
}

/// Ready addresses of all subsets, or `<none>` when there are no subsets at all. Subsets
/// holding nothing ready print as an empty cell, as upstream does.
fn endpoint_addresses(ep: &Value) -> String {
    let subsets = items_at(ep, "/subsets");
    if subsets.is_empty() {
        return "<none>".into();
    }
    first_few(subsets.iter().flat_map(subset_entries))
}

/// `ip:port` for each ready address under each port, or bare IPs when the subset has no
/// ports (possible for headless services).
fn subset_entries(subset: &Value) -> Vec<String> {
    let addresses = items_at(subset, "/addresses");
    let ports = items_at(subset, "/ports");
    if ports.is_empty() {
        return addresses
            .iter()
            .map(|address| str_at(address, "/ip").to_owned())
            .collect();
    }
    ports
        .iter()
        .flat_map(|port| {
            let number = int_at(port, "/port");
            addresses
                .iter()
                .map(move |address| join_host_port(str_at(address, "/ip"), number))
        })
        .collect()
}

pub(super) const ENDPOINT_SLICE_COLUMNS: &[Column] = &[
    NAME,
    Column::string(
        "AddressType",
        "The address family of the endpoints (IPv4, IPv6, FQDN).",
    ),
    Column::string("Ports", "Port numbers served by the endpoints."),
    Column::string("Endpoints", "Addresses of the endpoints."),
    AGE,
];

pub(super) fn endpoint_slice_cells(slice: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let ports = items_at(slice, "/ports").iter().map(slice_port);
    let addresses = items_at(slice, "/endpoints").iter().flat_map(|endpoint| {
        items_at(endpoint, "/addresses")
            .iter()
            .map(|address| address.as_str().unwrap_or("").to_owned())
    });
    vec![
        name(slice).into(),
        str_at(slice, "/addressType").into(),
        or(&first_few(ports), "<unset>").into(),
        or(&first_few(addresses), "<unset>").into(),
        age(slice, now).into(),
    ]
}

/// The port number, else its name, else `*` (a slice port may leave both unset).
fn slice_port(port: &Value) -> String {
    match (
        opt_int_at(port, "/port"),
        port.pointer("/name").and_then(Value::as_str),
    ) {
        (Some(number), _) => number.to_string(),
        (None, Some(port_name)) => port_name.to_owned(),
        (None, None) => "*".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::cells;
    use serde_json::{Value, json};

    fn now() -> jiff::Timestamp {
        "2024-06-01T12:00:00Z".parse().unwrap()
    }

    fn svc(spec: Value) -> Value {
        json!({"metadata": {"name": "s", "creationTimestamp": "2024-06-01T11:59:51Z"}, "spec": spec})
    }

    #[test]
    fn service_cases() {
        let cases = [
            (
                "seed: headless service",
                json!({"metadata": {"name": "my-nginx-headless-svc",
                                    "creationTimestamp": "2024-06-01T11:59:51Z"},
                       "spec": {"clusterIP": "None", "clusterIPs": ["None"], "type": "ClusterIP",
                                "ports": [{"name": "httpport", "protocol": "TCP", "port": 80,
                                           "targetPort": 80}],
                                "selector": {"run": "my-nginx"}}}),
                json!([
                    "my-nginx-headless-svc",
                    "ClusterIP",
                    "None",
                    "<none>",
                    "80/TCP",
                    "9s",
                    "run=my-nginx"
                ]),
            ),
            (
                "seed: kubernetes service",
                json!({"metadata": {"name": "kubernetes", "creationTimestamp": "2024-04-18T12:00:00Z"},
                       "spec": {"clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"],
                                "type": "ClusterIP",
                                "ports": [{"name": "https", "protocol": "TCP", "port": 443,
                                           "targetPort": 6443}]}}),
                json!([
                    "kubernetes",
                    "ClusterIP",
                    "10.96.0.1",
                    "<none>",
                    "443/TCP",
                    "44d",
                    "<none>"
                ]),
            ),
            (
                "node ports",
                svc(
                    json!({"type": "NodePort", "clusterIPs": ["10.96.3.4", "fd00::4"],
                           "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"},
                                     {"port": 53, "nodePort": 30053, "protocol": "UDP"}],
                           "selector": {"b": "2", "a": "1"}}),
                ),
                json!([
                    "s",
                    "NodePort",
                    "10.96.3.4",
                    "<none>",
                    "80:30080/TCP,53:30053/UDP",
                    "9s",
                    "a=1,b=2"
                ]),
            ),
            (
                "cluster IP with external IPs",
                svc(json!({"type": "ClusterIP", "clusterIP": "10.96.0.9",
                           "externalIPs": ["198.51.100.1", "198.51.100.2"],
                           "ports": [{"port": 8080}]})),
                json!([
                    "s",
                    "ClusterIP",
                    "10.96.0.9",
                    "198.51.100.1,198.51.100.2",
                    "8080/TCP",
                    "9s",
                    "<none>"
                ]),
            ),
            (
                "load balancer pending",
                svc(json!({"type": "LoadBalancer", "clusterIP": "10.96.0.7",
                           "ports": [{"port": 80, "nodePort": 31000, "protocol": "TCP"}]})),
                json!([
                    "s",
                    "LoadBalancer",
                    "10.96.0.7",
                    "<pending>",
                    "80:31000/TCP",
                    "9s",
                    "<none>"
                ]),
            ),
            (
                "load balancer ingress sorted and de-duplicated",
                json!({"metadata": {"name": "lb"},
                       "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.7",
                                "externalIPs": ["192.0.2.1"], "ports": [{"port": 443}]},
                       "status": {"loadBalancer": {"ingress": [
                           {"hostname": "lb.example.com"}, {"ip": "203.0.113.9"},
                           {"ip": "203.0.113.9"}, {}]}}}),
                json!([
                    "lb",
                    "LoadBalancer",
                    "10.96.0.7",
                    "203.0.113.9,lb.example.com,192.0.2.1",
                    "443/TCP",
                    "<unknown>",
                    "<none>"
                ]),
            ),
            (
                "external name",
                svc(json!({"type": "ExternalName", "externalName": "db.example.com"})),
                json!([
                    "s",
                    "ExternalName",
                    "<none>",
                    "db.example.com",
                    "<none>",
                    "9s",
                    "<none>"
                ]),
            ),
            (
                "unknown type",
                svc(json!({"type": "Weird", "clusterIP": "10.96.0.2"})),
                json!([
                    "s",
                    "Weird",
                    "10.96.0.2",
                    "<unknown>",
                    "<none>",
                    "9s",
                    "<none>"
                ]),
            ),
            (
                "undefaulted object gets API defaults",
                svc(json!({"ports": [{"port": 80}]})),
                json!([
                    "s",
                    "ClusterIP",
                    "<none>",
                    "<none>",
                    "80/TCP",
                    "9s",
                    "<none>"
                ]),
            ),
        ];
        for (name, obj, want) in cases {
            assert_eq!(Value::from(cells("Service", &obj, now())), want, "{name}");
        }
    }

    fn endpoints(subsets: Value) -> Value {
        json!({"metadata": {"name": "ep", "creationTimestamp": "2024-06-01T11:40:00Z"},
               "subsets": subsets})
    }

    #[test]
    fn endpoints_cases() {
        let addresses =
            |ips: &[&str]| -> Value { ips.iter().map(|ip| json!({"ip": ip})).collect() };
        let cases = [
            (
                "seed: two pods",
                endpoints(
                    json!([{"addresses": addresses(&["10.244.36.116", "10.244.36.118"]),
                                  "ports": [{"name": "httpport", "port": 80, "protocol": "TCP"}]}]),
                ),
                json!(["ep", "10.244.36.116:80,10.244.36.118:80", "20m"]),
            ),
            (
                "truncated after three",
                endpoints(
                    json!([{"addresses": addresses(&["10.0.0.1", "10.0.0.2", "10.0.0.3",
                                                           "10.0.0.4", "10.0.0.5"]),
                                  "ports": [{"port": 80}]}]),
                ),
                json!([
                    "ep",
                    "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more...",
                    "20m"
                ]),
            ),
            (
                "every port of every subset counts",
                endpoints(json!([
                    {"addresses": addresses(&["10.0.0.1", "10.0.0.2"]),
                     "ports": [{"port": 80}, {"port": 443}]},
                    {"addresses": addresses(&["10.0.1.1"]), "ports": [{"port": 8080}]}])),
                json!([
                    "ep",
                    "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 2 more...",
                    "20m"
                ]),
            ),
            (
                "headless without ports",
                endpoints(json!([{"addresses": addresses(&["10.0.0.1", "10.0.0.2"])}])),
                json!(["ep", "10.0.0.1,10.0.0.2", "20m"]),
            ),
            (
                "ipv6 is bracketed",
                endpoints(json!([{"addresses": addresses(&["fd00::1"]), "ports": [{"port": 80}]}])),
                json!(["ep", "[fd00::1]:80", "20m"]),
            ),
            (
                "only not-ready addresses",
                endpoints(json!([{"notReadyAddresses": addresses(&["10.0.0.1"]),
                                  "ports": [{"port": 80}]}])),
                json!(["ep", "", "20m"]),
            ),
            (
                "no subsets",
                endpoints(json!(null)),
                json!(["ep", "<none>", "20m"]),
            ),
        ];
        for (name, obj, want) in cases {
            assert_eq!(Value::from(cells("Endpoints", &obj, now())), want, "{name}");
        }
    }

    fn slice(ports: Value, endpoints: Value) -> Value {
        json!({"metadata": {"name": "sl-abc", "creationTimestamp": "2024-06-01T11:00:00Z"},
               "addressType": "IPv4", "ports": ports, "endpoints": endpoints})
    }

    #[test]
    fn endpoint_slice_cases() {
        let cases = [
            (
                "seed: two pods",
                slice(
                    json!([{"name": "httpport", "port": 80, "protocol": "TCP"}]),
                    json!([{"addresses": ["10.244.36.116"]}, {"addresses": ["10.244.36.118"]}]),
                ),
                json!(["sl-abc", "IPv4", "80", "10.244.36.116,10.244.36.118", "60m"]),
            ),
            (
                "truncated ports and endpoints",
                slice(
                    json!([{"port": 80}, {"port": 443}, {"port": 8080}, {"port": 9090}]),
                    json!([{"addresses": ["10.0.0.1", "10.0.0.2"]},
                             {"addresses": ["10.0.0.3"]}, {"addresses": ["10.0.0.4"]},
                             {"addresses": ["10.0.0.5"]}]),
                ),
                json!([
                    "sl-abc",
                    "IPv4",
                    "80,443,8080 + 1 more...",
                    "10.0.0.1,10.0.0.2,10.0.0.3 + 2 more...",
                    "60m"
                ]),
            ),
            (
                "port name or wildcard",
                slice(json!([{"name": "http"}, {}]), json!([])),
                json!(["sl-abc", "IPv4", "http,*", "<unset>", "60m"]),
            ),
            (
                "nothing set",
                slice(json!(null), json!(null)),
                json!(["sl-abc", "IPv4", "<unset>", "<unset>", "60m"]),
            ),
        ];
        for (name, obj, want) in cases {
            assert_eq!(
                Value::from(cells("EndpointSlice", &obj, now())),
                want,
                "{name}"
            );
        }
    }
}
