//! Where a server's WAL files live, resolved once from its configuration.

use std::path::{Path, PathBuf};

use crate::config::ServerConfig;
use crate::identity::ServerIdentity;
use crate::locks::{LockFile, LockName};
use crate::wal::WalFileName;
use crate::xlogdb::XlogDb;

/// The directories of one server's WAL archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveLayout {
    /// The server name.
    pub server: String,
    /// `backup_directory` (holds `identity.json`).
    pub backup_directory: PathBuf,
    /// `wals_directory`: the archive.
    pub wals: PathBuf,
    /// `incoming_wals_directory`: where put-wal and `archive_command` deliver.
    pub incoming: PathBuf,
    /// `streaming_wals_directory`: where pg_receivewal writes.
    pub streaming: PathBuf,
    /// `errors_directory`: rejected files.
    pub errors: PathBuf,
    /// `xlogdb_directory`: holds `<server>-xlog.db`.
    pub xlogdb_directory: PathBuf,
    /// `barman_lock_directory`.
    pub lock_directory: PathBuf,
}

/// A directory option is unset (written empty or `None`), so the archive cannot be located.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("option '{option}' of server '{server}' is not set, so its WAL archive cannot be located")]
pub struct LayoutError {
    /// The server.
    pub server: String,
    /// The unset option.
    pub option: &'static str,
}

impl ArchiveLayout {
    /// The layout of `server`, with Barman's global `barman_lock_directory`.
    pub fn for_server(server: &ServerConfig, lock_directory: &Path) -> Result<Self, LayoutError> {
        let directory = |option: &'static str| {
            server.path(option).map(Path::to_path_buf).ok_or(LayoutError {
                server: server.name().to_owned(),
                option,
            })
        };
        Ok(ArchiveLayout {
            server: server.name().to_owned(),
            backup_directory: directory("backup_directory")?,
            wals: directory("wals_directory")?,
            incoming: directory("incoming_wals_directory")?,
            streaming: directory("streaming_wals_directory")?,
            errors: directory("errors_directory")?,
            xlogdb_directory: directory("xlogdb_directory")?,
            lock_directory: lock_directory.to_owned(),
        })
    }

    /// Where `name` is stored in the archive: `wals/<hash dir>/<name>`, or `wals/<name>` for
    /// history files.
    pub fn archived_path(&self, name: &WalFileName) -> PathBuf {
        match name.hash_dir() {
            Some(hash_dir) => self.wals.join(hash_dir).join(name.as_str()),
            None => self.wals.join(name.as_str()),
        }
    }

    /// `errors/<name>.<UTC stamp>.<reason>` for a rejected file.
    pub fn error_path(&self, name: &str, reason: &str) -> PathBuf {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        self.errors.join(format!("{name}.{stamp}.{reason}"))
    }

    /// The server's WAL catalogue.
    pub fn xlogdb(&self) -> XlogDb {
        XlogDb::new(&self.xlogdb_directory, &self.lock_directory, &self.server)
    }

    /// `<backup_directory>/identity.json`.
    pub fn identity_path(&self) -> PathBuf {
        ServerIdentity::path(&self.backup_directory)
    }

    /// The path of one of this server's lock files.
    pub fn lock_path(&self, lock: LockName<'_>) -> PathBuf {
        LockFile::path_in(&self.lock_directory, lock)
    }
}

#[cfg(test)]
impl ArchiveLayout {
    /// Barman's default layout of a server `pg` whose `barman_home` is `root`.
    pub(crate) fn for_tests(root: &Path) -> Self {
        ArchiveLayout {
            server: "pg".into(),
            backup_directory: root.join("pg"),
            wals: root.join("pg/wals"),
            incoming: root.join("pg/incoming"),
            streaming: root.join("pg/streaming"),
            errors: root.join("pg/errors"),
            xlogdb_directory: root.join("pg/wals"),
            lock_directory: root.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archived_paths_follow_barman_hash_directories() {
        let layout = ArchiveLayout::for_tests(Path::new("/b"));
        let name = |text: &str| WalFileName::parse(text).unwrap();
        assert_eq!(
            layout.archived_path(&name("0000000a0000000b000000fe")),
            Path::new("/b/pg/wals/0000000A0000000B/0000000a0000000b000000fe")
        );
        assert_eq!(
            layout.archived_path(&name("000000010000000000000002.00000028.backup")),
            Path::new("/b/pg/wals/0000000100000000/000000010000000000000002.00000028.backup")
        );
        assert_eq!(
            layout.archived_path(&name("00000002.history")),
            Path::new("/b/pg/wals/00000002.history")
        );
    }

    #[test]
    fn error_paths_carry_a_utc_stamp_and_reason() {
        let layout = ArchiveLayout::for_tests(Path::new("/b"));
        let path = layout.error_path("x", "unknown");
        let file_name = path.file_name().unwrap().to_str().unwrap();
        assert!(path.starts_with("/b/pg/errors"));
        assert_eq!(file_name.len(), "x.20260101T000000Z.unknown".len(), "{file_name}");
        assert!(file_name.starts_with("x.2") && file_name.ends_with("Z.unknown"));
    }
}
