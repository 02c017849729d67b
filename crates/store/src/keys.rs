//! Key-range arithmetic for prefix listing, shared by the backends.
//!
//! Keys are compared as bytes; UTF-8 preserves code point order, so `str` ordering is the byte
//! ordering every backend (BTreeMap, redb, etcd) uses.

use std::ops::Bound;

/// The range of keys starting with `prefix` and greater than `start_after`, or `None` if that
/// range is empty. Suitable for `BTreeMap::range` and redb's `range` (neither of which accepts a
/// start after the end: BTreeMap panics).
pub(crate) fn prefix_range(
    prefix: &str,
    start_after: Option<&str>,
) -> Option<(Bound<String>, Bound<String>)> {
    let end = prefix_end(prefix);
    let start = match start_after {
        Some(after) if after >= prefix => Bound::Excluded(after.to_owned()),
        _ => Bound::Included(prefix.to_owned()),
    };
    if let (Bound::Excluded(s) | Bound::Included(s), Some(e)) = (&start, &end)
        && s >= e
    {
        return None;
    }
    Some((start, end.map_or(Bound::Unbounded, Bound::Excluded)))
}

/// The smallest string greater than every string starting with `prefix`, or `None` if there is
/// none (the empty prefix, or one made only of `char::MAX`).
///
/// Replaces the last character that has a successor with that successor and drops what follows:
/// for `"/a/"` that is `"/a0"`, which is why `/a/` never matches `/ab/...`.
pub(crate) fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = next_char(last) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The next Unicode scalar value, skipping the surrogate gap.
fn next_char(c: char) -> Option<char> {
    match c {
        '\u{D7FF}' => Some('\u{E000}'),
        char::MAX => None,
        c => char::from_u32(c as u32 + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn prefix_end_cases() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("empty prefix is unbounded", "", None),
            ("ascii", "/a/", Some("/a0")),
            ("single char", "a", Some("b")),
            ("before surrogates", "x\u{D7FF}", Some("x\u{E000}")),
            ("trailing max char carries", "ab\u{10FFFF}", Some("ac")),
            ("only max chars", "\u{10FFFF}\u{10FFFF}", None),
            ("multibyte", "/é", Some("/ê")),
        ];
        for (name, prefix, want) in cases {
            assert_eq!(prefix_end(prefix).as_deref(), *want, "{name}");
        }
    }

    #[test]
    fn range_selects_exactly_the_prefix() {
        let keys: BTreeSet<String> = [
            "/a",
            "/a/",
            "/a/x",
            "/a/y/z",
            "/a0",
            "/ab/x",
            "/b/",
            "/",
            "",
            "/a/\u{10FFFF}",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        let cases: &[(&str, Option<&str>, &[&str])] = &[
            ("/a/", None, &["/a/", "/a/x", "/a/y/z", "/a/\u{10FFFF}"]),
            ("/a/", Some("/a/x"), &["/a/y/z", "/a/\u{10FFFF}"]),
            (
                "/a/",
                Some("/"),
                &["/a/", "/a/x", "/a/y/z", "/a/\u{10FFFF}"],
            ),
            ("/a/", Some("/b"), &[]),
            ("/ab/", None, &["/ab/x"]),
            ("/c/", None, &[]),
            ("", Some("/b/"), &[]),
        ];
        for (prefix, after, want) in cases {
            let got: Vec<&str> = match prefix_range(prefix, *after) {
                Some(range) => keys.range(range).map(String::as_str).collect(),
                None => Vec::new(),
            };
            assert_eq!(got, *want, "prefix {prefix:?} after {after:?}");
        }
        let all = prefix_range("", None).expect("non-empty range");
        assert_eq!(keys.range(all).count(), keys.len());
    }

    #[test]
    fn empty_ranges_are_none_instead_of_inverted() {
        assert!(prefix_range("/a/", Some("/a0")).is_none());
        assert!(prefix_range("/a/", Some("/z")).is_none());
        assert!(prefix_range("/a/", Some("/a/\u{10FFFF}")).is_some());
    }
}
