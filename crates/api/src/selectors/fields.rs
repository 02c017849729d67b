//! Field selectors: the `fieldSelector` query syntax (k8s.io/apimachinery `fields.ParseSelector`)
//! and matching against an object's JSON.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use crate::error::SelectorError;

/// A conjunction of `field=value` / `field!=value` terms. The empty selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    /// In the order Kubernetes keeps them: sorted by the raw term text.
    terms: Vec<Term>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    field: String,
    equal: bool,
    value: String,
}

/// Fields every resource supports, whatever its own list says.
const ALWAYS_SUPPORTED: [&str; 2] = ["metadata.name", "metadata.namespace"];

/// Operators in the order a term is split on (the first match from the left wins, and at one
/// position `!=` and `==` win over `=`).
const OPERATORS: [(&str, bool); 3] = [("!=", false), ("==", true), ("=", true)];

impl FieldSelector {
    /// Parses `f=v`, `f==v`, `f!=v`, comma-separated. In values, `\,`, `\=` and `\\` stand for
    /// the character itself; an unescaped `,` ends the term and an unescaped `=` is an error.
    /// Whitespace is not trimmed (as in Kubernetes).
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut parts = split_terms(s);
        parts.sort_unstable();
        let terms = parts
            .into_iter()
            .filter(|part| !part.is_empty())
            .map(|part| parse_term(s, part))
            .collect::<Result<_, _>>()?;
        Ok(Self { terms })
    }

    /// The selector that matches every object.
    pub fn everything() -> Self {
        Self::default()
    }

    pub fn is_everything(&self) -> bool {
        self.terms.is_empty()
    }

    /// Err(UnsupportedField) for a field not in `supported`; metadata.name and
    /// metadata.namespace are always supported.
    pub fn check_supported(&self, supported: &[&str]) -> Result<(), SelectorError> {
        let known = |field: &str| ALWAYS_SUPPORTED.contains(&field) || supported.contains(&field);
        match self.terms.iter().find(|term| !known(&term.field)) {
            Some(term) => Err(SelectorError::UnsupportedField(term.field.clone())),
            None => Ok(()),
        }
    }

    /// Resolves each dotted field path in the object JSON (e.g. `spec.nodeName`,
    /// `involvedObject.uid`). A missing field compares as `""`; other non-string values compare
    /// by their JSON text (`true`, `3`).
    pub fn matches(&self, obj: &Value) -> bool {
        self.terms
            .iter()
            .all(|term| (field_text(obj, &term.field) == term.value) == term.equal)
    }

    /// Some(name) when the selector requires `metadata.name=NAME`, so that the server can fetch
    /// one key instead of listing.
    pub fn required_name(&self) -> Option<&str> {
        let term = self
            .terms
            .iter()
            .find(|t| t.field == "metadata.name" && t.equal)?;
        Some(&term.value)
    }
}

impl FromStr for FieldSelector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The string form Kubernetes prints, with values escaped again (`==` prints as `=`).
impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, term) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let op = if term.equal { "=" } else { "!=" };
            write!(f, "{}{op}{}", term.field, escape(&term.value))?;
        }
        Ok(())
    }
}

/// Splits on commas that are not escaped by a backslash.
fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => {
                terms.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&s[start..]);
    terms
}

fn parse_term(selector: &str, part: &str) -> Result<Term, SelectorError> {
    let split = part.char_indices().find_map(|(i, _)| {
        let rest = &part[i..];
        let (op, equal) = OPERATORS.iter().find(|(op, _)| rest.starts_with(op))?;
        Some((&part[..i], *equal, &rest[op.len()..]))
    });
    let Some((field, equal, raw_value)) = split else {
        return Err(SelectorError::Parse(format!(
            "invalid selector: '{selector}'; can't understand '{part}'"
        )));
    };
    Ok(Term {
        field: field.to_string(),
        equal,
        value: unescape(raw_value)?,
    })
}

fn unescape(s: &str) -> Result<String, SelectorError> {
    let mut out = String::with_capacity(s.len());
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(invalid_escape(&format!("\\{c}")));
            }
            out.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            // Kubernetes prints the rune as a number (Go's %v of a rune).
            ',' | '=' => {
                return Err(SelectorError::Parse(format!(
                    "invalid field selector: unescaped character in value: {}",
                    u32::from(c)
                )));
            }
            _ => out.push(c),
        }
    }
    if escaped {
        return Err(invalid_escape("\\"));
    }
    Ok(out)
}

fn invalid_escape(sequence: &str) -> SelectorError {
    SelectorError::Parse(format!(
        "invalid field selector: invalid escape sequence: {sequence}"
    ))
}

fn escape(s: &str) -> String {
    s.replace('\\', r"\\")
        .replace(',', r"\,")
        .replace('=', r"\=")
}

/// The text a field compares as. Events' `source` is an object whose `component` Kubernetes
/// matches (`source=kubelet`), so that one field is resolved one level deeper.
fn field_text(obj: &Value, path: &str) -> String {
    let is_event = obj.get("kind").and_then(Value::as_str) == Some("Event");
    let path = if is_event && path == "source" {
        "source.component"
    } else {
        path
    };
    let found = path
        .split('.')
        .try_fold(obj, |value, segment| value.get(segment));
    match found {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_and_display() {
        let cases = [
            ("empty", "", ""),
            ("one", "metadata.name=web", "metadata.name=web"),
            (
                "double equals",
                "spec.nodeName==node-1",
                "spec.nodeName=node-1",
            ),
            (
                "not equals",
                "status.phase!=Running",
                "status.phase!=Running",
            ),
            (
                "sorted by term",
                "status.phase=Running,spec.nodeName=n1",
                "spec.nodeName=n1,status.phase=Running",
            ),
            ("empty terms skipped", ",a=b,,", "a=b"),
            ("empty value", "spec.nodeName=", "spec.nodeName="),
            ("escaped comma", r"a=x\,y", r"a=x\,y"),
            ("escaped equals", r"a=x\=y", r"a=x\=y"),
            ("escaped backslash", r"a=x\\y", r"a=x\\y"),
            ("first operator wins", "a==!b", "a=!b"),
        ];
        for (name, input, want) in cases {
            let selector = FieldSelector::parse(input).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(selector.to_string(), want, "{name}");
            assert_eq!(
                FieldSelector::parse(want).unwrap(),
                selector,
                "{name} round trip"
            );
        }
    }

    #[test]
    fn unescaped_values() {
        let cases = [
            (r"a=x\,y", "x,y"),
            (r"a=x\=y", "x=y"),
            (r"a=x\\y", r"x\y"),
            (r"a=\\\,\=", r"\,="),
            ("a= spaced ", " spaced "),
        ];
        for (input, value) in cases {
            let selector = FieldSelector::parse(input).unwrap();
            assert!(selector.matches(&json!({ "a": value })), "{input}");
            assert_eq!(selector.terms[0].value, value, "{input}");
        }
    }

    #[test]
    fn parse_errors() {
        let cases = [
            (
                "no operator",
                "metadata.name",
                "invalid selector: 'metadata.name'; can't understand 'metadata.name'",
            ),
            (
                "one bad term",
                "a=b,c",
                "invalid selector: 'a=b,c'; can't understand 'c'",
            ),
            (
                "unescaped equals",
                "a=b=c",
                "invalid field selector: unescaped character in value: 61",
            ),
            (
                "unescaped equals after not equals",
                "a!=b=c",
                "invalid field selector: unescaped character in value: 61",
            ),
            (
                "bad escape",
                r"a=b\n",
                r"invalid field selector: invalid escape sequence: \n",
            ),
            (
                "trailing backslash",
                r"a=b\",
                r"invalid field selector: invalid escape sequence: \",
            ),
            (
                "escaped equals in field",
                r"a\=b=c",
                "invalid field selector: unescaped character in value: 61",
            ),
        ];
        for (name, input, want) in cases {
            assert_eq!(
                FieldSelector::parse(input),
                Err(SelectorError::Parse(want.to_string())),
                "{name}"
            );
        }
    }

    #[test]
    fn matching() {
        let pod = json!({
            "kind": "Pod",
            "metadata": {"name": "web-1", "namespace": "default"},
            "spec": {"nodeName": "node-1", "hostNetwork": true, "priority": 7},
            "status": {"phase": "Running"},
        });
        let cases = [
            ("", true),
            ("metadata.name=web-1", true),
            ("metadata.name==web-1", true),
            ("metadata.name=web-2", false),
            ("metadata.name!=web-2", true),
            ("metadata.namespace=default,status.phase=Running", true),
            ("metadata.namespace=default,status.phase=Pending", false),
            ("spec.nodeName=", false),
            ("spec.schedulerName=", true),
            ("spec.schedulerName!=", false),
            ("spec.hostNetwork=true", true),
            ("spec.priority=7", true),
            ("status.phase!=Running", false),
            ("metadata.uid=", true),
            ("spec.nodeName.deeper=", true),
        ];
        for (input, want) in cases {
            let selector = FieldSelector::parse(input).unwrap();
            assert_eq!(selector.matches(&pod), want, "{input}");
        }
    }

    #[test]
    fn event_fields() {
        let event = json!({
            "kind": "Event",
            "metadata": {"name": "web.1", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default", "uid": "u-1"},
            "reason": "Scheduled",
            "type": "Normal",
            "source": {"component": "default-scheduler"},
        });
        let cases = [
            (
                "involvedObject.name=web,involvedObject.namespace=default,involvedObject.kind=Pod,involvedObject.uid=u-1",
                true,
            ),
            ("involvedObject.uid=u-2", false),
            ("reason=Scheduled,type=Normal", true),
            ("source=default-scheduler", true),
            ("source=kubelet", false),
        ];
        for (input, want) in cases {
            assert_eq!(
                FieldSelector::parse(input).unwrap().matches(&event),
                want,
                "{input}"
            );
        }
    }

    #[test]
    fn check_supported() {
        let pod_fields = ["spec.nodeName", "status.phase"];
        let cases = [
            ("", Ok(())),
            ("metadata.name=a,metadata.namespace=b", Ok(())),
            ("spec.nodeName=n,status.phase=Running", Ok(())),
            (
                "spec.bogus=x",
                Err(SelectorError::UnsupportedField("spec.bogus".to_string())),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                FieldSelector::parse(input)
                    .unwrap()
                    .check_supported(&pod_fields),
                want,
                "{input}"
            );
        }
        let err = FieldSelector::parse("spec.bogus=x")
            .unwrap()
            .check_supported(&[])
            .unwrap_err();
        assert_eq!(err.to_string(), "field label not supported: spec.bogus");
    }

    #[test]
    fn required_name() {
        let cases = [
            ("", None),
            ("metadata.name=web", Some("web")),
            ("metadata.name==web,status.phase=Running", Some("web")),
            ("metadata.name!=web", None),
            ("metadata.namespace=web", None),
            (r"metadata.name=a\,b", Some("a,b")),
        ];
        for (input, want) in cases {
            assert_eq!(
                FieldSelector::parse(input).unwrap().required_name(),
                want,
                "{input}"
            );
        }
    }

    #[test]
    fn everything() {
        assert!(FieldSelector::everything().is_everything());
        assert!(FieldSelector::parse("").unwrap().is_everything());
        assert!(FieldSelector::parse(",").unwrap().is_everything());
        assert!(!FieldSelector::parse("a=b").unwrap().is_everything());
        assert!(FieldSelector::everything().matches(&json!({})));
        assert_eq!("a=b".parse::<FieldSelector>().unwrap().to_string(), "a=b");
    }
}
