//! Checks on Barman's own directories: the WAL archive and its queues, the directories
//! themselves, configuration errors and rejected files.

use std::fs;
use std::io;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::{hint, CheckResult, Checker};
use crate::archive::{self, ArchiveLayout, ArchiveSettings};
use crate::catalog::{BackupStatus, META_DIRECTORY};
use crate::config::options::SERVER_OPTIONS;

/// How often the WAL archive check runs archive-wal while it waits for the switched WAL.
const ARCHIVE_POLL: Duration = Duration::from_millis(100);

/// `check_timeout` when it is unset or zero, for the WAL archive wait (a third of it).
const DEFAULT_CHECK_TIMEOUT_SECONDS: u64 = 30;

impl Checker<'_> {
    /// `WAL archive` (reported only when failing), then the incoming and streaming queues.
    pub(super) fn check_wal_archive(&mut self) {
        self.start("WAL archive");
        let Some(layout) = self.layout() else {
            return;
        };
        let xlogdb = layout.xlogdb();
        let mut archived = !xlogdb.is_empty() || self.waiting_for_wals();
        if !archived {
            // Whatever waits in incoming/ or streaming/ may be the proof.
            self.archive_queues(&layout);
            archived = !xlogdb.is_empty();
        }
        let mut waited = None;
        if !archived && self.switch_wal_for_check() {
            let wait = Duration::from_secs(self.check_timeout_seconds() / 3);
            waited = Some(wait.as_secs());
            let deadline = Instant::now() + wait;
            loop {
                self.archive_queues(&layout);
                archived = !xlogdb.is_empty();
                if archived || Instant::now() >= deadline {
                    break;
                }
                sleep(ARCHIVE_POLL);
            }
        }
        if !archived {
            let advice = self.wal_shipping_advice(waited);
            self.report(CheckResult::failed(
                "WAL archive",
                hint("please make sure WAL shipping is setup", &advice),
            ));
        }
        self.check_wal_queue(&layout.incoming, "incoming", "archiver", self.server.archiver());
        self.check_wal_queue(
            &layout.streaming,
            "streaming",
            "streaming_archiver",
            self.server.streaming_archiver(),
        );
    }

    /// A backup waiting for its WAL proves archiving worked once (its older WAL was removed).
    fn waiting_for_wals(&mut self) -> bool {
        self.catalog()
            .is_ok_and(|catalog| catalog.last(&[BackupStatus::WaitingForWals]).is_some())
    }

    /// The effective `check_timeout` in seconds (the command line may have overridden it).
    fn check_timeout_seconds(&self) -> u64 {
        self.timeout
            .map(|t| t.as_secs())
            .filter(|seconds| *seconds > 0)
            .unwrap_or(DEFAULT_CHECK_TIMEOUT_SECONDS)
    }

    /// Runs archive-wal without output; a failure here is reported by the check itself.
    fn archive_queues(&self, layout: &ArchiveLayout) {
        if let Ok(settings) = ArchiveSettings::for_server(self.server) {
            if let Err(error) = archive::archive_wal(layout, &settings, &mut |_| {}) {
                log::debug!("archive-wal during check of {}: {error}", self.server.name());
            }
        }
    }

    /// What makes WAL reach this server, for the `WAL archive` hint; `waited`: the seconds
    /// waited after a WAL switch.
    fn wal_shipping_advice(&self, waited: Option<u64>) -> String {
        let name = self.server.name();
        let found = match waited {
            Some(seconds) => format!("no WAL arrived in the {seconds} seconds after a WAL switch"),
            None => "no WAL has been archived yet".to_owned(),
        };
        let mut ways = Vec::new();
        if self.server.archiver() {
            ways.push(format!(
                "PostgreSQL's archive_command must deliver WAL to this server (archive_command = \
                 'barman-wal-archive BARMAN_HOST {name} %p', BARMAN_HOST being this host as PostgreSQL \
                 reaches it over SSH)"
            ));
        }
        if self.server.streaming_archiver() {
            ways.push(format!(
                "'barman receive-wal {name}' must be streaming (started by 'barman cron')"
            ));
        }
        if ways.is_empty() {
            return format!("{found}: turn archiver (archive_command shipping) or streaming_archiver on");
        }
        format!(
            "{found}: {}; 'barman cron' must run every minute to archive what arrives",
            ways.join(", or ")
        )
    }

    /// `empty <dir> directory` (archiver off) or `<dir> WALs directory` (queue too long);
    /// reported only when failing.
    fn check_wal_queue(&mut self, directory: &Path, label: &str, archiver_option: &str, enabled: bool) {
        let queued = queued_files(directory);
        let name = self.server.name().to_owned();
        if !enabled {
            if queued > 0 {
                self.report(CheckResult::failed(
                    &format!("empty {label} directory"),
                    hint(
                        &format!("'{}' must be empty when {archiver_option}=off", directory.display()),
                        &format!(
                            "set {archiver_option} = on so that 'barman archive-wal {name}' takes these files in, \
                             or move them away if they do not belong to this server"
                        ),
                    ),
                ));
            }
            return;
        }
        let Some(maximum) = self.server.int("max_incoming_wals_queue") else {
            return;
        };
        if queued as i64 > maximum {
            self.report(CheckResult::failed(
                &format!("{label} WALs directory"),
                hint(
                    &format!("there are too many WALs in queue: {queued}, max {maximum}"),
                    &format!(
                        "'barman cron' must run every minute to archive them (or run 'barman archive-wal {name}'); \
                         raise max_incoming_wals_queue if the queue is expected to be that long"
                    ),
                ),
            ));
        }
    }

    /// `directories`: every `*_directory` of the server and `meta/`, created when missing.
    /// Not reported for disabled servers.
    pub(super) fn check_directories(&mut self) {
        self.start("directories");
        if self.server.disabled() {
            return;
        }
        let mut directories: Vec<&Path> = SERVER_OPTIONS
            .iter()
            .filter(|spec| spec.name.ends_with("_directory"))
            .filter_map(|spec| self.server.text(spec.name))
            .filter(|value| !value.contains("://"))
            .map(Path::new)
            .collect();
        let meta = self.server.path("backup_directory").map(|b| b.join(META_DIRECTORY));
        directories.extend(meta.as_deref());
        let created = directories
            .iter()
            .try_for_each(|directory| fs::create_dir_all(directory).map_err(|error| (directory.to_path_buf(), error)));
        match created {
            Ok(()) => self.report(CheckResult::ok("directories", None)),
            Err((directory, error)) => self.report(CheckResult::failed(
                "directories",
                hint(
                    &format!("{}: {}", directory.display(), strerror(&error)),
                    "create it for the barman user, or make its parent writable by that user, or point the \
                     *_directory options elsewhere",
                ),
            )),
        }
    }

    /// `configuration`: reported only for a disabled server, with each reason below it.
    pub(super) fn check_configuration(&mut self) {
        self.start("configuration");
        let reasons = self.server.disabled_reasons();
        if reasons.is_empty() {
            return;
        }
        let mut result = CheckResult::failed(
            "configuration",
            "the server is disabled until the configuration problems below are fixed".to_owned(),
        );
        result.details = reasons.to_vec();
        self.report(result);
    }

    /// `archiver errors`: files archive-wal or put-wal set aside in `errors/`.
    pub(super) fn check_archiver_errors(&mut self) {
        self.start("archiver errors");
        let Some(errors) = self.server.path("errors_directory").map(Path::to_path_buf) else {
            return self.report(CheckResult::ok("archiver errors", None));
        };
        let mut names: Vec<String> = fs::read_dir(&errors)
            .map(|entries| {
                entries
                    .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        if names.is_empty() {
            return self.report(CheckResult::ok("archiver errors", None));
        }
        names.sort();
        self.report(CheckResult::failed(
            "archiver errors",
            hint(
                &summarise_error_files(&names),
                &format!(
                    "inspect the files in '{}' ('duplicates' differ from the archived WAL of the same name, \
                     'unknown' are not WAL files), then move them out of it",
                    errors.display()
                ),
            ),
        ));
    }

    /// The archive's layout; without one (a directory option unset) the WAL checks cannot run.
    pub(super) fn layout(&self) -> Option<ArchiveLayout> {
        ArchiveLayout::for_server(self.server, &self.environment.lock_directory).ok()
    }
}

/// Files waiting in a queue directory: not hidden, not `.tmp`, not `.partial`.
fn queued_files(directory: &Path) -> usize {
    fs::read_dir(directory).map_or(0, |entries| {
        entries
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| !name.starts_with('.') && !name.ends_with(".tmp") && !name.ends_with(".partial"))
            .count()
    })
}

/// `duplicates: 2, unknown: 1`: counts per kind, kinds in order of first appearance.
fn summarise_error_files(names: &[String]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for name in names {
        let kind = if name.ends_with(".error") {
            "not relevant"
        } else if name.ends_with(".duplicate") {
            "duplicates"
        } else if name.ends_with(".unknown") {
            "unknown"
        } else {
            "unknown failure"
        };
        match counts.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, count)) => *count += 1,
            None => counts.push((kind, 1)),
        }
    }
    counts
        .iter()
        .map(|(kind, count)| format!("{kind}: {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The system's description of an error, without Rust's `(os error N)`.
fn strerror(error: &io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error") {
        Some(end) => text[..end].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_files_are_summarised_by_kind() {
        let names: Vec<String> = [
            "000000010000000000000002.20260101T000000Z.duplicate",
            "000000010000000000000003.20260101T000000Z.duplicate",
            "junk.20260101T000000Z.unknown",
            "x.error",
            "y",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            summarise_error_files(&names),
            "duplicates: 2, unknown: 1, not relevant: 1, unknown failure: 1"
        );
    }

    #[test]
    fn queues_ignore_hidden_temporary_and_partial_files() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(queued_files(&dir.path().join("missing")), 0);
        for name in [
            "000000010000000000000002",
            ".x",
            "a.tmp",
            "000000010000000000000003.partial",
            "b",
        ] {
            fs::write(dir.path().join(name), "").unwrap();
        }
        assert_eq!(queued_files(dir.path()), 2);
        let error = io::Error::from_raw_os_error(13);
        assert_eq!(strerror(&error), "Permission denied");
    }
}
