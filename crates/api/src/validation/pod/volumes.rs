//! Volume names and sources.

use std::collections::BTreeSet;

use super::{dns1123_label, s};
use crate::FieldError;
use crate::k8s::api::core::v1::Volume;
use crate::validation::Path;
use crate::validation::render::quote;

/// The volume sources set on a volume, by their JSON names.
fn volume_sources(v: &Volume) -> Vec<&'static str> {
    let set = [
        ("hostPath", v.host_path.is_some()),
        ("emptyDir", v.empty_dir.is_some()),
        ("gcePersistentDisk", v.gce_persistent_disk.is_some()),
        ("awsElasticBlockStore", v.aws_elastic_block_store.is_some()),
        ("gitRepo", v.git_repo.is_some()),
        ("secret", v.secret.is_some()),
        ("nfs", v.nfs.is_some()),
        ("iscsi", v.iscsi.is_some()),
        ("glusterfs", v.glusterfs.is_some()),
        ("persistentVolumeClaim", v.persistent_volume_claim.is_some()),
        ("rbd", v.rbd.is_some()),
        ("flexVolume", v.flex_volume.is_some()),
        ("cinder", v.cinder.is_some()),
        ("cephFS", v.cephfs.is_some()),
        ("flocker", v.flocker.is_some()),
        ("downwardAPI", v.downward_api.is_some()),
        ("fc", v.fc.is_some()),
        ("azureFile", v.azure_file.is_some()),
        ("configMap", v.config_map.is_some()),
        ("vsphereVolume", v.vsphere_volume.is_some()),
        ("quobyte", v.quobyte.is_some()),
        ("azureDisk", v.azure_disk.is_some()),
        ("photonPersistentDisk", v.photon_persistent_disk.is_some()),
        ("projected", v.projected.is_some()),
        ("portworxVolume", v.portworx_volume.is_some()),
        ("scaleIO", v.scale_io.is_some()),
        ("storageos", v.storageos.is_some()),
        ("csi", v.csi.is_some()),
        ("ephemeral", v.ephemeral.is_some()),
        ("image", v.image.is_some()),
    ];
    set.into_iter()
        .filter_map(|(name, on)| on.then_some(name))
        .collect()
}

/// Volume names and sources.
pub(super) fn validate_volumes(volumes: &[Volume], path: &Path) -> Vec<FieldError> {
    let mut names_ok = BTreeSet::new();
    let mut errs = Vec::new();
    for (i, v) in volumes.iter().enumerate() {
        let p = path.index(i);
        let mut el = Vec::new();
        let sources = volume_sources(v);
        match sources.as_slice() {
            [] => el.push(FieldError::required(&p, "must specify a volume type")),
            [first, rest @ ..] => {
                el.extend(validate_volume_source(v, first, &p));
                for extra in rest {
                    el.push(FieldError::forbidden(
                        p.child(extra),
                        "may not specify more than 1 volume type",
                    ));
                }
            }
        }
        let name_path = p.child("name");
        if v.name.is_empty() {
            el.push(FieldError::required(&name_path, ""));
        } else {
            el.extend(dns1123_label(&v.name, &name_path));
        }
        if names_ok.contains(&v.name) {
            el.push(FieldError::duplicate(&name_path, quote(&v.name)));
        }
        if el.is_empty() {
            names_ok.insert(v.name.clone());
        }
        errs.extend(el);
    }
    errs
}

const FILE_MODE_ERROR: &str = "must be a number between 0 and 0777 (octal), both inclusive";

fn validate_file_mode(mode: Option<i32>, path: &Path) -> Option<FieldError> {
    mode.filter(|m| !(0..=0o777).contains(m))
        .map(|m| FieldError::invalid(path, m, FILE_MODE_ERROR))
}

/// The commonly used sources' required fields.
fn validate_volume_source(v: &Volume, source: &str, path: &Path) -> Vec<FieldError> {
    let p = path.child(source);
    let mut errs = Vec::new();
    if v.host_path.as_ref().is_some_and(|hp| hp.path.is_empty()) {
        errs.push(FieldError::required(p.child("path"), ""));
    }
    if let Some(secret) = &v.secret {
        if s(&secret.secret_name).is_empty() {
            errs.push(FieldError::required(p.child("secretName"), ""));
        }
        errs.extend(validate_file_mode(
            secret.default_mode,
            &p.child("defaultMode"),
        ));
    }
    if let Some(cm) = &v.config_map {
        if cm.name.is_empty() {
            errs.push(FieldError::required(p.child("name"), ""));
        }
        errs.extend(validate_file_mode(cm.default_mode, &p.child("defaultMode")));
    }
    if v.persistent_volume_claim
        .as_ref()
        .is_some_and(|pvc| pvc.claim_name.is_empty())
    {
        errs.push(FieldError::required(p.child("claimName"), ""));
    }
    if let Some(nfs) = &v.nfs {
        if nfs.server.is_empty() {
            errs.push(FieldError::required(p.child("server"), ""));
        }
        if nfs.path.is_empty() {
            errs.push(FieldError::required(p.child("path"), ""));
        }
        if !nfs.path.starts_with('/') {
            errs.push(FieldError::invalid(
                p.child("path"),
                quote(&nfs.path),
                "must be an absolute path",
            ));
        }
    }
    errs
}
