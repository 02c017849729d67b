//! Pod volumes (every volume source of the 1.33 API) and PersistentVolumeClaims (StatefulSet
//! `volumeClaimTemplates`, ephemeral volumes).

use k8s_pb::api::core::v1 as pb;

use super::rules::{
    IntoOpenapi, Result, convert, keep, list, local_object_name, map, msg, omitempty, opt,
    required, required_list, time,
};
use crate::k8s::api::core::v1 as api;

/// Go inlines `VolumeSource` into `Volume`; protobuf nests it as field 2.
impl IntoOpenapi for pb::Volume {
    type Out = api::Volume;
    fn into_openapi(self) -> Result<api::Volume> {
        let pb::Volume {
            name,
            volume_source,
        } = self;
        Ok(api::Volume {
            name: required(name)?,
            ..msg(volume_source)?
        })
    }
}

// The source half of a `Volume`; `pb::Volume` fills in the name.
convert! {
    pb::VolumeSource => api::Volume {
        name = String::new(),
        host_path: opt,
        empty_dir: opt,
        gce_persistent_disk: opt,
        aws_elastic_block_store: opt,
        git_repo: opt,
        secret: opt,
        nfs: opt,
        iscsi: opt,
        glusterfs: opt,
        persistent_volume_claim: opt,
        rbd: opt,
        flex_volume: opt,
        cinder: opt,
        cephfs: opt,
        flocker: opt,
        downward_api: opt,
        fc: opt,
        azure_file: opt,
        config_map: opt,
        vsphere_volume: opt,
        quobyte: opt,
        azure_disk: opt,
        photon_persistent_disk: opt,
        projected: opt,
        portworx_volume: opt,
        scale_io: opt,
        storageos: opt,
        csi: opt,
        ephemeral: opt,
        image: opt,
    }
}

convert! {
    pb::HostPathVolumeSource => api::HostPathVolumeSource {
        path: required,
        r#type => type_: keep,
    }
}

convert! {
    pb::EmptyDirVolumeSource => api::EmptyDirVolumeSource {
        medium: omitempty,
        size_limit: opt,
    }
}

convert! {
    pb::GcePersistentDiskVolumeSource => api::GCEPersistentDiskVolumeSource {
        pd_name: required,
        fs_type: omitempty,
        partition: omitempty,
        read_only: omitempty,
    }
}

convert! {
    pb::AwsElasticBlockStoreVolumeSource => api::AWSElasticBlockStoreVolumeSource {
        volume_id: required,
        fs_type: omitempty,
        partition: omitempty,
        read_only: omitempty,
    }
}

convert! {
    pb::GitRepoVolumeSource => api::GitRepoVolumeSource {
        repository: required,
        revision: omitempty,
        directory: omitempty,
    }
}

convert! {
    pb::SecretVolumeSource => api::SecretVolumeSource {
        secret_name: omitempty,
        items: list,
        default_mode: keep,
        optional: keep,
    }
}

convert! {
    pb::KeyToPath => api::KeyToPath {
        key: required,
        path: required,
        mode: keep,
    }
}

convert! {
    pb::NfsVolumeSource => api::NFSVolumeSource {
        server: required,
        path: required,
        read_only: omitempty,
    }
}

convert! {
    pb::IscsiVolumeSource => api::ISCSIVolumeSource {
        target_portal: required,
        iqn: required,
        lun: required,
        iscsi_interface: omitempty,
        fs_type: omitempty,
        read_only: omitempty,
        portals: list,
        chap_auth_discovery: omitempty,
        chap_auth_session: omitempty,
        secret_ref: opt,
        initiator_name: keep,
    }
}

convert! {
    pb::GlusterfsVolumeSource => api::GlusterfsVolumeSource {
        endpoints: required,
        path: required,
        read_only: omitempty,
    }
}

convert! {
    pb::PersistentVolumeClaimVolumeSource => api::PersistentVolumeClaimVolumeSource {
        claim_name: required,
        read_only: omitempty,
    }
}

convert! {
    pb::RbdVolumeSource => api::RBDVolumeSource {
        monitors: required_list,
        image: required,
        fs_type: omitempty,
        pool: omitempty,
        user: omitempty,
        keyring: omitempty,
        secret_ref: opt,
        read_only: omitempty,
    }
}

convert! {
    pb::FlexVolumeSource => api::FlexVolumeSource {
        driver: required,
        fs_type: omitempty,
        secret_ref: opt,
        read_only: omitempty,
        options: map,
    }
}

convert! {
    pb::CinderVolumeSource => api::CinderVolumeSource {
        volume_id: required,
        fs_type: omitempty,
        read_only: omitempty,
        secret_ref: opt,
    }
}

convert! {
    pb::CephFsVolumeSource => api::CephFSVolumeSource {
        monitors: required_list,
        path: omitempty,
        user: omitempty,
        secret_file: omitempty,
        secret_ref: opt,
        read_only: omitempty,
    }
}

convert! {
    pb::FlockerVolumeSource => api::FlockerVolumeSource {
        dataset_name: omitempty,
        dataset_uuid: omitempty,
    }
}

convert! {
    pb::DownwardAPIVolumeSource => api::DownwardAPIVolumeSource {
        items: list,
        default_mode: keep,
    }
}

convert! {
    pb::DownwardAPIVolumeFile => api::DownwardAPIVolumeFile {
        path: required,
        field_ref: opt,
        resource_field_ref: opt,
        mode: keep,
    }
}

convert! {
    pb::FcVolumeSource => api::FCVolumeSource {
        target_ww_ns => target_wwns: list,
        lun: keep,
        fs_type: omitempty,
        read_only: omitempty,
        wwids: list,
    }
}

convert! {
    pb::AzureFileVolumeSource => api::AzureFileVolumeSource {
        secret_name: required,
        share_name: required,
        read_only: omitempty,
    }
}

convert! {
    pb::ConfigMapVolumeSource => api::ConfigMapVolumeSource {
        local_object_reference => name: local_object_name,
        items: list,
        default_mode: keep,
        optional: keep,
    }
}

convert! {
    pb::VsphereVirtualDiskVolumeSource => api::VsphereVirtualDiskVolumeSource {
        volume_path: required,
        fs_type: omitempty,
        storage_policy_name: omitempty,
        storage_policy_id: omitempty,
    }
}

convert! {
    pb::QuobyteVolumeSource => api::QuobyteVolumeSource {
        registry: required,
        volume: required,
        read_only: omitempty,
        user: omitempty,
        group: omitempty,
        tenant: omitempty,
    }
}

convert! {
    pb::AzureDiskVolumeSource => api::AzureDiskVolumeSource {
        disk_name: required,
        disk_uri: required,
        caching_mode: keep,
        fs_type: keep,
        read_only: keep,
        kind: keep,
    }
}

convert! {
    pb::PhotonPersistentDiskVolumeSource => api::PhotonPersistentDiskVolumeSource {
        pd_id: required,
        fs_type: omitempty,
    }
}

convert! {
    pb::ProjectedVolumeSource => api::ProjectedVolumeSource {
        sources: list,
        default_mode: keep,
    }
}

convert! {
    pb::VolumeProjection => api::VolumeProjection {
        secret: opt,
        downward_api: opt,
        config_map: opt,
        service_account_token: opt,
        cluster_trust_bundle: opt,
        pod_certificate: dropped("podCertificate"),
    }
}

convert! {
    pb::SecretProjection => api::SecretProjection {
        local_object_reference => name: local_object_name,
        items: list,
        optional: keep,
    }
}

convert! {
    pb::DownwardAPIProjection => api::DownwardAPIProjection {
        items: list,
    }
}

convert! {
    pb::ConfigMapProjection => api::ConfigMapProjection {
        local_object_reference => name: local_object_name,
        items: list,
        optional: keep,
    }
}

convert! {
    pb::ServiceAccountTokenProjection => api::ServiceAccountTokenProjection {
        audience: omitempty,
        expiration_seconds: keep,
        path: required,
    }
}

convert! {
    pb::ClusterTrustBundleProjection => api::ClusterTrustBundleProjection {
        name: keep,
        signer_name: keep,
        label_selector: opt,
        optional: keep,
        path: required,
    }
}

convert! {
    pb::PortworxVolumeSource => api::PortworxVolumeSource {
        volume_id: required,
        fs_type: omitempty,
        read_only: omitempty,
    }
}

convert! {
    pb::ScaleIoVolumeSource => api::ScaleIOVolumeSource {
        gateway: required,
        system: required,
        secret_ref: msg,
        ssl_enabled: omitempty,
        protection_domain: omitempty,
        storage_pool: omitempty,
        storage_mode: omitempty,
        volume_name: omitempty,
        fs_type: omitempty,
        read_only: omitempty,
    }
}

convert! {
    pb::StorageOsVolumeSource => api::StorageOSVolumeSource {
        volume_name: omitempty,
        volume_namespace: omitempty,
        fs_type: omitempty,
        read_only: omitempty,
        secret_ref: opt,
    }
}

convert! {
    pb::CSIVolumeSource => api::CSIVolumeSource {
        driver: required,
        read_only: keep,
        fs_type: keep,
        volume_attributes: map,
        node_publish_secret_ref: opt,
    }
}

convert! {
    pb::EphemeralVolumeSource => api::EphemeralVolumeSource {
        volume_claim_template: opt,
    }
}

convert! {
    pb::PersistentVolumeClaimTemplate => api::PersistentVolumeClaimTemplate {
        metadata: opt,
        spec: msg,
    }
}

convert! {
    pb::PersistentVolumeClaimSpec => api::PersistentVolumeClaimSpec {
        access_modes: list,
        selector: opt,
        resources: opt,
        volume_name: omitempty,
        storage_class_name: keep,
        volume_mode: keep,
        data_source: opt,
        data_source_ref: opt,
        volume_attributes_class_name: keep,
    }
}

convert! {
    pb::VolumeResourceRequirements => api::VolumeResourceRequirements {
        limits: map,
        requests: map,
    }
}

convert! {
    pb::TypedLocalObjectReference => api::TypedLocalObjectReference {
        api_group: keep,
        kind: required,
        name: required,
    }
}

convert! {
    pb::TypedObjectReference => api::TypedObjectReference {
        api_group: keep,
        kind: required,
        name: required,
        namespace: keep,
    }
}

convert! {
    pb::ImageVolumeSource => api::ImageVolumeSource {
        reference: omitempty,
        pull_policy: omitempty,
    }
}

convert! {
    pb::PersistentVolumeClaim => api::PersistentVolumeClaim {
        metadata: msg,
        spec: opt,
        status: opt,
    }
}

convert! {
    pb::PersistentVolumeClaimStatus => api::PersistentVolumeClaimStatus {
        phase: omitempty,
        access_modes: list,
        capacity: map,
        conditions: list,
        allocated_resources: map,
        allocated_resource_statuses: map,
        current_volume_attributes_class_name: keep,
        modify_volume_status: opt,
    }
}

convert! {
    pb::PersistentVolumeClaimCondition => api::PersistentVolumeClaimCondition {
        r#type => type_: required,
        status: required,
        last_probe_time: time,
        last_transition_time: time,
        reason: omitempty,
        message: omitempty,
    }
}

convert! {
    pb::ModifyVolumeStatus => api::ModifyVolumeStatus {
        target_volume_attributes_class_name: omitempty,
        status: required,
    }
}
