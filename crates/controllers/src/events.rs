//! Kubernetes Events (core/v1, which `kubectl describe` reads) about the objects controllers
//! act on. Recording is best effort: a failure is logged, never fails a reconcile.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client};

#[derive(Clone)]
pub struct Recorder {
    client: Client,
    /// `source.component` and `reportingComponent`, e.g. `deployment-controller`.
    component: &'static str,
}

impl Recorder {
    pub fn new(client: Client, component: &'static str) -> Self {
        Recorder { client, component }
    }

    /// Record a `Normal` event about the object (`kind` in `api_version`) described by `meta`.
    pub async fn normal(
        &self,
        api_version: &str,
        kind: &str,
        meta: &ObjectMeta,
        reason: &str,
        message: String,
    ) {
        let event = build(
            self.component,
            api_version,
            kind,
            meta,
            reason,
            message,
            Timestamp::now(),
        );
        let ns = meta.namespace.clone().unwrap_or_else(|| "default".into());
        let api: Api<Event> = Api::namespaced(self.client.clone(), &ns);
        if let Err(e) = api.create(&PostParams::default(), &event).await {
            tracing::warn!(error = %e, reason, "recording an event failed");
        }
    }
}

/// The Event object (pure, for tests). Names follow kube's `<object>.<hex nanoseconds>`.
pub fn build(
    component: &str,
    api_version: &str,
    kind: &str,
    meta: &ObjectMeta,
    reason: &str,
    message: String,
    now: Timestamp,
) -> Event {
    let name = meta.name.clone().unwrap_or_default();
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{name}.{:x}", now.as_nanosecond())),
            namespace: meta.namespace.clone(),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some(api_version.to_string()),
            kind: Some(kind.to_string()),
            name: Some(name),
            namespace: meta.namespace.clone(),
            uid: meta.uid.clone(),
            resource_version: meta.resource_version.clone(),
            ..ObjectReference::default()
        },
        reason: Some(reason.to_string()),
        message: Some(message),
        type_: Some("Normal".into()),
        count: Some(1),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        event_time: None::<MicroTime>,
        source: Some(EventSource {
            component: Some(component.to_string()),
            host: None,
        }),
        reporting_component: Some(component.to_string()),
        reporting_instance: Some(component.to_string()),
        ..Event::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn involved_object_carries_the_uid() {
        let meta = ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            uid: Some("u-1".into()),
            ..ObjectMeta::default()
        };
        let e = build(
            "deployment-controller",
            "apps/v1",
            "Deployment",
            &meta,
            "ScalingReplicaSet",
            "m".into(),
            Timestamp::UNIX_EPOCH,
        );
        assert_eq!(e.involved_object.uid.as_deref(), Some("u-1"));
        assert_eq!(e.involved_object.kind.as_deref(), Some("Deployment"));
        assert_eq!(e.metadata.name.as_deref(), Some("web.0"));
        assert_eq!(
            e.source.and_then(|s| s.component).as_deref(),
            Some("deployment-controller")
        );
    }
}
