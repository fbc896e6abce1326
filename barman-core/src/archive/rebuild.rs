//! `barman rebuild-xlogdb`: rewrite a server's WAL catalogue from what `wals/` holds.
//!
//! The scan follows Barman: entries sorted by name; hash directories hold segments and backup
//! labels (anything else is skipped, `*.tmp` leftovers included); the top level holds timeline
//! history files. Compression is identified again from each file's magic bytes. Encryption is
//! not detected (this implementation does not write encrypted WAL), so it is always `None`.
//! The catalogue lock is held for the whole scan, so no archiver appends in between.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::content::StoredFile;
use super::ArchiveLayout;
use crate::file_error::FileError;
use crate::wal::{WalFileKind, WalFileName};
use crate::xlogdb::{mtime_seconds, XlogDb, XlogDbEntry, XlogDbError};

/// The catalogue written before Barman 3.13, removed when the new one is first created.
const LEGACY_XLOGDB_NAME: &str = "xlog.db";

/// What a rebuild found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RebuildReport {
    /// Timeline history files catalogued.
    pub history: usize,
    /// Backup label files catalogued.
    pub backup_labels: usize,
    /// WAL segments catalogued.
    pub wal_files: usize,
    /// Entries left out, with why (Barman logs them as warnings).
    pub skipped: Vec<SkippedFile>,
}

/// An entry of `wals/` that is not catalogued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedFile {
    /// Where it is.
    pub path: PathBuf,
    /// Barman's wording: `unexpected directory`, `temporary file` or `unexpected file`.
    pub reason: &'static str,
}

/// Why the catalogue could not be rebuilt.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// Scanning the archive failed.
    #[error(transparent)]
    Scan(#[from] FileError),
    /// The catalogue itself could not be written.
    #[error(transparent)]
    XlogDb(#[from] XlogDbError),
}

/// Rewrites the catalogue of the server laid out as `layout` from the content of `wals/`.
pub fn rebuild_xlogdb(layout: &ArchiveLayout) -> Result<RebuildReport, RebuildError> {
    let db = layout.xlogdb();
    if !db.exists() {
        fs::create_dir_all(&layout.xlogdb_directory)
            .map_err(FileError::at("create directory", &layout.xlogdb_directory))?;
        let legacy = layout.wals.join(LEGACY_XLOGDB_NAME);
        match fs::remove_file(&legacy) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => {
                return Err(FileError::at("remove", &legacy)(err).into())
            }
            _ => {}
        }
    }
    let locked = db.lock()?;
    let mut report = RebuildReport::default();
    let mut entries = Vec::new();
    let catalogue_name = XlogDb::file_name(&layout.server);
    for (name, path) in sorted_entries(&layout.wals).map_err(FileError::at("list", &layout.wals))? {
        if name.starts_with(&catalogue_name) {
            continue;
        }
        if path.is_dir() {
            for (file_name, file_path) in sorted_entries(&path).map_err(FileError::at("list", &path))? {
                scan_hash_dir_entry(&file_name, file_path, &mut report, &mut entries)?;
            }
        } else if WalFileName::parse(&name).is_ok_and(|wal| wal.kind() == WalFileKind::History) {
            report.history += 1;
            entries.push(catalogue_entry(&name, &path)?);
        } else {
            report.skipped.push(SkippedFile {
                path,
                reason: "unexpected file",
            });
        }
    }
    locked.replace(&entries)?;
    Ok(report)
}

fn scan_hash_dir_entry(
    name: &str,
    path: PathBuf,
    report: &mut RebuildReport,
    entries: &mut Vec<XlogDbEntry>,
) -> Result<(), RebuildError> {
    let kind = WalFileName::parse(name).ok().map(|wal| wal.kind());
    let skipped = if path.is_dir() {
        Some("unexpected directory")
    } else {
        match kind {
            Some(WalFileKind::Segment) => {
                report.wal_files += 1;
                None
            }
            Some(WalFileKind::BackupLabel { .. }) => {
                report.backup_labels += 1;
                None
            }
            _ if name.ends_with(".tmp") => Some("temporary file"),
            _ => Some("unexpected file"),
        }
    };
    match skipped {
        Some(reason) => report.skipped.push(SkippedFile { path, reason }),
        None => entries.push(catalogue_entry(name, &path)?),
    }
    Ok(())
}

/// The catalogue line of a stored file, from its metadata and magic bytes.
fn catalogue_entry(name: &str, path: &Path) -> Result<XlogDbEntry, RebuildError> {
    let metadata = fs::metadata(path).map_err(FileError::at("read", path))?;
    let compression = StoredFile::open(path).map_err(FileError::at("read", path))?.compression;
    Ok(XlogDbEntry {
        name: name.to_owned(),
        size: metadata.len(),
        time: mtime_seconds(&metadata),
        compression: compression.map(|kind| kind.name().to_owned()),
        encryption: None,
    })
}

/// The entries of `dir` sorted by name; none when it does not exist.
fn sorted_entries(dir: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    let read = match fs::read_dir(dir) {
        Ok(read) => read,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let mut entries = read
        .map(|entry| entry.map(|entry| (entry.file_name().to_string_lossy().into_owned(), entry.path())))
        .collect::<io::Result<Vec<_>>>()?;
    entries.sort();
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compression::{compress, CompressionKind, CompressionLevel};

    #[test]
    fn catalogues_segments_labels_and_history_and_skips_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let layout = ArchiveLayout::for_tests(dir.path());
        let hash_dir = layout.wals.join("0000000100000000");
        fs::create_dir_all(hash_dir.join("nested")).unwrap();
        let mut gzipped = Vec::new();
        compress(
            CompressionKind::Gzip,
            CompressionLevel::Low,
            &[0u8; 1000][..],
            &mut gzipped,
        )
        .unwrap();
        fs::write(hash_dir.join("000000010000000000000003"), &gzipped).unwrap();
        fs::write(hash_dir.join("000000010000000000000002"), b"plain").unwrap();
        fs::write(hash_dir.join("000000010000000000000002.00000028.backup"), b"label").unwrap();
        fs::write(hash_dir.join("000000010000000000000004.tmp"), b"x").unwrap();
        fs::write(hash_dir.join("000000010000000000000005.partial"), b"x").unwrap();
        fs::write(
            layout.wals.join("00000002.history"),
            b"1\t0/3000000\tno recovery target\n",
        )
        .unwrap();
        fs::write(layout.wals.join("stray"), b"x").unwrap();
        fs::write(layout.wals.join(LEGACY_XLOGDB_NAME), b"old").unwrap();

        let report = rebuild_xlogdb(&layout).unwrap();
        assert_eq!((report.history, report.backup_labels, report.wal_files), (1, 1, 2));
        let skipped: Vec<(String, &str)> = report
            .skipped
            .iter()
            .map(|s| (s.path.file_name().unwrap().to_string_lossy().into_owned(), s.reason))
            .collect();
        assert_eq!(
            skipped,
            [
                ("000000010000000000000004.tmp".to_owned(), "temporary file"),
                ("000000010000000000000005.partial".to_owned(), "unexpected file"),
                ("nested".to_owned(), "unexpected directory"),
                ("stray".to_owned(), "unexpected file"),
            ]
        );
        assert!(!layout.wals.join(LEGACY_XLOGDB_NAME).exists());
        let entries = layout.xlogdb().lock().unwrap().read().unwrap();
        let summary: Vec<(&str, u64, Option<&str>)> = entries
            .iter()
            .map(|e| (e.name.as_str(), e.size, e.compression.as_deref()))
            .collect();
        assert_eq!(
            summary,
            [
                ("000000010000000000000002", 5, None),
                ("000000010000000000000002.00000028.backup", 5, None),
                ("000000010000000000000003", gzipped.len() as u64, Some("gzip")),
                ("00000002.history", 31, None),
            ]
        );
    }

    #[test]
    fn an_empty_archive_gives_an_empty_catalogue() {
        let dir = tempfile::tempdir().unwrap();
        let layout = ArchiveLayout::for_tests(dir.path());
        assert_eq!(rebuild_xlogdb(&layout).unwrap(), RebuildReport::default());
        assert_eq!(fs::read(layout.xlogdb().path()).unwrap(), b"");
    }
}
