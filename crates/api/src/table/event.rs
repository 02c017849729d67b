//! Events, in both their `v1` and `events.k8s.io/v1` shapes.
//!
//! Upstream converts either shape to one internal type before printing; here a
//! [`FieldNames`] table says where each printed field lives in the JSON.

use serde_json::Value;

use super::fields::{int_at, is_set, name, or, since, str_at, time_at};
use super::{Column, NAME};

pub(super) const EVENT_COLUMNS: &[Column] = &[
    Column::string("Last Seen", "Time since the event was last observed."),
    Column::string("Type", "Normal or Warning."),
    Column::string("Reason", "Short machine-readable reason for the event."),
    Column::string("Object", "The object the event is about, as kind/name."),
    Column::string("Subobject", "The part of the object the event is about.").wide(),
    Column::string(
        "Source",
        "The component (and host) that reported the event.",
    )
    .wide(),
    Column::string("Message", "Human-readable description of the event."),
    Column::string("First Seen", "Time since the event was first observed.").wide(),
    // Upstream declares "string" although the cell is a number.
    Column::string("Count", "How many times the event has occurred.").wide(),
    NAME.wide(),
];

/// Where an event shape keeps the fields the printer reads.
struct FieldNames {
    regarding: &'static str,
    message: &'static str,
    source: &'static str,
    first_timestamp: &'static str,
    last_timestamp: &'static str,
    count: &'static str,
    reporting_controller: &'static str,
}

const CORE_V1: FieldNames = FieldNames {
    regarding: "/involvedObject",
    message: "/message",
    source: "/source",
    first_timestamp: "/firstTimestamp",
    last_timestamp: "/lastTimestamp",
    count: "/count",
    reporting_controller: "/reportingComponent",
};

const EVENTS_V1: FieldNames = FieldNames {
    regarding: "/regarding",
    message: "/note",
    source: "/deprecatedSource",
    first_timestamp: "/deprecatedFirstTimestamp",
    last_timestamp: "/deprecatedLastTimestamp",
    count: "/deprecatedCount",
    reporting_controller: "/reportingController",
};

pub(super) fn event_cells(event: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let f = if str_at(event, "/apiVersion").starts_with("events.k8s.io/") {
        &EVENTS_V1
    } else {
        &CORE_V1
    };
    let (first_seen, last_seen, count) = seen_and_count(event, f, now);
    vec![
        last_seen.into(),
        str_at(event, "/type").into(),
        str_at(event, "/reason").into(),
        target(event, f).into(),
        str_at(event, &format!("{}/fieldPath", f.regarding)).into(),
        source(event, f).into(),
        str_at(event, f.message).trim().into(),
        first_seen.into(),
        count.into(),
        name(event).into(),
    ]
}

/// First Seen, Last Seen and Count.
///
/// Events recorded through the newer API carry `eventTime` instead of `firstTimestamp`,
/// and repeated ones carry a `series` whose count and last observation take precedence.
/// A singleton new-style event has no count at all and counts as one.
fn seen_and_count(event: &Value, f: &FieldNames, now: jiff::Timestamp) -> (String, String, i64) {
    let first_seen = match time_at(event, f.first_timestamp) {
        Some(first) => since(Some(first), now),
        None => since(time_at(event, "/eventTime"), now),
    };
    let mut last_seen = match time_at(event, f.last_timestamp) {
        Some(last) => since(Some(last), now),
        None => first_seen.clone(),
    };
    let mut count = int_at(event, f.count);
    if is_set(event, "/series") {
        last_seen = since(time_at(event, "/series/lastObservedTime"), now);
        count = int_at(event, "/series/count");
    } else if count == 0 {
        count = 1;
    }
    (first_seen, last_seen, count)
}

/// `kind/name` with the kind lower-cased, or just the kind when the name is empty.
fn target(event: &Value, f: &FieldNames) -> String {
    let kind = str_at(event, &format!("{}/kind", f.regarding)).to_lowercase();
    match str_at(event, &format!("{}/name", f.regarding)) {
        "" => kind,
        object => format!("{kind}/{object}"),
    }
}

/// `component, host`, falling back to the reporting controller and instance.
fn source(event: &Value, f: &FieldNames) -> String {
    let component = or(
        str_at(event, &format!("{}/component", f.source)),
        str_at(event, f.reporting_controller),
    );
    let host = or(
        str_at(event, &format!("{}/host", f.source)),
        str_at(event, "/reportingInstance"),
    );
    if host.is_empty() {
        component.to_owned()
    } else {
        format!("{component}, {host}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::cells;
    use serde_json::{Value, json};

    fn now() -> jiff::Timestamp {
        "2024-06-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn event_cases() {
        let cases = [
            (
                "core event with timestamps",
                json!({"apiVersion": "v1", "kind": "Event",
                       "metadata": {"name": "my-nginx.17a1"},
                       "involvedObject": {"kind": "Pod", "name": "my-nginx-6f6bcdf657-98h45",
                                          "fieldPath": "spec.containers{my-nginx}"},
                       "type": "Normal", "reason": "Pulled",
                       "message": "  Successfully pulled image \"nginx\"\n",
                       "source": {"component": "kubelet", "host": "k8s-node1"},
                       "firstTimestamp": "2024-06-01T11:40:00Z",
                       "lastTimestamp": "2024-06-01T11:55:00Z", "count": 3}),
                json!([
                    "5m",
                    "Normal",
                    "Pulled",
                    "pod/my-nginx-6f6bcdf657-98h45",
                    "spec.containers{my-nginx}",
                    "kubelet, k8s-node1",
                    "Successfully pulled image \"nginx\"",
                    "20m",
                    3,
                    "my-nginx.17a1"
                ]),
            ),
            (
                "new-style singleton: eventTime and reporting fields",
                json!({"metadata": {"name": "e2"},
                       "involvedObject": {"kind": "Node", "name": ""},
                       "type": "Warning", "reason": "Rebooted", "message": "rebooted",
                       "eventTime": "2024-06-01T11:59:30.123456Z",
                       "reportingComponent": "kubelet", "reportingInstance": "node-a"}),
                json!([
                    "29s",
                    "Warning",
                    "Rebooted",
                    "node",
                    "",
                    "kubelet, node-a",
                    "rebooted",
                    "29s",
                    1,
                    "e2"
                ]),
            ),
            (
                "series overrides last seen and count",
                json!({"metadata": {"name": "e3"},
                       "involvedObject": {"kind": "Service", "name": "web"},
                       "type": "Normal", "reason": "Sync", "message": "m",
                       "eventTime": "2024-06-01T10:00:00.000000Z",
                       "lastTimestamp": "2024-06-01T11:00:00Z", "count": 2,
                       "series": {"count": 7, "lastObservedTime": "2024-06-01T11:58:00.000000Z"},
                       "source": {"component": "controller"}}),
                json!([
                    "2m",
                    "Normal",
                    "Sync",
                    "service/web",
                    "",
                    "controller",
                    "m",
                    "120m",
                    7,
                    "e3"
                ]),
            ),
            (
                "no timestamps at all",
                json!({"metadata": {"name": "e4"}, "involvedObject": {"kind": "Pod", "name": "p"}}),
                json!([
                    "<unknown>",
                    "",
                    "",
                    "pod/p",
                    "",
                    "",
                    "",
                    "<unknown>",
                    1,
                    "e4"
                ]),
            ),
            (
                "events.k8s.io shape",
                json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
                       "metadata": {"name": "e5"},
                       "regarding": {"kind": "Deployment", "name": "my-nginx"},
                       "type": "Normal", "reason": "ScalingReplicaSet", "note": "Scaled up",
                       "reportingController": "deployment-controller",
                       "deprecatedSource": {"component": ""},
                       "deprecatedFirstTimestamp": "2024-06-01T11:00:00Z",
                       "deprecatedLastTimestamp": "2024-06-01T11:30:00Z", "deprecatedCount": 4}),
                json!([
                    "30m",
                    "Normal",
                    "ScalingReplicaSet",
                    "deployment/my-nginx",
                    "",
                    "deployment-controller",
                    "Scaled up",
                    "60m",
                    4,
                    "e5"
                ]),
            ),
        ];
        for (name, obj, want) in cases {
            assert_eq!(Value::from(cells("Event", &obj, now())), want, "{name}");
        }
    }
}
