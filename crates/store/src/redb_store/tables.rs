//! The redb tables of the embedded store and the conversions between their rows and the
//! store's types.
//!
//! Layout (format version 1):
//! - `objects`: key -> (create_revision, mod_revision, value)
//! - `changelog`: revision -> (kind, create_revision, prev_mod_revision, key, value, prev_value),
//!   the last `history` events, so that watches resume across restarts
//! - `meta`: "revision" -> the revision of the last write; "format" -> the layout version

use bytes::Bytes;
use redb::TableDefinition;

use crate::{Error, EventKind, KeyValue, Result, WatchEvent};

pub(super) type ObjectRow<'a> = (i64, i64, &'a [u8]);

/// A change-log row. `prev_value` is only stored for `Modified`: a `Created` event has no
/// previous value and a `Deleted` event's previous value is its `value`, so storing it would
/// only double the bytes. `prev_mod_revision` is 0 for `Created`.
pub(super) type LogRow<'a> = (u8, i64, i64, &'a str, &'a [u8], &'a [u8]);

pub(super) const OBJECTS: TableDefinition<&str, ObjectRow> = TableDefinition::new("objects");
pub(super) const CHANGELOG: TableDefinition<i64, LogRow> = TableDefinition::new("changelog");
pub(super) const META: TableDefinition<&str, i64> = TableDefinition::new("meta");

pub(super) const META_REVISION: &str = "revision";
pub(super) const META_FORMAT: &str = "format";
pub(super) const FORMAT_VERSION: i64 = 1;

const KIND_CREATED: u8 = 1;
const KIND_MODIFIED: u8 = 2;
const KIND_DELETED: u8 = 3;

/// Maps any redb failure: corruption is reported as such, everything else (IO, a database
/// refusing writes after a failed commit, a file locked by another process) as unavailability.
pub(super) fn from_redb(e: impl Into<redb::Error>) -> Error {
    match e.into() {
        redb::Error::Corrupted(msg) => Error::Corrupt(msg),
        other => Error::Unavailable(other.to_string()),
    }
}

pub(super) fn object_row(kv: &KeyValue) -> ObjectRow<'_> {
    (kv.create_revision, kv.mod_revision, &kv.value)
}

pub(super) fn object_kv(key: &str, (create_revision, mod_revision, value): ObjectRow) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Bytes::copy_from_slice(value),
        create_revision,
        mod_revision,
    }
}

pub(super) fn log_row(event: &WatchEvent) -> LogRow<'_> {
    let kind = match event.kind {
        EventKind::Created => KIND_CREATED,
        EventKind::Modified => KIND_MODIFIED,
        EventKind::Deleted => KIND_DELETED,
    };
    let (prev_mod_revision, prev_value): (i64, &[u8]) = match (&event.kind, &event.prev) {
        (EventKind::Modified, Some(prev)) => (prev.mod_revision, &prev.value),
        (_, Some(prev)) => (prev.mod_revision, &[]),
        (_, None) => (0, &[]),
    };
    (
        kind,
        event.kv.create_revision,
        prev_mod_revision,
        &event.kv.key,
        &event.kv.value,
        prev_value,
    )
}

pub(super) fn log_event(revision: i64, row: LogRow) -> Result<WatchEvent> {
    let (kind, create_revision, prev_mod_revision, key, value, prev_value) = row;
    let kv = KeyValue {
        key: key.to_owned(),
        value: Bytes::copy_from_slice(value),
        create_revision,
        mod_revision: revision,
    };
    let prev_with = |value: Bytes| KeyValue {
        key: key.to_owned(),
        value,
        create_revision,
        mod_revision: prev_mod_revision,
    };
    let (kind, prev) = match kind {
        KIND_CREATED => (EventKind::Created, None),
        KIND_MODIFIED => (
            EventKind::Modified,
            Some(prev_with(Bytes::copy_from_slice(prev_value))),
        ),
        KIND_DELETED => (EventKind::Deleted, Some(prev_with(kv.value.clone()))),
        other => {
            return Err(Error::Corrupt(format!(
                "change log entry {revision} has unknown kind {other}"
            )));
        }
    };
    Ok(WatchEvent { kind, kv, prev })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{Op, plan};

    #[test]
    fn log_rows_round_trip_every_kind() {
        let created = plan("/k", None, Op::Create(Bytes::from_static(b"v1")), 3).unwrap();
        let modified = plan(
            "/k",
            Some(created.kv.clone()),
            Op::Update {
                value: Bytes::from_static(b"v2"),
                expected_mod_revision: None,
            },
            4,
        )
        .unwrap();
        let deleted = plan(
            "/k",
            Some(modified.kv.clone()),
            Op::Delete {
                expected_mod_revision: Some(4),
            },
            7,
        )
        .unwrap();
        for event in [created, modified, deleted] {
            let decoded = log_event(event.revision(), log_row(&event)).unwrap();
            assert_eq!(decoded, event);
        }
    }

    #[test]
    fn unknown_kind_is_corrupt() {
        let row: LogRow = (9, 1, 0, "/k", b"", b"");
        assert!(matches!(log_event(1, row), Err(Error::Corrupt(_))));
    }
}
