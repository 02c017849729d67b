//! Service-specific writes: ClusterIP(s) by IP family policy and NodePorts, allocated before the
//! Service is stored and released when it goes (or when a failed write leaves them unused).

use std::net::IpAddr;

use api::FieldError;
use api::resources::ResourceType;
use serde_json::{Value, json};

use crate::error::{ApiError, Result};
use crate::ipalloc::{AllocError, Allocator};

/// What one write allocated, so that a failed store write can give it back.
#[derive(Debug, Default)]
pub struct Allocated {
    ips: Vec<String>,
    ports: Vec<i64>,
}

impl Allocated {
    pub async fn release(self, alloc: &Allocator) {
        for ip in &self.ips {
            alloc.release_ip(ip).await;
        }
        for port in self.ports {
            alloc.release_port(port).await;
        }
    }
}

fn svc_type(obj: &Value) -> &str {
    obj.pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
}

fn str_list(obj: &Value, pointer: &str) -> Vec<String> {
    obj.pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn node_ports(obj: &Value) -> Vec<i64> {
    obj.pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(|ports| {
            ports
                .iter()
                .filter_map(|p| p.get("nodePort").and_then(Value::as_i64))
                .filter(|p| *p > 0)
                .collect()
        })
        .unwrap_or_default()
}

fn real_ips(obj: &Value) -> Vec<String> {
    str_list(obj, "/spec/clusterIPs")
        .into_iter()
        .filter(|ip| ip != "None" && !ip.is_empty())
        .collect()
}

fn invalid(rt: &ResourceType, name: &str, err: FieldError) -> ApiError {
    ApiError::invalid(rt, name, &[err])
}

/// Allocate the ClusterIPs and NodePorts `obj` needs and does not have yet (on update, what
/// `old` already holds stays allocated).
pub async fn allocate(
    alloc: &Allocator,
    rt: &ResourceType,
    name: &str,
    ns: Option<&str>,
    obj: &mut Value,
    old: Option<&Value>,
) -> Result<Allocated> {
    let mut session = Session {
        alloc,
        rt,
        name,
        owner: format!("{}/{name}", ns.unwrap_or_default()),
        done: Allocated::default(),
    };
    let mut result = session.cluster_ips(obj, old).await;
    if result.is_ok() {
        result = session.node_ports(obj, old).await;
    }
    if let Err(e) = result {
        session.done.release(alloc).await;
        return Err(e);
    }
    Ok(session.done)
}

/// One write's allocations, so that a failure part-way gives back what it took.
struct Session<'a> {
    alloc: &'a Allocator,
    rt: &'a ResourceType,
    name: &'a str,
    owner: String,
    done: Allocated,
}

impl Session<'_> {
    async fn cluster_ips(&mut self, obj: &mut Value, old: Option<&Value>) -> Result<()> {
        if svc_type(obj) == "ExternalName" {
            let spec = obj["spec"]
                .as_object_mut()
                .expect("validated service has a spec");
            for field in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
                spec.remove(field);
            }
            return Ok(());
        }
        let held: Vec<String> = old.map(real_ips).unwrap_or_default();
        let families = families_for(self.alloc, self.rt, self.name, obj)?;
        let cluster_ip = obj
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if cluster_ip == "None" {
            obj["spec"]["clusterIPs"] = json!(["None"]);
            obj["spec"]["ipFamilies"] = json!(families);
        } else {
            let mut requested = str_list(obj, "/spec/clusterIPs");
            if requested.is_empty() && !cluster_ip.is_empty() {
                requested.push(cluster_ip);
            }
            let mut ips = Vec::new();
            for (i, family) in families.iter().enumerate() {
                let want = requested.get(i).filter(|s| !s.is_empty()).cloned();
                let ip = match want {
                    Some(ip) if held.contains(&ip) => ip,
                    Some(ip) => {
                        let parsed: IpAddr = ip.parse().map_err(|_| {
                            invalid(
                                self.rt,
                                self.name,
                                FieldError::invalid(
                                    format!("spec.clusterIPs[{i}]"),
                                    format!("{ip:?}"),
                                    "must be a valid IP address",
                                ),
                            )
                        })?;
                        self.alloc
                            .reserve_ip(parsed, &self.owner)
                            .await
                            .map_err(|e| ip_error(self.rt, self.name, &requested, &ip, e))?;
                        self.done.ips.push(ip.clone());
                        ip
                    }
                    None => {
                        let family: &'static str = if family == "IPv6" { "IPv6" } else { "IPv4" };
                        let ip = self
                            .alloc
                            .allocate_ip(family, &self.owner)
                            .await
                            .map_err(|e| {
                                ApiError::Internal(format!("failed to allocate a serviceIP: {e}"))
                            })?
                            .to_string();
                        self.done.ips.push(ip.clone());
                        ip
                    }
                };
                ips.push(ip);
            }
            obj["spec"]["clusterIP"] = json!(ips[0]);
            obj["spec"]["clusterIPs"] = json!(ips);
            obj["spec"]["ipFamilies"] = json!(families);
        }
        if obj.pointer("/spec/ipFamilyPolicy").is_none() {
            obj["spec"]["ipFamilyPolicy"] = json!("SingleStack");
        }
        Ok(())
    }

    async fn node_ports(&mut self, obj: &mut Value, old: Option<&Value>) -> Result<()> {
        let wants_node_ports = matches!(svc_type(obj), "NodePort" | "LoadBalancer");
        let held = old.map(node_ports).unwrap_or_default();
        let Some(ports) = obj.pointer_mut("/spec/ports").and_then(Value::as_array_mut) else {
            return Ok(());
        };
        for (i, p) in ports.iter_mut().enumerate() {
            if !wants_node_ports {
                if let Some(m) = p.as_object_mut() {
                    m.remove("nodePort");
                }
                continue;
            }
            let requested = p.get("nodePort").and_then(Value::as_i64).unwrap_or(0);
            if requested != 0 && held.contains(&requested) {
                continue;
            }
            let port = if requested != 0 {
                self.alloc
                    .reserve_port(requested as i32, &self.owner)
                    .await
                    .map_err(|e| {
                        invalid(
                            self.rt,
                            self.name,
                            FieldError::invalid(
                                format!("spec.ports[{i}].nodePort"),
                                requested,
                                &e.to_string(),
                            ),
                        )
                    })?;
                requested
            } else {
                i64::from(self.alloc.allocate_port(&self.owner).await.map_err(|e| {
                    ApiError::Internal(format!("failed to allocate a nodePort: {e}"))
                })?)
            };
            self.done.ports.push(port);
            p["nodePort"] = json!(port);
        }
        Ok(())
    }
}

fn ip_error(
    rt: &ResourceType,
    name: &str,
    requested: &[String],
    ip: &str,
    e: AllocError,
) -> ApiError {
    invalid(
        rt,
        name,
        FieldError::invalid(
            "spec.clusterIPs",
            format!(
                "[]string{{{}}}",
                requested
                    .iter()
                    .map(|s| format!("{s:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            &format!("failed to allocate IP {ip}: {e}"),
        ),
    )
}

/// The IP families a Service gets from its policy, its requested families and IPs, and what
/// the cluster is configured for.
fn families_for(
    alloc: &Allocator,
    rt: &ResourceType,
    name: &str,
    obj: &Value,
) -> Result<Vec<String>> {
    let configured: Vec<String> = alloc
        .cidrs()
        .iter()
        .map(|c| c.family().to_string())
        .collect();
    let mut requested = str_list(obj, "/spec/ipFamilies");
    if requested.is_empty() {
        for ip in str_list(obj, "/spec/clusterIPs") {
            if let Ok(addr) = ip.parse::<IpAddr>() {
                requested.push(if addr.is_ipv4() { "IPv4" } else { "IPv6" }.to_string());
            }
        }
    }
    for (i, f) in requested.iter().enumerate() {
        if !configured.contains(f) {
            return Err(invalid(
                rt,
                name,
                FieldError::invalid(
                    format!("spec.ipFamilies[{i}]"),
                    format!("{f:?}"),
                    "not configured on this cluster",
                ),
            ));
        }
    }
    let policy = obj
        .pointer("/spec/ipFamilyPolicy")
        .and_then(Value::as_str)
        .unwrap_or("SingleStack");
    let mut families = requested;
    match policy {
        "RequireDualStack" | "PreferDualStack" => {
            if policy == "RequireDualStack" && configured.len() < 2 {
                return Err(invalid(
                    rt,
                    name,
                    FieldError::invalid(
                        "spec.ipFamilyPolicy",
                        "\"RequireDualStack\"",
                        "this cluster is not configured for dual-stack services",
                    ),
                ));
            }
            for f in &configured {
                if !families.contains(f) {
                    families.push(f.clone());
                }
            }
            families.truncate(2);
        }
        _ => {
            families.truncate(1);
            if families.is_empty() {
                families.push(configured.first().cloned().unwrap_or_else(|| "IPv4".into()));
            }
        }
    }
    Ok(families)
}

/// After an update: give back what the old Service held and the new one does not.
pub async fn release_dropped(alloc: &Allocator, old: &Value, new: &Value) {
    let keep_ips = real_ips(new);
    for ip in real_ips(old)
        .into_iter()
        .filter(|ip| !keep_ips.contains(ip))
    {
        alloc.release_ip(&ip).await;
    }
    let keep_ports = node_ports(new);
    for port in node_ports(old)
        .into_iter()
        .filter(|p| !keep_ports.contains(p))
    {
        alloc.release_port(port).await;
    }
}

/// After a delete: give back everything.
pub async fn release_all(alloc: &Allocator, old: &Value) {
    release_dropped(alloc, old, &json!({})).await;
}
