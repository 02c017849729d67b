//! The redb tables of the embedded store and the conversions between their rows and the
//! store's types.
//!
//! Layout (format version 2):
//! - `objects`: key -> (create_revision, mod_revision, value)
//! - `changelog_batches`: the revision of a batch's last event -> the batch's events, encoded
//!   one after the other (see [`encode_events`]). At least the last `history` events are kept
//!   (whole batches, so up to a batch more), so that watches resume across restarts. One row
//!   per committed batch, not per event: a B-tree insert of a ~1 KiB row costs about as much
//!   CPU as the rest of the store write, and a batch row is one insert of many events.
//! - `meta`: "revision" -> the revision of the last write; "format" -> the layout version;
//!   "wal_epoch" -> the random mark of this file's write-ahead log records
//!
//! Format 1 kept one `changelog` row per event; opening such a file converts it. Format 2 had
//! no write-ahead log; opening it adds the epoch. The file holds the store as of its last
//! checkpoint; the write-ahead log beside it holds the batches since.

use bytes::Bytes;
use redb::TableDefinition;

use crate::{Error, EventKind, KeyValue, Result, WatchEvent};

pub(super) type ObjectRow<'a> = (i64, i64, &'a [u8]);

/// A change-log row. `prev_value` is only stored for `Modified`: a `Created` event has no
/// previous value and a `Deleted` event's previous value is its `value`, so storing it would
/// only double the bytes. `prev_mod_revision` is 0 for `Created`.
pub(super) type LogRow<'a> = (u8, i64, i64, &'a str, &'a [u8], &'a [u8]);

pub(super) const OBJECTS: TableDefinition<&str, ObjectRow> = TableDefinition::new("objects");
/// The change log, a row per committed batch (format 2).
pub(super) const CHANGELOG: TableDefinition<i64, &[u8]> = TableDefinition::new("changelog_batches");
/// The change log of format 1, a [`LogRow`] per event; only read, to convert it.
pub(super) const CHANGELOG_V1: TableDefinition<i64, LogRow> = TableDefinition::new("changelog");
pub(super) const META: TableDefinition<&str, i64> = TableDefinition::new("meta");

pub(super) const META_REVISION: &str = "revision";
pub(super) const META_FORMAT: &str = "format";
/// The random number that marks this file's write-ahead log records (see `wal`).
pub(super) const META_WAL_EPOCH: &str = "wal_epoch";
pub(super) const FORMAT_VERSION: i64 = 3;
/// The format whose change log [`super::prepare`] converts.
pub(super) const FORMAT_VERSION_V1: i64 = 1;
/// The format before the write-ahead log: the same tables, without the log epoch.
pub(super) const FORMAT_VERSION_V2: i64 = 2;

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

/// Appends `event` to a batch row: kind, revision, create_revision, prev_mod_revision, then
/// key, value and prev_value each as a u32 length and the bytes; numbers little-endian. As in
/// [`LogRow`], prev_value is only stored for `Modified`.
pub(super) fn encode_event(row: &mut Vec<u8>, event: &WatchEvent) {
    let (kind, create_revision, prev_mod_revision, key, value, prev_value) = log_row(event);
    row.reserve(1 + 3 * 8 + 3 * 4 + key.len() + value.len() + prev_value.len());
    row.push(kind);
    for n in [event.revision(), create_revision, prev_mod_revision] {
        row.extend_from_slice(&n.to_le_bytes());
    }
    for bytes in [key.as_bytes(), value, prev_value] {
        let len = u32::try_from(bytes.len()).expect("store values are far below 4 GiB");
        row.extend_from_slice(&len.to_le_bytes());
        row.extend_from_slice(bytes);
    }
}

/// The events of a batch row written by [`encode_event`]; `last` is the row's key.
pub(super) fn decode_events(last: i64, row: &[u8]) -> Result<Vec<WatchEvent>> {
    let mut reader = Reader { row, last };
    let mut events = Vec::new();
    while !reader.row.is_empty() {
        let kind = reader.take(1)?[0];
        let (revision, create_revision, prev_mod_revision) =
            (reader.number()?, reader.number()?, reader.number()?);
        let (key, value, prev_value) = (reader.bytes()?, reader.bytes()?, reader.bytes()?);
        let key = std::str::from_utf8(key)
            .map_err(|_| Error::Corrupt(format!("change log entry {revision} has a bad key")))?;
        let log = (
            kind,
            create_revision,
            prev_mod_revision,
            key,
            value,
            prev_value,
        );
        events.push(log_event(revision, log)?);
    }
    if events.last().map(WatchEvent::revision) != Some(last) {
        return Err(Error::Corrupt(format!(
            "change log batch {last} does not end at its revision"
        )));
    }
    Ok(events)
}

/// Reads a batch row front to back.
struct Reader<'a> {
    row: &'a [u8],
    last: i64,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8]> {
        if self.row.len() < len {
            return Err(Error::Corrupt(format!(
                "change log batch {} is truncated",
                self.last
            )));
        }
        let (taken, rest) = self.row.split_at(len);
        self.row = rest;
        Ok(taken)
    }

    fn number(&mut self) -> Result<i64> {
        let bytes = self.take(8)?;
        Ok(i64::from_le_bytes(bytes.try_into().expect("8 bytes")))
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.take(4)?;
        let len = u32::from_le_bytes(len.try_into().expect("4 bytes"));
        self.take(usize::try_from(len).unwrap_or(usize::MAX))
    }
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
        let events = [created, modified, deleted];
        let mut batch = Vec::new();
        for event in &events {
            let decoded = log_event(event.revision(), log_row(event)).unwrap();
            assert_eq!(&decoded, event);
            encode_event(&mut batch, event);
        }
        assert_eq!(decode_events(7, &batch).unwrap(), events);
        for cut in 0..batch.len() {
            assert!(matches!(
                decode_events(7, &batch[..cut]),
                Err(Error::Corrupt(_))
            ));
        }
    }

    #[test]
    fn unknown_kind_is_corrupt() {
        let row: LogRow = (9, 1, 0, "/k", b"", b"");
        assert!(matches!(log_event(1, row), Err(Error::Corrupt(_))));
    }
}
