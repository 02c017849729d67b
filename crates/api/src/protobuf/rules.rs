//! The vocabulary of the conversion tables: the [`IntoOpenapi`] trait, one *field rule* per way
//! Go marshals a field, and the [`convert!`] macro that applies them field by field.
//!
//! Why rules at all: k8s-pb is generated as proto2, so every scalar is an `Option`, and gogo-proto
//! (what client-go uses) writes every non-pointer Go field even when it holds its zero value. The
//! same message therefore says `name: Some("")` for "unset" and `replicas: Some(0)` for "zero
//! replicas". Only the Go declaration tells them apart, so each table entry names the rule that
//! matches it:
//!
//! | Go field                                 | rule                                          |
//! |------------------------------------------|-----------------------------------------------|
//! | pointer (`*int32`, `*string`, `*bool`)   | [`keep`]: presence is the meaning             |
//! | value with `omitempty`                   | [`omitempty`]: zero means absent              |
//! | value without `omitempty`                | [`required`]; [`keep`] if optional in JSON    |
//! | struct, optional / required in JSON      | [`opt`] / [`msg`]                             |
//! | slice, map                               | [`list`], [`required_list`], [`map`]          |
//! | `metav1.Time`, `metav1.MicroTime`        | [`time`], [`required_time`], [`micro_time`]   |
//! | `ServicePort.targetPort`                 | [`nonzero_int_or_string`]                     |
//! | inlined `LocalObjectReference`           | [`local_object_name`]                         |
//! | field newer than the served API (1.33)   | `dropped("jsonName")`                         |
//!
//! The tables were derived from the Go declarations of `k8s.io/api` v0.33 and
//! `k8s.io/apimachinery` v0.33 (pointer or value, `omitempty`, inlined) joined with k8s-pb's and
//! k8s-openapi's field lists. The upstream fixtures in the tests set every field to a non-zero
//! value, so they check each entry's mapping; the kubectl recordings check the zero values.

use std::collections::BTreeMap;

use k8s_pb::api::core::v1 as pb_core;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as pb_meta;
use k8s_pb::apimachinery::pkg::util::intstr as pb_intstr;

use crate::error::DecodeError;
use crate::k8s::ByteString;
use crate::k8s::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use crate::k8s::apimachinery::pkg::util::intstr::IntOrString;
use crate::k8s::jiff::Timestamp;

pub(super) type Result<T> = std::result::Result<T, DecodeError>;

/// A k8s-pb value with a k8s-openapi counterpart (whose serde form is the Kubernetes JSON).
pub(super) trait IntoOpenapi {
    type Out;
    fn into_openapi(self) -> Result<Self::Out>;
}

/// Strings in lists and maps are already in their JSON form.
impl IntoOpenapi for String {
    type Out = String;
    fn into_openapi(self) -> Result<String> {
        Ok(self)
    }
}

/// `[]int64` lists such as `supplementalGroups`.
impl IntoOpenapi for i64 {
    type Out = i64;
    fn into_openapi(self) -> Result<i64> {
        Ok(self)
    }
}

/// `[]byte` map values (`Secret.data`, `ConfigMap.binaryData`), base64 in JSON.
impl IntoOpenapi for Vec<u8> {
    type Out = ByteString;
    fn into_openapi(self) -> Result<ByteString> {
        Ok(ByteString(self))
    }
}

/// A Go pointer field: `Some(0)`, `Some(false)` and `Some("")` were set on purpose.
pub(super) fn keep<T>(value: Option<T>) -> Result<Option<T>> {
    Ok(value)
}

/// A Go value field tagged `omitempty`: its zero value is what gogo sends for "unset".
pub(super) fn omitempty<T: Default + PartialEq>(value: Option<T>) -> Result<Option<T>> {
    Ok(value.filter(|v| *v != T::default()))
}

/// A required scalar; absent means Go's zero value.
pub(super) fn required<T: Default>(value: Option<T>) -> Result<T> {
    Ok(value.unwrap_or_default())
}

/// A nested message that is optional in JSON. gogo writes non-pointer structs even when empty,
/// and Go's JSON writes them as `{}` (e.g. `resources: {}`), so presence is kept.
pub(super) fn opt<M: IntoOpenapi>(value: Option<M>) -> Result<Option<M::Out>> {
    value.map(M::into_openapi).transpose()
}

/// A nested message that is required in JSON; absent means its empty value.
pub(super) fn msg<M: IntoOpenapi + Default>(value: Option<M>) -> Result<M::Out> {
    value.unwrap_or_default().into_openapi()
}

/// A slice tagged `omitempty`: empty means absent.
pub(super) fn list<T: IntoOpenapi>(values: Vec<T>) -> Result<Option<Vec<T::Out>>> {
    if values.is_empty() {
        return Ok(None);
    }
    required_list(values).map(Some)
}

/// A slice that JSON always carries (`containers`, `endpoints`).
pub(super) fn required_list<T: IntoOpenapi>(values: Vec<T>) -> Result<Vec<T::Out>> {
    values.into_iter().map(T::into_openapi).collect()
}

/// A map tagged `omitempty`: empty means absent.
pub(super) fn map<V: IntoOpenapi>(
    entries: BTreeMap<String, V>,
) -> Result<Option<BTreeMap<String, V::Out>>> {
    if entries.is_empty() {
        return Ok(None);
    }
    let converted = entries
        .into_iter()
        .map(|(key, value)| Ok((key, value.into_openapi()?)))
        .collect::<Result<_>>()?;
    Ok(Some(converted))
}

/// An optional `metav1.Time`. Go marshals the zero time as an empty message (and writes the
/// non-pointer `creationTimestamp` that way on every object), which JSON spells `null`: absent.
pub(super) fn time(value: Option<pb_meta::Time>) -> Result<Option<Time>> {
    let Some(pb_meta::Time { seconds, nanos }) = value else {
        return Ok(None);
    };
    Ok(timestamp(seconds, nanos)?.map(Time))
}

/// A `metav1.Time` the JSON schema requires (`Condition.lastTransitionTime`).
pub(super) fn required_time(value: Option<pb_meta::Time>) -> Result<Time> {
    time(value)?.ok_or_else(|| DecodeError::Type("lastTransitionTime: Required value".into()))
}

/// An optional `metav1.MicroTime`; zero means absent, as for [`time`].
pub(super) fn micro_time(value: Option<pb_meta::MicroTime>) -> Result<Option<MicroTime>> {
    let Some(pb_meta::MicroTime { seconds, nanos }) = value else {
        return Ok(None);
    };
    Ok(timestamp(seconds, nanos)?.map(MicroTime))
}

/// Seconds and nanoseconds since the epoch. Go writes its zero time as an empty message; the
/// epoch itself (also 0/0) is never a real object timestamp, so both read as unset.
fn timestamp(seconds: Option<i64>, nanos: Option<i32>) -> Result<Option<Timestamp>> {
    let (seconds, nanos) = (seconds.unwrap_or(0), nanos.unwrap_or(0));
    if seconds == 0 && nanos == 0 {
        return Ok(None);
    }
    Timestamp::new(seconds, nanos)
        .map(Some)
        .map_err(|e| DecodeError::Malformed(format!("invalid protobuf timestamp: {e}")))
}

/// `ServicePort.targetPort`: a value field whose zero (`0` or `""`) means "same as port", which
/// JSON clients express by leaving it out.
pub(super) fn nonzero_int_or_string(
    value: Option<pb_intstr::IntOrString>,
) -> Result<Option<IntOrString>> {
    let converted = opt(value)?;
    Ok(converted.filter(|v| {
        !matches!(v, IntOrString::Int(0)) && !matches!(v, IntOrString::String(s) if s.is_empty())
    }))
}

/// The `name` of an inlined `LocalObjectReference` (`configMapKeyRef.name` and friends).
pub(super) fn local_object_name(value: Option<pb_core::LocalObjectReference>) -> Result<String> {
    Ok(value.and_then(|r| r.name).unwrap_or_default())
}

/// Implements [`IntoOpenapi`] for a k8s-pb message from a table of its fields:
///
/// ```text
/// convert! {
///     pb::ServicePort => api::ServicePort {
///         name: omitempty,
///         port: required,
///         r#type => type_: omitempty,     // k8s-openapi spells the field differently
///         newer_field: dropped("newerField"),
///     }
/// }
/// ```
///
/// The message is destructured without `..` and the output built without `..Default`, so a field
/// added to either crate fails to compile until the table says what to do with it.
macro_rules! convert {
    // The output type stays plain tokens: a `path` fragment cannot name a struct literal.
    ($from:path => $($to:ident)::+ { $($fields:tt)* }) => {
        impl $crate::protobuf::rules::IntoOpenapi for $from {
            type Out = $($to)::+;
            fn into_openapi(self) -> $crate::protobuf::rules::Result<Self::Out> {
                $crate::protobuf::rules::convert!(@fields self, [$($to)::+], [] [], $($fields)*)
            }
        }
    };
    (@fields $self:ident, [$($to:tt)*], [$($pat:tt)*] [$($out:tt)*], $(,)?) => {{
        let Self { $($pat)* } = $self;
        Ok($($to)* { $($out)* })
    }};
    // An output field with no protobuf counterpart of its own (set by the message that inlines
    // this one, see `Volume`).
    (@fields $self:ident, [$($to:tt)*], [$($pat:tt)*] [$($out:tt)*],
        $renamed:ident = $value:expr $(, $($rest:tt)*)?) => {
        $crate::protobuf::rules::convert!(@fields $self, [$($to)*],
            [$($pat)*] [$($out)* $renamed: $value,], $($($rest)*)?)
    };
    // A field Kubernetes added after the API version served here. kube-apiserver of that version
    // skips it as an unknown protobuf field, and so does this decoder.
    (@fields $self:ident, [$($to:tt)*], [$($pat:tt)*] [$($out:tt)*],
        $field:ident: dropped($json:literal) $(, $($rest:tt)*)?) => {
        $crate::protobuf::rules::convert!(@fields $self, [$($to)*],
            [$($pat)* $field: _,] [$($out)*], $($($rest)*)?)
    };
    // Rules are called as `self::rule` so that a field named like a rule (`time`) cannot shadow
    // it.
    (@fields $self:ident, [$($to:tt)*], [$($pat:tt)*] [$($out:tt)*],
        $field:ident => $renamed:ident: $rule:ident $(, $($rest:tt)*)?) => {
        $crate::protobuf::rules::convert!(@fields $self, [$($to)*],
            [$($pat)* $field,] [$($out)* $renamed: self::$rule($field)?,], $($($rest)*)?)
    };
    (@fields $self:ident, [$($to:tt)*], [$($pat:tt)*] [$($out:tt)*],
        $field:ident: $rule:ident $(, $($rest:tt)*)?) => {
        $crate::protobuf::rules::convert!(@fields $self, [$($to)*],
            [$($pat)* $field,] [$($out)* $field: self::$rule($field)?,], $($($rest)*)?)
    };
}
pub(super) use convert;
