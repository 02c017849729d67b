//! Defaulting: the values kube-apiserver fills in when a client leaves fields out.
//!
//! They matter beyond correctness because kubectl prints them: `describe pod` shows
//! `Port: 80/TCP` only if the protocol was defaulted, `get svc -o yaml` shows
//! `sessionAffinity: None`, and so on. The rules follow `pkg/apis/core/v1/defaults.go`,
//! `pkg/apis/apps/v1/defaults.go` and the generated defaulters of kube-apiserver 1.33, plus
//! the few values its registry strategies set on create (Namespace finalizers and phase,
//! Service clusterIPs). Defaulting is idempotent: applying it twice changes nothing.

use std::collections::BTreeMap;

use crate::k8s::ByteString;
use crate::k8s::api::apps::v1::{
    Deployment, DeploymentStrategy, ReplicaSet, RollingUpdateDeployment,
    RollingUpdateStatefulSetStrategy, StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy,
    StatefulSetUpdateStrategy,
};
use crate::k8s::api::coordination::v1::Lease;
use crate::k8s::api::core::v1::{
    ClientIPConfig, ConfigMap, Container, EndpointSubset, Endpoints, EphemeralContainer, Event,
    HTTPGetAction, Lifecycle, Namespace, NamespaceSpec, NamespaceStatus, Node, Pod,
    PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements, Secret, Service,
    ServiceSpec, SessionAffinityConfig, Volume,
};
use crate::k8s::api::discovery::v1::EndpointSlice;
use crate::k8s::apimachinery::pkg::util::intstr::IntOrString;

/// Fills in the fields kube-apiserver defaults.
pub trait ApplyDefaults {
    fn apply_defaults(&mut self);

    /// On update, before defaulting: carry over from the stored object what a client may
    /// leave out but the server keeps (e.g. allocated ClusterIPs). Most kinds have nothing.
    fn prepare_update(&mut self, _old: &Self) {}
}

/// Sets `field` to `value` when it is unset.
fn or_set<T>(field: &mut Option<T>, value: T) {
    if field.is_none() {
        *field = Some(value);
    }
}

/// Like [`or_set`] for strings, where Go does not tell empty from unset.
fn or_set_str(field: &mut Option<String>, value: &str) {
    if field.as_deref().is_none_or(str::is_empty) {
        *field = Some(value.to_string());
    }
}

// ---------------------------------------------------------------------------------------
// Pods and pod templates

/// Mode of files projected from Secrets, ConfigMaps and the downward API (0644).
const DEFAULT_FILE_MODE: i32 = 0o644;

impl ApplyDefaults for Pod {
    fn apply_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        default_pod_spec(spec);
        // The rest applies to Pods only, not to the templates of workloads.
        or_set(&mut spec.enable_service_links, true);
        for c in spec
            .containers
            .iter_mut()
            .chain(spec.init_containers.iter_mut().flatten())
        {
            default_requests_to_limits(c.resources.get_or_insert_with(Default::default));
        }
        if spec.host_network == Some(true) {
            // With host networking a container port is a host port.
            for c in spec
                .containers
                .iter_mut()
                .chain(spec.init_containers.iter_mut().flatten())
            {
                for p in c.ports.iter_mut().flatten() {
                    if p.host_port.unwrap_or(0) == 0 {
                        p.host_port = Some(p.container_port);
                    }
                }
            }
        }
    }
}

/// A request left out where a limit is given means "request the limit".
fn default_requests_to_limits(r: &mut ResourceRequirements) {
    let Some(limits) = &r.limits else { return };
    let requests = r.requests.get_or_insert_with(BTreeMap::new);
    for (name, q) in limits {
        requests.entry(name.clone()).or_insert_with(|| q.clone());
    }
}

/// `SetDefaults_PodSpec` and what the generated defaulters apply inside a pod spec; used for
/// Pods and for the templates of Deployments, ReplicaSets and StatefulSets.
fn default_pod_spec(spec: &mut PodSpec) {
    or_set_str(&mut spec.dns_policy, "ClusterFirst");
    or_set_str(&mut spec.restart_policy, "Always");
    or_set(&mut spec.security_context, PodSecurityContext::default());
    or_set(&mut spec.termination_grace_period_seconds, 30);
    or_set_str(&mut spec.scheduler_name, "default-scheduler");
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        default_container(c);
    }
    for c in spec.ephemeral_containers.iter_mut().flatten() {
        default_ephemeral_container(c);
    }
    for v in spec.volumes.iter_mut().flatten() {
        default_volume(v);
    }
}

fn default_template(template: &mut PodTemplateSpec) {
    default_pod_spec(template.spec.get_or_insert_with(Default::default));
}

/// `Always` for `:latest` or untagged images (they may change), `IfNotPresent` otherwise.
fn default_pull_policy(image: &str) -> &'static str {
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    // The tag follows the last colon after the last slash (a registry may have a port).
    let last_segment = name.rsplit('/').next().unwrap_or(name);
    let tag = last_segment.split_once(':').map(|(_, tag)| tag);
    // An image kube-apiserver cannot parse (empty, upper case) has no tag: IfNotPresent.
    let parseable = !name.is_empty() && !name.bytes().any(|b| b.is_ascii_uppercase());
    match tag {
        Some("latest") => "Always",
        None if parseable && digest.is_none() => "Always",
        _ => "IfNotPresent",
    }
}

/// Container and EphemeralContainer are distinct types with the same defaulted fields.
macro_rules! default_container_fields {
    ($c:expr) => {{
        let c = $c;
        if c.image_pull_policy.as_deref().is_none_or(str::is_empty) {
            c.image_pull_policy =
                Some(default_pull_policy(c.image.as_deref().unwrap_or_default()).to_string());
        }
        or_set_str(&mut c.termination_message_path, "/dev/termination-log");
        or_set_str(&mut c.termination_message_policy, "File");
        for p in c.ports.iter_mut().flatten() {
            or_set_str(&mut p.protocol, "TCP");
        }
        // Go always serializes the (non-pointer) resources struct, as `resources: {}`.
        or_set(&mut c.resources, ResourceRequirements::default());
        for probe in [
            &mut c.liveness_probe,
            &mut c.readiness_probe,
            &mut c.startup_probe,
        ]
        .into_iter()
        .flatten()
        {
            default_probe(probe);
        }
        if let Some(lifecycle) = &mut c.lifecycle {
            default_lifecycle(lifecycle);
        }
        for env in c.env.iter_mut().flatten() {
            if let Some(field_ref) = env.value_from.as_mut().and_then(|v| v.field_ref.as_mut()) {
                or_set_str(&mut field_ref.api_version, "v1");
            }
        }
    }};
}

fn default_container(c: &mut Container) {
    default_container_fields!(c);
}

fn default_ephemeral_container(c: &mut EphemeralContainer) {
    default_container_fields!(c);
}

fn default_probe(p: &mut Probe) {
    // Go's zero means unset for these int32 fields.
    let set = |field: &mut Option<i32>, value: i32| {
        if field.unwrap_or(0) == 0 {
            *field = Some(value);
        }
    };
    set(&mut p.timeout_seconds, 1);
    set(&mut p.period_seconds, 10);
    set(&mut p.success_threshold, 1);
    set(&mut p.failure_threshold, 3);
    if let Some(http) = &mut p.http_get {
        default_http_get(http);
    }
}

fn default_http_get(h: &mut HTTPGetAction) {
    or_set_str(&mut h.path, "/");
    or_set_str(&mut h.scheme, "HTTP");
}

fn default_lifecycle(l: &mut Lifecycle) {
    for handler in [&mut l.post_start, &mut l.pre_stop].into_iter().flatten() {
        if let Some(http) = &mut handler.http_get {
            default_http_get(http);
        }
    }
}

/// A volume without a source is an emptyDir; projected files get mode 0644.
fn default_volume(v: &mut Volume) {
    let has_source = v.host_path.is_some()
        || v.empty_dir.is_some()
        || v.gce_persistent_disk.is_some()
        || v.aws_elastic_block_store.is_some()
        || v.git_repo.is_some()
        || v.secret.is_some()
        || v.nfs.is_some()
        || v.iscsi.is_some()
        || v.glusterfs.is_some()
        || v.persistent_volume_claim.is_some()
        || v.rbd.is_some()
        || v.flex_volume.is_some()
        || v.cinder.is_some()
        || v.cephfs.is_some()
        || v.flocker.is_some()
        || v.downward_api.is_some()
        || v.fc.is_some()
        || v.azure_file.is_some()
        || v.config_map.is_some()
        || v.vsphere_volume.is_some()
        || v.quobyte.is_some()
        || v.azure_disk.is_some()
        || v.photon_persistent_disk.is_some()
        || v.projected.is_some()
        || v.portworx_volume.is_some()
        || v.scale_io.is_some()
        || v.storageos.is_some()
        || v.csi.is_some()
        || v.ephemeral.is_some()
        || v.image.is_some();
    if !has_source {
        v.empty_dir = Some(Default::default());
    }
    if let Some(secret) = &mut v.secret {
        or_set(&mut secret.default_mode, DEFAULT_FILE_MODE);
    }
    if let Some(cm) = &mut v.config_map {
        or_set(&mut cm.default_mode, DEFAULT_FILE_MODE);
    }
    if let Some(downward) = &mut v.downward_api {
        or_set(&mut downward.default_mode, DEFAULT_FILE_MODE);
        for item in downward.items.iter_mut().flatten() {
            if let Some(field_ref) = &mut item.field_ref {
                or_set_str(&mut field_ref.api_version, "v1");
            }
        }
    }
    if let Some(projected) = &mut v.projected {
        or_set(&mut projected.default_mode, DEFAULT_FILE_MODE);
        for source in projected.sources.iter_mut().flatten() {
            if let Some(token) = &mut source.service_account_token {
                or_set(&mut token.expiration_seconds, 3600);
            }
        }
    }
    if let Some(host_path) = &mut v.host_path {
        or_set(&mut host_path.type_, String::new());
    }
}

// ---------------------------------------------------------------------------------------
// Services

impl ApplyDefaults for Service {
    fn apply_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        default_service_spec(spec);
    }

    fn prepare_update(&mut self, old: &Self) {
        prepare_service_update(self, old);
    }
}

/// ClientIP session affinity lasts three hours unless told otherwise.
const DEFAULT_CLIENT_IP_AFFINITY_SECONDS: i32 = 10800;

fn default_service_spec(spec: &mut ServiceSpec) {
    or_set_str(&mut spec.session_affinity, "None");
    match spec.session_affinity.as_deref() {
        Some("None") => spec.session_affinity_config = None,
        Some("ClientIP") => {
            let has_timeout = spec
                .session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .is_some_and(|c| c.timeout_seconds.is_some());
            if !has_timeout {
                spec.session_affinity_config = Some(SessionAffinityConfig {
                    client_ip: Some(ClientIPConfig {
                        timeout_seconds: Some(DEFAULT_CLIENT_IP_AFFINITY_SECONDS),
                    }),
                });
            }
        }
        _ => {}
    }
    or_set_str(&mut spec.type_, "ClusterIP");
    for port in spec.ports.iter_mut().flatten() {
        or_set_str(&mut port.protocol, "TCP");
        let unset = match &port.target_port {
            None => true,
            Some(IntOrString::Int(0)) => true,
            Some(IntOrString::String(s)) => s.is_empty(),
            Some(_) => false,
        };
        if unset {
            port.target_port = Some(IntOrString::Int(port.port));
        }
    }

    let svc_type = spec.type_.clone().unwrap_or_default();
    if externally_accessible(spec) {
        or_set_str(&mut spec.external_traffic_policy, "Cluster");
    }
    if matches!(svc_type.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer") {
        or_set(&mut spec.internal_traffic_policy, "Cluster".to_string());
    }
    if svc_type == "LoadBalancer" {
        or_set(&mut spec.allocate_load_balancer_node_ports, true);
    }

    // kube-apiserver fills clusterIPs from clusterIP before allocating (for clients that
    // only know the singular field); `clusterIP: None` (headless) becomes
    // `clusterIPs: [None]`, which `describe svc` prints as `IPs: None`. The reverse is not
    // done: a client that sets clusterIPs must set clusterIP too.
    let cluster_ip = spec.cluster_ip.clone().unwrap_or_default();
    if !cluster_ip.is_empty() && spec.cluster_ips.as_ref().is_none_or(Vec::is_empty) {
        spec.cluster_ips = Some(vec![cluster_ip]);
    }

    // The IP family policy is finalized by the allocator upstream; we set the value it
    // picks for a single-stack cluster and leave ipFamilies to it.
    if svc_type != "ExternalName" && spec.ip_family_policy.is_none() {
        let dual = spec.cluster_ips.as_ref().is_some_and(|ips| ips.len() == 2)
            || spec.ip_families.as_ref().is_some_and(|f| f.len() == 2);
        spec.ip_family_policy = Some(
            if dual {
                "RequireDualStack"
            } else {
                "SingleStack"
            }
            .to_string(),
        );
    }
}

/// What kube-apiserver does to a Service update before defaulting and validating it (its
/// `PrepareForUpdate`); call it before [`ApplyDefaults::apply_defaults`].
///
/// - Values that were allocated (cluster IPs, IP families and policy, node ports, the
///   health-check port) and that the client left out are carried over from the stored
///   object, so that `kubectl replace` with a manifest that never had them keeps them.
/// - When the type changes, values only the old type needed and that the client left as they
///   were are dropped, so that e.g. `kubectl apply` can turn a ClusterIP Service into an
///   ExternalName one.
pub fn prepare_service_update(new: &mut Service, old: &Service) {
    let (Some(new), Some(old)) = (new.spec.as_mut(), old.spec.as_ref()) else {
        return;
    };
    carry_over_allocations(new, old);
    drop_type_dependent_fields(new, old);
}

fn service_type(spec: &ServiceSpec) -> &str {
    spec.type_
        .as_deref()
        .filter(|t| !t.is_empty())
        .unwrap_or("ClusterIP")
}

fn needs_cluster_ip(spec: &ServiceSpec) -> bool {
    service_type(spec) != "ExternalName"
}

fn needs_node_ports(spec: &ServiceSpec) -> bool {
    match service_type(spec) {
        "NodePort" => true,
        "LoadBalancer" => spec.allocate_load_balancer_node_ports != Some(false),
        _ => false,
    }
}

fn needs_health_check_port(spec: &ServiceSpec) -> bool {
    service_type(spec) == "LoadBalancer" && spec.external_traffic_policy.as_deref() == Some("Local")
}

fn externally_accessible(spec: &ServiceSpec) -> bool {
    match service_type(spec) {
        "NodePort" | "LoadBalancer" => true,
        "ClusterIP" => spec
            .external_ips
            .as_ref()
            .is_some_and(|ips| !ips.is_empty()),
        _ => false,
    }
}

fn carry_over_allocations(new: &mut ServiceSpec, old: &ServiceSpec) {
    if needs_cluster_ip(new) && needs_cluster_ip(old) {
        if new.cluster_ip.as_deref().unwrap_or_default().is_empty() {
            new.cluster_ip.clone_from(&old.cluster_ip);
        }
        if new.cluster_ips.as_ref().is_none_or(Vec::is_empty) {
            new.cluster_ips.clone_from(&old.cluster_ips);
        }
        if new.ip_families.as_ref().is_none_or(Vec::is_empty) {
            new.ip_families.clone_from(&old.ip_families);
        }
        if new.ip_family_policy.is_none() {
            new.ip_family_policy.clone_from(&old.ip_family_policy);
        }
    }
    if needs_node_ports(new) && needs_node_ports(old) {
        // Node ports are matched by port name; one the new object already uses for another
        // port is not handed out twice.
        let used: Vec<i32> = new
            .ports
            .iter()
            .flatten()
            .filter_map(|p| p.node_port)
            .filter(|n| *n != 0)
            .collect();
        for port in new.ports.iter_mut().flatten() {
            if port.node_port.unwrap_or(0) != 0 {
                continue;
            }
            let old_port = old
                .ports
                .iter()
                .flatten()
                .find(|p| p.name == port.name)
                .and_then(|p| p.node_port);
            if let Some(np) = old_port.filter(|np| !used.contains(np)) {
                port.node_port = Some(np);
            }
        }
    }
    if needs_health_check_port(new)
        && needs_health_check_port(old)
        && new.health_check_node_port.unwrap_or(0) == 0
    {
        new.health_check_node_port = old.health_check_node_port;
    }
}

fn drop_type_dependent_fields(new: &mut ServiceSpec, old: &ServiceSpec) {
    if needs_cluster_ip(old) && !needs_cluster_ip(new) {
        if new.cluster_ips == old.cluster_ips {
            new.cluster_ip = None;
            new.cluster_ips = None;
        }
        if new.ip_families == old.ip_families {
            new.ip_families = None;
        }
        if new.ip_family_policy == old.ip_family_policy {
            new.ip_family_policy = None;
        }
    }
    let node_ports = |s: &ServiceSpec| -> Vec<Option<i32>> {
        s.ports.iter().flatten().map(|p| p.node_port).collect()
    };
    if needs_node_ports(old) && !needs_node_ports(new) && node_ports(new) == node_ports(old) {
        for port in new.ports.iter_mut().flatten() {
            port.node_port = None;
        }
    }
    if needs_health_check_port(old)
        && !needs_health_check_port(new)
        && new.health_check_node_port == old.health_check_node_port
    {
        new.health_check_node_port = None;
    }
    if service_type(old) == "LoadBalancer" && service_type(new) != "LoadBalancer" {
        if new.allocate_load_balancer_node_ports == old.allocate_load_balancer_node_ports {
            new.allocate_load_balancer_node_ports = None;
        }
        if new.load_balancer_class == old.load_balancer_class {
            new.load_balancer_class = None;
        }
    }
    if externally_accessible(old)
        && !externally_accessible(new)
        && new.external_traffic_policy == old.external_traffic_policy
    {
        new.external_traffic_policy = None;
    }
}

// ---------------------------------------------------------------------------------------
// Endpoints and EndpointSlices

impl ApplyDefaults for Endpoints {
    fn apply_defaults(&mut self) {
        for subset in self.subsets.iter_mut().flatten() {
            default_endpoint_subset(subset);
        }
    }
}

fn default_endpoint_subset(subset: &mut EndpointSubset) {
    for port in subset.ports.iter_mut().flatten() {
        or_set_str(&mut port.protocol, "TCP");
    }
}

impl ApplyDefaults for EndpointSlice {
    fn apply_defaults(&mut self) {
        for port in self.ports.iter_mut().flatten() {
            // An unnamed port is serialized as `name: ""`; kubectl describe dereferences it.
            or_set(&mut port.name, String::new());
            or_set_str(&mut port.protocol, "TCP");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Namespaces, Nodes, Secrets and the kinds without defaults

impl ApplyDefaults for Namespace {
    fn apply_defaults(&mut self) {
        if let Some(name) = self.metadata.name.clone().filter(|n| !n.is_empty()) {
            self.metadata
                .labels
                .get_or_insert_with(BTreeMap::new)
                .insert("kubernetes.io/metadata.name".to_string(), name);
        }
        // kube-apiserver adds the `kubernetes` finalizer on create only: the namespace
        // controller removes it while deleting, and it must not come back. A namespace that
        // is not being deleted and has no finalizers is (for us) one being created.
        let spec = self.spec.get_or_insert_with(NamespaceSpec::default);
        if self.metadata.deletion_timestamp.is_none()
            && spec.finalizers.as_ref().is_none_or(Vec::is_empty)
        {
            spec.finalizers = Some(vec!["kubernetes".to_string()]);
        }
        let status = self.status.get_or_insert_with(NamespaceStatus::default);
        or_set_str(&mut status.phase, "Active");
    }
}

impl ApplyDefaults for Node {
    fn apply_defaults(&mut self) {
        if let Some(status) = &mut self.status
            && status.allocatable.is_none()
        {
            status.allocatable.clone_from(&status.capacity);
        }
    }
}

impl ApplyDefaults for Secret {
    fn apply_defaults(&mut self) {
        or_set_str(&mut self.type_, "Opaque");
        // kube-apiserver merges stringData into data while converting from v1 (a write-only
        // convenience), so stored Secrets never carry it; stringData wins on conflicts.
        if let Some(string_data) = self.string_data.take() {
            let data = self.data.get_or_insert_with(BTreeMap::new);
            for (key, value) in string_data {
                data.insert(key, ByteString(value.into_bytes()));
            }
        }
    }
}

impl ApplyDefaults for ConfigMap {
    fn apply_defaults(&mut self) {}
}

impl ApplyDefaults for Event {
    fn apply_defaults(&mut self) {}
}

impl ApplyDefaults for Lease {
    fn apply_defaults(&mut self) {}
}

// ---------------------------------------------------------------------------------------
// Workloads

impl ApplyDefaults for Deployment {
    fn apply_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        or_set(&mut spec.replicas, 1);
        let strategy = spec
            .strategy
            .get_or_insert_with(DeploymentStrategy::default);
        or_set_str(&mut strategy.type_, "RollingUpdate");
        if strategy.type_.as_deref() == Some("RollingUpdate") {
            let ru = strategy
                .rolling_update
                .get_or_insert_with(RollingUpdateDeployment::default);
            or_set(
                &mut ru.max_unavailable,
                IntOrString::String("25%".to_string()),
            );
            or_set(&mut ru.max_surge, IntOrString::String("25%".to_string()));
        }
        or_set(&mut spec.revision_history_limit, 10);
        or_set(&mut spec.progress_deadline_seconds, 600);
        default_template(&mut spec.template);
    }
}

impl ApplyDefaults for ReplicaSet {
    fn apply_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        or_set(&mut spec.replicas, 1);
        if let Some(template) = &mut spec.template {
            default_template(template);
        }
    }
}

impl ApplyDefaults for StatefulSet {
    fn apply_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        or_set_str(&mut spec.pod_management_policy, "OrderedReady");
        let strategy = spec
            .update_strategy
            .get_or_insert_with(StatefulSetUpdateStrategy::default);
        if strategy.type_.as_deref().is_none_or(str::is_empty) {
            strategy.type_ = Some("RollingUpdate".to_string());
            or_set(
                &mut strategy.rolling_update,
                RollingUpdateStatefulSetStrategy::default(),
            );
        }
        if strategy.type_.as_deref() == Some("RollingUpdate")
            && let Some(ru) = &mut strategy.rolling_update
        {
            or_set(&mut ru.partition, 0);
        }
        let retention = spec
            .persistent_volume_claim_retention_policy
            .get_or_insert_with(StatefulSetPersistentVolumeClaimRetentionPolicy::default);
        or_set_str(&mut retention.when_deleted, "Retain");
        or_set_str(&mut retention.when_scaled, "Retain");
        or_set(&mut spec.replicas, 1);
        or_set(&mut spec.revision_history_limit, 10);
        default_template(&mut spec.template);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::api::core::v1::{ContainerPort, NodeStatus, ServicePort};
    use crate::k8s::api::discovery::v1::EndpointPort as SlicePort;
    use crate::k8s::apimachinery::pkg::api::resource::Quantity;

    fn defaulted<T: ApplyDefaults>(mut obj: T) -> T {
        obj.apply_defaults();
        obj
    }

    fn service(spec: ServiceSpec) -> ServiceSpec {
        defaulted(Service {
            spec: Some(spec),
            ..Default::default()
        })
        .spec
        .unwrap()
    }

    #[test]
    fn service_bare_port_gets_protocol_and_target_port() {
        let spec = service(ServiceSpec {
            ports: Some(vec![ServicePort {
                port: 80,
                ..Default::default()
            }]),
            ..Default::default()
        });
        let port = &spec.ports.as_ref().unwrap()[0];
        assert_eq!(port.protocol.as_deref(), Some("TCP"));
        assert_eq!(port.target_port, Some(IntOrString::Int(80)));
        assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
        assert_eq!(spec.session_affinity.as_deref(), Some("None"));
        assert_eq!(spec.internal_traffic_policy.as_deref(), Some("Cluster"));
        assert_eq!(spec.ip_family_policy.as_deref(), Some("SingleStack"));
        assert_eq!(spec.external_traffic_policy, None);
        assert_eq!(spec.cluster_ips, None);
    }

    #[test]
    fn service_named_target_port_is_kept() {
        let spec = service(ServiceSpec {
            ports: Some(vec![ServicePort {
                port: 80,
                target_port: Some(IntOrString::String("http".into())),
                ..Default::default()
            }]),
            ..Default::default()
        });
        assert_eq!(
            spec.ports.unwrap()[0].target_port,
            Some(IntOrString::String("http".into()))
        );
    }

    #[test]
    fn service_type_dependent_defaults() {
        /// What each Service type gets.
        struct Want {
            external_traffic: Option<&'static str>,
            internal_traffic: Option<&'static str>,
            allocate_lb_node_ports: Option<bool>,
            ip_family_policy: Option<&'static str>,
        }
        let cases = [
            (
                "ClusterIP",
                Want {
                    external_traffic: None,
                    internal_traffic: Some("Cluster"),
                    allocate_lb_node_ports: None,
                    ip_family_policy: Some("SingleStack"),
                },
            ),
            (
                "NodePort",
                Want {
                    external_traffic: Some("Cluster"),
                    internal_traffic: Some("Cluster"),
                    allocate_lb_node_ports: None,
                    ip_family_policy: Some("SingleStack"),
                },
            ),
            (
                "LoadBalancer",
                Want {
                    external_traffic: Some("Cluster"),
                    internal_traffic: Some("Cluster"),
                    allocate_lb_node_ports: Some(true),
                    ip_family_policy: Some("SingleStack"),
                },
            ),
            (
                "ExternalName",
                Want {
                    external_traffic: None,
                    internal_traffic: None,
                    allocate_lb_node_ports: None,
                    ip_family_policy: None,
                },
            ),
        ];
        for (t, want) in cases {
            let spec = service(ServiceSpec {
                type_: Some(t.to_string()),
                ..Default::default()
            });
            assert_eq!(
                spec.external_traffic_policy.as_deref(),
                want.external_traffic,
                "{t}"
            );
            assert_eq!(
                spec.internal_traffic_policy.as_deref(),
                want.internal_traffic,
                "{t}"
            );
            assert_eq!(
                spec.allocate_load_balancer_node_ports, want.allocate_lb_node_ports,
                "{t}"
            );
            assert_eq!(
                spec.ip_family_policy.as_deref(),
                want.ip_family_policy,
                "{t}"
            );
        }
    }

    #[test]
    fn service_cluster_ips_follow_cluster_ip() {
        let headless = service(ServiceSpec {
            cluster_ip: Some("None".into()),
            ..Default::default()
        });
        assert_eq!(headless.cluster_ips, Some(vec!["None".to_string()]));
        let fixed = service(ServiceSpec {
            cluster_ip: Some("10.96.0.10".into()),
            ..Default::default()
        });
        assert_eq!(fixed.cluster_ips, Some(vec!["10.96.0.10".to_string()]));
        // clusterIPs alone stays alone: validation tells the client to set clusterIP too.
        let from_list = service(ServiceSpec {
            cluster_ips: Some(vec!["10.96.0.11".into()]),
            ..Default::default()
        });
        assert_eq!(from_list.cluster_ip, None);
        let dual = service(ServiceSpec {
            cluster_ips: Some(vec!["10.96.0.11".into(), "fd00::11".into()]),
            ..Default::default()
        });
        assert_eq!(dual.ip_family_policy.as_deref(), Some("RequireDualStack"));
    }

    #[test]
    fn service_client_ip_affinity_gets_timeout() {
        let spec = service(ServiceSpec {
            session_affinity: Some("ClientIP".into()),
            ..Default::default()
        });
        let timeout = spec
            .session_affinity_config
            .unwrap()
            .client_ip
            .unwrap()
            .timeout_seconds;
        assert_eq!(timeout, Some(10800));
    }

    #[test]
    fn service_update_carries_allocations_over() {
        let old = defaulted(Service {
            spec: Some(ServiceSpec {
                type_: Some("NodePort".into()),
                cluster_ip: Some("10.96.0.10".into()),
                ports: Some(vec![ServicePort {
                    name: Some("http".into()),
                    port: 80,
                    node_port: Some(30080),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        });
        let mut new = Service {
            spec: Some(ServiceSpec {
                type_: Some("NodePort".into()),
                ports: Some(vec![ServicePort {
                    name: Some("http".into()),
                    port: 8080,
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        prepare_service_update(&mut new, &old);
        new.apply_defaults();
        let spec = new.spec.unwrap();
        assert_eq!(spec.cluster_ips, Some(vec!["10.96.0.10".to_string()]));
        assert_eq!(spec.ports.unwrap()[0].node_port, Some(30080));
    }

    #[test]
    fn service_update_to_external_name_drops_allocations() {
        let old = defaulted(Service {
            spec: Some(ServiceSpec {
                cluster_ip: Some("10.96.0.10".into()),
                ports: Some(vec![ServicePort {
                    port: 80,
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        });
        // What `kubectl apply` sends: the live object with the type changed.
        let mut new = old.clone();
        let spec = new.spec.as_mut().unwrap();
        spec.type_ = Some("ExternalName".into());
        spec.external_name = Some("db.example.com".into());
        prepare_service_update(&mut new, &old);
        new.apply_defaults();
        let spec = new.spec.unwrap();
        assert_eq!((spec.cluster_ip, spec.cluster_ips), (None, None));
        assert_eq!(spec.ip_family_policy, None);
    }

    fn pod(containers: Vec<Container>) -> PodSpec {
        defaulted(Pod {
            spec: Some(PodSpec {
                containers,
                ..Default::default()
            }),
            ..Default::default()
        })
        .spec
        .unwrap()
    }

    #[test]
    fn pod_spec_defaults() {
        let spec = pod(vec![Container {
            name: "c".into(),
            image: Some("nginx".into()),
            ..Default::default()
        }]);
        assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
        assert_eq!(spec.dns_policy.as_deref(), Some("ClusterFirst"));
        assert_eq!(spec.scheduler_name.as_deref(), Some("default-scheduler"));
        assert_eq!(spec.termination_grace_period_seconds, Some(30));
        assert_eq!(spec.security_context, Some(PodSecurityContext::default()));
        assert_eq!(spec.enable_service_links, Some(true));
        let c = &spec.containers[0];
        assert_eq!(
            c.termination_message_path.as_deref(),
            Some("/dev/termination-log")
        );
        assert_eq!(c.termination_message_policy.as_deref(), Some("File"));
        assert_eq!(c.image_pull_policy.as_deref(), Some("Always"));
        assert_eq!(c.resources, Some(ResourceRequirements::default()));
    }

    #[test]
    fn pull_policy_follows_the_tag() {
        let cases = [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("nginx:1.27", "IfNotPresent"),
            ("registry:5000/nginx", "Always"),
            ("registry:5000/nginx:1.27", "IfNotPresent"),
            ("nginx@sha256:abc", "IfNotPresent"),
            ("", "IfNotPresent"),
        ];
        for (image, want) in cases {
            assert_eq!(default_pull_policy(image), want, "{image}");
        }
    }

    #[test]
    fn container_port_protocol_and_probes() {
        let spec = pod(vec![Container {
            name: "c".into(),
            image: Some("nginx:1".into()),
            ports: Some(vec![ContainerPort {
                container_port: 80,
                ..Default::default()
            }]),
            readiness_probe: Some(Probe {
                http_get: Some(HTTPGetAction {
                    port: IntOrString::Int(80),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }]);
        let c = &spec.containers[0];
        assert_eq!(
            c.ports.as_ref().unwrap()[0].protocol.as_deref(),
            Some("TCP")
        );
        let probe = c.readiness_probe.as_ref().unwrap();
        assert_eq!(
            (
                probe.timeout_seconds,
                probe.period_seconds,
                probe.success_threshold,
                probe.failure_threshold
            ),
            (Some(1), Some(10), Some(1), Some(3))
        );
        let http = probe.http_get.as_ref().unwrap();
        assert_eq!(
            (http.path.as_deref(), http.scheme.as_deref()),
            (Some("/"), Some("HTTP"))
        );
    }

    #[test]
    fn pod_requests_default_to_limits() {
        let spec = pod(vec![Container {
            name: "c".into(),
            image: Some("nginx:1".into()),
            resources: Some(ResourceRequirements {
                limits: Some([("cpu".to_string(), Quantity("500m".into()))].into()),
                ..Default::default()
            }),
            ..Default::default()
        }]);
        let requests = spec.containers[0]
            .resources
            .as_ref()
            .unwrap()
            .requests
            .clone()
            .unwrap();
        assert_eq!(requests.get("cpu"), Some(&Quantity("500m".into())));
    }

    #[test]
    fn pod_volume_defaults() {
        let spec = defaulted(Pod {
            spec: Some(PodSpec {
                volumes: Some(vec![Volume {
                    name: "scratch".into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        })
        .spec
        .unwrap();
        assert!(spec.volumes.unwrap()[0].empty_dir.is_some());
    }

    #[test]
    fn defaults_are_idempotent() {
        let once = defaulted(Pod {
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    image: Some("nginx".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        });
        assert_eq!(defaulted(once.clone()), once);
        let svc = defaulted(Service {
            spec: Some(ServiceSpec {
                cluster_ip: Some("None".into()),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert_eq!(defaulted(svc.clone()), svc);
    }

    #[test]
    fn workload_defaults() {
        let d = defaulted(Deployment::default()).spec.unwrap();
        assert_eq!(d.replicas, Some(1));
        assert_eq!(d.revision_history_limit, Some(10));
        assert_eq!(d.progress_deadline_seconds, Some(600));
        let strategy = d.strategy.unwrap();
        assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
        let ru = strategy.rolling_update.unwrap();
        assert_eq!(ru.max_surge, Some(IntOrString::String("25%".into())));
        assert_eq!(ru.max_unavailable, Some(IntOrString::String("25%".into())));
        let template = d.template.spec.unwrap();
        assert_eq!(template.restart_policy.as_deref(), Some("Always"));
        // enableServiceLinks is a Pod default, not a template one.
        assert_eq!(template.enable_service_links, None);

        let recreate = defaulted(Deployment {
            spec: Some(crate::k8s::api::apps::v1::DeploymentSpec {
                strategy: Some(DeploymentStrategy {
                    type_: Some("Recreate".into()),
                    rolling_update: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert_eq!(
            recreate.spec.unwrap().strategy.unwrap().rolling_update,
            None
        );

        assert_eq!(
            defaulted(ReplicaSet::default()).spec.unwrap().replicas,
            Some(1)
        );

        let sts = defaulted(StatefulSet::default()).spec.unwrap();
        assert_eq!(sts.replicas, Some(1));
        assert_eq!(sts.pod_management_policy.as_deref(), Some("OrderedReady"));
        assert_eq!(sts.revision_history_limit, Some(10));
        let strategy = sts.update_strategy.unwrap();
        assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
        assert_eq!(strategy.rolling_update.unwrap().partition, Some(0));
        let retention = sts.persistent_volume_claim_retention_policy.unwrap();
        assert_eq!(
            (
                retention.when_deleted.as_deref(),
                retention.when_scaled.as_deref()
            ),
            (Some("Retain"), Some("Retain"))
        );
    }

    #[test]
    fn namespace_defaults() {
        let mut ns = Namespace::default();
        ns.metadata.name = Some("demo".into());
        let ns = defaulted(ns);
        assert_eq!(
            ns.spec.unwrap().finalizers,
            Some(vec!["kubernetes".to_string()])
        );
        assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Active"));
        assert_eq!(
            ns.metadata
                .labels
                .unwrap()
                .get("kubernetes.io/metadata.name")
                .map(String::as_str),
            Some("demo")
        );

        // While deleting, the controller's removal of the finalizer sticks.
        let mut terminating = Namespace::default();
        terminating.metadata.deletion_timestamp =
            Some(crate::k8s::apimachinery::pkg::apis::meta::v1::Time(
                "2024-01-01T00:00:00Z".parse().unwrap(),
            ));
        terminating.spec = Some(NamespaceSpec { finalizers: None });
        terminating.status = Some(NamespaceStatus {
            phase: Some("Terminating".into()),
            ..Default::default()
        });
        let terminating = defaulted(terminating);
        assert_eq!(terminating.spec.unwrap().finalizers, None);
        assert_eq!(
            terminating.status.unwrap().phase.as_deref(),
            Some("Terminating")
        );
    }

    #[test]
    fn endpoint_defaults() {
        let slice = defaulted(EndpointSlice {
            ports: Some(vec![SlicePort {
                port: Some(80),
                ..Default::default()
            }]),
            ..Default::default()
        });
        let port = &slice.ports.unwrap()[0];
        assert_eq!(
            (port.name.as_deref(), port.protocol.as_deref()),
            (Some(""), Some("TCP"))
        );

        let ep = defaulted(Endpoints {
            subsets: Some(vec![EndpointSubset {
                ports: Some(vec![crate::k8s::api::core::v1::EndpointPort {
                    port: 80,
                    ..Default::default()
                }]),
                ..Default::default()
            }]),
            ..Default::default()
        });
        assert_eq!(
            ep.subsets.unwrap()[0].ports.as_ref().unwrap()[0]
                .protocol
                .as_deref(),
            Some("TCP")
        );
    }

    #[test]
    fn secret_and_node_defaults() {
        let secret = defaulted(Secret {
            string_data: Some([("user".to_string(), "admin".to_string())].into()),
            ..Default::default()
        });
        assert_eq!(secret.type_.as_deref(), Some("Opaque"));
        assert_eq!(secret.string_data, None);
        assert_eq!(
            secret.data.unwrap().get("user"),
            Some(&ByteString(b"admin".to_vec()))
        );

        let node = defaulted(Node {
            status: Some(NodeStatus {
                capacity: Some([("cpu".to_string(), Quantity("4".into()))].into()),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert_eq!(
            node.status.unwrap().allocatable.unwrap().get("cpu"),
            Some(&Quantity("4".into()))
        );
    }
}
