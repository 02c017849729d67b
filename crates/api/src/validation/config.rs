//! ConfigMaps and Secrets: keys that work as file names, a 1 MiB size limit, per-type
//! required keys for Secrets, and the `immutable` flag.

use super::meta::{self, MetaRules};
use super::names;
use super::render::quote;
use super::{Path, Validate, dedup};
use crate::FieldError;
use crate::k8s::api::core::v1::{ConfigMap, Secret};

/// Largest total payload of a ConfigMap or Secret (etcd's request limit leaves room for it).
pub const MAX_SECRET_SIZE: usize = 1024 * 1024;

const RULES: MetaRules = MetaRules::NAMESPACED_SUBDOMAIN;
const IMMUTABLE_DETAIL: &str = "field is immutable when `immutable` is set";

fn key_errors(key: &str, path: &Path) -> Vec<FieldError> {
    names::is_config_map_key(key)
        .into_iter()
        .map(|m| FieldError::invalid(path.key(key), quote(key), &m))
        .collect()
}

impl Validate for ConfigMap {
    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if let Some(old) = old {
            errs.extend(meta::validate_object_meta_update(
                &self.metadata,
                &old.metadata,
                RULES,
            ));
            if old.immutable == Some(true) {
                if self.immutable != Some(true) {
                    errs.push(FieldError::forbidden("immutable", IMMUTABLE_DETAIL));
                }
                if self.data != old.data {
                    errs.push(FieldError::forbidden("data", IMMUTABLE_DETAIL));
                }
                if self.binary_data != old.binary_data {
                    errs.push(FieldError::forbidden("binaryData", IMMUTABLE_DETAIL));
                }
            }
        }
        errs.extend(meta::validate_object_meta(&self.metadata, RULES));
        let data_path = Path::new("data");
        let binary_path = Path::new("binaryData");
        let mut total = 0;
        for (key, value) in self.data.iter().flatten() {
            errs.extend(key_errors(key, &data_path));
            if self
                .binary_data
                .as_ref()
                .is_some_and(|b| b.contains_key(key))
            {
                errs.push(FieldError::invalid(
                    data_path.key(key),
                    quote(key),
                    "duplicate of key present in binaryData",
                ));
            }
            total += value.len();
        }
        for (key, value) in self.binary_data.iter().flatten() {
            errs.extend(key_errors(key, &binary_path));
            total += value.0.len();
        }
        if total > MAX_SECRET_SIZE {
            // Upstream reports the whole object with an empty path.
            errs.push(FieldError::too_long("", MAX_SECRET_SIZE));
        }
        dedup(errs)
    }
}

impl Validate for Secret {
    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if let Some(old) = old {
            errs.extend(meta::validate_object_meta_update(
                &self.metadata,
                &old.metadata,
                RULES,
            ));
            let (new_type, old_type) = (
                self.type_.as_deref().unwrap_or_default(),
                old.type_.as_deref().unwrap_or_default(),
            );
            if new_type != old_type {
                errs.push(FieldError::invalid(
                    "type",
                    quote(new_type),
                    meta::FIELD_IMMUTABLE,
                ));
            }
            if old.immutable == Some(true) {
                if self.immutable != Some(true) {
                    errs.push(FieldError::forbidden("immutable", IMMUTABLE_DETAIL));
                }
                if self.data != old.data {
                    errs.push(FieldError::forbidden("data", IMMUTABLE_DETAIL));
                }
            }
        }
        errs.extend(meta::validate_object_meta(&self.metadata, RULES));
        let data_path = Path::new("data");
        let mut total = 0;
        for (key, value) in self.data.iter().flatten() {
            errs.extend(key_errors(key, &data_path));
            total += value.0.len();
        }
        if total > MAX_SECRET_SIZE {
            errs.push(FieldError::too_long(&data_path, MAX_SECRET_SIZE));
        }
        errs.extend(validate_secret_type(self, &data_path));
        dedup(errs)
    }
}

/// Keys each well-known Secret type must carry.
fn validate_secret_type(secret: &Secret, data_path: &Path) -> Vec<FieldError> {
    let data = secret.data.as_ref();
    let get = |key: &str| data.and_then(|d| d.get(key)).map(|v| v.0.as_slice());
    let required = |key: &str| FieldError::required(data_path.key(key), "");
    let mut errs = Vec::new();
    match secret.type_.as_deref().unwrap_or_default() {
        "kubernetes.io/service-account-token" => {
            const KEY: &str = "kubernetes.io/service-account.name";
            let name = secret
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(KEY));
            if name.is_none_or(String::is_empty) {
                errs.push(FieldError::required(
                    Path::new("metadata").child("annotations").key(KEY),
                    "",
                ));
            }
        }
        t @ ("kubernetes.io/dockercfg" | "kubernetes.io/dockerconfigjson") => {
            let key = if t == "kubernetes.io/dockercfg" {
                ".dockercfg"
            } else {
                ".dockerconfigjson"
            };
            match get(key) {
                None => errs.push(required(key)),
                Some(bytes) => {
                    // Upstream prints Go's JSON error text; ours comes from serde_json.
                    if let Err(e) =
                        serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(bytes)
                    {
                        errs.push(FieldError::invalid(
                            data_path.key(key),
                            quote("<secret contents redacted>"),
                            &e.to_string(),
                        ));
                    }
                }
            }
        }
        "kubernetes.io/basic-auth" if get("username").is_none() && get("password").is_none() => {
            errs.push(required("username"));
            errs.push(required("password"));
        }
        "kubernetes.io/ssh-auth" if get("ssh-privatekey").is_none_or(<[u8]>::is_empty) => {
            errs.push(required("ssh-privatekey"));
        }
        "kubernetes.io/tls" => {
            for key in ["tls.crt", "tls.key"] {
                if get(key).is_none() {
                    errs.push(required(key));
                }
            }
        }
        _ => {}
    }
    errs
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::defaults::ApplyDefaults;
    use crate::k8s::ByteString;
    use crate::validation::tests::{assert_errors, meta, strs};

    const KEY_MSG: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

    fn config_map(data: &[(&str, &str)]) -> ConfigMap {
        ConfigMap {
            metadata: meta("default", "cfg"),
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn config_map_cases() {
        let cases: Vec<(&str, ConfigMap, Vec<String>)> = vec![
            ("valid", config_map(&[("app.properties", "a=b")]), vec![]),
            (
                "bad key",
                config_map(&[("a/b", "x")]),
                vec![format!("data[a/b]: Invalid value: \"a/b\": {KEY_MSG}")],
            ),
            (
                "key in both maps",
                ConfigMap {
                    binary_data: Some([("k".to_string(), ByteString(vec![1]))].into()),
                    ..config_map(&[("k", "v")])
                },
                strs(&["data[k]: Invalid value: \"k\": duplicate of key present in binaryData"]),
            ),
            (
                "too large",
                ConfigMap {
                    data: Some(BTreeMap::from([(
                        "big".to_string(),
                        "x".repeat(MAX_SECRET_SIZE + 1),
                    )])),
                    ..config_map(&[])
                },
                strs(&[": Too long: may not be more than 1048576 bytes"]),
            ),
        ];
        for (name, cm, want) in cases {
            assert_errors(name, &cm.validate(None), &want);
        }

        let old = ConfigMap {
            immutable: Some(true),
            ..config_map(&[("k", "v")])
        };
        let new = ConfigMap {
            immutable: Some(true),
            ..config_map(&[("k", "w")])
        };
        assert_errors(
            "immutable data",
            &new.validate(Some(&old)),
            &["data: Forbidden: field is immutable when `immutable` is set"],
        );
    }

    fn secret(type_: &str, keys: &[&str]) -> Secret {
        let mut s = Secret {
            metadata: meta("default", "s"),
            type_: (!type_.is_empty()).then(|| type_.to_string()),
            data: Some(
                keys.iter()
                    .map(|k| (k.to_string(), ByteString(b"x".to_vec())))
                    .collect(),
            ),
            ..Default::default()
        };
        s.apply_defaults();
        s
    }

    #[test]
    fn secret_cases() {
        let cases: Vec<(&str, Secret, Vec<String>)> = vec![
            ("valid opaque", secret("", &["password"]), vec![]),
            (
                "valid tls",
                secret("kubernetes.io/tls", &["tls.crt", "tls.key"]),
                vec![],
            ),
            (
                "tls without key",
                secret("kubernetes.io/tls", &["tls.crt"]),
                strs(&["data[tls.key]: Required value"]),
            ),
            (
                "basic auth without fields",
                secret("kubernetes.io/basic-auth", &[]),
                strs(&[
                    "data[username]: Required value",
                    "data[password]: Required value",
                ]),
            ),
            (
                "service account token without annotation",
                secret("kubernetes.io/service-account-token", &[]),
                strs(&["metadata.annotations[kubernetes.io/service-account.name]: Required value"]),
            ),
            (
                "bad key",
                secret("", &["..x"]),
                strs(&["data[..x]: Invalid value: \"..x\": must not start with '..'"]),
            ),
        ];
        for (name, s, want) in cases {
            assert_errors(name, &s.validate(None), &want);
        }
        assert_errors(
            "type change",
            &secret("kubernetes.io/tls", &["tls.crt", "tls.key"]).validate(Some(&secret("", &[]))),
            &["type: Invalid value: \"kubernetes.io/tls\": field is immutable"],
        );
    }
}
