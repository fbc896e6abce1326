//! What Barman asks a PostgreSQL server: its version, the role's privileges, and the settings
//! and statistics that `check`, `status` and `show-servers` report.
//!
//! Privileges follow Barman's rule (superuser, or on PostgreSQL 10+ a role that may read all
//! settings and statistics and execute the backup and WAL control functions, whose names and
//! signatures changed in 15), but instead of one yes/no answer [`BackupPrivileges`] lists every
//! missing grant as the statement that would add it, so a failing check can say exactly what
//! to run.

use postgres::Client;

use crate::wal::{SegmentSize, WalFileName};

/// A session on a PostgreSQL server, with the questions Barman asks.
pub struct PostgresServer {
    client: Client,
    version_num: u32,
}

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
#[error("query on PostgreSQL failed: {0}")]
pub struct QueryError(#[from] postgres::Error);

/// The role's backup privileges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupPrivileges {
    /// Whether the role is a superuser.
    pub superuser: bool,
    /// The statements that would give the role what it lacks (empty: it has everything).
    pub missing_grants: Vec<String>,
}

impl BackupPrivileges {
    /// Barman's `has_backup_privileges`.
    pub fn sufficient(&self) -> bool {
        self.superuser || self.missing_grants.is_empty()
    }
}

/// A timestamp as the server reports it, in the session's time zone.
pub type Timestamp = chrono::DateTime<chrono::FixedOffset>;

/// The row of `pg_stat_archiver`, with Barman's two derived values.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiverStats {
    /// WAL files archived successfully since the statistics were reset.
    pub archived_count: i64,
    /// The last WAL file archived successfully.
    pub last_archived_wal: Option<String>,
    /// When it was archived.
    pub last_archived_time: Option<Timestamp>,
    /// Failed attempts to archive a WAL file.
    pub failed_count: i64,
    /// The WAL file of the last failed attempt.
    pub last_failed_wal: Option<String>,
    /// When the last attempt failed.
    pub last_failed_time: Option<Timestamp>,
    /// When these statistics were last reset.
    pub stats_reset: Option<Timestamp>,
    /// Barman's `is_archiving`: `archive_mode` is `on` or `always`, and the last failure (if
    /// any) is older than the last success or concerns a history file already superseded.
    /// `None` when the server cannot tell (a failure and no success yet): not archiving.
    pub is_archiving: Option<bool>,
    /// Barman's `current_archived_wals_per_second`: `archived_count` over the seconds since
    /// `stats_reset`, exactly as the server computed it (a decimal number).
    pub current_archived_wals_per_second: Option<String>,
}

impl ArchiverStats {
    /// `current_archived_wals_per_second` as a number.
    pub fn archived_wals_per_second(&self) -> Option<f64> {
        self.current_archived_wals_per_second.as_deref()?.parse().ok()
    }
}

impl PostgresServer {
    /// Wraps an open session and reads the server version.
    pub fn new(mut client: Client) -> Result<Self, QueryError> {
        let version: String = client.query_one("SHOW server_version_num", &[])?.get(0);
        let version_num = version.trim().parse().unwrap_or(0);
        Ok(PostgresServer { client, version_num })
    }

    /// `server_version_num`, e.g. 150018.
    pub fn version_num(&self) -> u32 {
        self.version_num
    }

    /// The major version as Barman writes it: `15`, or `9.6` before 10.
    pub fn major_version(&self) -> String {
        if self.version_num >= 100_000 {
            (self.version_num / 10_000).to_string()
        } else {
            format!("{}.{}", self.version_num / 10_000, self.version_num / 100 % 100)
        }
    }

    /// `server_version`, e.g. `15.18`.
    pub fn server_txt_version(&mut self) -> Result<String, QueryError> {
        let version: String = self.client.query_one("SHOW server_version", &[])?.get(0);
        Ok(version.split_whitespace().next().unwrap_or_default().to_string())
    }

    /// Whether the connected role is a superuser.
    pub fn is_superuser(&mut self) -> Result<bool, QueryError> {
        Ok(self
            .client
            .query_one("SELECT rolsuper FROM pg_roles WHERE rolname = CURRENT_USER", &[])?
            .get(0))
    }

    /// The role's backup privileges, with the grants it lacks.
    pub fn backup_privileges(&mut self) -> Result<BackupPrivileges, QueryError> {
        let superuser = self.is_superuser()?;
        if superuser {
            return Ok(BackupPrivileges {
                superuser,
                missing_grants: Vec::new(),
            });
        }
        let role: String = self.client.query_one("SELECT CURRENT_USER::text", &[])?.get(0);
        let mut missing_grants = Vec::new();
        if self.version_num < 100_000 {
            missing_grants.push(format!("ALTER ROLE {role} SUPERUSER"));
            return Ok(BackupPrivileges {
                superuser,
                missing_grants,
            });
        }
        if !self.monitoring_privileges()? {
            missing_grants.push(format!("GRANT pg_read_all_settings TO {role}"));
            missing_grants.push(format!("GRANT pg_read_all_stats TO {role}"));
        }
        for alternatives in self.backup_functions() {
            let mut granted = false;
            for function in &alternatives {
                granted |= self.can_execute(function)?;
            }
            if !granted {
                missing_grants.push(format!("GRANT EXECUTE ON FUNCTION {} TO {role}", alternatives[0]));
            }
        }
        Ok(BackupPrivileges {
            superuser,
            missing_grants,
        })
    }

    /// Barman's `has_monitoring_privileges`: superuser, `pg_monitor`, or both
    /// `pg_read_all_settings` and `pg_read_all_stats`.
    pub fn monitoring_privileges(&mut self) -> Result<bool, QueryError> {
        let query = "SELECT rolsuper OR pg_has_role(CURRENT_USER, 'pg_monitor', 'USAGE') \
                     OR (pg_has_role(CURRENT_USER, 'pg_read_all_settings', 'USAGE') \
                         AND pg_has_role(CURRENT_USER, 'pg_read_all_stats', 'USAGE')) \
                     FROM pg_roles WHERE rolname = CURRENT_USER";
        Ok(self.client.query_one(query, &[])?.get(0))
    }

    /// The functions a backup needs, each as its accepted signatures (any one suffices).
    fn backup_functions(&self) -> Vec<Vec<&'static str>> {
        let mut functions = if self.version_num >= 150_000 {
            vec![vec!["pg_backup_start(text, boolean)"], vec!["pg_backup_stop(boolean)"]]
        } else {
            vec![
                vec!["pg_start_backup(text, boolean, boolean)"],
                vec!["pg_stop_backup(boolean, boolean)", "pg_stop_backup()"],
            ]
        };
        functions.push(vec!["pg_switch_wal()"]);
        functions.push(vec!["pg_create_restore_point(text)"]);
        functions
    }

    fn can_execute(&mut self, function: &str) -> Result<bool, QueryError> {
        let row = self.client.query_one(
            "SELECT has_function_privilege(CURRENT_USER, $1, 'EXECUTE')",
            &[&function],
        )?;
        Ok(row.get(0))
    }

    /// The value of a setting (`SHOW name`), `None` if the server does not know it.
    pub fn setting(&mut self, name: &str) -> Result<Option<String>, QueryError> {
        let rows = self
            .client
            .query("SELECT setting FROM pg_settings WHERE name = $1", &[&name])?;
        Ok(rows.first().map(|row| row.get(0)))
    }

    /// The cluster's system identifier.
    pub fn system_identifier(&mut self) -> Result<String, QueryError> {
        Ok(self
            .client
            .query_one("SELECT system_identifier::text FROM pg_control_system()", &[])?
            .get(0))
    }

    /// Whether the server is a standby.
    pub fn is_in_recovery(&mut self) -> Result<bool, QueryError> {
        Ok(self.client.query_one("SELECT pg_is_in_recovery()", &[])?.get(0))
    }

    /// The current WAL location, as text (`0/3000148`): `pg_current_wal_lsn()`, or on a
    /// standby the last replayed location (`None` before any replay).
    pub fn current_wal_lsn(&mut self) -> Result<Option<String>, QueryError> {
        let query = if self.version_num >= 100_000 {
            "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() \
             ELSE pg_current_wal_lsn() END)::text"
        } else {
            "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_xlog_replay_location() \
             ELSE pg_current_xlog_location() END)::text"
        };
        Ok(self.client.query_one(query, &[])?.get(0))
    }

    /// `wal_segment_size` in bytes (before PostgreSQL 11 the setting counts WAL blocks).
    pub fn wal_segment_size(&mut self) -> Result<u64, QueryError> {
        let query = if self.version_num >= 110_000 {
            "SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'"
        } else {
            "SELECT (SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size') \
             * (SELECT setting::bigint FROM pg_settings WHERE name = 'wal_block_size')"
        };
        let bytes: i64 = self.client.query_one(query, &[])?.get(0);
        Ok(u64::try_from(bytes).unwrap_or_default())
    }

    /// The `pg_stat_archiver` row, with Barman's `is_archiving` and archiving rate.
    pub fn archiver_stats(&mut self) -> Result<ArchiverStats, QueryError> {
        let query = "SELECT archived_count, last_archived_wal, \
                     to_char(last_archived_time, 'YYYY-MM-DD\"T\"HH24:MI:SS.USTZH:TZM'), \
                     failed_count, last_failed_wal, \
                     to_char(last_failed_time, 'YYYY-MM-DD\"T\"HH24:MI:SS.USTZH:TZM'), \
                     to_char(stats_reset, 'YYYY-MM-DD\"T\"HH24:MI:SS.USTZH:TZM'), \
                     current_setting('archive_mode') IN ('on', 'always') \
                     AND (last_failed_wal IS NULL \
                          OR last_failed_wal LIKE '%.history' \
                             AND substring(last_failed_wal from 1 for 8) \
                                 <= substring(last_archived_wal from 1 for 8) \
                          OR last_failed_time <= last_archived_time), \
                     (archived_count::numeric / EXTRACT(EPOCH FROM age(now(), stats_reset)))::text \
                     FROM pg_stat_archiver";
        let row = self.client.query_typed_one(query, &[])?;
        Ok(ArchiverStats {
            archived_count: row.get(0),
            last_archived_wal: row.get(1),
            last_archived_time: timestamp(row.get(2)),
            failed_count: row.get(3),
            last_failed_wal: row.get(4),
            last_failed_time: timestamp(row.get(5)),
            stats_reset: timestamp(row.get(6)),
            is_archiving: row.get(7),
            current_archived_wals_per_second: row.get(8),
        })
    }
}

/// Parses a timestamp written by `to_char(..., 'YYYY-MM-DD"T"HH24:MI:SS.USTZH:TZM')`.
pub(crate) fn timestamp(text: Option<String>) -> Option<Timestamp> {
    chrono::DateTime::parse_from_rfc3339(&text?).ok()
}

/// A physical replication slot, as `pg_replication_slots` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationSlot {
    /// Whether a client streams from it right now.
    pub active: bool,
    /// The oldest WAL position it keeps; `None` until a client first used it.
    pub restart_lsn: Option<String>,
}

impl PostgresServer {
    /// The physical replication slot `name`, `None` if it does not exist.
    pub fn replication_slot(&mut self, name: &str) -> Result<Option<ReplicationSlot>, QueryError> {
        let rows = self.client.query(
            "SELECT active, restart_lsn::text FROM pg_replication_slots \
             WHERE slot_type = 'physical' AND slot_name = $1",
            &[&name],
        )?;
        Ok(rows.first().map(|row| ReplicationSlot {
            active: row.get(0),
            restart_lsn: row.get(1),
        }))
    }

    /// How many tablespaces live outside the data directory.
    pub fn tablespace_count(&mut self) -> Result<i64, QueryError> {
        Ok(self
            .client
            .query_one(
                "SELECT count(*) FROM pg_tablespace WHERE pg_tablespace_location(oid) != ''",
                &[],
            )?
            .get(0))
    }

    /// Writes a small WAL record (a transaction that gets an ID and commits). After a WAL switch
    /// on a quiet server, this starts the next segment: pg_receivewal only opens its next file
    /// when WAL arrives for it, and until then the segment just closed is the newest file it has.
    pub fn write_wal_record(&mut self) -> Result<(), QueryError> {
        self.client.batch_execute("SELECT txid_current()")?;
        Ok(())
    }

    /// Closes the current WAL segment with `pg_switch_wal()`, as Barman's `switch-wal` does:
    /// the name of the segment it closed, or `None` when the current one was still empty (no
    /// switch needed). The caller checks privileges and recovery first: both make it fail.
    pub fn switch_wal(&mut self) -> Result<Option<String>, QueryError> {
        // From PostgreSQL 17 the name at a segment boundary is the new segment's, not the one
        // just finished: take the previous one, as older versions report it.
        let position = "SELECT file_name, file_offset::bigint, \
                        (SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size') \
                        FROM pg_walfile_name_offset(pg_current_wal_insert_lsn())";
        let before = self.client.query_one(position, &[])?;
        let mut closed: String = before.get(0);
        if self.version_num >= 170_000 && before.get::<_, i64>(1) == 0 {
            let size = u64::try_from(before.get::<_, i64>(2))
                .ok()
                .and_then(|b| SegmentSize::new(b).ok());
            if let (Some(size), Ok(name)) = (size, WalFileName::parse(&closed)) {
                if let Some(previous) = name.segment().and_then(|segment| segment.previous(size)) {
                    closed = previous.to_string();
                }
            }
        }
        self.client.execute("SELECT pg_switch_wal()", &[])?;
        let after: String = self
            .client
            .query_one("SELECT pg_walfile_name(pg_current_wal_insert_lsn())", &[])?
            .get(0);
        let before_name: String = before.get(0);
        Ok((before_name < after).then_some(closed))
    }
}

/// Barman's test of the monitoring roles (PostgreSQL 10 and later), as an SQL condition on the
/// current role: `pg_monitor`, or both `pg_read_all_settings` and `pg_read_all_stats`.
pub(crate) const MONITORING_ROLES_SQL: &str = "(pg_has_role(CURRENT_USER, 'pg_monitor', 'USAGE') \
     OR (pg_has_role(CURRENT_USER, 'pg_read_all_settings', 'USAGE') \
         AND pg_has_role(CURRENT_USER, 'pg_read_all_stats', 'USAGE')))";

/// The names of the WAL position functions and columns, which PostgreSQL 10 renamed
/// (`xlog` to `wal`, `location` to `lsn`).
pub(crate) struct WalNames {
    /// `pg_current_wal_lsn`.
    pub current_lsn: &'static str,
    /// `pg_last_wal_replay_lsn`.
    pub last_replay_lsn: &'static str,
    /// `pg_last_wal_receive_lsn`.
    pub last_receive_lsn: &'static str,
    /// `pg_walfile_name_offset`.
    pub walfile_name_offset: &'static str,
    /// The suffix of `pg_stat_replication`'s position columns (`sent_lsn`).
    pub position_column: &'static str,
}

impl PostgresServer {
    /// The session, for modules that batch their questions into one query.
    pub(crate) fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// The WAL function and column names of this server's version.
    pub(crate) fn wal_names(&self) -> WalNames {
        if self.version_num >= 100_000 {
            WalNames {
                current_lsn: "pg_current_wal_lsn",
                last_replay_lsn: "pg_last_wal_replay_lsn",
                last_receive_lsn: "pg_last_wal_receive_lsn",
                walfile_name_offset: "pg_walfile_name_offset",
                position_column: "lsn",
            }
        } else {
            WalNames {
                current_lsn: "pg_current_xlog_location",
                last_replay_lsn: "pg_last_xlog_replay_location",
                last_receive_lsn: "pg_last_xlog_receive_location",
                walfile_name_offset: "pg_xlogfile_name_offset",
                position_column: "location",
            }
        }
    }

    /// Barman's `has_backup_privileges` as one SQL condition on `r.rolsuper`, `r` being the
    /// current role's `pg_roles` row, so that it can be batched with other questions.
    pub(crate) fn backup_privileges_sql(&self) -> String {
        if self.version_num < 100_000 {
            return "r.rolsuper".into();
        }
        let mut conditions = vec![MONITORING_ROLES_SQL.to_owned()];
        for alternatives in self.backup_functions() {
            let granted: Vec<String> = alternatives
                .iter()
                .map(|function| format!("has_function_privilege(CURRENT_USER, '{function}', 'EXECUTE')"))
                .collect();
            conditions.push(format!("({})", granted.join(" OR ")));
        }
        format!("(r.rolsuper OR ({}))", conditions.join(" AND "))
    }

    /// Barman's `has_checkpoint_privileges`: superuser, or from PostgreSQL 14 a member of
    /// `pg_checkpoint` (a role that exists from 15 on, so on 14 only superusers qualify).
    pub fn checkpoint_privileges(&mut self) -> Result<bool, QueryError> {
        let query = if self.version_num >= 150_000 {
            "SELECT rolsuper OR pg_has_role(CURRENT_USER, 'pg_checkpoint', 'USAGE') \
             FROM pg_roles WHERE rolname = CURRENT_USER"
        } else {
            "SELECT rolsuper FROM pg_roles WHERE rolname = CURRENT_USER"
        };
        Ok(self.client.query_typed_one(query, &[])?.get(0))
    }

    /// Runs `CHECKPOINT`.
    pub fn checkpoint(&mut self) -> Result<(), QueryError> {
        self.client.batch_execute("CHECKPOINT")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sufficiency_is_superuser_or_nothing_missing() {
        let none_missing = BackupPrivileges {
            superuser: false,
            missing_grants: vec![],
        };
        assert!(none_missing.sufficient());
        let missing = BackupPrivileges {
            superuser: false,
            missing_grants: vec!["GRANT x TO y".into()],
        };
        assert!(!missing.sufficient());
        assert!(BackupPrivileges {
            superuser: true,
            ..missing
        }
        .sufficient());
    }
}
