//! Snapshot files on disk: written beside the target and renamed over it only once verified, so
//! an interrupted or failed save never leaves a file that looks like a snapshot; read back with
//! full verification.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::error::{Result, SnapshotError};
use super::format::{Decoder, Header};

/// What a verified snapshot file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub header: Header,
    /// The SHA-256 recorded in (and verified against) the file, hex.
    pub sha256: String,
    /// The file's size.
    pub bytes: u64,
}

/// A snapshot file being written. Bytes go to a temporary file in the target's directory;
/// [`SnapshotFile::commit`] verifies it and renames it over the target. Dropped uncommitted,
/// it removes the temporary file.
pub struct SnapshotFile {
    path: PathBuf,
    temp: PathBuf,
    out: Option<BufWriter<File>>,
}

impl SnapshotFile {
    pub fn create(path: &Path) -> Result<SnapshotFile> {
        let name = path.file_name().ok_or_else(|| {
            SnapshotError::Invalid(format!("{} is not a file name", path.display()))
        })?;
        let temp = path.with_file_name(format!(
            ".{}.partial-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file =
            File::create(&temp).map_err(|e| SnapshotError::io("creating", temp.clone(), e))?;
        Ok(SnapshotFile {
            path: path.to_owned(),
            temp,
            out: Some(BufWriter::with_capacity(1 << 20, file)),
        })
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let out = self.out.as_mut().expect("written after commit");
        out.write_all(bytes)
            .map_err(|e| SnapshotError::io("writing", self.temp.clone(), e))
    }

    /// Makes the file durable, verifies it end to end, and puts it in place.
    pub fn commit(mut self) -> Result<Summary> {
        let out = self.out.take().expect("committed twice");
        let file = out
            .into_inner()
            .map_err(|e| SnapshotError::io("writing", self.temp.clone(), e.into_error()))?;
        file.sync_all()
            .map_err(|e| SnapshotError::io("syncing", self.temp.clone(), e))?;
        drop(file);
        let summary = verify(&self.temp)?;
        std::fs::rename(&self.temp, &self.path)
            .map_err(|e| SnapshotError::io("renaming the snapshot to", self.path.clone(), e))?;
        sync_dir(&self.path)?;
        Ok(summary)
    }
}

impl Drop for SnapshotFile {
    fn drop(&mut self) {
        // After a commit the temporary file has been renamed away; this then finds nothing.
        let _ = std::fs::remove_file(&self.temp);
    }
}

/// Makes a rename in `path`'s directory durable.
pub(crate) fn sync_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| SnapshotError::io("syncing the directory", dir, e))
}

/// A decoder over the snapshot file at `path`.
pub(crate) fn open(path: &Path) -> Result<Decoder<BufReader<File>>> {
    let file = File::open(path).map_err(|e| SnapshotError::io("opening", path, e))?;
    Decoder::new(BufReader::with_capacity(1 << 20, file))
}

/// Reads the whole snapshot at `path`, checking its structure, order, count and checksum.
pub fn verify(path: &Path) -> Result<Summary> {
    verify_with(path, |_| Ok(()))
}

/// [`verify`], also checking every entry with `check`.
pub(crate) fn verify_with(
    path: &Path,
    mut check: impl FnMut(&crate::KeyValue) -> Result<()>,
) -> Result<Summary> {
    let mut decoder = open(path)?;
    while let Some(kv) = decoder.next_entry()? {
        check(&kv)?;
    }
    let bytes = std::fs::metadata(path)
        .map_err(|e| SnapshotError::io("reading", path, e))?
        .len();
    Ok(Summary {
        header: decoder.header().clone(),
        sha256: decoder.sha256().unwrap_or_default(),
        bytes,
    })
}
