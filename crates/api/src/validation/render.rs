//! Renders values the way kube-apiserver's field errors print them.
//!
//! A field error's "bad value" is formatted by Go: strings with `%q`, numbers plainly, and
//! anything else with `%#v`, which spells out Go type names (`map[string]string{...}`,
//! `v1.LabelSelector{...}`). kubectl shows these strings to users, so we reproduce the
//! handful of shapes our validation reports.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::k8s::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, Time,
};
use crate::k8s::apimachinery::pkg::util::intstr::IntOrString;

/// Go's `strconv.Quote`: double-quoted, with Go escapes for control characters.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `map[string]string{"a":"b", "c":"d"}`; `None` is Go's nil map.
pub fn string_map(map: Option<&BTreeMap<String, String>>) -> String {
    match map {
        None => "map[string]string(nil)".to_string(),
        Some(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}:{}", quote(k), quote(v)))
                .collect();
            format!("map[string]string{{{}}}", entries.join(", "))
        }
    }
}

/// `[]string{"a", "b"}`; `None` is Go's nil slice.
pub fn string_slice(items: Option<&[String]>) -> String {
    match items {
        None => "[]string(nil)".to_string(),
        Some(items) => {
            let items: Vec<String> = items.iter().map(|s| quote(s)).collect();
            format!("[]string{{{}}}", items.join(", "))
        }
    }
}

/// `%#v` of a `metav1.LabelSelector` value.
pub fn label_selector(sel: &LabelSelector) -> String {
    let exprs = match &sel.match_expressions {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(exprs) => {
            let items: Vec<String> = exprs.iter().map(label_selector_requirement).collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{}}}",
        string_map(sel.match_labels.as_ref()),
        exprs
    )
}

fn label_selector_requirement(req: &LabelSelectorRequirement) -> String {
    format!(
        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
        quote(&req.key),
        quote(&req.operator),
        string_slice(req.values.as_deref())
    )
}

/// `%#v` of an `intstr.IntOrString` value (`Type` 0 is an int, 1 a string).
pub fn int_or_string(v: &IntOrString) -> String {
    match v {
        IntOrString::Int(i) => format!("intstr.IntOrString{{Type:0, IntVal:{i}, StrVal:\"\"}}"),
        IntOrString::String(s) => format!(
            "intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}",
            quote(s)
        ),
    }
}

/// The `(protocol, port)` key kube-apiserver reports for duplicate Service ports: a
/// `core.ServicePort` with only those two fields set.
pub fn service_port_key(protocol: &str, port: i32) -> String {
    format!(
        "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
        quote(protocol)
    )
}

/// Go's `time.Time.String()` for a UTC time: `2006-01-02 15:04:05.999999999 +0000 UTC`.
/// A missing time is Go's zero time.
pub fn time(t: Option<&Time>) -> String {
    let Some(t) = t else {
        return "0001-01-01 00:00:00 +0000 UTC".to_string();
    };
    let ts = t.0;
    let base = ts.strftime("%Y-%m-%d %H:%M:%S").to_string();
    let nanos = ts.subsec_nanosecond();
    if nanos == 0 {
        format!("{base} +0000 UTC")
    } else {
        let frac = format!("{nanos:09}");
        format!("{base}.{} +0000 UTC", frac.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        assert_eq!(quote("a\"b"), r#""a\"b""#);
        assert_eq!(quote("x\u{1}"), r#""x\x01""#);
        assert_eq!(quote("é"), "\"é\"");
    }

    #[test]
    fn maps_and_selectors() {
        let map = BTreeMap::from([
            ("b".to_string(), "2".to_string()),
            ("a".to_string(), "1".to_string()),
        ]);
        assert_eq!(
            string_map(Some(&map)),
            r#"map[string]string{"a":"1", "b":"2"}"#
        );
        let sel = LabelSelector {
            match_labels: Some(map),
            match_expressions: None,
        };
        assert_eq!(
            label_selector(&sel),
            r#"v1.LabelSelector{MatchLabels:map[string]string{"a":"1", "b":"2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"#
        );
    }

    #[test]
    fn times() {
        let t = Time("2024-05-06T07:08:09Z".parse().unwrap());
        assert_eq!(time(Some(&t)), "2024-05-06 07:08:09 +0000 UTC");
        let t = Time("2024-05-06T07:08:09.5Z".parse().unwrap());
        assert_eq!(time(Some(&t)), "2024-05-06 07:08:09.5 +0000 UTC");
    }
}
