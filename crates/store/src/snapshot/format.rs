//! The snapshot file format, version 1. All integers are big-endian.
//!
//! ```text
//! header   magic "SVCPSNAP" (8 bytes), format version u32 = 1,
//!          revision i64 (every key is as of this store revision), entry count u64,
//!          taken-at Unix seconds i64, source: u16 length + UTF-8 (what was saved, for people)
//! entries  count times: key u32 length + UTF-8 (the store key, e.g. /registry/services/ns/a),
//!          create_revision i64, mod_revision i64, value u32 length + bytes (opaque)
//! trailer  "END!" then the SHA-256 (32 bytes) of every byte before it
//! ```
//!
//! Entries are in strictly increasing key order and their revisions satisfy
//! `0 < create_revision <= mod_revision <= revision`; the decoder checks all of it, and the
//! count, so that a restore can trust a file that decodes to its end.
//!
//! [`Encoder`] and [`Decoder`] do no IO of their own choosing: the encoder appends to a buffer
//! (a file writer and an HTTP body both drain it), the decoder reads any `Read`.

use std::io::Read;

use bytes::Bytes;
use ring::digest::{Context, SHA256};

use super::error::{Result, SnapshotError};
use crate::KeyValue;

pub const MAGIC: &[u8; 8] = b"SVCPSNAP";
pub const FORMAT_VERSION: u32 = 1;
const END: &[u8; 4] = b"END!";
const DIGEST_LEN: usize = 32;

/// Refused while decoding, so a corrupt length cannot make the reader allocate gigabytes.
/// etcd's own request limit is 1.5 MiB per value; the embedded store has none, so be generous.
const MAX_KEY_BYTES: u32 = 64 * 1024;
const MAX_VALUE_BYTES: u32 = 256 * 1024 * 1024;

/// What a snapshot says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The store revision every entry was read at.
    pub revision: i64,
    /// The number of entries.
    pub count: u64,
    /// When it was taken, in Unix seconds.
    pub taken_at: i64,
    /// What was saved (`embedded store /path`, `etcd http://...`), for people reading `status`.
    pub source: String,
}

/// Encodes a snapshot into buffers the caller drains; checks order and count as it goes.
pub struct Encoder {
    digest: Context,
    revision: i64,
    expected: u64,
    written: u64,
    last_key: Option<String>,
}

impl Encoder {
    /// Starts a snapshot: appends the header to `out`.
    pub fn new(header: &Header, out: &mut Vec<u8>) -> Encoder {
        let mut encoder = Encoder {
            digest: Context::new(&SHA256),
            revision: header.revision,
            expected: header.count,
            written: 0,
            last_key: None,
        };
        let start = out.len();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
        out.extend_from_slice(&header.revision.to_be_bytes());
        out.extend_from_slice(&header.count.to_be_bytes());
        out.extend_from_slice(&header.taken_at.to_be_bytes());
        // The source is informational: cut to what a u16 length can say, on a char boundary.
        let mut source = header.source.as_str();
        while source.len() > usize::from(u16::MAX) {
            let mut end = usize::from(u16::MAX);
            while !source.is_char_boundary(end) {
                end -= 1;
            }
            source = &source[..end];
        }
        out.extend_from_slice(&(source.len() as u16).to_be_bytes());
        out.extend_from_slice(source.as_bytes());
        encoder.digest.update(&out[start..]);
        encoder
    }

    /// Appends one entry to `out`.
    pub fn entry(&mut self, kv: &KeyValue, out: &mut Vec<u8>) -> Result<()> {
        if self.written == self.expected {
            return Err(SnapshotError::Invalid(format!(
                "the source yielded more than the {} keys it announced",
                self.expected
            )));
        }
        check_entry(kv, self.revision, self.last_key.as_deref())?;
        let key_len = u32::try_from(kv.key.len())
            .ok()
            .filter(|&n| n <= MAX_KEY_BYTES);
        let value_len = u32::try_from(kv.value.len())
            .ok()
            .filter(|&n| n <= MAX_VALUE_BYTES);
        let (Some(key_len), Some(value_len)) = (key_len, value_len) else {
            return Err(SnapshotError::Invalid(format!(
                "key {:?} or its value is larger than a snapshot entry may be",
                kv.key
            )));
        };
        let start = out.len();
        out.extend_from_slice(&key_len.to_be_bytes());
        out.extend_from_slice(kv.key.as_bytes());
        out.extend_from_slice(&kv.create_revision.to_be_bytes());
        out.extend_from_slice(&kv.mod_revision.to_be_bytes());
        out.extend_from_slice(&value_len.to_be_bytes());
        out.extend_from_slice(&kv.value);
        self.digest.update(&out[start..]);
        self.written += 1;
        self.last_key = Some(kv.key.clone());
        Ok(())
    }

    /// Ends the snapshot: appends the trailer to `out` and returns the SHA-256 (hex).
    pub fn finish(self, out: &mut Vec<u8>) -> Result<String> {
        if self.written != self.expected {
            return Err(SnapshotError::Invalid(format!(
                "the source announced {} keys but yielded {}",
                self.expected, self.written
            )));
        }
        let mut digest = self.digest;
        digest.update(END);
        let sum = digest.finish();
        out.extend_from_slice(END);
        out.extend_from_slice(sum.as_ref());
        Ok(hex(sum.as_ref()))
    }
}

/// The order and revision rules every entry obeys (see the module doc).
fn check_entry(kv: &KeyValue, revision: i64, last_key: Option<&str>) -> Result<()> {
    if let Some(last) = last_key
        && kv.key.as_str() <= last
    {
        return Err(SnapshotError::Invalid(format!(
            "key {:?} is not after the previous key {last:?}",
            kv.key
        )));
    }
    if !(0 < kv.create_revision
        && kv.create_revision <= kv.mod_revision
        && kv.mod_revision <= revision)
    {
        return Err(SnapshotError::Invalid(format!(
            "key {:?} has revisions create {} / mod {}, impossible in a snapshot at revision {revision}",
            kv.key, kv.create_revision, kv.mod_revision
        )));
    }
    Ok(())
}

/// Reads a snapshot entry by entry, verifying as it goes; the checksum is checked when the last
/// entry has been read, so only a decoder that reached `Ok(None)` has read a verified file.
pub struct Decoder<R> {
    reader: R,
    digest: Context,
    header: Header,
    read: u64,
    last_key: Option<String>,
    /// The verified checksum, once the trailer is read.
    sha256: Option<String>,
}

impl<R: Read> Decoder<R> {
    /// Reads and checks the header.
    pub fn new(reader: R) -> Result<Decoder<R>> {
        let mut decoder = Decoder {
            reader,
            digest: Context::new(&SHA256),
            header: Header {
                revision: 0,
                count: 0,
                taken_at: 0,
                source: String::new(),
            },
            read: 0,
            last_key: None,
            sha256: None,
        };
        let mut magic = [0u8; 8];
        let at = "the header";
        match decoder.reader.read_exact(&mut magic) {
            Ok(()) if &magic == MAGIC => decoder.digest.update(&magic),
            Ok(()) => return Err(not_a_snapshot()),
            // Shorter than the magic: not ours either, unless it is a prefix of it.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(not_a_snapshot());
            }
            Err(e) => return Err(read_error(e, at)),
        }
        let version = u32::from_be_bytes(decoder.array(at)?);
        if version != FORMAT_VERSION {
            return Err(SnapshotError::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        decoder.header.revision = i64::from_be_bytes(decoder.array(at)?);
        decoder.header.count = u64::from_be_bytes(decoder.array(at)?);
        decoder.header.taken_at = i64::from_be_bytes(decoder.array(at)?);
        let source_len = u16::from_be_bytes(decoder.array(at)?);
        let source = decoder.bytes(usize::from(source_len), at)?;
        decoder.header.source = String::from_utf8_lossy(&source).into_owned();
        if decoder.header.revision < 0 {
            return Err(SnapshotError::Invalid(format!(
                "negative revision {}",
                decoder.header.revision
            )));
        }
        Ok(decoder)
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The SHA-256 (hex) of the file, once [`Decoder::next_entry`] returned `None`.
    pub fn sha256(&self) -> Option<String> {
        self.sha256.clone()
    }

    /// The next entry, or `None` after the last one once the trailer and checksum are verified.
    pub fn next_entry(&mut self) -> Result<Option<KeyValue>> {
        if self.sha256.is_some() {
            return Ok(None);
        }
        if self.read == self.header.count {
            self.sha256 = Some(self.trailer()?);
            return Ok(None);
        }
        let at = format!("entry {} of {}", self.read + 1, self.header.count);
        let key_len = u32::from_be_bytes(self.array(&at)?);
        if key_len > MAX_KEY_BYTES {
            return Err(SnapshotError::Invalid(format!(
                "{at} declares a key of {key_len} bytes"
            )));
        }
        let key = self.bytes(key_len as usize, &at)?;
        let key = String::from_utf8(key)
            .map_err(|_| SnapshotError::Invalid(format!("{at} has a key that is not UTF-8")))?;
        let create_revision = i64::from_be_bytes(self.array(&at)?);
        let mod_revision = i64::from_be_bytes(self.array(&at)?);
        let value_len = u32::from_be_bytes(self.array(&at)?);
        if value_len > MAX_VALUE_BYTES {
            return Err(SnapshotError::Invalid(format!(
                "{at} declares a value of {value_len} bytes"
            )));
        }
        let value = self.bytes(value_len as usize, &at)?;
        let kv = KeyValue {
            key,
            value: Bytes::from(value),
            create_revision,
            mod_revision,
        };
        check_entry(&kv, self.header.revision, self.last_key.as_deref())?;
        self.read += 1;
        self.last_key = Some(kv.key.clone());
        Ok(Some(kv))
    }

    /// Reads the end marker and the checksum, and makes sure nothing follows; returns the
    /// checksum (hex).
    fn trailer(&mut self) -> Result<String> {
        let at = "the trailer";
        let end: [u8; 4] = self.array(at)?;
        if &end != END {
            return Err(SnapshotError::Invalid(format!(
                "no end marker after the {} entries the header announces",
                self.header.count
            )));
        }
        let computed = std::mem::replace(&mut self.digest, Context::new(&SHA256)).finish();
        let mut recorded = [0u8; DIGEST_LEN];
        self.reader
            .read_exact(&mut recorded)
            .map_err(|e| read_error(e, at))?;
        if recorded != computed.as_ref() {
            return Err(SnapshotError::ChecksumMismatch {
                recorded: hex(&recorded),
                computed: hex(computed.as_ref()),
            });
        }
        let mut extra = [0u8; 1];
        match self.reader.read(&mut extra) {
            Ok(0) => Ok(hex(&recorded)),
            Ok(_) => Err(SnapshotError::Invalid(
                "data follows the checksum at the end".into(),
            )),
            Err(e) => Err(read_error(e, at)),
        }
    }

    fn array<const N: usize>(&mut self, at: &str) -> Result<[u8; N]> {
        let mut buf = [0u8; N];
        self.reader
            .read_exact(&mut buf)
            .map_err(|e| read_error(e, at))?;
        self.digest.update(&buf);
        Ok(buf)
    }

    fn bytes(&mut self, len: usize, at: &str) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        // `take` + `read_to_end` grows the buffer with what is really there, so a length field
        // larger than the file costs no more than the file.
        let got = (&mut self.reader)
            .take(len as u64)
            .read_to_end(&mut buf)
            .map_err(|e| read_error(e, at))?;
        if got < len {
            return Err(SnapshotError::Truncated { at: at.to_owned() });
        }
        self.digest.update(&buf);
        Ok(buf)
    }
}

fn not_a_snapshot() -> SnapshotError {
    SnapshotError::NotASnapshot { magic: "SVCPSNAP" }
}

/// An end of file inside a structure is truncation; anything else is an IO error.
fn read_error(e: std::io::Error, at: &str) -> SnapshotError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        SnapshotError::Truncated { at: at.to_owned() }
    } else {
        SnapshotError::Read {
            at: at.to_owned(),
            source: e,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
