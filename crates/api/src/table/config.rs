//! Configuration kinds: ConfigMap and Secret.

use serde_json::Value;

use super::fields::{map_len, name, or, str_at};
use super::{AGE, Column, NAME, age};

/// The API's default Secret type, for stored objects that lack one.
const DEFAULT_SECRET_TYPE: &str = "Opaque";

pub(super) const CONFIG_MAP_COLUMNS: &[Column] = &[
    NAME,
    // Upstream declares "string" although the cell is a number.
    Column::string("Data", "Number of entries in data and binaryData."),
    AGE,
];

pub(super) fn config_map_cells(cm: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let entries = map_len(cm, "/data") + map_len(cm, "/binaryData");
    vec![name(cm).into(), entries.into(), age(cm, now).into()]
}

pub(super) const SECRET_COLUMNS: &[Column] = &[
    NAME,
    Column::string(
        "Type",
        "The kind of secret, e.g. Opaque or kubernetes.io/tls.",
    ),
    Column::string("Data", "Number of entries in data."),
    AGE,
];

pub(super) fn secret_cells(secret: &Value, now: jiff::Timestamp) -> Vec<Value> {
    vec![
        name(secret).into(),
        or(str_at(secret, "/type"), DEFAULT_SECRET_TYPE).into(),
        map_len(secret, "/data").into(),
        age(secret, now).into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::cells;
    use serde_json::{Value, json};

    fn now() -> jiff::Timestamp {
        "2024-06-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn config_map_cases() {
        let cases = [
            (
                "data and binary data",
                json!({"metadata": {"name": "cfg", "creationTimestamp": "2024-06-01T11:59:15Z"},
                       "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}),
                json!(["cfg", 3, "45s"]),
            ),
            (
                "empty",
                json!({"metadata": {"name": "kube-root-ca.crt"}}),
                json!(["kube-root-ca.crt", 0, "<unknown>"]),
            ),
        ];
        for (name, obj, want) in cases {
            assert_eq!(Value::from(cells("ConfigMap", &obj, now())), want, "{name}");
        }
    }

    #[test]
    fn secret_cases() {
        let cases = [
            (
                "tls",
                json!({"metadata": {"name": "cert", "creationTimestamp": "2024-06-01T09:00:00Z"},
                       "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}}),
                json!(["cert", "kubernetes.io/tls", 2, "3h"]),
            ),
            (
                "type defaults to Opaque",
                json!({"metadata": {"name": "s"}, "data": {"k": "dg=="}}),
                json!(["s", "Opaque", 1, "<unknown>"]),
            ),
        ];
        for (name, obj, want) in cases {
            assert_eq!(Value::from(cells("Secret", &obj, now())), want, "{name}");
        }
    }
}
