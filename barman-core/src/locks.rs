//! Barman's lock files: `flock`ed files in `barman_lock_directory`, one per server and task.
//!
//! The names and the protocol are Barman's, so this implementation and Barman exclude each
//! other: the file is opened (created with mode 0600), locked exclusively with `flock`, then
//! truncated and the holder's PID written as `<pid>\n` (which `list-processes` reads). The
//! lock is released when the [`LockFile`] is dropped; the file itself stays, as with Barman
//! (`lock-directory-cleanup` removes unused ones). [`LockFile::holder_pid`] reads the PID of a
//! held lock, as `list-processes` and `terminate-process` do.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Every lock file Barman defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockName<'a> {
    /// `.<server>-cron.lock`: one `cron` pass per server at a time.
    Cron(&'a str),
    /// `.<server>-archive-wal.lock`: one `archive-wal` per server.
    ArchiveWal(&'a str),
    /// `.<server>-receive-wal.lock`: held for the life of pg_receivewal.
    ReceiveWal(&'a str),
    /// `.<server>-backup.lock`: `backup` and `delete`.
    Backup(&'a str),
    /// `.<server>-<backup id>.lock`: operations on one backup.
    BackupId(&'a str, &'a str),
    /// `.<server>-xlogdb.lock`: access to the WAL catalogue.
    XlogDb(&'a str),
    /// `.<server>-<backup id>-sync-backup.lock`: passive node copying a backup.
    SyncBackup(&'a str, &'a str),
    /// `.<server>-sync-wal.lock`: passive node copying WAL.
    SyncWal(&'a str),
    /// `.cron.lock`: global (defined by Barman, unused).
    GlobalCron,
    /// `.config-update.lock`: `config-update`.
    ConfigUpdate,
}

impl LockName<'_> {
    /// The file name in the lock directory.
    pub fn file_name(&self) -> String {
        match self {
            LockName::Cron(server) => format!(".{server}-cron.lock"),
            LockName::ArchiveWal(server) => format!(".{server}-archive-wal.lock"),
            LockName::ReceiveWal(server) => format!(".{server}-receive-wal.lock"),
            LockName::Backup(server) => format!(".{server}-backup.lock"),
            LockName::BackupId(server, id) => format!(".{server}-{id}.lock"),
            LockName::XlogDb(server) => format!(".{server}-xlogdb.lock"),
            LockName::SyncBackup(server, id) => format!(".{server}-{id}-sync-backup.lock"),
            LockName::SyncWal(server) => format!(".{server}-sync-wal.lock"),
            LockName::GlobalCron => ".cron.lock".to_owned(),
            LockName::ConfigUpdate => ".config-update.lock".to_owned(),
        }
    }
}

/// A lock could not be taken for a reason other than another holder.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The lock file cannot be created or opened with the current user's rights.
    #[error("Permission denied, unable to access '{}'", path.display())]
    PermissionDenied {
        /// The lock file.
        path: PathBuf,
    },
    /// A held lock file whose first line is not a PID.
    #[error("Error reading the PID from lock file '{}': '{content}' is not a PID", path.display())]
    InvalidPid {
        /// The lock file.
        path: PathBuf,
        /// Its first line.
        content: String,
    },
    /// Any other failure.
    #[error("cannot lock '{}': {source}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// A held lock; released on drop.
#[derive(Debug)]
pub struct LockFile {
    // Closing the descriptor releases the flock.
    _file: File,
    path: PathBuf,
}

impl LockFile {
    /// The path of `lock` in `lock_directory`.
    pub fn path_in(lock_directory: &Path, lock: LockName<'_>) -> PathBuf {
        lock_directory.join(lock.file_name())
    }

    /// Takes the lock if nobody holds it; `Ok(None)` when another process does.
    pub fn try_acquire(lock_directory: &Path, lock: LockName<'_>) -> Result<Option<Self>, LockError> {
        let path = Self::path_in(lock_directory, lock);
        let file = open(&path)?;
        match file.try_lock() {
            Ok(()) => Self::held(file, path).map(Some),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(source)) => Err(lock_error(path, source)),
        }
    }

    /// Takes the lock, waiting for the current holder to release it.
    pub fn acquire(lock_directory: &Path, lock: LockName<'_>) -> Result<Self, LockError> {
        let path = Self::path_in(lock_directory, lock);
        let file = open(&path)?;
        match file.lock() {
            Ok(()) => Self::held(file, path),
            Err(source) => Err(lock_error(path, source)),
        }
    }

    /// Whether another process holds `lock` right now (checked by taking and releasing it).
    pub fn is_busy(lock_directory: &Path, lock: LockName<'_>) -> Result<bool, LockError> {
        Ok(Self::try_acquire(lock_directory, lock)?.is_none())
    }

    /// The PID of the process holding the lock file at `path`, as it wrote it; `None` when
    /// the file does not exist or nobody holds it. The file is neither created nor rewritten.
    pub fn holder_pid(path: &Path) -> Result<Option<u32>, LockError> {
        let mut file = match OpenOptions::new().read(true).open(path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(lock_error(path.to_owned(), source)),
        };
        match file.try_lock() {
            // Taken: nobody held it; closing the file releases it again.
            Ok(()) => Ok(None),
            Err(TryLockError::WouldBlock) => {
                let mut content = String::new();
                file.read_to_string(&mut content)
                    .map_err(|source| lock_error(path.to_owned(), source))?;
                let first_line = content.lines().next().unwrap_or_default().trim();
                first_line.parse().map(Some).map_err(|_| LockError::InvalidPid {
                    path: path.to_owned(),
                    content: first_line.to_owned(),
                })
            }
            Err(TryLockError::Error(source)) => Err(lock_error(path.to_owned(), source)),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn held(mut file: File, path: PathBuf) -> Result<Self, LockError> {
        let pid_line = format!("{}\n", std::process::id());
        let written = file.set_len(0).and_then(|()| file.write_all(pid_line.as_bytes()));
        match written {
            Ok(()) => Ok(LockFile { _file: file, path }),
            Err(source) => Err(lock_error(path, source)),
        }
    }
}

fn open(path: &Path) -> Result<File, LockError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|source| lock_error(path.to_owned(), source))
}

fn lock_error(path: PathBuf, source: io::Error) -> LockError {
    if source.kind() == io::ErrorKind::PermissionDenied {
        LockError::PermissionDenied { path }
    } else {
        LockError::Io { path, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_barman() {
        assert_eq!(LockName::Cron("pg").file_name(), ".pg-cron.lock");
        assert_eq!(LockName::ArchiveWal("pg").file_name(), ".pg-archive-wal.lock");
        assert_eq!(LockName::ReceiveWal("pg").file_name(), ".pg-receive-wal.lock");
        assert_eq!(LockName::Backup("pg").file_name(), ".pg-backup.lock");
        assert_eq!(
            LockName::BackupId("pg", "20260101T000000").file_name(),
            ".pg-20260101T000000.lock"
        );
        assert_eq!(LockName::XlogDb("pg").file_name(), ".pg-xlogdb.lock");
        assert_eq!(
            LockName::SyncBackup("pg", "20260101T000000").file_name(),
            ".pg-20260101T000000-sync-backup.lock"
        );
        assert_eq!(LockName::SyncWal("pg").file_name(), ".pg-sync-wal.lock");
        assert_eq!(LockName::GlobalCron.file_name(), ".cron.lock");
        assert_eq!(LockName::ConfigUpdate.file_name(), ".config-update.lock");
    }

    #[test]
    fn a_held_lock_excludes_others_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let lock = LockName::ArchiveWal("pg");
        let held = LockFile::try_acquire(dir.path(), lock).unwrap().unwrap();
        assert_eq!(
            std::fs::read_to_string(held.path()).unwrap(),
            format!("{}\n", std::process::id())
        );
        // flock locks belong to the open file description, so a second open conflicts even
        // within one process.
        assert!(LockFile::try_acquire(dir.path(), lock).unwrap().is_none());
        assert!(LockFile::is_busy(dir.path(), lock).unwrap());
        drop(held);
        assert!(!LockFile::is_busy(dir.path(), lock).unwrap());
        let again = LockFile::acquire(dir.path(), lock).unwrap();
        assert!(again.path().exists());
    }

    #[test]
    fn lock_files_are_private_and_keep_a_single_pid() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = LockFile::path_in(dir.path(), LockName::XlogDb("pg"));
        std::fs::write(&path, "123456789012\nleftover\n").unwrap();
        let held = LockFile::acquire(dir.path(), LockName::XlogDb("pg")).unwrap();
        assert_eq!(
            std::fs::read_to_string(held.path()).unwrap(),
            format!("{}\n", std::process::id())
        );
        drop(held);
        let fresh = LockFile::path_in(dir.path(), LockName::Cron("pg"));
        drop(LockFile::acquire(dir.path(), LockName::Cron("pg")).unwrap());
        assert_eq!(std::fs::metadata(fresh).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn the_holder_pid_is_read_only_from_a_held_lock() {
        let dir = tempfile::tempdir().unwrap();
        let lock = LockName::ReceiveWal("pg");
        let path = LockFile::path_in(dir.path(), lock);
        assert_eq!(LockFile::holder_pid(&path).unwrap(), None);
        let held = LockFile::try_acquire(dir.path(), lock).unwrap().unwrap();
        assert_eq!(LockFile::holder_pid(&path).unwrap(), Some(std::process::id()));
        drop(held);
        assert_eq!(LockFile::holder_pid(&path).unwrap(), None);
        std::fs::write(&path, "not a pid\n").unwrap();
        let file = File::open(&path).unwrap();
        file.try_lock().unwrap();
        let err = LockFile::holder_pid(&path).unwrap_err();
        assert!(matches!(err, LockError::InvalidPid { .. }), "{err}");
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = LockFile::try_acquire(&dir.path().join("missing"), LockName::Cron("pg")).unwrap_err();
        assert!(matches!(err, LockError::Io { .. }), "{err}");
    }
}
