//! Label key and label value syntax, with kube-apiserver's error texts
//! (k8s.io/apimachinery `content.IsLabelKey` / `content.IsLabelValue`).
//!
//! Each function returns the list of problems (empty when valid), because Kubernetes reports
//! all of them joined by `"; "` rather than only the first.

const NAME_MAX_LEN: usize = 63;
const SUBDOMAIN_MAX_LEN: usize = 253;

const NAME_REGEX: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const VALUE_REGEX: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const SUBDOMAIN_REGEX: &str = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";

/// Problems with a label key: a qualified name with an optional DNS-subdomain prefix
/// (`example.com/MyName`).
pub fn label_key_errors(key: &str) -> Vec<String> {
    let parts: Vec<&str> = key.split('/').collect();
    let mut errs = Vec::new();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            errs.extend(prefix_errors(prefix));
            *name
        }
        _ => {
            let pattern = regex_error(NAME_MSG, NAME_REGEX, &["MyName", "my.name", "123-abc"]);
            return vec![format!(
                "a valid label key {pattern} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            )];
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > NAME_MAX_LEN {
        errs.push(format!("name part {}", max_len_error(NAME_MAX_LEN)));
    }
    if !is_label_name(name) {
        let pattern = regex_error(NAME_MSG, NAME_REGEX, &["MyName", "my.name", "123-abc"]);
        errs.push(format!("name part {pattern}"));
    }
    errs
}

/// Problems with a label value: empty, or a label name of at most 63 bytes.
pub fn label_value_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > NAME_MAX_LEN {
        errs.push(max_len_error(NAME_MAX_LEN));
    }
    if !value.is_empty() && !is_label_name(value) {
        errs.push(regex_error(
            VALUE_MSG,
            VALUE_REGEX,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

fn prefix_errors(prefix: &str) -> Vec<String> {
    if prefix.is_empty() {
        return vec!["prefix part must be non-empty".to_string()];
    }
    let mut errs = Vec::new();
    if prefix.len() > SUBDOMAIN_MAX_LEN {
        errs.push(format!("prefix part {}", max_len_error(SUBDOMAIN_MAX_LEN)));
    }
    if !is_dns1123_subdomain(prefix) {
        let pattern = regex_error(SUBDOMAIN_MSG, SUBDOMAIN_REGEX, &["example.com"]);
        errs.push(format!("prefix part {pattern}"));
    }
    errs
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, without the length limit.
fn is_label_name(s: &str) -> bool {
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// Dot-separated lowercase RFC 1123 labels, without the length limit.
fn is_dns1123_subdomain(s: &str) -> bool {
    s.split('.').all(|label| {
        let bytes = label.as_bytes();
        let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        match (bytes.first(), bytes.last()) {
            (Some(first), Some(last)) => {
                alnum(first) && alnum(last) && bytes.iter().all(|b| alnum(b) || *b == b'-')
            }
            _ => false,
        }
    })
}

fn max_len_error(max: usize) -> String {
    format!("must be no more than {max} bytes")
}

/// Kubernetes' `RegexError` text, including its double space before each " or ".
fn regex_error(msg: &str, regex: &str, examples: &[&str]) -> String {
    let examples: Vec<String> = examples.iter().map(|e| format!("'{e}', ")).collect();
    format!(
        "{msg} (e.g. {}regex used for validation is '{regex}')",
        examples.join(" or ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_keys() {
        let valid = [
            "a",
            "A",
            "app.kubernetes.io/name",
            "kubernetes.io/service-name",
            "0.1.2.domain/99",
            "my_key.with-dash",
            &"k".repeat(63),
            &format!("{}/x", "a".repeat(253)),
        ];
        for key in valid {
            assert_eq!(label_key_errors(key), Vec::<String>::new(), "{key}");
        }
        let invalid = [
            "",
            "-a",
            "a-",
            "a b",
            "a/b/c",
            "/a",
            "a/",
            "Example.com/a",
            "exa_mple.com/a",
            &"k".repeat(64),
            &format!("{}/x", "a".repeat(254)),
        ];
        for key in invalid {
            assert!(!label_key_errors(key).is_empty(), "{key}");
        }
    }

    #[test]
    fn label_key_messages() {
        assert_eq!(
            label_key_errors("a/b/c"),
            [
                "a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ]
        );
        assert_eq!(
            label_key_errors("/"),
            [
                "prefix part must be non-empty",
                "name part must be non-empty",
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            ]
        );
        assert_eq!(
            label_key_errors(&"k".repeat(64)),
            ["name part must be no more than 63 bytes"]
        );
    }

    #[test]
    fn label_values() {
        for value in ["", "a", "my_value", "1.2.3", "A-b_c.D", &"v".repeat(63)] {
            assert_eq!(label_value_errors(value), Vec::<String>::new(), "{value}");
        }
        for value in ["-a", "a-", "a b", "a/b", "ü", &"v".repeat(64)] {
            assert!(!label_value_errors(value).is_empty(), "{value}");
        }
        assert_eq!(
            label_value_errors("a b"),
            [
                "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
            ]
        );
    }
}
