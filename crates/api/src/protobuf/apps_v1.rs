//! `apps/v1`: Deployment, ReplicaSet, StatefulSet.

use k8s_pb::api::apps::v1 as pb;

use super::rules::{convert, keep, list, msg, omitempty, opt, required, time};
use crate::k8s::api::apps::v1 as api;

convert! {
    pb::Deployment => api::Deployment {
        metadata: msg,
        spec: opt,
        status: opt,
    }
}

convert! {
    pb::DeploymentSpec => api::DeploymentSpec {
        replicas: keep,
        selector: msg,
        template: msg,
        strategy: opt,
        min_ready_seconds: omitempty,
        revision_history_limit: keep,
        paused: omitempty,
        progress_deadline_seconds: keep,
    }
}

convert! {
    pb::DeploymentStrategy => api::DeploymentStrategy {
        r#type => type_: omitempty,
        rolling_update: opt,
    }
}

convert! {
    pb::RollingUpdateDeployment => api::RollingUpdateDeployment {
        max_unavailable: opt,
        max_surge: opt,
    }
}

convert! {
    pb::DeploymentStatus => api::DeploymentStatus {
        observed_generation: omitempty,
        replicas: omitempty,
        updated_replicas: omitempty,
        ready_replicas: omitempty,
        available_replicas: omitempty,
        unavailable_replicas: omitempty,
        terminating_replicas: keep,
        conditions: list,
        collision_count: keep,
    }
}

convert! {
    pb::DeploymentCondition => api::DeploymentCondition {
        r#type => type_: required,
        status: required,
        last_update_time: time,
        last_transition_time: time,
        reason: omitempty,
        message: omitempty,
    }
}

convert! {
    pb::ReplicaSet => api::ReplicaSet {
        metadata: msg,
        spec: opt,
        status: opt,
    }
}

convert! {
    pb::ReplicaSetSpec => api::ReplicaSetSpec {
        replicas: keep,
        min_ready_seconds: omitempty,
        selector: msg,
        template: opt,
    }
}

convert! {
    pb::ReplicaSetStatus => api::ReplicaSetStatus {
        replicas: required,
        fully_labeled_replicas: omitempty,
        ready_replicas: omitempty,
        available_replicas: omitempty,
        terminating_replicas: keep,
        observed_generation: omitempty,
        conditions: list,
    }
}

convert! {
    pb::ReplicaSetCondition => api::ReplicaSetCondition {
        r#type => type_: required,
        status: required,
        last_transition_time: time,
        reason: omitempty,
        message: omitempty,
    }
}

convert! {
    pb::StatefulSet => api::StatefulSet {
        metadata: msg,
        spec: opt,
        status: opt,
    }
}

convert! {
    pb::StatefulSetSpec => api::StatefulSetSpec {
        replicas: keep,
        selector: msg,
        template: msg,
        volume_claim_templates: list,
        service_name: keep,
        pod_management_policy: omitempty,
        update_strategy: opt,
        revision_history_limit: keep,
        min_ready_seconds: omitempty,
        persistent_volume_claim_retention_policy: opt,
        ordinals: opt,
    }
}

convert! {
    pb::StatefulSetUpdateStrategy => api::StatefulSetUpdateStrategy {
        r#type => type_: omitempty,
        rolling_update: opt,
    }
}

convert! {
    pb::RollingUpdateStatefulSetStrategy => api::RollingUpdateStatefulSetStrategy {
        partition: keep,
        max_unavailable: opt,
    }
}

convert! {
    pb::StatefulSetPersistentVolumeClaimRetentionPolicy
        => api::StatefulSetPersistentVolumeClaimRetentionPolicy {
        when_deleted: omitempty,
        when_scaled: omitempty,
    }
}

convert! {
    pb::StatefulSetOrdinals => api::StatefulSetOrdinals {
        start: keep,
    }
}

convert! {
    pb::StatefulSetStatus => api::StatefulSetStatus {
        observed_generation: omitempty,
        replicas: required,
        ready_replicas: omitempty,
        current_replicas: omitempty,
        updated_replicas: omitempty,
        current_revision: omitempty,
        update_revision: omitempty,
        collision_count: keep,
        conditions: list,
        available_replicas: keep,
    }
}

convert! {
    pb::StatefulSetCondition => api::StatefulSetCondition {
        r#type => type_: required,
        status: required,
        last_transition_time: time,
        reason: omitempty,
        message: omitempty,
    }
}
