//! Where store keys live in etcd: the configured etcd prefix replaces the store root (for the
//! API server, `/registry`) at the start of every key, so with the defaults an object's etcd key
//! is its store key, laid out as kube-apiserver lays out its own (`/registry/services/...`).
//!
//! The mapping is a bijection between store keys under the root and etcd keys under the prefix,
//! and it keeps byte order (both sides drop or add a common prefix), so a store prefix range is
//! one etcd key range. Store keys outside the root have no etcd key.

/// The mapping between store keys and etcd keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KeySpace {
    /// The leading part of every store key (`/registry`, or empty to prepend the prefix).
    root: String,
    /// What replaces `root` in etcd.
    prefix: String,
}

impl KeySpace {
    pub(super) fn new(root: &str, prefix: &str) -> Self {
        KeySpace {
            root: root.to_owned(),
            prefix: prefix.to_owned(),
        }
    }

    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The etcd key of a store key, or `None` if the key is outside the root.
    pub(super) fn to_etcd(&self, key: &str) -> Option<Vec<u8>> {
        let rest = key.strip_prefix(&self.root)?;
        Some([self.prefix.as_bytes(), rest.as_bytes()].concat())
    }

    /// The store key of an etcd key, or `None` if it is outside the prefix or not UTF-8.
    pub(super) fn to_store(&self, key: &[u8]) -> Option<String> {
        let rest = key.strip_prefix(self.prefix.as_bytes())?;
        let rest = std::str::from_utf8(rest).ok()?;
        Some(format!("{}{rest}", self.root))
    }

    /// The etcd prefix holding the store keys that start with `prefix`, or `None` if no store
    /// key under the root does. A store prefix shorter than the root (`""`, `/`) covers it all.
    pub(super) fn etcd_prefix(&self, prefix: &str) -> Option<Vec<u8>> {
        if let Some(mapped) = self.to_etcd(prefix) {
            Some(mapped)
        } else if self.root.starts_with(prefix) {
            Some(self.prefix.as_bytes().to_vec())
        } else {
            None
        }
    }

    /// The etcd range `[start, end)` of the store keys that start with `prefix` and are greater
    /// than `start_after`, or `None` if it is empty. An `end` of `[0]` means "no end" (etcd's
    /// convention), which only the empty etcd prefix produces.
    pub(super) fn range(
        &self,
        prefix: &str,
        start_after: Option<&str>,
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        let first = self.etcd_prefix(prefix)?;
        let end = range_end(&first);
        let start = match start_after {
            None => first,
            Some(after) => match self.to_etcd(after) {
                Some(mut after) => {
                    // The smallest key greater than `after`.
                    after.push(0);
                    after.max(first)
                }
                // Outside the root and before it: before every key under it.
                None if after < self.root.as_str() => first,
                // Outside the root and after it: after every key under it.
                None => return None,
            },
        };
        if end != [0] && start >= end {
            return None;
        }
        Some((start, end))
    }
}

/// The smallest byte string greater than every key starting with `prefix`, as etcd's
/// `range_end`: `[0]` (no end) if there is none.
pub(super) fn range_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_both_ways_under_the_root_only() {
        let registry = KeySpace::new("/registry", "/tenant-a");
        let prepend = KeySpace::new("", "/t");
        let cases: &[(&KeySpace, &str, Option<&str>)] = &[
            (
                &registry,
                "/registry/services/default/web",
                Some("/tenant-a/services/default/web"),
            ),
            (&registry, "/registry", Some("/tenant-a")),
            (&registry, "/other/x", None),
            (&registry, "/reg", None),
            (&prepend, "/c/a", Some("/t/c/a")),
            (&prepend, "", Some("/t")),
        ];
        for (space, store, etcd) in cases {
            let got = space.to_etcd(store);
            assert_eq!(got.as_deref(), etcd.map(str::as_bytes), "{store:?}");
            if let Some(etcd) = etcd {
                assert_eq!(space.to_store(etcd.as_bytes()).as_deref(), Some(*store));
            }
        }
        assert_eq!(registry.to_store(b"/other/x"), None);
        assert_eq!(registry.to_store(b"/tenant-a/\xff"), None);
    }

    #[test]
    fn ranges() {
        let space = KeySpace::new("/registry", "/e");
        type Case<'a> = (&'a str, Option<&'a str>, Option<(&'a [u8], &'a [u8])>);
        let cases: &[Case] = &[
            (
                "/registry/services/",
                None,
                Some((b"/e/services/", b"/e/services0")),
            ),
            (
                "/registry/services/",
                Some("/registry/services/ns/a"),
                Some((b"/e/services/ns/a\0", b"/e/services0")),
            ),
            // A start before the prefix does not move the start.
            (
                "/registry/services/",
                Some("/registry/a"),
                Some((b"/e/services/", b"/e/services0")),
            ),
            (
                "/registry/services/",
                Some("/a"),
                Some((b"/e/services/", b"/e/services0")),
            ),
            // A start after the prefix empties the range.
            ("/registry/services/", Some("/registry/t"), None),
            ("/registry/services/", Some("/z"), None),
            // Prefixes shorter than the root cover the whole space; others none of it.
            ("", None, Some((b"/e", b"/f"))),
            ("/reg", Some("/registry/x"), Some((b"/e/x\0", b"/f"))),
            ("/other/", None, None),
        ];
        for (prefix, after, want) in cases {
            let got = space.range(prefix, *after);
            let want = want.map(|(s, e)| (s.to_vec(), e.to_vec()));
            assert_eq!(got, want, "prefix {prefix:?} after {after:?}");
        }
    }

    #[test]
    fn range_end_increments_the_last_byte_that_can_be() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"/a/", b"/a0"),
            (b"a\xff", b"b"),
            (b"\xff\xff", b"\0"),
            (b"", b"\0"),
        ];
        for (prefix, want) in cases {
            assert_eq!(range_end(prefix), *want, "{prefix:?}");
        }
    }
}
