//! Core (`v1`) kinds other than pods: Namespace, ConfigMap, Secret, Service, Endpoints, Event
//! and Node.

use k8s_pb::api::core::v1 as pb;

use super::rules::{
    convert, keep, list, map, micro_time, msg, nonzero_int_or_string, omitempty, opt, required,
    time,
};
use crate::k8s::api::core::v1 as api;

convert! {
    pb::Namespace => api::Namespace {
        metadata: msg,
        spec: opt,
        status: opt,
    }
}

convert! {
    pb::NamespaceSpec => api::NamespaceSpec {
        finalizers: list,
    }
}

convert! {
    pb::NamespaceStatus => api::NamespaceStatus {
        phase: omitempty,
        conditions: list,
    }
}

convert! {
    pb::NamespaceCondition => api::NamespaceCondition {
        r#type => type_: required,
        status: required,
        last_transition_time: time,
        reason: omitempty,
        message: omitempty,
    }
}

convert! {
    pb::ConfigMap => api::ConfigMap {
        metadata: msg,
        immutable: keep,
        data: map,
        binary_data: map,
    }
}

convert! {
    pb::Secret => api::Secret {
        metadata: msg,
        immutable: keep,
        data: map,
        string_data: map,
        r#type => type_: omitempty,
    }
}

convert! {
    pb::Service => api::Service {
        metadata: msg,
        spec: opt,
        status: opt,
    }
}

convert! {
    pb::ServiceSpec => api::ServiceSpec {
        ports: list,
        selector: map,
        cluster_ip: omitempty,
        cluster_ips: list,
        r#type => type_: omitempty,
        external_ips: list,
        session_affinity: omitempty,
        load_balancer_ip: omitempty,
        load_balancer_source_ranges: list,
        external_name: omitempty,
        external_traffic_policy: omitempty,
        health_check_node_port: omitempty,
        publish_not_ready_addresses: omitempty,
        session_affinity_config: opt,
        ip_families: list,
        ip_family_policy: keep,
        allocate_load_balancer_node_ports: keep,
        load_balancer_class: keep,
        internal_traffic_policy: keep,
        traffic_distribution: keep,
    }
}

convert! {
    pb::ServicePort => api::ServicePort {
        name: omitempty,
        protocol: omitempty,
        app_protocol: keep,
        port: required,
        target_port: nonzero_int_or_string,
        node_port: omitempty,
    }
}

convert! {
    pb::SessionAffinityConfig => api::SessionAffinityConfig {
        client_ip: opt,
    }
}

convert! {
    pb::ClientIpConfig => api::ClientIPConfig {
        timeout_seconds: keep,
    }
}

convert! {
    pb::ServiceStatus => api::ServiceStatus {
        load_balancer: opt,
        conditions: list,
    }
}

convert! {
    pb::LoadBalancerStatus => api::LoadBalancerStatus {
        ingress: list,
    }
}

convert! {
    pb::LoadBalancerIngress => api::LoadBalancerIngress {
        ip: omitempty,
        hostname: omitempty,
        ip_mode: keep,
        ports: list,
    }
}

convert! {
    pb::PortStatus => api::PortStatus {
        port: required,
        protocol: required,
        error: keep,
    }
}

convert! {
    pb::Endpoints => api::Endpoints {
        metadata: msg,
        subsets: list,
    }
}

convert! {
    pb::EndpointSubset => api::EndpointSubset {
        addresses: list,
        not_ready_addresses: list,
        ports: list,
    }
}

convert! {
    pb::EndpointAddress => api::EndpointAddress {
        ip: required,
        hostname: omitempty,
        node_name: keep,
        target_ref: opt,
    }
}

convert! {
    pb::ObjectReference => api::ObjectReference {
        kind: omitempty,
        namespace: omitempty,
        name: omitempty,
        uid: omitempty,
        api_version: omitempty,
        resource_version: omitempty,
        field_path: omitempty,
    }
}

convert! {
    pb::EndpointPort => api::EndpointPort {
        name: omitempty,
        port: required,
        protocol: omitempty,
        app_protocol: keep,
    }
}

convert! {
    pb::Event => api::Event {
        metadata: msg,
        involved_object: msg,
        reason: omitempty,
        message: omitempty,
        source: opt,
        first_timestamp: time,
        last_timestamp: time,
        count: omitempty,
        r#type => type_: omitempty,
        event_time: micro_time,
        series: opt,
        action: omitempty,
        related: opt,
        reporting_component: keep,
        reporting_instance: keep,
    }
}

convert! {
    pb::EventSource => api::EventSource {
        component: omitempty,
        host: omitempty,
    }
}

convert! {
    pb::EventSeries => api::EventSeries {
        count: omitempty,
        last_observed_time: micro_time,
    }
}

convert! {
    pb::Node => api::Node {
        metadata: msg,
        spec: opt,
        status: opt,
    }
}

convert! {
    pb::NodeSpec => api::NodeSpec {
        pod_cidr: omitempty,
        pod_cid_rs => pod_cidrs: list,
        provider_id: omitempty,
        unschedulable: omitempty,
        taints: list,
        config_source: opt,
        external_id: omitempty,
    }
}

convert! {
    pb::Taint => api::Taint {
        key: required,
        value: omitempty,
        effect: required,
        time_added: time,
    }
}

convert! {
    pb::NodeConfigSource => api::NodeConfigSource {
        config_map: opt,
    }
}

convert! {
    pb::ConfigMapNodeConfigSource => api::ConfigMapNodeConfigSource {
        namespace: required,
        name: required,
        uid: omitempty,
        resource_version: omitempty,
        kubelet_config_key: required,
    }
}

convert! {
    pb::NodeStatus => api::NodeStatus {
        capacity: map,
        allocatable: map,
        phase: omitempty,
        conditions: list,
        addresses: list,
        daemon_endpoints: opt,
        node_info: opt,
        images: list,
        volumes_in_use: list,
        volumes_attached: list,
        config: opt,
        runtime_handlers: list,
        features: opt,
        declared_features: dropped("declaredFeatures"),
    }
}

convert! {
    pb::NodeCondition => api::NodeCondition {
        r#type => type_: required,
        status: required,
        last_heartbeat_time: time,
        last_transition_time: time,
        reason: omitempty,
        message: omitempty,
    }
}

convert! {
    pb::NodeAddress => api::NodeAddress {
        r#type => type_: required,
        address: required,
    }
}

convert! {
    pb::NodeDaemonEndpoints => api::NodeDaemonEndpoints {
        kubelet_endpoint: opt,
    }
}

convert! {
    pb::DaemonEndpoint => api::DaemonEndpoint {
        port: required,
    }
}

convert! {
    pb::NodeSystemInfo => api::NodeSystemInfo {
        machine_id: required,
        system_uuid: required,
        boot_id: required,
        kernel_version: required,
        os_image: required,
        container_runtime_version: required,
        kubelet_version: required,
        kube_proxy_version: required,
        operating_system: required,
        architecture: required,
        swap: opt,
    }
}

convert! {
    pb::NodeSwapStatus => api::NodeSwapStatus {
        capacity: keep,
    }
}

convert! {
    pb::ContainerImage => api::ContainerImage {
        names: list,
        size_bytes: omitempty,
    }
}

convert! {
    pb::AttachedVolume => api::AttachedVolume {
        name: required,
        device_path: required,
    }
}

convert! {
    pb::NodeConfigStatus => api::NodeConfigStatus {
        assigned: opt,
        active: opt,
        last_known_good: opt,
        error: omitempty,
    }
}

convert! {
    pb::NodeRuntimeHandler => api::NodeRuntimeHandler {
        name: keep,
        features: opt,
    }
}

convert! {
    pb::NodeRuntimeHandlerFeatures => api::NodeRuntimeHandlerFeatures {
        recursive_read_only_mounts: keep,
        user_namespaces: keep,
    }
}

convert! {
    pb::NodeFeatures => api::NodeFeatures {
        supplemental_groups_policy: keep,
    }
}
