//! Protobuf request bodies: kubectl ≥ 1.32 (client-go's typed clients) POSTs
//! `application/vnd.kubernetes.protobuf` for `kubectl create namespace|deployment|service|
//! configmap|secret` and has no JSON fallback, so the server must read them.
//!
//! The wire format is the magic `k8s\0` followed by a `runtime.Unknown` envelope whose `raw`
//! field holds the object's own gogo-proto message. [`decode`] parses that message with k8s-pb's
//! prost types, converts it field by field into the k8s-openapi type (see `rules` for how Go's
//! zero values are told apart from set values), and serializes that: the result is the JSON a
//! client would have sent, so everything after decoding (strict field checks, defaulting,
//! validation) is shared with JSON bodies.
//!
//! Conversions are complete for the kinds this server serves, checked against upstream's
//! serialization fixtures (`k8s.io/api/testdata/v1.33.0`) in the tests. Fields that Kubernetes
//! added after 1.33 are skipped, as kube-apiserver 1.33 skips unknown protobuf fields.

mod apps_v1;
mod coordination_v1;
mod core_v1;
mod discovery_v1;
mod meta;
mod pod;
mod rules;
mod volume;

#[cfg(test)]
mod tests;

use k8s_pb::api as pb;
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use prost::Message;
use serde::Serialize;
use serde_json::Value;

use self::rules::IntoOpenapi;
use crate::error::DecodeError;

/// The media type of Kubernetes protobuf bodies.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The 4-byte prefix of every Kubernetes protobuf body.
const MAGIC: &[u8; 4] = b"k8s\0";

/// Decode a Kubernetes protobuf envelope (4-byte magic `k8s\0` + `runtime.Unknown{typeMeta{
/// apiVersion, kind}, raw, contentEncoding, contentType}`) into the object's JSON, with
/// `apiVersion` and `kind` set from the envelope.
///
/// Kinds without a decoder are [`DecodeError::Unsupported`]; bytes that are not a well-formed
/// envelope or object are [`DecodeError::Malformed`]. No input panics.
pub fn decode(body: &[u8]) -> Result<Value, DecodeError> {
    let envelope = Envelope::parse(body)?;
    let decoder = DECODERS
        .iter()
        .find(|d| d.api_version == envelope.api_version && d.kind == envelope.kind)
        .ok_or_else(|| envelope.unsupported())?;
    let mut object = (decoder.decode)(&envelope.raw)?;
    if let Value::Object(fields) = &mut object {
        fields.insert("apiVersion".into(), Value::String(envelope.api_version));
        fields.insert("kind".into(), Value::String(envelope.kind));
    }
    Ok(object)
}

/// The parts of `runtime.Unknown` that matter once it is known to carry a protobuf object.
struct Envelope {
    api_version: String,
    kind: String,
    raw: Vec<u8>,
}

impl Envelope {
    fn parse(body: &[u8]) -> Result<Self, DecodeError> {
        let message = body.strip_prefix(MAGIC).ok_or_else(|| {
            DecodeError::Malformed(format!(
                "provided data does not appear to be a protobuf message, expected prefix {:?}",
                MAGIC.as_slice()
            ))
        })?;
        let unknown = Unknown::decode(message).map_err(|e| {
            DecodeError::Malformed(format!("unable to decode the protobuf envelope: {e}"))
        })?;
        let Unknown {
            type_meta,
            raw,
            content_encoding,
            content_type,
        } = unknown;
        // client-go leaves both empty; anything else (e.g. gzip) is not something it sends.
        let content_encoding = content_encoding.unwrap_or_default();
        let content_type = content_type.unwrap_or_default();
        if !content_encoding.is_empty()
            || !(content_type.is_empty() || content_type == CONTENT_TYPE)
        {
            return Err(DecodeError::Unsupported(format!(
                "protobuf envelopes with contentType {content_type:?} and contentEncoding \
                 {content_encoding:?} are not supported; send application/json"
            )));
        }
        let type_meta = type_meta.unwrap_or_default();
        let kind = type_meta.kind.unwrap_or_default();
        if kind.is_empty() {
            return Err(DecodeError::Malformed(
                "Object 'Kind' is missing in the protobuf envelope".into(),
            ));
        }
        Ok(Envelope {
            api_version: type_meta.api_version.unwrap_or_default(),
            kind,
            raw: raw.unwrap_or_default(),
        })
    }

    fn unsupported(&self) -> DecodeError {
        DecodeError::Unsupported(format!(
            "the protobuf body of kind {} ({}) is not supported; send application/json",
            self.kind, self.api_version
        ))
    }
}

/// How to turn the `raw` bytes of one kind into JSON.
struct Decoder {
    api_version: &'static str,
    kind: &'static str,
    decode: fn(&[u8]) -> Result<Value, DecodeError>,
}

/// Every kind svcplane serves.
const DECODERS: &[Decoder] = &[
    decoder::<pb::core::v1::Namespace>("v1", "Namespace"),
    decoder::<pb::core::v1::Node>("v1", "Node"),
    decoder::<pb::core::v1::Pod>("v1", "Pod"),
    decoder::<pb::core::v1::Service>("v1", "Service"),
    decoder::<pb::core::v1::Endpoints>("v1", "Endpoints"),
    decoder::<pb::core::v1::Event>("v1", "Event"),
    decoder::<pb::core::v1::ConfigMap>("v1", "ConfigMap"),
    decoder::<pb::core::v1::Secret>("v1", "Secret"),
    decoder::<pb::apps::v1::Deployment>("apps/v1", "Deployment"),
    decoder::<pb::apps::v1::ReplicaSet>("apps/v1", "ReplicaSet"),
    decoder::<pb::apps::v1::StatefulSet>("apps/v1", "StatefulSet"),
    decoder::<pb::discovery::v1::EndpointSlice>("discovery.k8s.io/v1", "EndpointSlice"),
    decoder::<pb::coordination::v1::Lease>("coordination.k8s.io/v1", "Lease"),
];

const fn decoder<M>(api_version: &'static str, kind: &'static str) -> Decoder
where
    M: Message + Default + IntoOpenapi,
    M::Out: Serialize,
{
    Decoder {
        api_version,
        kind,
        decode: decode_as::<M>,
    }
}

fn decode_as<M>(raw: &[u8]) -> Result<Value, DecodeError>
where
    M: Message + Default + IntoOpenapi,
    M::Out: Serialize,
{
    let message = M::decode(raw).map_err(|e| {
        DecodeError::Malformed(format!("unable to decode the protobuf object: {e}"))
    })?;
    let object = message.into_openapi()?;
    // Only a timestamp outside the JSON format's range can fail here.
    serde_json::to_value(object).map_err(|e| DecodeError::Malformed(e.to_string()))
}
