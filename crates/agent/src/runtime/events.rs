//! Recording core/v1 Events (the form `kubectl describe` lists under Events:).

use std::sync::atomic::{AtomicU64, Ordering};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::{Client, ResourceExt};

use crate::pod_plan::{EventType, PodEvent};

/// Who reports: `default-scheduler`, or `kubelet` on a node.
#[derive(Debug, Clone)]
pub struct Reporter {
    pub component: &'static str,
    /// `source.host` and `reportingInstance`: the node for the kubelet.
    pub instance: String,
    pub host: Option<String>,
}

impl Reporter {
    pub fn scheduler() -> Self {
        Reporter {
            component: crate::config::SCHEDULER_NAME,
            instance: format!("{}-svcplane", crate::config::SCHEDULER_NAME),
            host: None,
        }
    }

    pub fn kubelet(node: &str) -> Self {
        Reporter {
            component: "kubelet",
            instance: node.to_string(),
            host: Some(node.to_string()),
        }
    }
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// Record `event` about `pod` (a whole or a cached pod: only its identity is read). Failures
/// are logged, not returned: a lost event must not undo or repeat the state change it
/// describes.
pub async fn record<K: kube::Resource<DynamicType = ()>>(
    client: &Client,
    pod: &K,
    reporter: &Reporter,
    event: &PodEvent,
) {
    let namespace = pod.namespace().unwrap_or_default();
    let now = Timestamp::now();
    // Like client-go: the object name and a hex time, unique per process by a sequence.
    let unique = u128::try_from(now.as_nanosecond()).unwrap_or_default()
        + u128::from(SEQUENCE.fetch_add(1, Ordering::Relaxed));
    let ev = Event {
        metadata: ObjectMeta {
            name: Some(format!("{}.{unique:x}", pod.name_any())),
            namespace: Some(namespace.clone()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: Some(pod.name_any()),
            namespace: Some(namespace.clone()),
            uid: pod.uid(),
            resource_version: pod.resource_version(),
            field_path: event.field_path.clone(),
        },
        reason: Some(event.reason.into()),
        message: Some(event.message.clone()),
        type_: Some(event.type_.as_str().into()),
        source: Some(EventSource {
            component: Some(reporter.component.into()),
            host: reporter.host.clone(),
        }),
        reporting_component: Some(reporter.component.into()),
        reporting_instance: Some(reporter.instance.clone()),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        count: Some(1),
        ..Event::default()
    };
    let api: Api<Event> = Api::namespaced(client.clone(), &namespace);
    if let Err(e) = api.create(&PostParams::default(), &ev).await {
        tracing::debug!(pod = %pod.name_any(), reason = event.reason, error = %e, "recording an event failed");
    }
}

/// A Normal or Warning event without a container.
pub fn pod_event(type_: EventType, reason: &'static str, message: String) -> PodEvent {
    PodEvent {
        type_,
        reason,
        message,
        field_path: None,
    }
}
