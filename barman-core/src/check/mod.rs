//! `barman check`: every prerequisite of a server, as a list of named results in Barman's order
//! and with Barman's names, so that monitoring scripts written for Barman read them unchanged.
//!
//! Each [`CheckResult`] is OK or FAILED, with an optional hint and, for `backup minimum size`
//! and `wal size`, Nagios performance data. Where Barman gives a hint it comes first, word for
//! word; every failure then says what to change: the PostgreSQL setting and its value, the
//! `GRANT` statements the role lacks, the package to install, the `.pgpass` line, the command to
//! run. Some checks are reported only when they fail, as in Barman.
//!
//! The order follows Barman 3.20: WAL archive (which, on an empty catalogue, archives what waits
//! and switches a WAL to prove that archiving works), incoming and streaming queues, PostgreSQL
//! and its privileges, streaming connection, `wal_level`, standby checks, replication slot,
//! directories (created when missing), retention policy, backup and WAL age and size,
//! compression, failed backups, minimum redundancy, the backup method's checks (pg_basebackup,
//! or ssh for rsync), configuration errors, system identifier coherence, the WAL archivers
//! (pg_receivewal and receive-wal for streaming, `archive_mode`, `archive_command` and
//! `pg_stat_archiver` for file archiving), and files in `errors/`.
//!
//! What needs the network or other programs is started at once, in parallel (the PostgreSQL
//! session, the replication session, the client tools' `--version`, the `ssh` test), while the
//! local checks run; results are then reported in order as soon as each is known. The backup
//! catalogue and the WAL catalogue are read once each, the latter streamed, and `wals/` is never
//! listed. The whole server check is bounded by `check_timeout`: when it expires the results so
//! far stand and `check timeout` fails; the unfinished work is abandoned in its thread.

mod backups;
mod executor;
mod live;
mod local;
mod postgres;

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::catalog::BackupCatalog;
use crate::config::ServerConfig;
use crate::human::human_duration;
use crate::postgres::ClientEnvironment;

/// Whether a check passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStatus {
    /// Passed.
    Ok,
    /// Failed: the server cannot be backed up or archived as configured.
    Failed,
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// Barman's name for the check (`wal_level`, `superuser or standard user with backup
    /// privileges`, ...).
    pub name: String,
    /// Whether it passed.
    pub status: CheckStatus,
    /// What was found or what to change.
    pub hint: Option<String>,
    /// Nagios performance data in bytes (`backup minimum size`, `wal size`).
    pub perfdata: Option<u64>,
    /// Lines Barman prints below the result (the reasons of a `configuration` failure).
    pub details: Vec<String>,
}

impl CheckResult {
    /// A passed check.
    pub fn ok(name: &str, hint: Option<String>) -> Self {
        Self::new(name, CheckStatus::Ok, hint)
    }

    /// A failed check; `hint` says what to change.
    pub fn failed(name: &str, hint: String) -> Self {
        Self::new(name, CheckStatus::Failed, Some(hint))
    }

    fn new(name: &str, status: CheckStatus, hint: Option<String>) -> Self {
        CheckResult {
            name: name.to_owned(),
            status,
            hint,
            perfdata: None,
            details: Vec::new(),
        }
    }

    /// OK without a hint when `passed`; otherwise FAILED with Barman's hint and the advice.
    fn verdict(name: &str, passed: bool, barman: &str, advice: &str) -> Self {
        if passed {
            Self::ok(name, None)
        } else {
            Self::failed(name, hint(barman, advice))
        }
    }

    fn with_perfdata(mut self, bytes: u64) -> Self {
        self.perfdata = Some(bytes);
        self
    }

    /// Whether the check failed.
    pub fn failed_check(&self) -> bool {
        self.status == CheckStatus::Failed
    }
}

/// Barman's hint first, unchanged (scripts match it), then what to do.
fn hint(barman: &str, advice: &str) -> String {
    format!("{barman}; {advice}")
}

/// What the checks need from the process.
#[derive(Debug, Clone)]
pub struct CheckEnvironment {
    /// What libpq would read: `PG*` variables, home directory (`.pgpass`), OS user.
    pub client: ClientEnvironment,
    /// `PATH`, searched after `path_prefix` for the client tools and `ssh`.
    pub path: String,
    /// `barman_lock_directory`.
    pub lock_directory: PathBuf,
}

impl CheckEnvironment {
    /// The current process's environment, with Barman's lock directory.
    pub fn from_process(lock_directory: PathBuf) -> Self {
        CheckEnvironment {
            client: ClientEnvironment::from_process(),
            path: std::env::var("PATH").unwrap_or_default(),
            lock_directory,
        }
    }
}

/// The name of the failure reported when `check_timeout` expires.
pub const TIMEOUT_CHECK: &str = "check timeout";

/// What the worker reports to the caller's thread.
enum Event {
    /// A check is starting (named in the timeout hint if it never ends).
    Started(String),
    /// A check's result.
    Result(CheckResult),
}

/// Runs every check of `server`, handing each result to `report` as soon as it is known, in
/// Barman's order. `timeout` (Barman's `check_timeout`; `None` or zero: no limit) bounds the
/// whole run.
pub fn check_server(
    server: &ServerConfig,
    environment: &CheckEnvironment,
    timeout: Option<Duration>,
    report: &mut dyn FnMut(CheckResult),
) {
    let (sender, receiver) = mpsc::channel();
    let worker_server = server.clone();
    let worker_environment = environment.clone();
    let timeout = timeout.filter(|t| !t.is_zero());
    std::thread::spawn(move || {
        let mut emit = |event| {
            // The caller stops listening after a timeout; the rest is of no use then.
            let _ = sender.send(event);
        };
        let mut checker = Checker {
            live: live::Live::start(&worker_server, &worker_environment),
            server: &worker_server,
            environment: &worker_environment,
            timeout,
            catalog: None,
            emit: &mut emit,
        };
        checker.run();
    });
    let deadline = timeout.map(|t| (Instant::now() + t, t));
    let mut running = None;
    loop {
        let event = match deadline {
            None => receiver.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            Some((at, _)) => receiver.recv_timeout(at.saturating_duration_since(Instant::now())),
        };
        match event {
            Ok(Event::Started(name)) => running = Some(name),
            Ok(Event::Result(result)) => report(result),
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let limit = deadline.map_or(0, |(_, t)| i64::try_from(t.as_secs()).unwrap_or(i64::MAX));
                let stalled = running
                    .as_ref()
                    .map_or_else(String::new, |name| format!(" while checking '{name}'"));
                report(CheckResult::failed(
                    TIMEOUT_CHECK,
                    hint(
                        "barman check command timed out",
                        &format!(
                            "it ran for {}{stalled}: fix what is slow to answer, or raise check_timeout (or \
                             pass --check-timeout)",
                            human_duration(limit)
                        ),
                    ),
                ));
                return;
            }
        }
    }
}

/// The state of one server's run.
struct Checker<'a> {
    server: &'a ServerConfig,
    environment: &'a CheckEnvironment,
    /// The effective `check_timeout`.
    timeout: Option<Duration>,
    live: live::Live,
    /// The backup catalogue, once read.
    catalog: Option<Result<BackupCatalog, String>>,
    emit: &'a mut dyn FnMut(Event),
}

impl Checker<'_> {
    fn start(&mut self, name: &str) {
        (self.emit)(Event::Started(name.to_owned()));
    }

    fn report(&mut self, result: CheckResult) {
        (self.emit)(Event::Result(result));
    }

    /// Barman's `Server.check`, in order.
    fn run(&mut self) {
        let connected = self.server.active() && !self.server.passive_node();
        self.check_wal_archive();
        if connected {
            self.check_postgres();
        }
        self.check_directories();
        self.check_retention_policy();
        self.check_backup_validity();
        self.check_encryption();
        self.check_wal_validity();
        self.check_backup_manager();
        self.check_executor();
        self.check_configuration();
        self.check_identity(postgres::Sessions::Main);
        if connected {
            self.check_archivers();
        }
        self.check_archiver_errors();
    }
}
