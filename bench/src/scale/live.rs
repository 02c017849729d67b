//! The DNS content of a built cluster, read back from the API: each Service's ClusterIP and the
//! ready addresses of its EndpointSlices, as the DNS benchmark's model. The DNS part's query
//! mix, gate sample and expected answers (dns/queries.rs) then apply unchanged to a cluster the
//! controllers and the agent built, whose pod IPs nobody knows in advance.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use anyhow::{Context, Result};
use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde::Deserialize;

use crate::client::{Endpoint, Sender};
use crate::dns::model::{Cluster, Endpoint as DnsEndpoint, Kind, Service};

/// The Service port every generated Service carries; the bootstrap Services (`kubernetes`,
/// `kube-dns`) lack it and stay out of the queries.
const PORT_NAME: &str = "http";
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

#[derive(Deserialize)]
struct List<T> {
    items: Vec<T>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Meta {
    name: String,
    namespace: String,
    labels: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct ServiceObj {
    metadata: Meta,
    spec: ServiceSpec,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ServiceSpec {
    #[serde(rename = "clusterIP")]
    cluster_ip: Option<String>,
    ports: Vec<Port>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Port {
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Slice {
    metadata: Meta,
    #[serde(default)]
    endpoints: Vec<SliceEndpoint>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SliceEndpoint {
    addresses: Vec<String>,
    conditions: Conditions,
    hostname: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Conditions {
    ready: Option<bool>,
}

async fn list<T: serde::de::DeserializeOwned>(
    endpoint: &Endpoint,
    sender: &mut Sender,
    path: &str,
) -> Result<Vec<T>> {
    let request = endpoint.request(Method::GET, path, Bytes::new())?;
    let body = sender.call(request, &[StatusCode::OK]).await?;
    let list: List<T> =
        serde_json::from_slice(&body).with_context(|| format!("decoding {path}"))?;
    Ok(list.items)
}

/// The cluster as the API holds it now.
pub async fn read(endpoint: &Endpoint, sender: &mut Sender) -> Result<Cluster> {
    let services: Vec<ServiceObj> = list(endpoint, sender, "/api/v1/services").await?;
    let slices: Vec<Slice> =
        list(endpoint, sender, "/apis/discovery.k8s.io/v1/endpointslices").await?;
    Ok(assemble(services, slices))
}

fn assemble(services: Vec<ServiceObj>, slices: Vec<Slice>) -> Cluster {
    let mut ready: BTreeMap<(String, String), Vec<DnsEndpoint>> = BTreeMap::new();
    for slice in slices {
        let Some(service) = slice.metadata.labels.get(SERVICE_NAME_LABEL) else {
            continue;
        };
        let key = (slice.metadata.namespace.clone(), service.clone());
        for e in slice.endpoints {
            // A ready condition left out means ready (discovery/v1).
            if e.conditions.ready == Some(false) {
                continue;
            }
            let Some(ip) = e.addresses.first().and_then(|a| a.parse::<Ipv4Addr>().ok()) else {
                continue;
            };
            ready.entry(key.clone()).or_default().push(DnsEndpoint {
                ip,
                hostname: e.hostname,
            });
        }
    }
    let mut namespaces = BTreeSet::new();
    let mut out = Vec::new();
    for s in services {
        if !s
            .spec
            .ports
            .iter()
            .any(|p| p.name.as_deref() == Some(PORT_NAME))
        {
            continue;
        }
        let key = (s.metadata.namespace.clone(), s.metadata.name.clone());
        let mut endpoints = ready.remove(&key).unwrap_or_default();
        endpoints.sort_by_key(|e| e.ip);
        let kind = match s.spec.cluster_ip.as_deref() {
            Some("None") if endpoints.is_empty() => continue,
            Some("None") => Kind::Headless(std::mem::take(&mut endpoints)),
            Some(ip) => match ip.parse() {
                Ok(ip) => Kind::ClusterIp(ip),
                Err(_) => continue,
            },
            None => continue,
        };
        namespaces.insert(s.metadata.namespace.clone());
        out.push(Service {
            namespace: s.metadata.namespace,
            name: s.metadata.name,
            kind,
            backends: endpoints,
        });
    }
    Cluster {
        namespaces: namespaces.into_iter().collect(),
        services: out,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn decode<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Vec<T> {
        serde_json::from_value::<List<T>>(v).unwrap().items
    }

    #[test]
    fn services_and_ready_slice_addresses_become_the_dns_model() {
        let services = decode(json!({"items": [
            {"metadata": {"name": "web", "namespace": "ns-0"},
             "spec": {"clusterIP": "None", "ports": [{"name": "http", "port": 8080}]}},
            {"metadata": {"name": "api", "namespace": "ns-1"},
             "spec": {"clusterIP": "10.96.1.7", "ports": [{"name": "http", "port": 80}]}},
            {"metadata": {"name": "kubernetes", "namespace": "default"},
             "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443}]}},
            {"metadata": {"name": "empty", "namespace": "ns-0"},
             "spec": {"clusterIP": "None", "ports": [{"name": "http", "port": 8080}]}},
        ]}));
        let slices = decode(json!({"items": [
            {"metadata": {"name": "web-abc", "namespace": "ns-0",
                          "labels": {"kubernetes.io/service-name": "web"}},
             "endpoints": [
                {"addresses": ["10.244.0.9"], "conditions": {"ready": true}, "hostname": "web-1"},
                {"addresses": ["10.244.0.3"], "conditions": {}, "hostname": "web-0"},
                {"addresses": ["10.244.0.5"], "conditions": {"ready": false}},
             ]},
            {"metadata": {"name": "api-xyz", "namespace": "ns-1",
                          "labels": {"kubernetes.io/service-name": "api"}},
             "endpoints": [{"addresses": ["10.244.1.2"], "conditions": {"ready": true}}]},
        ]}));
        let cluster = assemble(services, slices);

        assert_eq!(cluster.namespaces, ["ns-0", "ns-1"]);
        assert_eq!(
            cluster.services.len(),
            2,
            "no `kubernetes`, no headless without endpoints"
        );
        let web = &cluster.services[0];
        let ips: Vec<String> = web.endpoints().iter().map(|e| e.ip.to_string()).collect();
        assert_eq!(ips, ["10.244.0.3", "10.244.0.9"]);
        assert_eq!(web.endpoints()[0].label(), "web-0");
        let api = &cluster.services[1];
        assert!(matches!(api.kind, Kind::ClusterIp(ip) if ip == Ipv4Addr::new(10, 96, 1, 7)));
        assert_eq!(api.backends.len(), 1);
    }
}
