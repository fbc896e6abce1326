//! The Barman processes working for a server, known by the lock files they hold
//! (`list-processes`), and their termination (`terminate-process`, `receive-wal --stop`, cron).
//!
//! A process is listed when its lock file in `barman_lock_directory` is held; the PID is the one
//! its holder wrote. The tasks are Barman's: `receive-wal`, `sync-backup`, `backup`, `cron`,
//! `archive-wal`, `sync-wal`. Lock file names are matched exactly against the server name, so
//! the processes of server `pg-2` are never listed for server `pg`. Terminating sends SIGINT,
//! Barman's signal for a graceful stop, then waits for the process to be gone.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::locks::{LockError, LockFile};

/// The tasks a server's processes can perform, in the order they are listed.
pub const TASKS: [&str; 6] = [
    "receive-wal",
    "sync-backup",
    "backup",
    "cron",
    "archive-wal",
    "sync-wal",
];

/// How long a terminated process is waited for, as Barman does (ten checks a second apart).
pub const TERMINATION_WAIT: Duration = Duration::from_secs(10);

/// A running Barman process of a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerProcess {
    /// Its PID.
    pub pid: u32,
    /// What it does (one of [`TASKS`]).
    pub task: &'static str,
}

/// Why the processes could not be listed or signalled.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The lock directory cannot be read.
    #[error("cannot read the lock directory '{}': {source}", path.display())]
    LockDirectory {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A lock file cannot be read.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The signal could not be sent (other than to a process already gone).
    #[error("cannot send SIGINT to process {pid}: {errno}")]
    Signal {
        /// The process.
        pid: u32,
        /// The system's reason.
        errno: Errno,
    },
}

/// The outcome of a termination request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Termination {
    /// The process received SIGINT and is gone.
    Stopped(ServerProcess),
    /// The process received SIGINT but still runs after the wait.
    StillRunning(ServerProcess),
    /// No process of that task runs for the server.
    NotRunning,
}

/// The running processes of `server`, in [`TASKS`] order then by PID. Lock files whose content
/// is not a PID are left out and returned apart, for a warning.
pub fn list(lock_directory: &Path, server: &str) -> Result<(Vec<ServerProcess>, Vec<LockError>), ProcessError> {
    let entries = std::fs::read_dir(lock_directory).map_err(|source| ProcessError::LockDirectory {
        path: lock_directory.to_owned(),
        source,
    })?;
    let mut processes = Vec::new();
    let mut unreadable = Vec::new();
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(task) = file_name.to_str().and_then(|name| task_of(name, server)) else {
            continue;
        };
        match LockFile::holder_pid(&entry.path()) {
            Ok(Some(pid)) => processes.push(ServerProcess { pid, task }),
            Ok(None) => {}
            Err(error @ LockError::InvalidPid { .. }) => unreadable.push(error),
            Err(error) => return Err(error.into()),
        }
    }
    processes.sort_by_key(|process| (TASKS.iter().position(|task| *task == process.task), process.pid));
    Ok((processes, unreadable))
}

/// Sends SIGINT to the first running process of `task` for `server` and waits up to `wait`
/// for it to end.
pub fn terminate(lock_directory: &Path, server: &str, task: &str, wait: Duration) -> Result<Termination, ProcessError> {
    let (processes, _) = list(lock_directory, server)?;
    let Some(process) = processes.into_iter().find(|process| process.task == task) else {
        return Ok(Termination::NotRunning);
    };
    let pid = Pid::from_raw(i32::try_from(process.pid).unwrap_or(i32::MAX));
    match kill(pid, Signal::SIGINT) {
        Ok(()) => {}
        Err(Errno::ESRCH) => return Ok(Termination::Stopped(process)),
        Err(errno) => {
            return Err(ProcessError::Signal {
                pid: process.pid,
                errno,
            })
        }
    }
    let deadline = Instant::now() + wait;
    loop {
        if !is_alive(pid) {
            return Ok(Termination::Stopped(process));
        }
        if Instant::now() >= deadline {
            return Ok(Termination::StillRunning(process));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether `pid` runs: it exists and is not a zombie waiting for its parent to reap it.
fn is_alive(pid: Pid) -> bool {
    if kill(pid, None) == Err(Errno::ESRCH) {
        return false;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The state follows the parenthesised command name, which may itself contain spaces.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    state != Some("Z")
}

/// The task of lock file `file_name` if it is one of `server`'s.
fn task_of(file_name: &str, server: &str) -> Option<&'static str> {
    let rest = file_name
        .strip_prefix('.')?
        .strip_prefix(server)?
        .strip_prefix('-')?
        .strip_suffix(".lock")?;
    if let Some(task) = TASKS.iter().find(|task| **task == rest && **task != "sync-backup") {
        return Some(task);
    }
    rest.strip_suffix("-sync-backup")
        .filter(|backup_id| !backup_id.is_empty())
        .map(|_| "sync-backup")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locks::LockName;

    #[test]
    fn lock_files_are_matched_to_their_server_exactly() {
        assert_eq!(task_of(".pg-receive-wal.lock", "pg"), Some("receive-wal"));
        assert_eq!(task_of(".pg-archive-wal.lock", "pg"), Some("archive-wal"));
        assert_eq!(
            task_of(".pg-20260101T000000-sync-backup.lock", "pg"),
            Some("sync-backup")
        );
        assert_eq!(task_of(".pg-sync-backup.lock", "pg"), None);
        assert_eq!(task_of(".pg-2-cron.lock", "pg"), None);
        assert_eq!(task_of(".pg-2-cron.lock", "pg-2"), Some("cron"));
        assert_eq!(task_of(".pg-xlogdb.lock", "pg"), None);
        assert_eq!(task_of(".pg-20260101T000000.lock", "pg"), None);
    }

    #[test]
    fn only_held_locks_are_listed_and_a_missing_process_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let _cron = LockFile::try_acquire(dir.path(), LockName::Cron("pg"))
            .unwrap()
            .unwrap();
        let _receive = LockFile::try_acquire(dir.path(), LockName::ReceiveWal("pg"))
            .unwrap()
            .unwrap();
        drop(LockFile::try_acquire(dir.path(), LockName::ArchiveWal("pg")).unwrap());
        let _other = LockFile::try_acquire(dir.path(), LockName::Cron("pg-2"))
            .unwrap()
            .unwrap();
        let (processes, unreadable) = list(dir.path(), "pg").unwrap();
        let pid = std::process::id();
        assert_eq!(
            processes,
            [
                ServerProcess {
                    pid,
                    task: "receive-wal"
                },
                ServerProcess { pid, task: "cron" },
            ]
        );
        assert!(unreadable.is_empty());
        assert_eq!(
            terminate(dir.path(), "pg", "archive-wal", Duration::ZERO).unwrap(),
            Termination::NotRunning
        );
    }
}
