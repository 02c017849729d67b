//! Printing a `metav1.LabelSelector` the way apimachinery's `labels.Selector.String()` does:
//! one requirement per key, sorted by key, values sorted (`app=web,tier in (a,b),!canary`).
//!
//! Deployments and ReplicaSets print their selector through two different upstream helpers
//! that disagree on the empty and invalid cases, hence [`selector_string`] and
//! [`format_label_selector`].

use serde_json::Value;

use super::fields::{items_at, object_at, str_at};

/// The selector could not be turned into requirements (bad operator, key or value).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct InvalidSelector;

/// `metav1.LabelSelectorAsSelector(sel).String()`. Both a missing and an empty selector
/// print as `""` (upstream's "nothing" and "everything" selectors both render empty).
pub(super) fn selector_string(selector: Option<&Value>) -> Result<String, InvalidSelector> {
    let Some(selector) = selector.filter(|s| s.is_object()) else {
        return Ok(String::new());
    };
    let mut requirements = match_labels(selector)?;
    for expression in items_at(selector, "/matchExpressions") {
        requirements.push(match_expression(expression)?);
    }
    // Upstream sorts by key only; a stable sort keeps matchLabels ahead of expressions.
    requirements.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(requirements
        .into_iter()
        .map(|(_, text)| text)
        .collect::<Vec<_>>()
        .join(","))
}

/// `metav1.FormatLabelSelector`: like [`selector_string`] but `<none>` when empty and
/// `<error>` when invalid.
pub(super) fn format_label_selector(selector: Option<&Value>) -> String {
    match selector_string(selector) {
        Ok(text) if text.is_empty() => "<none>".into(),
        Ok(text) => text,
        Err(InvalidSelector) => "<error>".into(),
    }
}

/// A requirement as (key, printed form), the key kept for sorting.
type Requirement = (String, String);

fn match_labels(selector: &Value) -> Result<Vec<Requirement>, InvalidSelector> {
    let Some(labels) = object_at(selector, "/matchLabels") else {
        return Ok(Vec::new());
    };
    labels
        .iter()
        .map(|(key, value)| {
            let value = value.as_str().unwrap_or("");
            check_key(key)?;
            check_value(value)?;
            Ok((key.clone(), format!("{key}={value}")))
        })
        .collect()
}

fn match_expression(expression: &Value) -> Result<Requirement, InvalidSelector> {
    let key = str_at(expression, "/key");
    check_key(key)?;
    let mut values: Vec<&str> = items_at(expression, "/values")
        .iter()
        .map(|v| v.as_str().unwrap_or(""))
        .collect();
    let text = match str_at(expression, "/operator") {
        "Exists" | "DoesNotExist" if !values.is_empty() => return Err(InvalidSelector),
        "Exists" => key.to_owned(),
        "DoesNotExist" => format!("!{key}"),
        "In" | "NotIn" if values.is_empty() => return Err(InvalidSelector),
        operator @ ("In" | "NotIn") => {
            for value in &values {
                check_value(value)?;
            }
            values.sort_unstable();
            let word = if operator == "In" { "in" } else { "notin" };
            format!("{key} {word} ({})", values.join(","))
        }
        _ => return Err(InvalidSelector),
    };
    Ok((key.to_owned(), text))
}

/// A qualified name: `[dns-subdomain/]name`.
fn check_key(key: &str) -> Result<(), InvalidSelector> {
    let valid = match key.split_once('/') {
        Some((prefix, name)) => is_dns_subdomain(prefix) && is_label_name(name),
        None => is_label_name(key),
    };
    valid.then_some(()).ok_or(InvalidSelector)
}

/// Label values may be empty; otherwise they follow the name rules.
fn check_value(value: &str) -> Result<(), InvalidSelector> {
    (value.is_empty() || is_label_name(value))
        .then_some(())
        .ok_or(InvalidSelector)
}

/// At most 63 alphanumerics, `-`, `_` or `.`, starting and ending alphanumeric.
fn is_label_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            bytes.len() <= 63
                && first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// RFC 1123 subdomain: dot-separated lower-case labels, at most 253 characters.
fn is_dns_subdomain(name: &str) -> bool {
    let is_label = |label: &str| {
        let bytes = label.as_bytes();
        match (bytes.first(), bytes.last()) {
            (Some(first), Some(last)) => {
                is_lower_alnum(*first)
                    && is_lower_alnum(*last)
                    && bytes.iter().all(|&b| is_lower_alnum(b) || b == b'-')
            }
            _ => false,
        }
    };
    name.len() <= 253 && name.split('.').all(is_label)
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selector_string_cases() {
        let cases = [
            ("missing", json!(null), Ok("")),
            ("empty", json!({}), Ok("")),
            (
                "match labels",
                json!({"matchLabels": {"app": "web"}}),
                Ok("app=web"),
            ),
            (
                "sorted by key",
                json!({"matchLabels": {"tier": "fe", "app": "web"}}),
                Ok("app=web,tier=fe"),
            ),
            (
                "expressions",
                json!({"matchLabels": {"app": "web"}, "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["fe", "be"]},
                    {"key": "env", "operator": "NotIn", "values": ["prod"]},
                    {"key": "canary", "operator": "DoesNotExist"},
                    {"key": "zone", "operator": "Exists", "values": []}]}),
                Ok("app=web,!canary,env notin (prod),tier in (be,fe),zone"),
            ),
            (
                "prefixed key",
                json!({"matchLabels": {"app.kubernetes.io/name": "web"}}),
                Ok("app.kubernetes.io/name=web"),
            ),
            (
                "empty value",
                json!({"matchLabels": {"app": ""}}),
                Ok("app="),
            ),
            (
                "unknown operator",
                json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}),
                Err(InvalidSelector),
            ),
            (
                "in without values",
                json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}),
                Err(InvalidSelector),
            ),
            (
                "exists with values",
                json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
                Err(InvalidSelector),
            ),
            (
                "bad key",
                json!({"matchLabels": {"-app": "web"}}),
                Err(InvalidSelector),
            ),
            (
                "bad prefix",
                json!({"matchLabels": {"Example.com/app": "web"}}),
                Err(InvalidSelector),
            ),
            (
                "bad value",
                json!({"matchLabels": {"app": "a b"}}),
                Err(InvalidSelector),
            ),
            (
                "too long value",
                json!({"matchLabels": {"app": "a".repeat(64)}}),
                Err(InvalidSelector),
            ),
        ];
        for (name, selector, want) in cases {
            let got = selector_string(Some(&selector));
            assert_eq!(got.as_deref(), want.as_ref().map(|s| *s), "{name}");
        }
    }

    #[test]
    fn format_label_selector_cases() {
        let cases = [
            ("missing", None, "<none>"),
            ("empty", Some(json!({})), "<none>"),
            (
                "one",
                Some(json!({"matchLabels": {"run": "my-nginx"}})),
                "run=my-nginx",
            ),
            (
                "invalid",
                Some(json!({"matchExpressions": [{"key": "a", "operator": "Nope"}]})),
                "<error>",
            ),
        ];
        for (name, selector, want) in cases {
            assert_eq!(format_label_selector(selector.as_ref()), want, "{name}");
        }
    }
}
