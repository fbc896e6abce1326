//! `cron`: the periodic maintenance Barman's packages run every minute.
//!
//! For every server that is not disabled, in name order, under the server's
//! `.<server>-cron.lock`:
//!
//! * an inactive server only gets its lingering receive-wal stopped (`Server 'X' is inactive:
//!   stopping receive-wal subprocess`);
//! * unless an archive-wal already runs, `Starting WAL archiving for server X` and
//!   `barman -c <config> -q archive-wal X` is started;
//! * with `streaming_archiver = on`, unless a receive-wal already runs, `Starting streaming
//!   archiver for server X` and `barman -c <config> -q receive-wal X` is started; with it off,
//!   a running receive-wal is stopped.
//!
//! Sub-processes run in their own session, detached (standard streams on `/dev/null` unless
//! `--keep-descriptors`), as Barman starts them.
//!
//! The other duties of Barman's cron are not part of this release: `check-backup` of backups
//! waiting for WAL, retention policies, passive-node synchronisation, the configuration-changes
//! queue and the removal of unused lock files.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use barman_core::config::{Config, ServerConfig};
use barman_core::locks::{LockFile, LockName};
use barman_core::processes;
use barman_core::receive_wal::WalConninfo;

use super::processes::terminate;
use super::select_servers;
use crate::output::Output;

/// `cron [--keep-descriptors]`.
pub fn cron(config: &Config, keep_descriptors: bool, out: &mut Output) {
    let Some(servers) = select_servers(config, &["all".to_owned()], out) else {
        return;
    };
    let lock_directory = &config.global().barman_lock_directory;
    let mut eligible = Vec::new();
    for (name, server) in servers {
        let Some(server) = server else { continue };
        if let Some(notice) = WalConninfo::of(server).and_then(|wal| wal.overrides_notice()) {
            out.info(&notice);
        }
        if server.disabled() {
            out.info(&format!("Skipping temporarily disabled server '{name}'"));
        } else {
            eligible.push(server);
        }
    }
    for server in eligible {
        let name = server.name();
        let _cron_lock = match LockFile::try_acquire(lock_directory, LockName::Cron(name)) {
            Ok(Some(lock)) => lock,
            Ok(None) => {
                out.info(&format!(
                    "Another cron process is already running on server {name}. Skipping to the next server"
                ));
                continue;
            }
            Err(error) => {
                out.error(&error.to_string());
                continue;
            }
        };
        if !server.active() {
            stop_inactive_receiver(config, name, out);
            continue;
        }
        let archiving = start_unless_running(config, server, Task::ArchiveWal, keep_descriptors, out);
        if archiving == Some(false) {
            out.info(&format!(
                "Another archive-wal process is already running on server {name}. Skipping to the next server"
            ));
        }
        if server.streaming_archiver() {
            if start_unless_running(config, server, Task::ReceiveWal, keep_descriptors, out) == Some(false) {
                log::debug!("Another STREAMING ARCHIVER process is running for server {name}");
            }
        } else {
            terminate(config, name, "receive-wal", false, out);
        }
    }
}

/// A sub-command cron starts.
#[derive(Clone, Copy)]
enum Task {
    ArchiveWal,
    ReceiveWal,
}

/// Starts `task` for `server` unless its lock is held: `Some(true)` when started,
/// `Some(false)` when it already runs, `None` on an error (reported).
fn start_unless_running(
    config: &Config,
    server: &ServerConfig,
    task: Task,
    keep_descriptors: bool,
    out: &mut Output,
) -> Option<bool> {
    let name = server.name();
    let (lock, command, announcement) = match task {
        Task::ArchiveWal => (
            LockName::ArchiveWal(name),
            "archive-wal",
            format!("Starting WAL archiving for server {name}"),
        ),
        Task::ReceiveWal => (
            LockName::ReceiveWal(name),
            "receive-wal",
            format!("Starting streaming archiver for server {name}"),
        ),
    };
    match LockFile::is_busy(&config.global().barman_lock_directory, lock) {
        Ok(true) => Some(false),
        Ok(false) => {
            out.info(&announcement);
            match start_detached(config, &[command, name], keep_descriptors) {
                Ok(()) => Some(true),
                Err(error) => {
                    out.error_with_hint(
                        &format!("Cannot start {command} for server {name}: {error}"),
                        &format!("run 'barman {command} {name}' by hand to see what fails"),
                    );
                    None
                }
            }
        }
        Err(error) => {
            out.error(&error.to_string());
            None
        }
    }
}

/// An inactive server must not keep streaming: its receive-wal, if any, is stopped.
fn stop_inactive_receiver(config: &Config, name: &str, out: &mut Output) {
    let lock_directory = &config.global().barman_lock_directory;
    let running = processes::list(lock_directory, name)
        .is_ok_and(|(list, _)| list.iter().any(|process| process.task == "receive-wal"));
    if running {
        out.info(&format!("Server '{name}' is inactive: stopping receive-wal subprocess"));
        terminate(config, name, "receive-wal", false, out);
    }
}

/// Starts this barman, quiet, on the same configuration file, in a new session so that it
/// outlives cron and no terminal signal reaches it.
fn start_detached(config: &Config, args: &[&str], keep_descriptors: bool) -> std::io::Result<()> {
    let mut command = Command::new(std::env::current_exe()?);
    command.arg("-c").arg(config.path()).arg("-q").args(args);
    if !keep_descriptors {
        command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    }
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| nix::unistd::setsid().map(drop).map_err(std::io::Error::from));
    }
    // The child is not waited for: once cron exits it is adopted by init, like Barman's.
    command.spawn().map(drop)
}
