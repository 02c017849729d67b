//! Pods and everything a pod template holds: containers, probes, security contexts, affinity,
//! pod status.

use k8s_pb::api::core::v1 as pb;

use super::rules::{
    IntoOpenapi, Result, convert, keep, list, local_object_name, map, msg, omitempty, opt,
    required, required_list, time,
};
use crate::k8s::api::core::v1 as api;

convert! {
    pb::Pod => api::Pod {
        metadata: msg,
        spec: opt,
        status: opt,
    }
}

convert! {
    pb::PodSpec => api::PodSpec {
        volumes: list,
        init_containers: list,
        containers: required_list,
        ephemeral_containers: list,
        restart_policy: omitempty,
        termination_grace_period_seconds: keep,
        active_deadline_seconds: keep,
        dns_policy: omitempty,
        node_selector: map,
        service_account_name: omitempty,
        service_account: omitempty,
        automount_service_account_token: keep,
        node_name: omitempty,
        host_network: omitempty,
        host_pid: omitempty,
        host_ipc: omitempty,
        share_process_namespace: keep,
        security_context: opt,
        image_pull_secrets: list,
        hostname: omitempty,
        subdomain: omitempty,
        affinity: opt,
        scheduler_name: omitempty,
        tolerations: list,
        host_aliases: list,
        priority_class_name: omitempty,
        priority: keep,
        dns_config: opt,
        readiness_gates: list,
        runtime_class_name: keep,
        enable_service_links: keep,
        preemption_policy: keep,
        overhead: map,
        topology_spread_constraints: list,
        set_hostname_as_fqdn: keep,
        os: opt,
        host_users: keep,
        scheduling_gates: list,
        resource_claims: list,
        resources: opt,
        hostname_override: dropped("hostnameOverride"),
        workload_ref: dropped("workloadRef"),
    }
}

convert! {
    pb::LocalObjectReference => api::LocalObjectReference {
        name: required,
    }
}

convert! {
    pb::ObjectFieldSelector => api::ObjectFieldSelector {
        api_version: omitempty,
        field_path: required,
    }
}

convert! {
    pb::ResourceFieldSelector => api::ResourceFieldSelector {
        container_name: omitempty,
        resource: required,
        divisor: opt,
    }
}

convert! {
    pb::Container => api::Container {
        name: required,
        image: omitempty,
        command: list,
        args: list,
        working_dir: omitempty,
        ports: list,
        env_from: list,
        env: list,
        resources: opt,
        resize_policy: list,
        restart_policy: keep,
        restart_policy_rules: dropped("restartPolicyRules"),
        volume_mounts: list,
        volume_devices: list,
        liveness_probe: opt,
        readiness_probe: opt,
        startup_probe: opt,
        lifecycle: opt,
        termination_message_path: omitempty,
        termination_message_policy: omitempty,
        image_pull_policy: omitempty,
        security_context: opt,
        stdin: omitempty,
        stdin_once: omitempty,
        tty: omitempty,
    }
}

convert! {
    pb::ContainerPort => api::ContainerPort {
        name: omitempty,
        host_port: omitempty,
        container_port: required,
        protocol: omitempty,
        host_ip: omitempty,
    }
}

convert! {
    pb::EnvFromSource => api::EnvFromSource {
        prefix: omitempty,
        config_map_ref: opt,
        secret_ref: opt,
    }
}

convert! {
    pb::ConfigMapEnvSource => api::ConfigMapEnvSource {
        local_object_reference => name: local_object_name,
        optional: keep,
    }
}

convert! {
    pb::SecretEnvSource => api::SecretEnvSource {
        local_object_reference => name: local_object_name,
        optional: keep,
    }
}

convert! {
    pb::EnvVar => api::EnvVar {
        name: required,
        value: omitempty,
        value_from: opt,
    }
}

convert! {
    pb::EnvVarSource => api::EnvVarSource {
        field_ref: opt,
        resource_field_ref: opt,
        config_map_key_ref: opt,
        secret_key_ref: opt,
        file_key_ref: dropped("fileKeyRef"),
    }
}

convert! {
    pb::ConfigMapKeySelector => api::ConfigMapKeySelector {
        local_object_reference => name: local_object_name,
        key: required,
        optional: keep,
    }
}

convert! {
    pb::SecretKeySelector => api::SecretKeySelector {
        local_object_reference => name: local_object_name,
        key: required,
        optional: keep,
    }
}

convert! {
    pb::ResourceRequirements => api::ResourceRequirements {
        limits: map,
        requests: map,
        claims: list,
    }
}

convert! {
    pb::ResourceClaim => api::ResourceClaim {
        name: required,
        request: omitempty,
    }
}

convert! {
    pb::ContainerResizePolicy => api::ContainerResizePolicy {
        resource_name: required,
        restart_policy: required,
    }
}

convert! {
    pb::VolumeMount => api::VolumeMount {
        name: required,
        read_only: omitempty,
        recursive_read_only: keep,
        mount_path: required,
        sub_path: omitempty,
        mount_propagation: keep,
        sub_path_expr: omitempty,
    }
}

convert! {
    pb::VolumeDevice => api::VolumeDevice {
        name: required,
        device_path: required,
    }
}

/// Go inlines `ProbeHandler` into `Probe`; protobuf nests it as field 1.
impl IntoOpenapi for pb::Probe {
    type Out = api::Probe;
    fn into_openapi(self) -> Result<api::Probe> {
        let pb::Probe {
            handler,
            initial_delay_seconds,
            timeout_seconds,
            period_seconds,
            success_threshold,
            failure_threshold,
            termination_grace_period_seconds,
        } = self;
        Ok(api::Probe {
            initial_delay_seconds: omitempty(initial_delay_seconds)?,
            timeout_seconds: omitempty(timeout_seconds)?,
            period_seconds: omitempty(period_seconds)?,
            success_threshold: omitempty(success_threshold)?,
            failure_threshold: omitempty(failure_threshold)?,
            termination_grace_period_seconds: keep(termination_grace_period_seconds)?,
            ..msg(handler)?
        })
    }
}

// The handler half of a `Probe`; `pb::Probe` fills in the rest.
convert! {
    pb::ProbeHandler => api::Probe {
        initial_delay_seconds = None,
        timeout_seconds = None,
        period_seconds = None,
        success_threshold = None,
        failure_threshold = None,
        termination_grace_period_seconds = None,
        exec: opt,
        http_get: opt,
        tcp_socket: opt,
        grpc: opt,
    }
}

convert! {
    pb::ExecAction => api::ExecAction {
        command: list,
    }
}

convert! {
    pb::HttpGetAction => api::HTTPGetAction {
        path: omitempty,
        port: msg,
        host: omitempty,
        scheme: omitempty,
        http_headers: list,
    }
}

convert! {
    pb::HttpHeader => api::HTTPHeader {
        name: required,
        value: required,
    }
}

convert! {
    pb::TcpSocketAction => api::TCPSocketAction {
        port: msg,
        host: omitempty,
    }
}

convert! {
    pb::GrpcAction => api::GRPCAction {
        port: required,
        service: keep,
    }
}

convert! {
    pb::Lifecycle => api::Lifecycle {
        post_start: opt,
        pre_stop: opt,
        stop_signal: keep,
    }
}

convert! {
    pb::LifecycleHandler => api::LifecycleHandler {
        exec: opt,
        http_get: opt,
        tcp_socket: opt,
        sleep: opt,
    }
}

convert! {
    pb::SleepAction => api::SleepAction {
        seconds: required,
    }
}

convert! {
    pb::SecurityContext => api::SecurityContext {
        capabilities: opt,
        privileged: keep,
        se_linux_options: opt,
        windows_options: opt,
        run_as_user: keep,
        run_as_group: keep,
        run_as_non_root: keep,
        read_only_root_filesystem: keep,
        allow_privilege_escalation: keep,
        proc_mount: keep,
        seccomp_profile: opt,
        app_armor_profile: opt,
    }
}

convert! {
    pb::Capabilities => api::Capabilities {
        add: list,
        drop: list,
    }
}

convert! {
    pb::SeLinuxOptions => api::SELinuxOptions {
        user: omitempty,
        role: omitempty,
        r#type => type_: omitempty,
        level: omitempty,
    }
}

convert! {
    pb::WindowsSecurityContextOptions => api::WindowsSecurityContextOptions {
        gmsa_credential_spec_name: keep,
        gmsa_credential_spec: keep,
        run_as_user_name: keep,
        host_process: keep,
    }
}

convert! {
    pb::SeccompProfile => api::SeccompProfile {
        r#type => type_: required,
        localhost_profile: keep,
    }
}

convert! {
    pb::AppArmorProfile => api::AppArmorProfile {
        r#type => type_: required,
        localhost_profile: keep,
    }
}

/// Go inlines `EphemeralContainerCommon`; protobuf nests it as field 1.
impl IntoOpenapi for pb::EphemeralContainer {
    type Out = api::EphemeralContainer;
    fn into_openapi(self) -> Result<api::EphemeralContainer> {
        let pb::EphemeralContainer {
            ephemeral_container_common,
            target_container_name,
        } = self;
        Ok(api::EphemeralContainer {
            target_container_name: omitempty(target_container_name)?,
            ..msg(ephemeral_container_common)?
        })
    }
}

// Everything but `targetContainerName`, which `pb::EphemeralContainer` fills in.
convert! {
    pb::EphemeralContainerCommon => api::EphemeralContainer {
        target_container_name = None,
        name: required,
        image: omitempty,
        command: list,
        args: list,
        working_dir: omitempty,
        ports: list,
        env_from: list,
        env: list,
        resources: opt,
        resize_policy: list,
        restart_policy: keep,
        restart_policy_rules: dropped("restartPolicyRules"),
        volume_mounts: list,
        volume_devices: list,
        liveness_probe: opt,
        readiness_probe: opt,
        startup_probe: opt,
        lifecycle: opt,
        termination_message_path: omitempty,
        termination_message_policy: omitempty,
        image_pull_policy: omitempty,
        security_context: opt,
        stdin: omitempty,
        stdin_once: omitempty,
        tty: omitempty,
    }
}

convert! {
    pb::PodSecurityContext => api::PodSecurityContext {
        se_linux_options: opt,
        windows_options: opt,
        run_as_user: keep,
        run_as_group: keep,
        run_as_non_root: keep,
        supplemental_groups: list,
        supplemental_groups_policy: keep,
        fs_group: keep,
        sysctls: list,
        fs_group_change_policy: keep,
        seccomp_profile: opt,
        app_armor_profile: opt,
        se_linux_change_policy: keep,
    }
}

convert! {
    pb::Sysctl => api::Sysctl {
        name: required,
        value: required,
    }
}

convert! {
    pb::Affinity => api::Affinity {
        node_affinity: opt,
        pod_affinity: opt,
        pod_anti_affinity: opt,
    }
}

convert! {
    pb::NodeAffinity => api::NodeAffinity {
        required_during_scheduling_ignored_during_execution: opt,
        preferred_during_scheduling_ignored_during_execution: list,
    }
}

convert! {
    pb::NodeSelector => api::NodeSelector {
        node_selector_terms: required_list,
    }
}

convert! {
    pb::NodeSelectorTerm => api::NodeSelectorTerm {
        match_expressions: list,
        match_fields: list,
    }
}

convert! {
    pb::NodeSelectorRequirement => api::NodeSelectorRequirement {
        key: required,
        operator: required,
        values: list,
    }
}

convert! {
    pb::PreferredSchedulingTerm => api::PreferredSchedulingTerm {
        weight: required,
        preference: msg,
    }
}

convert! {
    pb::PodAffinity => api::PodAffinity {
        required_during_scheduling_ignored_during_execution: list,
        preferred_during_scheduling_ignored_during_execution: list,
    }
}

convert! {
    pb::PodAffinityTerm => api::PodAffinityTerm {
        label_selector: opt,
        namespaces: list,
        topology_key: required,
        namespace_selector: opt,
        match_label_keys: list,
        mismatch_label_keys: list,
    }
}

convert! {
    pb::WeightedPodAffinityTerm => api::WeightedPodAffinityTerm {
        weight: required,
        pod_affinity_term: msg,
    }
}

convert! {
    pb::PodAntiAffinity => api::PodAntiAffinity {
        required_during_scheduling_ignored_during_execution: list,
        preferred_during_scheduling_ignored_during_execution: list,
    }
}

convert! {
    pb::Toleration => api::Toleration {
        key: omitempty,
        operator: omitempty,
        value: omitempty,
        effect: omitempty,
        toleration_seconds: keep,
    }
}

convert! {
    pb::HostAlias => api::HostAlias {
        ip: required,
        hostnames: list,
    }
}

convert! {
    pb::PodDnsConfig => api::PodDNSConfig {
        nameservers: list,
        searches: list,
        options: list,
    }
}

convert! {
    pb::PodDnsConfigOption => api::PodDNSConfigOption {
        name: omitempty,
        value: keep,
    }
}

convert! {
    pb::PodReadinessGate => api::PodReadinessGate {
        condition_type: required,
    }
}

convert! {
    pb::TopologySpreadConstraint => api::TopologySpreadConstraint {
        max_skew: required,
        topology_key: required,
        when_unsatisfiable: required,
        label_selector: opt,
        min_domains: keep,
        node_affinity_policy: keep,
        node_taints_policy: keep,
        match_label_keys: list,
    }
}

convert! {
    pb::PodOs => api::PodOS {
        name: required,
    }
}

convert! {
    pb::PodSchedulingGate => api::PodSchedulingGate {
        name: required,
    }
}

convert! {
    pb::PodResourceClaim => api::PodResourceClaim {
        name: required,
        resource_claim_name: keep,
        resource_claim_template_name: keep,
    }
}

convert! {
    pb::PodStatus => api::PodStatus {
        observed_generation: omitempty,
        phase: omitempty,
        conditions: list,
        message: omitempty,
        reason: omitempty,
        nominated_node_name: omitempty,
        host_ip: omitempty,
        host_ips: list,
        pod_ip: omitempty,
        pod_ips: list,
        start_time: time,
        init_container_statuses: list,
        container_statuses: list,
        qos_class: omitempty,
        ephemeral_container_statuses: list,
        resize: omitempty,
        resource_claim_statuses: list,
        extended_resource_claim_status: dropped("extendedResourceClaimStatus"),
        allocated_resources: dropped("allocatedResources"),
        resources: dropped("resources"),
    }
}

convert! {
    pb::PodCondition => api::PodCondition {
        r#type => type_: required,
        observed_generation: omitempty,
        status: required,
        last_probe_time: time,
        last_transition_time: time,
        reason: omitempty,
        message: omitempty,
    }
}

convert! {
    pb::HostIp => api::HostIP {
        ip: required,
    }
}

convert! {
    pb::PodIp => api::PodIP {
        ip: required,
    }
}

convert! {
    pb::ContainerStatus => api::ContainerStatus {
        name: required,
        state: opt,
        last_state: opt,
        ready: required,
        restart_count: required,
        image: required,
        image_id: required,
        container_id: omitempty,
        started: keep,
        allocated_resources: map,
        resources: opt,
        volume_mounts: list,
        user: opt,
        allocated_resources_status: list,
        stop_signal: keep,
    }
}

convert! {
    pb::ContainerState => api::ContainerState {
        waiting: opt,
        running: opt,
        terminated: opt,
    }
}

convert! {
    pb::ContainerStateWaiting => api::ContainerStateWaiting {
        reason: omitempty,
        message: omitempty,
    }
}

convert! {
    pb::ContainerStateRunning => api::ContainerStateRunning {
        started_at: time,
    }
}

convert! {
    pb::ContainerStateTerminated => api::ContainerStateTerminated {
        exit_code: required,
        signal: omitempty,
        reason: omitempty,
        message: omitempty,
        started_at: time,
        finished_at: time,
        container_id: omitempty,
    }
}

convert! {
    pb::VolumeMountStatus => api::VolumeMountStatus {
        name: required,
        mount_path: required,
        read_only: omitempty,
        recursive_read_only: keep,
    }
}

convert! {
    pb::ContainerUser => api::ContainerUser {
        linux: opt,
    }
}

convert! {
    pb::LinuxContainerUser => api::LinuxContainerUser {
        uid: required,
        gid: required,
        supplemental_groups: list,
    }
}

convert! {
    pb::ResourceStatus => api::ResourceStatus {
        name: required,
        resources: list,
    }
}

convert! {
    pb::ResourceHealth => api::ResourceHealth {
        resource_id: required,
        health: omitempty,
    }
}

convert! {
    pb::PodResourceClaimStatus => api::PodResourceClaimStatus {
        name: required,
        resource_claim_name: keep,
    }
}

convert! {
    pb::PodTemplateSpec => api::PodTemplateSpec {
        metadata: opt,
        spec: opt,
    }
}
