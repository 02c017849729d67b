//! Label selectors: the `labelSelector` query syntax (k8s.io/apimachinery `labels.Parse`),
//! `metav1.LabelSelector` conversion, canonical printing and matching.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use super::label_parser;
use super::syntax::{label_key_errors, label_value_errors};
use crate::error::SelectorError;
use crate::k8s::apimachinery::pkg::apis::meta::v1 as metav1;

/// A conjunction of label requirements. The empty selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    /// Sorted by key (stable), as Kubernetes keeps them, so that `Display` is canonical.
    requirements: Vec<Requirement>,
}

/// One `key <op> values` term of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    /// Sorted and de-duplicated: Kubernetes treats the values as a set.
    values: Vec<String>,
}

/// The operators of the label selector grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `k=v`
    Equals,
    /// `k==v` (same meaning as `=`, kept apart so the string form round-trips)
    DoubleEquals,
    /// `k!=v`: also true when the label is absent
    NotEquals,
    /// `k in (a,b)`
    In,
    /// `k notin (a,b)`: also true when the label is absent
    NotIn,
    /// `k`
    Exists,
    /// `!k`
    DoesNotExist,
    /// `k>1`: the label value is an integer greater than the operand
    GreaterThan,
    /// `k<1`: the label value is an integer less than the operand
    LessThan,
}

impl LabelSelector {
    /// Parses the query-string syntax: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`,
    /// `!a`, `a>1`, `a<1`, comma-separated, whitespace tolerant.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let requirements = label_parser::parse(s).map_err(SelectorError::Parse)?;
        Ok(Self::from_requirements(requirements))
    }

    /// Converts the API type (`matchLabels` + `matchExpressions`). An empty selector selects
    /// everything, as in `metav1.LabelSelectorAsSelector`.
    pub fn from_k8s(sel: &metav1::LabelSelector) -> Result<Self, SelectorError> {
        let labels = sel.match_labels.iter().flatten();
        let mut requirements = labels
            .map(|(key, value)| Requirement::new(key, Operator::Equals, [value.as_str()]))
            .collect::<Result<Vec<_>, _>>()?;
        for expr in sel.match_expressions.iter().flatten() {
            let operator = match expr.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(SelectorError::Parse(format!(
                        "{other:?} is not a valid label selector operator"
                    )));
                }
            };
            let values = expr.values.iter().flatten().map(String::as_str);
            requirements.push(Requirement::new(&expr.key, operator, values)?);
        }
        Ok(Self::from_requirements(requirements))
    }

    /// The selector that matches every object.
    pub fn everything() -> Self {
        Self::default()
    }

    pub fn is_everything(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches_with(|key| labels.get(key).map(String::as_str))
    }

    /// Matches the `metadata.labels` object of an object's JSON. `None`, `null` or a non-object
    /// mean "no labels"; a non-string label value counts as absent.
    pub fn matches_json(&self, labels: Option<&Value>) -> bool {
        let labels = labels.and_then(Value::as_object);
        self.matches_with(|key| labels.and_then(|l| l.get(key)).and_then(Value::as_str))
    }

    fn matches_with<'a>(&self, lookup: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.requirements.iter().all(|r| r.matches(lookup(&r.key)))
    }

    fn from_requirements(mut requirements: Vec<Requirement>) -> Self {
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Self { requirements }
    }
}

impl FromStr for LabelSelector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The canonical form Kubernetes prints (`Selector.String()`), e.g. `app=web,tier in (a,b)`.
impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, requirement) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{requirement}")?;
        }
        Ok(())
    }
}

/// The selector of a plain label map such as `Service.spec.selector` or `matchLabels`: every
/// pair must be present. An empty map selects everything (a Service with no selector is
/// handled by its caller, which must not treat it as "all pods").
pub fn selector_from_map(map: &BTreeMap<String, String>) -> LabelSelector {
    let requirements = map.iter().map(|(key, value)| Requirement {
        key: key.clone(),
        operator: Operator::Equals,
        values: vec![value.clone()],
    });
    LabelSelector::from_requirements(requirements.collect())
}

impl Requirement {
    /// Builds a requirement, validating the key, the values and their count for the operator
    /// (Kubernetes' `NewRequirement`). Values are kept as a sorted set.
    pub fn new<'v>(
        key: &str,
        operator: Operator,
        values: impl IntoIterator<Item = &'v str>,
    ) -> Result<Self, SelectorError> {
        let values: BTreeSet<&str> = values.into_iter().collect();
        let values: Vec<String> = values.into_iter().map(str::to_string).collect();
        let mut errs = Vec::new();
        if let Some(err) = invalid_key(key, "key") {
            errs.push(err);
        }
        errs.extend(operator_errors(operator, &values));
        for (i, value) in values.iter().enumerate() {
            let problems = label_value_errors(value);
            if !problems.is_empty() {
                errs.push(invalid(
                    &format!("values[{i}][{key}]"),
                    &format!("{value:?}"),
                    &problems,
                ));
            }
        }
        if errs.is_empty() {
            Ok(Self {
                key: key.to_string(),
                operator,
                values,
            })
        } else {
            Err(SelectorError::Parse(aggregate(errs)))
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The operand values, sorted.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    fn matches(&self, value: Option<&str>) -> bool {
        let has = |v: &str| self.values.iter().any(|x| x == v);
        match self.operator {
            Operator::Equals | Operator::DoubleEquals | Operator::In => value.is_some_and(has),
            Operator::NotEquals | Operator::NotIn => !value.is_some_and(has),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => self.compare_int(value),
        }
    }

    /// `>`/`<` compare as 64-bit integers; a label that is not an integer never matches.
    fn compare_int(&self, value: Option<&str>) -> bool {
        let Some(label) = value.and_then(|v| v.parse::<i64>().ok()) else {
            return false;
        };
        let Some(operand) = self.values.first().and_then(|v| v.parse::<i64>().ok()) else {
            return false;
        };
        match self.operator {
            Operator::GreaterThan => label > operand,
            _ => label < operand,
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let joined = self.values.join(",");
        match self.operator {
            Operator::Exists | Operator::DoesNotExist => Ok(()),
            Operator::Equals => write!(f, "={joined}"),
            Operator::DoubleEquals => write!(f, "=={joined}"),
            Operator::NotEquals => write!(f, "!={joined}"),
            Operator::GreaterThan => write!(f, ">{joined}"),
            Operator::LessThan => write!(f, "<{joined}"),
            Operator::In => write!(f, " in ({joined})"),
            Operator::NotIn => write!(f, " notin ({joined})"),
        }
    }
}

fn operator_errors(operator: Operator, values: &[String]) -> Vec<String> {
    let list = || serde_json::to_string(values).unwrap_or_default();
    let count_error = |ok: bool, detail: &str| (!ok).then(|| invalid("values", &list(), &[detail]));
    match operator {
        Operator::In | Operator::NotIn => count_error(
            !values.is_empty(),
            "for 'in', 'notin' operators, values set can't be empty",
        )
        .into_iter()
        .collect(),
        Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => count_error(
            values.len() == 1,
            "exact-match compatibility requires one single value",
        )
        .into_iter()
        .collect(),
        Operator::Exists | Operator::DoesNotExist => count_error(
            values.is_empty(),
            "values set must be empty for exists and does not exist",
        )
        .into_iter()
        .collect(),
        Operator::GreaterThan | Operator::LessThan => {
            let count = count_error(
                values.len() == 1,
                "for 'Gt', 'Lt' operators, exactly one value is required",
            );
            let not_ints = values
                .iter()
                .enumerate()
                .filter(|(_, v)| v.parse::<i64>().is_err());
            let not_ints = not_ints.map(|(i, v)| {
                invalid(
                    &format!("values[{i}]"),
                    &format!("{v:?}"),
                    &["for 'Gt', 'Lt' operators, the value must be an integer"],
                )
            });
            count.into_iter().chain(not_ints).collect()
        }
    }
}

/// A field error as `field.Invalid(...).Error()` prints it.
fn invalid(path: &str, value: &str, problems: &[impl AsRef<str>]) -> String {
    let problems: Vec<&str> = problems.iter().map(AsRef::as_ref).collect();
    format!("{path}: Invalid value: {value}: {}", problems.join("; "))
}

/// The error for an invalid label key at `path`, if it is invalid.
pub(super) fn invalid_key(key: &str, path: &str) -> Option<String> {
    let problems = label_key_errors(key);
    (!problems.is_empty()).then(|| invalid(path, &format!("{key:?}"), &problems))
}

/// Kubernetes' error aggregate: one message alone, several de-duplicated inside `[...]`.
fn aggregate(errs: Vec<String>) -> String {
    let mut unique: Vec<String> = Vec::new();
    for err in errs {
        if !unique.contains(&err) {
            unique.push(err);
        }
    }
    match unique.as_slice() {
        [one] => one.clone(),
        _ => format!("[{}]", unique.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    /// Label pairs in a test table.
    type Pairs = &'static [(&'static str, &'static str)];

    fn set(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn req(key: &str, operator: Operator, values: &[&str]) -> Requirement {
        Requirement::new(key, operator, values.iter().copied()).unwrap()
    }

    /// Valid selectors and their canonical form.
    #[test]
    fn parse_and_display() {
        let cases = [
            ("empty", "", ""),
            ("equals", "x=a,y=b,z=c", "x=a,y=b,z=c"),
            ("sorted by key", "z=c,x=a", "x=a,z=c"),
            ("not equals", "x!=a,y=b", "x!=a,y=b"),
            ("double equals", "x==a", "x==a"),
            ("empty value", "x=", "x="),
            ("empty value before comma", "x= ,z= ", "x=,z="),
            ("exists", "x", "x"),
            ("does not exist", "!x", "!x"),
            ("carriage return", "\rx", "x"),
            ("trailing space", "a ", "a"),
            ("greater and less", "x>1,z<5", "x>1,z<5"),
            ("in", "x in (abc,def)", "x in (abc,def)"),
            (
                "in sorted and deduplicated",
                "x in (def,abc,abc)",
                "x in (abc,def)",
            ),
            ("tabs and newlines", "x  notin\t\n (abc)", "x notin (abc)"),
            ("in with trailing comma", "x in (abc,)", "x in (,abc)"),
            ("in empty", "x in ()", "x in ()"),
            ("notin blank", "x notin ( )", "x notin ()"),
            ("in leading empty", "x notin (, a)", "x notin (,a)"),
            ("in repeated commas", "x in (a,,a,,a,,a,,)", "x in (,a)"),
            (
                "keywords as values",
                "a in (x,y,notin, z,in)",
                "a in (in,notin,x,y,z)",
            ),
            ("keyword as key and value", "notin=in", "notin=in"),
            (
                "prefixed key",
                "this-is-a-dns.domain.com/key-with-dash",
                "this-is-a-dns.domain.com/key-with-dash",
            ),
            (
                "prefixed key in",
                "0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
                "0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)",
            ),
            (
                "mixed",
                "x notin (abc,,def),bar,z in (),w",
                "bar,w,x notin (,abc,def),z in ()",
            ),
            ("run label", "run=my-nginx", "run=my-nginx"),
        ];
        for (name, input, want) in cases {
            let selector = LabelSelector::parse(input).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(selector.to_string(), want, "{name}");
            // The canonical form parses back to the same selector.
            assert_eq!(
                LabelSelector::parse(want).unwrap(),
                selector,
                "{name} round trip"
            );
        }
    }

    #[test]
    fn parse_errors() {
        let cases = [
            (
                "or",
                "x=a||y=b",
                "values[0][x]: Invalid value: \"a||y\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            ),
            (
                "chained equals",
                "x==a==b",
                "found '==', expected: ',' or 'end of string'",
            ),
            (
                "not exists with value",
                "!x=a",
                "found '=', expected: ',' or 'end of string'",
            ),
            (
                "lt not integer",
                "x<a",
                "values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer",
            ),
            (
                "double comma",
                "x,,y",
                "found ',', expected: identifier after ','",
            ),
            (
                "leading comma",
                ",x,y",
                "found ',', expected: !, identifier, or 'end of string'",
            ),
            (
                "bad operator",
                "x nott in (y)",
                "found 'nott', expected: in, notin, =, ==, !=, gt, lt",
            ),
            (
                "trailing comma",
                "a in (xyz),",
                "found '', expected: identifier after ','",
            ),
            (
                "missing comma",
                "a in (xyz)b notin ()",
                "found 'b', expected: ',' or 'end of string'",
            ),
            (
                "no comma in set",
                "a in (xyz abc)",
                "found 'abc', expected: ',' or ')'",
            ),
            (
                "unterminated set",
                "a notin(",
                "found '', expected: ',', ')' or identifier",
            ),
            (
                "set without operator",
                "a (",
                "found '(', expected: in, notin, =, ==, !=, gt, lt",
            ),
            (
                "open paren",
                "(",
                "found '(', expected: !, identifier, or 'end of string'",
            ),
            ("in without set", "a in b", "found 'b' expected: '('"),
            (
                "operator in set",
                "a in (b=)",
                "found '=', expected: ',' or ')'",
            ),
            ("value is paren", "a=(", "found '(', expected: identifier"),
            ("bang without key", "!", "found '', expected: identifier"),
            (
                "bad value",
                "x=a b",
                "found 'b', expected: ',' or 'end of string'",
            ),
            (
                "value with slash",
                "x=a/b",
                "values[0][x]: Invalid value: \"a/b\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            ),
            (
                "key with two slashes",
                "a/b/c=d",
                "<nil>: Invalid value: \"a/b/c\": a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
            ),
        ];
        for (name, input, want) in cases {
            assert_eq!(
                LabelSelector::parse(input),
                Err(SelectorError::Parse(want.to_string())),
                "{name}"
            );
        }
        let err = LabelSelector::parse(&format!("{}=x", "k".repeat(64))).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "unable to parse requirement: <nil>: Invalid value: \"{}\": name part must be no more than 63 bytes",
                "k".repeat(64)
            )
        );
    }

    #[test]
    fn matching() {
        let cases: &[(&str, Pairs, bool)] = &[
            ("", &[("x", "y")], true),
            ("x=y", &[("x", "y")], true),
            ("x=y,z=w", &[("x", "y"), ("z", "w")], true),
            ("x!=y,z!=w", &[("x", "z"), ("z", "a")], true),
            ("notin=in", &[("notin", "in")], true),
            ("x", &[("x", "z")], true),
            ("!x", &[("y", "z")], true),
            ("x>1", &[("x", "2")], true),
            ("x<1", &[("x", "0")], true),
            ("x=z", &[], false),
            ("x=y", &[("x", "z")], false),
            ("x=y,z=w", &[("x", "w"), ("z", "w")], false),
            ("x!=y,z!=w", &[("x", "z"), ("z", "w")], false),
            ("x!=y", &[], true),
            ("x", &[("y", "z")], false),
            ("!x", &[("x", "z")], false),
            ("x>1", &[("x", "0")], false),
            ("x<1", &[("x", "2")], false),
            ("x>1", &[("x", "v2")], false),
            ("x>1", &[], false),
            (
                "x in (foo),y notin (alpha)",
                &[("x", "foo"), ("y", "baz")],
                true,
            ),
            (
                "x in (foo),y in (alpha)",
                &[("x", "foo"), ("y", "baz")],
                false,
            ),
            ("x notin (),y", &[("y", "")], true),
            ("!x,y", &[("y", "")], true),
            ("x notin (),!y", &[("y", "")], false),
            ("x in ()", &[("y", "baz")], false),
            ("x in ()", &[("x", "")], true),
            ("x=", &[("x", "")], true),
            (
                "foo=bar,foobar=bar,baz=blah",
                &[("foo", "bar"), ("baz", "blah")],
                false,
            ),
        ];
        for (selector, labels, want) in cases {
            let parsed = LabelSelector::parse(selector).unwrap();
            assert_eq!(
                parsed.matches(&set(labels)),
                *want,
                "{selector} on {labels:?}"
            );
            let json = serde_json::to_value(set(labels)).unwrap();
            assert_eq!(
                parsed.matches_json(Some(&json)),
                *want,
                "{selector} on JSON {labels:?}"
            );
        }
    }

    #[test]
    fn matches_json_without_labels() {
        let exists = LabelSelector::parse("app").unwrap();
        let absent = LabelSelector::parse("!app").unwrap();
        for labels in [
            None,
            Some(&Value::Null),
            Some(&serde_json::json!({"app": 1})),
        ] {
            assert!(!exists.matches_json(labels), "{labels:?}");
            assert!(absent.matches_json(labels), "{labels:?}");
        }
        assert!(LabelSelector::everything().matches_json(None));
    }

    #[test]
    fn everything() {
        assert!(LabelSelector::everything().is_everything());
        assert!(LabelSelector::parse("").unwrap().is_everything());
        assert!(LabelSelector::parse("  ").unwrap().is_everything());
        assert!(!LabelSelector::parse("a").unwrap().is_everything());
        assert!(LabelSelector::everything().matches(&set(&[("x", "y")])));
        assert_eq!(LabelSelector::everything().to_string(), "");
    }

    #[test]
    fn from_map() {
        let cases: &[(Pairs, &str)] = &[
            (&[], ""),
            (&[("app", "foo")], "app=foo"),
            (&[("app", "foo"), ("a", "b")], "a=b,app=foo"),
        ];
        for (map, want) in cases {
            let selector = selector_from_map(&set(map));
            assert_eq!(selector.to_string(), *want);
            assert_eq!(selector.is_everything(), map.is_empty());
            assert!(selector.matches(&set(map)));
        }
        let selector = selector_from_map(&set(&[("run", "my-nginx")]));
        assert!(!selector.matches(&set(&[("run", "other")])));
    }

    fn expr(key: &str, operator: &str, values: Option<&[&str]>) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.to_string(),
            operator: operator.to_string(),
            values: values.map(|v| v.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[test]
    fn from_k8s() {
        let empty = metav1::LabelSelector::default();
        assert!(LabelSelector::from_k8s(&empty).unwrap().is_everything());

        let sel = metav1::LabelSelector {
            match_labels: Some(set(&[("tier", "web"), ("app", "nginx")])),
            match_expressions: Some(vec![
                expr("env", "In", Some(&["prod", "dev"])),
                expr("zone", "NotIn", Some(&["a"])),
                expr("canary", "DoesNotExist", None),
                expr("app", "Exists", Some(&[])),
            ]),
        };
        let selector = LabelSelector::from_k8s(&sel).unwrap();
        assert_eq!(
            selector.to_string(),
            "app=nginx,app,!canary,env in (dev,prod),tier=web,zone notin (a)"
        );
        let pod = set(&[("app", "nginx"), ("tier", "web"), ("env", "dev")]);
        assert!(selector.matches(&pod));
        assert!(!selector.matches(&set(&[("app", "nginx"), ("tier", "web"), ("env", "qa")])));
    }

    #[test]
    fn from_k8s_errors() {
        let cases = [
            (
                expr("a", "Foo", None),
                "\"Foo\" is not a valid label selector operator",
            ),
            (
                expr("a", "In", Some(&[])),
                "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty",
            ),
            (
                expr("a", "Exists", Some(&["x"])),
                "values: Invalid value: [\"x\"]: values set must be empty for exists and does not exist",
            ),
            (
                expr("a b", "Exists", None),
                "key: Invalid value: \"a b\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            ),
        ];
        for (requirement, want) in cases {
            let sel = metav1::LabelSelector {
                match_labels: None,
                match_expressions: Some(vec![requirement]),
            };
            assert_eq!(
                LabelSelector::from_k8s(&sel),
                Err(SelectorError::Parse(want.to_string()))
            );
        }
    }

    #[test]
    fn requirement_constructor() {
        let long = "a".repeat(254);
        let cases: &[(&str, Operator, &[&str], bool)] = &[
            ("x1", Operator::In, &[], false),
            ("x3", Operator::In, &["foo"], true),
            ("x4", Operator::NotIn, &["foo"], true),
            ("x5", Operator::Equals, &["foo", "bar"], false),
            ("x6", Operator::Exists, &[], true),
            ("x7", Operator::DoesNotExist, &[], true),
            ("x8", Operator::Exists, &["foo"], false),
            ("x11", Operator::GreaterThan, &["1"], true),
            ("x12", Operator::LessThan, &["6"], true),
            ("x13", Operator::GreaterThan, &[], false),
            ("x14", Operator::GreaterThan, &["bar"], false),
            (&long, Operator::Exists, &[], false),
            ("x16", Operator::Equals, &[&long], false),
            ("x17", Operator::Equals, &["a b"], false),
        ];
        for (key, operator, values, ok) in cases {
            let result = Requirement::new(key, *operator, values.iter().copied());
            assert_eq!(
                result.is_ok(),
                *ok,
                "{key} {operator:?} {values:?}: {result:?}"
            );
        }
        // Several problems are aggregated in brackets.
        let err = Requirement::new("x", Operator::Equals, ["a b", "c"]).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "unable to parse requirement: [values: Invalid value: [\"a b\",\"c\"]: exact-match"
            ),
            "{err}"
        );
    }

    #[test]
    fn requirements_accessors() {
        let selector = LabelSelector::parse("b in (y,x),a").unwrap();
        assert_eq!(
            selector.requirements(),
            &[
                req("a", Operator::Exists, &[]),
                req("b", Operator::In, &["x", "y"])
            ]
        );
        let b = &selector.requirements()[1];
        assert_eq!(
            (b.key(), b.operator(), b.values()),
            ("b", Operator::In, &["x".to_string(), "y".to_string()][..])
        );
        assert_eq!("a=b".parse::<LabelSelector>().unwrap().to_string(), "a=b");
    }
}
