//! `meta.k8s.io/v1` types every object carries (ObjectMeta, LabelSelector, Condition) and the
//! apimachinery value types (IntOrString, Quantity).

use k8s_pb::apimachinery::pkg::api::resource as pb_resource;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as pb;
use k8s_pb::apimachinery::pkg::util::intstr as pb_intstr;

use super::rules::{
    IntoOpenapi, Result, convert, keep, list, map, omitempty, opt, required, required_time, time,
};
use crate::error::DecodeError;
use crate::k8s::apimachinery::pkg::api::resource::Quantity;
use crate::k8s::apimachinery::pkg::apis::meta::v1 as api;
use crate::k8s::apimachinery::pkg::util::intstr::IntOrString;

convert! {
    pb::ObjectMeta => api::ObjectMeta {
        name: omitempty,
        generate_name: omitempty,
        namespace: omitempty,
        self_link: omitempty,
        uid: omitempty,
        resource_version: omitempty,
        generation: omitempty,
        creation_timestamp: time,
        deletion_timestamp: time,
        deletion_grace_period_seconds: keep,
        labels: map,
        annotations: map,
        owner_references: list,
        finalizers: list,
        managed_fields: list,
    }
}

convert! {
    pb::OwnerReference => api::OwnerReference {
        api_version: required,
        kind: required,
        name: required,
        uid: required,
        controller: keep,
        block_owner_deletion: keep,
    }
}

convert! {
    pb::ManagedFieldsEntry => api::ManagedFieldsEntry {
        manager: omitempty,
        operation: omitempty,
        api_version: omitempty,
        time: time,
        fields_type: omitempty,
        fields_v1: opt,
        subresource: omitempty,
    }
}

convert! {
    pb::Condition => api::Condition {
        r#type => type_: required,
        status: required,
        observed_generation: omitempty,
        last_transition_time: required_time,
        reason: required,
        message: required,
    }
}

convert! {
    pb::LabelSelector => api::LabelSelector {
        match_labels: map,
        match_expressions: list,
    }
}

convert! {
    pb::LabelSelectorRequirement => api::LabelSelectorRequirement {
        key: required,
        operator: required,
        values: list,
    }
}

/// `managedFields[].fieldsV1` travels as the raw JSON of the field set.
impl IntoOpenapi for pb::FieldsV1 {
    type Out = api::FieldsV1;
    fn into_openapi(self) -> Result<api::FieldsV1> {
        let raw = self.raw.unwrap_or_default();
        if raw.is_empty() {
            // Go marshals a FieldsV1 without raw bytes as JSON null.
            return Ok(api::FieldsV1(serde_json::Value::Null));
        }
        serde_json::from_slice(&raw)
            .map(api::FieldsV1)
            .map_err(|e| DecodeError::Malformed(format!("managedFields fieldsV1 is not JSON: {e}")))
    }
}

/// `intstr.IntOrString`: `type` 0 is an int, 1 a string.
impl IntoOpenapi for pb_intstr::IntOrString {
    type Out = IntOrString;
    fn into_openapi(self) -> Result<IntOrString> {
        let pb_intstr::IntOrString {
            r#type,
            int_val,
            str_val,
        } = self;
        match r#type.unwrap_or(0) {
            0 => Ok(IntOrString::Int(int_val.unwrap_or(0))),
            1 => Ok(IntOrString::String(str_val.unwrap_or_default())),
            other => Err(DecodeError::Malformed(format!(
                "invalid IntOrString type {other}"
            ))),
        }
    }
}

/// `resource.Quantity` is sent in its canonical string form, exactly what JSON carries.
impl IntoOpenapi for pb_resource::Quantity {
    type Out = Quantity;
    fn into_openapi(self) -> Result<Quantity> {
        Ok(Quantity(self.string.unwrap_or_default()))
    }
}
