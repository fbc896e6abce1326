//! The backup catalogue of a server, read-only: every `backup.info` Barman keeps, in both the
//! current location (`<backup_directory>/meta/<ID>-backup.info`, Barman 3.13.2 and later) and
//! the legacy one (`<basebackups_directory>/<ID>/backup.info`); a backup found in both places
//! takes the `meta/` copy, as Barman does.
//!
//! A `backup.info` is one `key=value` line per field; `None` means unset; blank lines and `#`
//! comments are skipped. The backup ID is not a field: it is the file name's prefix in `meta/`
//! and the directory name in the legacy location. Only the fields the monitoring commands need
//! are interpreted; the others are kept as text. A missing catalogue is an empty one.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, Local, NaiveDateTime, TimeZone};

use crate::file_error::FileError;

/// The directory holding `<ID>-backup.info` files, below a server's `backup_directory`.
pub const META_DIRECTORY: &str = "meta";

/// Where a backup is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupStatus {
    /// Created, nothing copied yet.
    Empty,
    /// Being taken.
    Started,
    /// Copied; the WAL needed to make it consistent is not all archived yet.
    WaitingForWals,
    /// Complete.
    Done,
    /// A passive node is copying it from its primary.
    Syncing,
    /// Failed.
    Failed,
}

impl BackupStatus {
    /// Barman's default filter: the backups a restore can use (`WAITING_FOR_WALS`, `DONE`).
    pub const COPY_DONE: &'static [BackupStatus] = &[BackupStatus::WaitingForWals, BackupStatus::Done];

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "EMPTY" => BackupStatus::Empty,
            "STARTED" => BackupStatus::Started,
            "WAITING_FOR_WALS" => BackupStatus::WaitingForWals,
            "DONE" => BackupStatus::Done,
            "SYNCING" => BackupStatus::Syncing,
            "FAILED" => BackupStatus::Failed,
            _ => return None,
        })
    }
}

/// What kind of backup it is, derived from `mode` and `parent_backup_id` as Barman does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupType {
    /// `backup_method = postgres`, not incremental.
    Full,
    /// `backup_method = postgres` on top of a parent backup.
    Incremental,
    /// rsync (remote or local).
    Rsync,
    /// Disk snapshots.
    Snapshot,
}

impl BackupType {
    /// Backups that stand on their own (what minimum redundancy counts).
    pub fn is_standalone(self) -> bool {
        self != BackupType::Incremental
    }
}

/// One `backup.info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    /// The backup ID (`20261125T111641`).
    pub backup_id: String,
    fields: BTreeMap<String, String>,
}

/// Why the catalogue cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A directory or file could not be read.
    #[error(transparent)]
    Io(#[from] FileError),
    /// A file is not in Barman's format.
    #[error("'{}' is not a valid backup.info file: line {line_number} has no '='", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line_number: usize,
    },
    /// A field Barman always writes is missing or unreadable.
    #[error("'{}' has an invalid status {status:?}", path.display())]
    InvalidStatus {
        /// The file.
        path: PathBuf,
        /// The status found (`None` when the field is missing).
        status: Option<String>,
    },
}

impl BackupInfo {
    /// Parses the text of a `backup.info` for backup `backup_id`, read from `path`.
    pub fn parse(backup_id: &str, text: &str, path: &Path) -> Result<Self, CatalogError> {
        let mut fields = BTreeMap::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line.split_once('=').ok_or_else(|| CatalogError::Invalid {
                path: path.to_owned(),
                line_number: index + 1,
            })?;
            let value = value.trim();
            if value != "None" {
                fields.insert(key.trim().to_owned(), value.to_owned());
            }
        }
        let info = BackupInfo {
            backup_id: backup_id.to_owned(),
            fields,
        };
        if BackupStatus::parse(info.get("status").unwrap_or_default()).is_none() {
            return Err(CatalogError::InvalidStatus {
                path: path.to_owned(),
                status: info.get("status").map(str::to_owned),
            });
        }
        Ok(info)
    }

    /// Reads the `backup.info` at `path`.
    pub fn read(backup_id: &str, path: &Path) -> Result<Self, CatalogError> {
        let text = fs::read_to_string(path).map_err(FileError::at("read", path))?;
        Self::parse(backup_id, &text, path)
    }

    /// A field's text; `None` when absent or `None`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    /// `status` (checked when the file was read).
    pub fn status(&self) -> BackupStatus {
        BackupStatus::parse(self.get("status").unwrap_or_default()).unwrap_or(BackupStatus::Failed)
    }

    /// The backup type: `snapshot` and `rsync` modes by prefix, otherwise incremental when it
    /// has a parent, else full.
    pub fn backup_type(&self) -> BackupType {
        let mode = self.get("mode").unwrap_or_default();
        if mode.starts_with("snapshot") {
            BackupType::Snapshot
        } else if mode.starts_with("rsync") || mode.starts_with("local-rsync") {
            BackupType::Rsync
        } else if self.get("parent_backup_id").is_some() {
            BackupType::Incremental
        } else {
            BackupType::Full
        }
    }

    /// `size` in bytes.
    pub fn size(&self) -> Option<u64> {
        self.get("size")?.parse().ok()
    }

    /// `begin_wal`.
    pub fn begin_wal(&self) -> Option<&str> {
        self.get("begin_wal")
    }

    /// `end_wal`.
    pub fn end_wal(&self) -> Option<&str> {
        self.get("end_wal")
    }

    /// `end_time`; a time written without a time zone is local time, as Barman reads it.
    pub fn end_time(&self) -> Option<DateTime<FixedOffset>> {
        parse_python_datetime(self.get("end_time")?)
    }
}

/// Python's `str()` of a `datetime`: `2026-11-25 11:16:42.706765+00:00`, with or without
/// microseconds and offset.
fn parse_python_datetime(text: &str) -> Option<DateTime<FixedOffset>> {
    if let Ok(time) = DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z") {
        return Some(time);
    }
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").ok()?;
    Local.from_local_datetime(&naive).earliest().map(|t| t.fixed_offset())
}

/// Every backup of a server, by ID (IDs sort chronologically).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackupCatalog {
    backups: BTreeMap<String, BackupInfo>,
}

impl BackupCatalog {
    /// Reads the catalogue of the server whose `backup_directory` and `basebackups_directory`
    /// are given.
    pub fn load(backup_directory: &Path, basebackups_directory: &Path) -> Result<Self, CatalogError> {
        let mut backups = BTreeMap::new();
        for entry in read_dir_names(basebackups_directory)? {
            let path = basebackups_directory.join(&entry).join("backup.info");
            match BackupInfo::read(&entry, &path) {
                Ok(info) => {
                    backups.insert(entry, info);
                }
                Err(CatalogError::Io(error))
                    if matches!(
                        error.source.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                    ) => {}
                Err(error) => return Err(error),
            }
        }
        let meta = backup_directory.join(META_DIRECTORY);
        for entry in read_dir_names(&meta)? {
            if let Some(backup_id) = entry.strip_suffix("-backup.info").filter(|id| !id.is_empty()) {
                let info = BackupInfo::read(backup_id, &meta.join(&entry))?;
                backups.insert(backup_id.to_owned(), info);
            }
        }
        Ok(BackupCatalog { backups })
    }

    /// The backups whose status is in `statuses`, oldest first.
    pub fn with_status<'a>(&'a self, statuses: &'a [BackupStatus]) -> impl DoubleEndedIterator<Item = &'a BackupInfo> {
        self.backups.values().filter(|b| statuses.contains(&b.status()))
    }

    /// The newest backup whose status is in `statuses`.
    pub fn last(&self, statuses: &[BackupStatus]) -> Option<&BackupInfo> {
        self.backups.values().rev().find(|b| statuses.contains(&b.status()))
    }
}

/// The names in `directory` (none when it does not exist).
fn read_dir_names(directory: &Path) -> Result<Vec<String>, CatalogError> {
    let entries = match fs::read_dir(directory) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(FileError::at("list", directory)(error).into()),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(FileError::at("list", directory))?;
        if let Ok(name) = entry.file_name().into_string() {
            names.push(name);
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DONE: &str = "backup_label='START WAL LOCATION: 0/A000028'\nbegin_wal=00000001000000000000000A\n\
                        end_time=2026-11-25 11:16:42.706765+00:00\nend_wal=00000001000000000000000A\n\
                        mode=postgres\nparent_backup_id=None\nsize=23227891\nstatus=DONE\n";

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    #[test]
    fn fields_are_read_as_barman_writes_them() {
        let info = BackupInfo::parse("20261125T111641", DONE, Path::new("x")).unwrap();
        assert_eq!(info.status(), BackupStatus::Done);
        assert_eq!(info.backup_type(), BackupType::Full);
        assert_eq!(info.size(), Some(23_227_891));
        assert_eq!(info.get("parent_backup_id"), None);
        assert_eq!(info.begin_wal(), Some("00000001000000000000000A"));
        assert_eq!(
            info.end_time().unwrap().to_rfc3339(),
            "2026-11-25T11:16:42.706765+00:00"
        );
        assert_eq!(
            parse_python_datetime("2026-11-25 11:16:42+02:00").unwrap().to_rfc3339(),
            "2026-11-25T11:16:42+02:00"
        );
        assert!(parse_python_datetime("2026-11-25 11:16:42").is_some());
        let incremental = BackupInfo::parse("b", "status=DONE\nmode=postgres\nparent_backup_id=a\n", Path::new("x"));
        assert_eq!(incremental.unwrap().backup_type(), BackupType::Incremental);
        let rsync = BackupInfo::parse("b", "status=FAILED\nmode=rsync-concurrent\n", Path::new("x")).unwrap();
        assert_eq!(rsync.backup_type(), BackupType::Rsync);
        assert!(matches!(
            BackupInfo::parse("b", "status=WHATEVER\n", Path::new("x")),
            Err(CatalogError::InvalidStatus { .. })
        ));
        assert!(matches!(
            BackupInfo::parse("b", "status=DONE\nbroken\n", Path::new("x")),
            Err(CatalogError::Invalid { line_number: 2, .. })
        ));
    }

    #[test]
    fn both_locations_are_read_and_meta_wins() {
        let dir = tempfile::tempdir().unwrap();
        let (backup, base) = (dir.path().join("pg"), dir.path().join("pg/base"));
        assert_eq!(BackupCatalog::load(&backup, &base).unwrap(), BackupCatalog::default());
        write(&base.join("20260101T000000/backup.info"), "status=FAILED\n");
        write(&base.join("20260102T000000/backup.info"), "status=FAILED\n");
        write(&base.join("20260103T000000/data/PG_VERSION"), "15\n");
        write(&backup.join("meta/20260102T000000-backup.info"), DONE);
        write(
            &backup.join("meta/20260104T000000-backup.info"),
            "status=WAITING_FOR_WALS\n",
        );
        let catalog = BackupCatalog::load(&backup, &base).unwrap();
        let ids = |statuses: &[BackupStatus]| -> Vec<String> {
            catalog.with_status(statuses).map(|b| b.backup_id.clone()).collect()
        };
        assert_eq!(ids(&[BackupStatus::Failed]), ["20260101T000000"]);
        assert_eq!(ids(BackupStatus::COPY_DONE), ["20260102T000000", "20260104T000000"]);
        assert_eq!(
            catalog.last(&[BackupStatus::Done]).unwrap().backup_id,
            "20260102T000000"
        );
        assert_eq!(catalog.last(&[BackupStatus::Started]), None);
    }
}
