//! core/v1 Events. kube-apiserver only applies its lenient "legacy" checks to Events written
//! through core/v1 (the stricter ones are for events.k8s.io/v1); names need only be valid
//! URL path segments.

use super::meta::{self, MetaRules};
use super::names;
use super::render::quote;
use super::{Validate, dedup};
use crate::FieldError;
use crate::k8s::api::core::v1::Event;

const RULES: MetaRules = MetaRules {
    namespaced: true,
    name_fn: names::name_is_path_segment,
    kube_finalizers: false,
};
const LENGTH_LIMIT: usize = 128;
const NOTE_LENGTH_LIMIT: usize = 1024;

impl Validate for Event {
    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let mut errs =
            meta::validate_meta_for(&self.metadata, old.map(|o| &o.metadata), RULES, true);
        let namespace = self.metadata.namespace.as_deref().unwrap_or_default();
        let involved_ns = self
            .involved_object
            .namespace
            .as_deref()
            .unwrap_or_default();
        let mismatch = || {
            FieldError::invalid(
                "involvedObject.namespace",
                quote(involved_ns),
                "does not match event.namespace",
            )
        };

        if self.event_time.is_none() {
            // An event about a cluster-scoped object lives in "default" (or nowhere).
            let ok = if involved_ns.is_empty() {
                matches!(namespace, "" | "default")
            } else {
                namespace == involved_ns
            };
            if !ok {
                errs.push(mismatch());
            }
        } else {
            // New-style events must say who reported them and what happened.
            if involved_ns.is_empty() && !matches!(namespace, "default" | "kube-system") {
                errs.push(mismatch());
            }
            let controller = self.reporting_component.as_deref().unwrap_or_default();
            if controller.is_empty() {
                errs.push(FieldError::required("reportingController", ""));
            }
            for m in names::is_qualified_name(controller) {
                errs.push(FieldError::invalid(
                    "reportingController",
                    quote(controller),
                    &m,
                ));
            }
            for (field, value, limit) in [
                (
                    "reportingInstance",
                    self.reporting_instance.as_deref().unwrap_or_default(),
                    LENGTH_LIMIT,
                ),
                (
                    "action",
                    self.action.as_deref().unwrap_or_default(),
                    LENGTH_LIMIT,
                ),
                (
                    "reason",
                    self.reason.as_deref().unwrap_or_default(),
                    LENGTH_LIMIT,
                ),
            ] {
                if value.is_empty() {
                    errs.push(FieldError::required(field, ""));
                }
                if value.len() > limit {
                    errs.push(FieldError::invalid(
                        field,
                        quote(""),
                        &format!("can have at most {limit} characters"),
                    ));
                }
            }
            if self.message.as_deref().unwrap_or_default().len() > NOTE_LENGTH_LIMIT {
                errs.push(FieldError::invalid(
                    "message",
                    quote(""),
                    &format!("can have at most {NOTE_LENGTH_LIMIT} characters"),
                ));
            }
        }
        for m in names::is_dns1123_subdomain(namespace) {
            errs.push(FieldError::invalid("namespace", quote(namespace), &m));
        }
        dedup(errs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::api::core::v1::ObjectReference;
    use crate::validation::tests::{assert_errors, meta, strs};

    fn event(namespace: &str, involved_ns: Option<&str>) -> Event {
        Event {
            metadata: meta(namespace, "web.17a"),
            involved_object: ObjectReference {
                kind: Some("Pod".into()),
                name: Some("web".into()),
                namespace: involved_ns.map(Into::into),
                ..Default::default()
            },
            reason: Some("Started".into()),
            ..Default::default()
        }
    }

    #[test]
    fn event_cases() {
        let cases: Vec<(&str, Event, Vec<String>)> = vec![
            ("valid", event("default", Some("default")), vec![]),
            (
                "cluster-scoped object in default",
                event("default", None),
                vec![],
            ),
            (
                "namespace mismatch",
                event("default", Some("other")),
                strs(&[
                    "involvedObject.namespace: Invalid value: \"other\": does not match event.namespace",
                ]),
            ),
            (
                "missing name",
                Event {
                    metadata: meta("default", ""),
                    ..event("default", Some("default"))
                },
                strs(&["metadata.name: Required value: name or generateName is required"]),
            ),
            (
                "slash in name",
                Event {
                    metadata: meta("default", "a/b"),
                    ..event("default", Some("default"))
                },
                strs(&["metadata.name: Invalid value: \"a/b\": may not contain '/'"]),
            ),
        ];
        for (name, e, want) in cases {
            assert_errors(name, &e.validate(None), &want);
        }
    }
}
