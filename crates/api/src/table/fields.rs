//! Reading stored JSON with Go's zero-value semantics, plus the small formatting rules the
//! printers share.
//!
//! Upstream printers work on typed Go structs, where an absent string is `""`, an absent
//! number `0` and an absent pointer `nil`. These accessors give the same answers for absent,
//! `null` or wrongly-typed JSON, so one odd field never spoils the rest of a row.

use serde_json::{Map, Value};

use super::duration::human_nanos;

/// Seconds from the Unix epoch to 0001-01-01T00:00:00Z, Go's zero `time.Time`.
const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;

/// How many entries list-style cells show before `" + N more..."`.
const LIST_LIMIT: usize = 3;

/// The string at a JSON pointer; `""` when absent or not a string.
pub(super) fn str_at<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The integer at a JSON pointer; `0` when absent or not an integer.
pub(super) fn int_at(obj: &Value, pointer: &str) -> i64 {
    obj.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// The integer at a JSON pointer, or `None` when absent (Go's nil `*int32`).
pub(super) fn opt_int_at(obj: &Value, pointer: &str) -> Option<i64> {
    obj.pointer(pointer).and_then(Value::as_i64)
}

/// The boolean at a JSON pointer; `false` when absent or not a boolean.
pub(super) fn bool_at(obj: &Value, pointer: &str) -> bool {
    obj.pointer(pointer)
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// The array at a JSON pointer; empty when absent or not an array.
pub(super) fn items_at<'a>(obj: &'a Value, pointer: &str) -> &'a [Value] {
    obj.pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The object at a JSON pointer, or `None` (Go's nil pointer to a struct, or a nil map).
pub(super) fn object_at<'a>(obj: &'a Value, pointer: &str) -> Option<&'a Map<String, Value>> {
    obj.pointer(pointer).and_then(Value::as_object)
}

/// The object at a JSON pointer as a value, or `None` (Go's nil pointer to a struct).
pub(super) fn struct_at<'a>(obj: &'a Value, pointer: &str) -> Option<&'a Value> {
    obj.pointer(pointer).filter(|v| v.is_object())
}

/// The number of entries of the map at a JSON pointer.
pub(super) fn map_len(obj: &Value, pointer: &str) -> usize {
    object_at(obj, pointer).map_or(0, Map::len)
}

/// Whether a pointer-typed field is set (present and not `null`).
pub(super) fn is_set(obj: &Value, pointer: &str) -> bool {
    obj.pointer(pointer).is_some_and(|v| !v.is_null())
}

/// The timestamp at a JSON pointer, or `None` when absent, unparsable or Go's zero time
/// (which upstream treats as "not set").
pub(super) fn time_at(obj: &Value, pointer: &str) -> Option<jiff::Timestamp> {
    let timestamp: jiff::Timestamp = str_at(obj, pointer).parse().ok()?;
    (timestamp.as_second() != GO_ZERO_TIME_SECONDS || timestamp.subsec_nanosecond() != 0)
        .then_some(timestamp)
}

/// Elapsed time since `timestamp`, or `<unknown>` when it is not set.
pub(super) fn since(timestamp: Option<jiff::Timestamp>, now: jiff::Timestamp) -> String {
    match timestamp {
        Some(then) => human_nanos(now.as_nanosecond() - then.as_nanosecond()),
        None => "<unknown>".into(),
    }
}

/// `metadata.name`.
pub(super) fn name(obj: &Value) -> &str {
    str_at(obj, "/metadata/name")
}

/// `value`, or `placeholder` when it is empty (`<none>`, `<unknown>`...).
pub(super) fn or<'a>(value: &'a str, placeholder: &'a str) -> &'a str {
    if value.is_empty() { placeholder } else { value }
}

/// `labels.FormatLabels`: `k=v` pairs sorted by key and joined by `,`, or `<none>`.
pub(super) fn format_labels(labels: Option<&Map<String, Value>>) -> String {
    let mut pairs: Vec<(&str, &str)> = labels
        .into_iter()
        .flatten()
        .map(|(key, value)| (key.as_str(), value.as_str().unwrap_or("")))
        .collect();
    // serde_json may keep insertion order; upstream sorts.
    pairs.sort_unstable();
    let joined = pairs
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(",");
    or(&joined, "<none>").to_owned()
}

/// The first three entries joined by `,`, then `" + N more..."` for the rest. Empty input
/// gives `""`; callers pick their own placeholder because upstream's differ per kind.
pub(super) fn first_few(entries: impl IntoIterator<Item = String>) -> String {
    let mut shown = Vec::with_capacity(LIST_LIMIT);
    let mut total = 0;
    for entry in entries {
        if shown.len() < LIST_LIMIT {
            shown.push(entry);
        }
        total += 1;
    }
    let joined = shown.join(",");
    if total > LIST_LIMIT {
        format!("{joined} + {} more...", total - LIST_LIMIT)
    } else {
        joined
    }
}

/// Go's `net.JoinHostPort`: IPv6 hosts get brackets.
pub(super) fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The Containers and Images cells of a pod template: names and images joined by `,`.
pub(super) fn container_cells(template_spec: Option<&Value>) -> (String, String) {
    let containers = template_spec.map_or(&[][..], |spec| items_at(spec, "/containers"));
    let join = |field: &str| {
        containers
            .iter()
            .map(|container| str_at(container, field))
            .collect::<Vec<_>>()
            .join(",")
    };
    (join("/name"), join("/image"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accessors_use_go_zero_values() {
        let obj = json!({"a": {"s": "x", "n": 3, "b": true, "l": [1], "m": {"k": "v"}, "z": null}});
        assert_eq!(str_at(&obj, "/a/s"), "x");
        assert_eq!(str_at(&obj, "/a/n"), "");
        assert_eq!(int_at(&obj, "/a/n"), 3);
        assert_eq!(int_at(&obj, "/a/s"), 0);
        assert_eq!(opt_int_at(&obj, "/a/missing"), None);
        assert!(bool_at(&obj, "/a/b"));
        assert!(!bool_at(&obj, "/a/s"));
        assert_eq!(items_at(&obj, "/a/l").len(), 1);
        assert!(items_at(&obj, "/a/m").is_empty());
        assert_eq!(map_len(&obj, "/a/m"), 1);
        assert!(is_set(&obj, "/a/m"));
        assert!(!is_set(&obj, "/a/z"));
        assert!(!is_set(&obj, "/a/missing"));
    }

    #[test]
    fn format_labels_cases() {
        let cases = [
            ("none", json!(null), "<none>"),
            ("empty", json!({}), "<none>"),
            ("one", json!({"run": "my-nginx"}), "run=my-nginx"),
            ("sorted", json!({"b": "2", "a": "1", "c": ""}), "a=1,b=2,c="),
        ];
        for (name, labels, want) in cases {
            assert_eq!(format_labels(labels.as_object()), want, "{name}");
        }
    }

    #[test]
    fn first_few_cases() {
        let strings = |n: usize| (1..=n).map(|i| i.to_string()).collect::<Vec<_>>();
        let cases = [
            ("empty", 0, ""),
            ("one", 1, "1"),
            ("three", 3, "1,2,3"),
            ("four", 4, "1,2,3 + 1 more..."),
            ("five", 5, "1,2,3 + 2 more..."),
        ];
        for (name, n, want) in cases {
            assert_eq!(first_few(strings(n)), want, "{name}");
        }
    }

    #[test]
    fn join_host_port_brackets_ipv6() {
        assert_eq!(join_host_port("10.0.0.1", 80), "10.0.0.1:80");
        assert_eq!(join_host_port("fd00::1", 443), "[fd00::1]:443");
    }
}
