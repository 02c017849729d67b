//! The meaning of a write, decided once for every backend: given a key's current state, the
//! write either fails (NotFound, AlreadyExists, Conflict) or produces the event the backend must
//! apply, acknowledge and publish.

use bytes::Bytes;

use crate::{Error, EventKind, KeyValue, Result, WatchEvent};

/// A write requested by a caller.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Create(Bytes),
    Update {
        value: Bytes,
        expected_mod_revision: Option<i64>,
    },
    Delete {
        expected_mod_revision: Option<i64>,
    },
}

/// Decides `op` on `key`, whose current state is `current`, as the write of revision `revision`.
///
/// The returned event is what the backend stores: `kv` is the new state (for `Deleted`, the last
/// value stamped with the delete's revision), and `kv` is also what the caller gets back.
pub(crate) fn plan(
    key: &str,
    current: Option<KeyValue>,
    op: Op,
    revision: i64,
) -> Result<WatchEvent> {
    match (op, current) {
        (Op::Create(value), None) => Ok(WatchEvent {
            kind: EventKind::Created,
            kv: KeyValue {
                key: key.to_owned(),
                value,
                create_revision: revision,
                mod_revision: revision,
            },
            prev: None,
        }),
        (Op::Create(_), Some(_)) => Err(Error::AlreadyExists {
            key: key.to_owned(),
        }),
        (Op::Update { .. } | Op::Delete { .. }, None) => Err(Error::NotFound {
            key: key.to_owned(),
        }),
        (
            Op::Update {
                value,
                expected_mod_revision,
            },
            Some(prev),
        ) => {
            check_precondition(&prev, expected_mod_revision)?;
            Ok(WatchEvent {
                kind: EventKind::Modified,
                kv: KeyValue {
                    key: key.to_owned(),
                    value,
                    create_revision: prev.create_revision,
                    mod_revision: revision,
                },
                prev: Some(prev),
            })
        }
        (
            Op::Delete {
                expected_mod_revision,
            },
            Some(prev),
        ) => {
            check_precondition(&prev, expected_mod_revision)?;
            Ok(WatchEvent {
                kind: EventKind::Deleted,
                kv: KeyValue {
                    mod_revision: revision,
                    ..prev.clone()
                },
                prev: Some(prev),
            })
        }
    }
}

fn check_precondition(current: &KeyValue, expected: Option<i64>) -> Result<()> {
    match expected {
        Some(expected) if expected != current.mod_revision => Err(Error::Conflict {
            key: current.key.clone(),
            expected,
            actual: current.mod_revision,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(value: &'static str, create: i64, modified: i64) -> KeyValue {
        KeyValue {
            key: "/k".into(),
            value: Bytes::from_static(value.as_bytes()),
            create_revision: create,
            mod_revision: modified,
        }
    }

    fn update(value: &'static str, expected: Option<i64>) -> Op {
        Op::Update {
            value: Bytes::from_static(value.as_bytes()),
            expected_mod_revision: expected,
        }
    }

    fn delete(expected: Option<i64>) -> Op {
        Op::Delete {
            expected_mod_revision: expected,
        }
    }

    #[test]
    fn outcomes() {
        let existing = Some(kv("old", 2, 5));
        let conflict = Err(Error::Conflict {
            key: "/k".into(),
            expected: 4,
            actual: 5,
        });
        let not_found = Err(Error::NotFound { key: "/k".into() });
        let cases: Vec<(&str, Option<KeyValue>, Op, Result<WatchEvent>)> = vec![
            (
                "create",
                None,
                Op::Create(Bytes::from_static(b"v")),
                Ok(WatchEvent {
                    kind: EventKind::Created,
                    kv: kv("v", 9, 9),
                    prev: None,
                }),
            ),
            (
                "create existing",
                existing.clone(),
                Op::Create(Bytes::new()),
                Err(Error::AlreadyExists { key: "/k".into() }),
            ),
            (
                "update unconditional",
                existing.clone(),
                update("new", None),
                Ok(WatchEvent {
                    kind: EventKind::Modified,
                    kv: kv("new", 2, 9),
                    prev: existing.clone(),
                }),
            ),
            (
                "update matching precondition",
                existing.clone(),
                update("new", Some(5)),
                Ok(WatchEvent {
                    kind: EventKind::Modified,
                    kv: kv("new", 2, 9),
                    prev: existing.clone(),
                }),
            ),
            (
                "update stale precondition",
                existing.clone(),
                update("new", Some(4)),
                conflict.clone(),
            ),
            (
                "update missing",
                None,
                update("new", None),
                not_found.clone(),
            ),
            (
                "update missing with precondition",
                None,
                update("new", Some(5)),
                not_found.clone(),
            ),
            (
                "delete keeps the last value",
                existing.clone(),
                delete(Some(5)),
                Ok(WatchEvent {
                    kind: EventKind::Deleted,
                    kv: kv("old", 2, 9),
                    prev: existing.clone(),
                }),
            ),
            (
                "delete stale precondition",
                existing.clone(),
                delete(Some(4)),
                conflict,
            ),
            ("delete missing", None, delete(None), not_found),
        ];
        for (name, current, op, want) in cases {
            assert_eq!(plan("/k", current, op, 9), want, "{name}");
        }
    }
}
