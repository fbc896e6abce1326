//! What `status` and `show-servers` say about a server's backups, from the backup catalogue:
//! how many are available, the first and the last, whether minimum redundancy is met, whether
//! retention policies are enforced, and how old the last backup is against
//! `last_backup_maximum_age`, all worded as Barman words them.

use chrono::{DateTime, FixedOffset};

use crate::catalog::{BackupCatalog, BackupStatus, CatalogError};
use crate::config::value::Value;
use crate::config::ServerConfig;
use crate::human::human_duration;

/// The backups of a server, as `status` summarises them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupsOverview {
    /// Backups with status `DONE`.
    pub available: usize,
    /// The oldest backup a restore can use (`DONE` or `WAITING_FOR_WALS`).
    pub first: Option<String>,
    /// The newest backup a restore can use.
    pub last: Option<String>,
    /// `DONE` backups that stand on their own (not incremental): what minimum redundancy counts.
    pub standalone: usize,
    /// When the newest usable backup ended.
    last_end_time: Option<DateTime<FixedOffset>>,
}

impl BackupsOverview {
    /// Reads the catalogue of `server` (an empty one when its directories do not exist).
    pub fn of(server: &ServerConfig) -> Result<Self, CatalogError> {
        let directory = |key: &str| server.path(key).map(std::path::Path::to_path_buf).unwrap_or_default();
        let catalog = BackupCatalog::load(&directory("backup_directory"), &directory("basebackups_directory"))?;
        let done = || catalog.with_status(&[BackupStatus::Done]);
        let last = catalog.last(BackupStatus::COPY_DONE);
        let first = catalog
            .with_status(BackupStatus::COPY_DONE)
            .next()
            .map(|b| b.backup_id.clone());
        Ok(BackupsOverview {
            available: done().count(),
            first,
            last: last.map(|b| b.backup_id.clone()),
            standalone: done().filter(|b| b.backup_type().is_standalone()).count(),
            last_end_time: last.and_then(|b| b.end_time()),
        })
    }

    /// `satisfied (n/m)` or `FAILED (n/m)` for `minimum_redundancy`.
    pub fn minimum_redundancy(&self, server: &ServerConfig) -> String {
        let minimum = server.int("minimum_redundancy").unwrap_or(0);
        let have = self.standalone as i64;
        let verdict = if have < minimum { "FAILED" } else { "satisfied" };
        format!("{verdict} ({have}/{minimum})")
    }

    /// `show-servers`' `last_backup_maximum_age`: `None` when unset, else the interval and the
    /// age of the last backup, `7 days (latest backup: 2 hours, 5 minutes )` within the limit,
    /// `7 days (WARNING! latest backup is 8 days old)` beyond it or
    /// `... (WARNING! latest backup is No available backups old)` without a backup.
    pub fn maximum_age_report(&self, server: &ServerConfig, now: DateTime<FixedOffset>) -> String {
        let Some(Value::Interval(maximum)) = server.get("last_backup_maximum_age") else {
            return "None".into();
        };
        let limit = maximum.to_string();
        if self.last.is_none() {
            return format!("{limit} (WARNING! latest backup is No available backups old)");
        }
        match self.last_end_time {
            Some(end) if (now - end).num_seconds() <= maximum.as_seconds() as i64 => {
                format!(
                    "{limit} (latest backup: {} )",
                    human_duration((now - end).num_seconds())
                )
            }
            end => format!(
                "{limit} (WARNING! latest backup is {} old)",
                end.map_or_else(
                    || "of unknown age".to_owned(),
                    |end| human_duration((now - end).num_seconds())
                )
            ),
        }
    }
}

/// `Retention policies` in `status`: `enforced (mode: auto, retention: REDUNDANCY 2, WAL
/// retention: MAIN)` when a valid `retention_policy` is set, else `not enforced`.
pub fn retention_enforcement(server: &ServerConfig) -> String {
    match server.get("retention_policy") {
        Some(policy @ Value::RetentionPolicy(_)) => format!(
            "enforced (mode: {}, retention: {policy}, WAL retention: MAIN)",
            server.text("retention_policy_mode").unwrap_or("auto")
        ),
        _ => "not enforced".into(),
    }
}
