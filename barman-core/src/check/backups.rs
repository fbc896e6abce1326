//! Checks on the backup and WAL catalogues and on the settings that govern them: retention
//! policy, age and size of the last backup, age and size of the WAL archived since, WAL
//! compression, failed backups and minimum redundancy.

use std::time::{SystemTime, UNIX_EPOCH};

use super::{hint, CheckResult, Checker};
use crate::archive::ArchiveSettings;
use crate::catalog::{BackupCatalog, BackupInfo, BackupStatus};
use crate::config::value::Value;
use crate::human::{human_duration, pretty_size};
use crate::wal::{WalFileKind, WalFileName};
use crate::xlogdb::XlogDbEntry;

/// What the WAL catalogue holds after the last backup, as Barman's `get_wal_info` counts it.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct WalAfterBackup {
    /// Bytes of the segments archived after the backup's end (`wal_until_next_size`).
    size_after_end: u64,
    /// Time stamp of the newest segment since the backup's start.
    last_time: Option<f64>,
}

impl Checker<'_> {
    /// The backup catalogue, read on first use; an error message when it cannot be read.
    pub(super) fn catalog(&mut self) -> Result<&BackupCatalog, String> {
        if self.catalog.is_none() {
            let catalog = match (
                self.server.path("backup_directory"),
                self.server.path("basebackups_directory"),
            ) {
                (Some(backup), Some(base)) => BackupCatalog::load(backup, base).map_err(|error| {
                    format!("{error}; fix or move away that file: the backup catalogue cannot be read")
                }),
                _ => Ok(BackupCatalog::default()),
            };
            self.catalog = Some(catalog);
        }
        self.catalog
            .as_ref()
            .expect("loaded above")
            .as_ref()
            .map_err(Clone::clone)
    }

    /// `retention policy settings`: a policy Barman cannot enforce.
    pub(super) fn check_retention_policy(&mut self) {
        self.start("retention policy settings");
        self.report(CheckResult::verdict(
            "retention policy settings",
            !self.server.has_invalid_value("retention_policy"),
            "see log",
            "retention_policy must be 'REDUNDANCY n' or 'RECOVERY WINDOW OF n DAYS|WEEKS|MONTHS'",
        ));
    }

    /// `backup maximum age` and `backup minimum size`.
    pub(super) fn check_backup_validity(&mut self) {
        let name = self.server.name().to_owned();
        let maximum_age = interval(self.server.get("last_backup_maximum_age"));
        let minimum_size = match self.server.get("last_backup_minimum_size") {
            Some(Value::Size(bytes)) => Some(*bytes),
            _ => None,
        };
        self.start("backup maximum age");
        let last = match self.catalog() {
            Ok(catalog) => catalog.last(BackupStatus::COPY_DONE).cloned(),
            Err(error) => {
                self.report(CheckResult::failed("backup maximum age", error.clone()));
                return self.report(CheckResult::failed("backup minimum size", error));
            }
        };
        let take_backup = format!("take a backup with 'barman backup {name}'");
        let age_result = match (maximum_age, &last) {
            (None, _) => CheckResult::ok("backup maximum age", Some("no last_backup_maximum_age provided".into())),
            (Some(maximum), None) => CheckResult::failed(
                "backup maximum age",
                hint(
                    &format!(
                        "interval provided: {}, latest backup age: No available backups",
                        human_duration(maximum)
                    ),
                    &take_backup,
                ),
            ),
            (Some(maximum), Some(backup)) => {
                let age = backup.end_time().map(|end| now_seconds() - end.timestamp() as f64);
                let barman = format!(
                    "interval provided: {}, latest backup age: {}",
                    human_duration(maximum),
                    age.map_or_else(|| "unknown".to_owned(), |age| human_duration(age as i64))
                );
                if age.is_some_and(|age| age <= maximum as f64) {
                    CheckResult::ok("backup maximum age", Some(barman))
                } else {
                    CheckResult::failed(
                        "backup maximum age",
                        hint(
                            &barman,
                            &format!(
                                "{take_backup}, and schedule backups at least every {}",
                                human_duration(maximum)
                            ),
                        ),
                    )
                }
            }
        };
        self.report(age_result);
        self.start("backup minimum size");
        let size = last.as_ref().and_then(BackupInfo::size).unwrap_or(0);
        let size_result = match minimum_size {
            None => CheckResult::ok("backup minimum size", Some(pretty_size(size))),
            Some(minimum) if last.is_some() && size >= minimum => CheckResult::ok(
                "backup minimum size",
                Some(format!(
                    "last backup size {} > {} minimum",
                    pretty_size(size),
                    pretty_size(minimum)
                )),
            ),
            Some(minimum) => CheckResult::failed(
                "backup minimum size",
                hint(
                    &format!(
                        "last backup size {} < {} minimum",
                        pretty_size(size),
                        pretty_size(minimum)
                    ),
                    &if last.is_some() {
                        "check that the last backup copied everything ('barman show-backup'), or lower \
                         last_backup_minimum_size"
                            .to_owned()
                    } else {
                        take_backup.clone()
                    },
                ),
            ),
        };
        self.report(size_result.with_perfdata(size));
    }

    /// `wal maximum age` and `wal size`: the WAL archived since the last backup.
    pub(super) fn check_wal_validity(&mut self) {
        let name = self.server.name().to_owned();
        self.start("wal maximum age");
        let last = match self.catalog() {
            Ok(catalog) => catalog.last(BackupStatus::COPY_DONE).cloned(),
            Err(error) => {
                self.report(CheckResult::failed("wal maximum age", error.clone()));
                return self.report(CheckResult::failed("wal size", error).with_perfdata(0));
            }
        };
        let wal = match &last {
            Some(backup) => match self.wal_after(backup) {
                Ok(wal) => wal,
                Err(error) => {
                    self.report(CheckResult::failed("wal maximum age", error.clone()));
                    return self.report(CheckResult::failed("wal size", error).with_perfdata(0));
                }
            },
            None => WalAfterBackup::default(),
        };
        let result = match interval(self.server.get("last_wal_maximum_age")) {
            None => CheckResult::ok("wal maximum age", Some("no last_wal_maximum_age provided".into())),
            Some(maximum) => match wal.last_time {
                None => CheckResult::failed(
                    "wal maximum age",
                    hint(
                        "No WAL files archived for last backup",
                        &format!(
                            "{}'barman cron' must run every minute to archive WAL",
                            if last.is_none() {
                                format!("take a backup with 'barman backup {name}'; ")
                            } else {
                                String::new()
                            }
                        ),
                    ),
                ),
                Some(time) => {
                    let age = now_seconds() - time;
                    let barman = format!(
                        "interval provided: {}, latest wal age: {}",
                        human_duration(maximum),
                        human_duration(age as i64)
                    );
                    if age <= maximum as f64 {
                        CheckResult::ok("wal maximum age", Some(barman))
                    } else {
                        CheckResult::failed(
                            "wal maximum age",
                            hint(
                                &barman,
                                "no WAL arrived for too long: check that PostgreSQL archives (pg_stat_archiver) and \
                                 that 'barman cron' runs, or set archive_timeout on a quiet server",
                            ),
                        )
                    }
                }
            },
        };
        self.report(result);
        self.start("wal size");
        self.report(
            CheckResult::ok("wal size", Some(pretty_size(wal.size_after_end))).with_perfdata(wal.size_after_end),
        );
    }

    /// One pass over the WAL catalogue: the segments of the backup's timeline (or older ones)
    /// from its first WAL on.
    fn wal_after(&self, backup: &BackupInfo) -> Result<WalAfterBackup, String> {
        let (Some(begin), Some(end)) = (backup.begin_wal(), backup.end_wal()) else {
            return Ok(WalAfterBackup::default());
        };
        let Some(layout) = self.layout() else {
            return Ok(WalAfterBackup::default());
        };
        let timeline = &begin[..begin.len().min(8)];
        let xlogdb = layout.xlogdb();
        let locked = xlogdb.lock().map_err(|error| error.to_string())?;
        let mut wal = WalAfterBackup::default();
        locked
            .scan(|line| {
                let name = line.split_ascii_whitespace().next().unwrap_or_default();
                // Names sort as positions; the timeline is the first 8 digits.
                if name < begin || name.len() < 8 || &name[..8] > timeline {
                    return;
                }
                if !WalFileName::parse(name).is_ok_and(|n| n.kind() == WalFileKind::Segment) {
                    return;
                }
                if let Some(entry) = XlogDbEntry::parse_line(line) {
                    if entry.name.as_str() > end {
                        wal.size_after_end += entry.size;
                    }
                    wal.last_time = Some(entry.time);
                }
            })
            .map_err(|error| error.to_string())?;
        Ok(wal)
    }

    /// `encryption`: only when configured; WAL and backup encryption are not available here.
    pub(super) fn check_encryption(&mut self) {
        let Some(encryption) = self.server.text("encryption").map(str::to_owned) else {
            return;
        };
        self.start("encryption");
        self.report(CheckResult::failed(
            "encryption",
            format!(
                "encryption = {encryption} is not supported by this implementation: remove the option (files would \
                 be stored unencrypted)"
            ),
        ));
    }

    /// `compression settings`, `failed backups`, `minimum redundancy requirements`.
    pub(super) fn check_backup_manager(&mut self) {
        let name = self.server.name().to_owned();
        self.start("compression settings");
        match ArchiveSettings::for_server(self.server) {
            Ok(_) => self.report(CheckResult::ok("compression settings", None)),
            Err(error) => self.report(CheckResult::failed(
                "compression settings",
                format!("{error}; set compression to gzip, bzip2, xz, zstd, lz4 or snappy, or remove it"),
            )),
        }
        self.start("failed backups");
        let counts = self.catalog().map(|catalog| {
            let failed: Vec<String> = catalog
                .with_status(&[BackupStatus::Failed])
                .map(|b| b.backup_id.clone())
                .collect();
            let standalone = catalog
                .with_status(&[BackupStatus::Done])
                .filter(|b| b.backup_type().is_standalone())
                .count();
            (failed, standalone)
        });
        let (failed, standalone) = match counts {
            Ok(counts) => counts,
            Err(error) => {
                self.report(CheckResult::failed("failed backups", error.clone()));
                return self.report(CheckResult::failed("minimum redundancy requirements", error));
            }
        };
        let barman = format!("there are {} failed backups", failed.len());
        self.report(if failed.is_empty() {
            CheckResult::ok("failed backups", Some(barman))
        } else {
            CheckResult::failed(
                "failed backups",
                hint(
                    &barman,
                    &format!(
                        "{}: see why with 'barman show-backup {name} <ID>', then remove each with \
                         'barman delete {name} <ID>'",
                        failed.join(", ")
                    ),
                ),
            )
        });
        self.start("minimum redundancy requirements");
        let required = self.server.int("minimum_redundancy").unwrap_or(0);
        let barman = format!("have {standalone} non-incremental backups, expected at least {required}");
        self.report(if standalone as i64 >= required {
            CheckResult::ok("minimum redundancy requirements", Some(barman))
        } else {
            CheckResult::failed(
                "minimum redundancy requirements",
                hint(
                    &barman,
                    &format!(
                        "take {} more full backup(s) with 'barman backup {name}'",
                        required - standalone as i64
                    ),
                ),
            )
        });
    }
}

/// An interval option, in seconds.
fn interval(value: Option<&Value>) -> Option<i64> {
    match value {
        Some(Value::Interval(interval)) => Some(i64::try_from(interval.as_seconds()).unwrap_or(i64::MAX)),
        _ => None,
    }
}

fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64())
}
