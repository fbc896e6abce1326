//! The live status of a server, as Barman's `show-servers`, `status` and `diagnose` report it:
//! what PostgreSQL says over `conninfo` (version, privileges, WAL position, size, settings,
//! configuration files, replication slot, system identifier), what the replication session
//! over `streaming_conninfo` says (`IDENTIFY_SYSTEM`), what the file archiver sees
//! (`archive_mode`, `archive_command`, `pg_stat_archiver`), and the client tools
//! (`pg_basebackup`, `pg_receivewal`) with their compatibility.
//!
//! The keys, their presence rules and their values are Barman's: a server that cannot be
//! reached still has its basic keys, all `None`, and the replication part says why in
//! `connection_error`. Which parts apply follows the configuration as in Barman: nothing for
//! an inactive or passive server, the replication part when `backup_method = postgres` or
//! `streaming_archiver` is on, `pg_basebackup` with `backup_method = postgres`,
//! `pg_receivewal` with `streaming_archiver`, the file archiver with `archiver`.
//!
//! Barman asks each question separately; here the PostgreSQL part is one batched query (plus
//! the version and `pg_stat_archiver`) on one session, while the replication session and the
//! client tools' `--version` runs proceed in parallel threads.

mod value;

use std::thread;

use postgres::types::{ToSql, Type};

pub use value::{ctime, StatusValue};

use super::client_tools::{self, ClientTool, ToolInstallation, ToolNotFound};
use super::replication::ReplicationConnection;
use super::server::{PostgresServer, QueryError, ReplicationSlot, WalNames};
use super::{connect, effective_conninfo, ClientEnvironment, PostgresError};
use crate::config::ServerConfig;
use crate::wal::{SegmentSize, WalFileName};

/// The oldest PostgreSQL Barman supports (`version_supported`).
pub const MINIMAL_VERSION_NUM: u32 = 90_600;

/// What to ask about a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusScope {
    /// `conninfo`.
    pub conninfo: Option<String>,
    /// `streaming_conninfo`, when the replication session is used.
    pub streaming_conninfo: Option<String>,
    /// `slot_name`.
    pub slot_name: Option<String>,
    /// The file archiver (`archiver`) is on.
    pub file_archiver: bool,
    /// `streaming_archiver_name`, when the streaming archiver is on.
    pub streaming_archiver_name: Option<String>,
    /// `backup_method = postgres`: `pg_basebackup` is reported.
    pub pg_basebackup: bool,
    /// `path_prefix`, searched before `PATH` for the client tools.
    pub path_prefix: Option<String>,
}

impl StatusScope {
    /// Everything Barman reports for `server`; `None` for an inactive or passive server,
    /// which has no live status.
    pub fn of(server: &ServerConfig) -> Option<Self> {
        if !server.active() || server.passive_node() {
            return None;
        }
        let text = |key: &str| server.text(key).map(str::to_owned);
        let postgres_method = server.backup_method() == "postgres";
        let streaming_used = postgres_method || server.streaming_archiver();
        Some(StatusScope {
            conninfo: text("conninfo"),
            streaming_conninfo: text("streaming_conninfo").filter(|_| streaming_used),
            slot_name: text("slot_name"),
            file_archiver: server.archiver(),
            streaming_archiver_name: server
                .streaming_archiver()
                .then(|| text("streaming_archiver_name").unwrap_or_else(|| "barman_receive_wal".into())),
            pg_basebackup: postgres_method,
            path_prefix: text("path_prefix"),
        })
    }

    /// Only the PostgreSQL session and the file archiver: what `status` shows.
    pub fn postgres_only(self) -> Self {
        StatusScope {
            streaming_conninfo: None,
            streaming_archiver_name: None,
            pg_basebackup: false,
            ..self
        }
    }
}

/// Why a part of the status is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusFailure {
    /// What failed.
    pub message: String,
    /// What to do about it, when it can be told.
    pub hint: Option<String>,
}

impl From<&PostgresError> for StatusFailure {
    fn from(error: &PostgresError) -> Self {
        StatusFailure {
            message: error.to_string(),
            hint: error.hint(),
        }
    }
}

/// The live status: Barman's keys with their values, in the order Barman fills them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RemoteStatus {
    entries: Vec<(&'static str, StatusValue)>,
    /// Why the PostgreSQL session gave nothing (or not everything).
    pub postgres_failure: Option<StatusFailure>,
    /// Why the replication session gave nothing.
    pub streaming_failure: Option<StatusFailure>,
}

impl RemoteStatus {
    /// The value of `key`, `None` when Barman would not have the key at all.
    pub fn get(&self, key: &str) -> Option<&StatusValue> {
        self.entries.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Every key with its value.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &StatusValue)> {
        self.entries.iter().map(|(k, v)| (*k, v))
    }

    /// Sets `key`, keeping its place if it is already there (as a Python dict update).
    fn set(&mut self, key: &'static str, value: StatusValue) {
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    fn set_none(&mut self, keys: &[&'static str]) {
        for key in keys {
            self.set(key, StatusValue::None);
        }
    }
}

/// The keys of the PostgreSQL part that exist even when the server cannot be reached.
const POSTGRES_BASIC_KEYS: &[&str] = &[
    "data_directory",
    "server_txt_version",
    "is_superuser",
    "is_in_recovery",
    "current_xlog",
    "replication_slot_support",
    "replication_slot",
    "synchronous_standby_names",
    "postgres_systemid",
    "version_supported",
];

/// The keys of the replication part.
const STREAMING_KEYS: &[&str] = &[
    "connection_error",
    "streaming_supported",
    "streaming",
    "streaming_systemid",
    "timeline",
    "xlogpos",
    "version_supported",
];

/// Settings read as `SHOW` writes them (Barman's `get_setting`), when the role may see them.
const SHOWN_SETTINGS: &[&str] = &[
    "wal_level",
    "hot_standby",
    "max_wal_senders",
    "data_checksums",
    "max_replication_slots",
    "wal_compression",
    "wal_keep_size",
    "wal_keep_segments",
    "archive_mode",
    "archive_command",
    "synchronous_standby_names",
];

/// Asks everything `scope` covers. `path` is `PATH`, searched after `path_prefix`.
pub fn fetch(scope: &StatusScope, env: &ClientEnvironment, path: &str) -> RemoteStatus {
    let find_tool = |tool: ClientTool| client_tools::find(tool, scope.path_prefix.as_deref(), path);
    thread::scope(|threads| {
        let streaming = scope
            .streaming_conninfo
            .as_deref()
            .map(|dsn| threads.spawn(move || streaming_part(dsn, env)));
        let receivewal = scope
            .streaming_archiver_name
            .is_some()
            .then(|| threads.spawn(move || find_tool(ClientTool::PgReceivewal)));
        let basebackup = scope
            .pg_basebackup
            .then(|| threads.spawn(move || find_tool(ClientTool::PgBasebackup)));
        let postgres = scope.conninfo.as_deref().map(|dsn| postgres_part(dsn, scope, env));

        let mut status = RemoteStatus::default();
        let mut synchronous_names = None;
        let mut archiver = None;
        if let Some(part) = postgres {
            status.entries = part.entries;
            status.postgres_failure = part.failure;
            synchronous_names = part.synchronous_standby_names;
            archiver = part.archiver;
        }
        let mut streaming_version = None;
        if let Some(thread) = streaming {
            let part = join(thread);
            for (key, value) in part.entries {
                status.set(key, value);
            }
            status.streaming_failure = part.failure;
            streaming_version = part.version_num;
        }
        if let (Some(thread), Some(name)) = (receivewal, scope.streaming_archiver_name.as_deref()) {
            let synchronous = synchronous_names.as_deref().map(|names| synchronous(names, name));
            receivewal_keys(&mut status, join(thread), streaming_version, synchronous);
        }
        if scope.file_archiver {
            match archiver {
                Some(entries) => {
                    for (key, value) in entries {
                        status.set(key, value);
                    }
                }
                None => status.set_none(&["archive_mode", "archive_command"]),
            }
        }
        if let Some(thread) = basebackup {
            basebackup_keys(&mut status, join(thread), streaming_version);
        }
        status
    })
}

fn join<T>(thread: thread::ScopedJoinHandle<'_, T>) -> T {
    thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// What the PostgreSQL session told.
struct PostgresPart {
    entries: Vec<(&'static str, StatusValue)>,
    failure: Option<StatusFailure>,
    /// `None` when the server could not be asked.
    synchronous_standby_names: Option<Vec<String>>,
    /// The file archiver's keys, `None` when the server could not be asked.
    archiver: Option<Vec<(&'static str, StatusValue)>>,
}

fn postgres_part(dsn: &str, scope: &StatusScope, env: &ClientEnvironment) -> PostgresPart {
    let mut status = RemoteStatus::default();
    status.set_none(POSTGRES_BASIC_KEYS);
    let unknown = |status: RemoteStatus, failure: StatusFailure| PostgresPart {
        entries: status.entries,
        failure: Some(failure),
        synchronous_standby_names: None,
        archiver: None,
    };
    let client = match connect(dsn, env) {
        Ok(client) => client,
        Err(error) => return unknown(status, StatusFailure::from(&error)),
    };
    let query_failure = |error: QueryError| StatusFailure {
        message: error.to_string(),
        hint: Some("check that the role of conninfo may read the PostgreSQL catalog and settings".into()),
    };
    let mut server = match PostgresServer::new(client) {
        Ok(server) => server,
        Err(error) => return unknown(status, query_failure(error)),
    };
    let facts = match ServerFacts::query(&mut server, scope.slot_name.as_deref()) {
        Ok(facts) => facts,
        Err(error) => return unknown(status, query_failure(error)),
    };
    let synchronous_standby_names = facts.synchronous_standby_names();
    facts.fill(&mut status, server.version_num(), scope.slot_name.as_deref());
    let archiver = scope.file_archiver.then(|| {
        let mut keys = RemoteStatus::default();
        keys.set("archive_mode", StatusValue::text(facts.setting("archive_mode")));
        keys.set("archive_command", StatusValue::text(facts.setting("archive_command")));
        // Like Barman, a failing pg_stat_archiver query leaves its keys out.
        if let Ok(stats) = server.archiver_stats() {
            keys.set("archived_count", StatusValue::Int(stats.archived_count));
            keys.set("last_archived_wal", StatusValue::text(stats.last_archived_wal));
            keys.set("last_archived_time", StatusValue::timestamp(stats.last_archived_time));
            keys.set("failed_count", StatusValue::Int(stats.failed_count));
            keys.set("last_failed_wal", StatusValue::text(stats.last_failed_wal));
            keys.set("last_failed_time", StatusValue::timestamp(stats.last_failed_time));
            keys.set("stats_reset", StatusValue::timestamp(stats.stats_reset));
            keys.set("is_archiving", StatusValue::bool(stats.is_archiving));
            keys.set(
                "current_archived_wals_per_second",
                stats
                    .current_archived_wals_per_second
                    .map_or(StatusValue::None, StatusValue::Decimal),
            );
        }
        keys.entries
    });
    PostgresPart {
        entries: status.entries,
        failure: None,
        synchronous_standby_names: Some(synchronous_standby_names),
        archiver,
    }
}

/// The answers of the batched status query.
struct ServerFacts {
    version: String,
    superuser: bool,
    backup_privileges: Option<bool>,
    monitoring_privileges: Option<bool>,
    in_recovery: bool,
    current_lsn: Option<String>,
    current_file: Option<String>,
    current_offset: Option<i32>,
    current_size: Option<String>,
    data_directory: Option<String>,
    archive_timeout: Option<String>,
    checkpoint_timeout: Option<String>,
    wal_segment_size: Option<i64>,
    settings: Vec<(String, String)>,
    config_files: [(&'static str, Option<String>); 3],
    included_files: Vec<String>,
    slot: Option<ReplicationSlot>,
    system_identifier: Option<String>,
}

impl ServerFacts {
    /// One round trip: every question of Barman's `fetch_remote_status` but the archiver's.
    /// `pg_settings` is computed once (each scan of the view formats every setting).
    fn query(server: &mut PostgresServer, slot_name: Option<&str>) -> Result<Self, QueryError> {
        let version_num = server.version_num();
        let WalNames {
            current_lsn,
            last_replay_lsn: replay_lsn,
            walfile_name_offset: name_offset,
            ..
        } = server.wal_names();
        let monitoring = if version_num >= 100_000 {
            format!("r.rolsuper OR {}", super::server::MONITORING_ROLES_SQL)
        } else {
            // The monitoring roles do not exist yet: Barman's query fails for non-superusers.
            "CASE WHEN r.rolsuper THEN true END".to_owned()
        };
        let segment_size = if version_num >= 110_000 {
            "(SELECT setting::bigint FROM s WHERE name = 'wal_segment_size')"
        } else {
            "(SELECT setting::bigint FROM s WHERE name = 'wal_segment_size') \
             * (SELECT setting::bigint FROM s WHERE name = 'wal_block_size')"
        };
        let query = format!(
            "WITH s AS MATERIALIZED (SELECT name, setting, sourcefile FROM pg_settings) \
             SELECT version(), r.rolsuper, p.backup, {monitoring}, w.in_recovery, w.lsn::text, \
             CASE WHEN NOT w.in_recovery THEN ({name_offset}(w.lsn)).file_name END, \
             CASE WHEN NOT w.in_recovery THEN ({name_offset}(w.lsn)).file_offset END, \
             CASE WHEN p.backup THEN (SELECT sum(pg_tablespace_size(oid)) FROM pg_tablespace)::text END, \
             CASE WHEN p.backup THEN current_setting('data_directory') END, \
             (SELECT setting FROM s WHERE name = 'archive_timeout'), \
             (SELECT setting FROM s WHERE name = 'checkpoint_timeout'), \
             {segment_size}, \
             ARRAY(SELECT name FROM s WHERE name = ANY($1) ORDER BY name), \
             ARRAY(SELECT current_setting(name) FROM s WHERE name = ANY($1) ORDER BY name), \
             (SELECT setting FROM s WHERE name = 'config_file'), \
             (SELECT setting FROM s WHERE name = 'hba_file'), \
             (SELECT setting FROM s WHERE name = 'ident_file'), \
             ARRAY(SELECT DISTINCT sourcefile FROM s WHERE sourcefile IS NOT NULL \
                   AND sourcefile NOT IN (SELECT setting FROM s WHERE name = 'config_file') \
                   ORDER BY 1), \
             s.slot_name IS NOT NULL, s.active, s.restart_lsn::text, \
             (SELECT system_identifier::text FROM pg_control_system()) \
             FROM pg_roles r \
             CROSS JOIN LATERAL (SELECT {backup} AS backup) p \
             CROSS JOIN LATERAL (SELECT pg_is_in_recovery() AS in_recovery, \
                 CASE WHEN pg_is_in_recovery() THEN {replay_lsn}() ELSE {current_lsn}() END AS lsn) w \
             LEFT JOIN pg_replication_slots s ON s.slot_type = 'physical' AND s.slot_name = $2 \
             WHERE r.rolname = CURRENT_USER",
            backup = server.backup_privileges_sql(),
        );
        let names: Vec<&str> = SHOWN_SETTINGS.to_vec();
        let slot_name = slot_name.map(str::to_owned);
        let params: [(&(dyn ToSql + Sync), Type); 2] = [(&names, Type::TEXT_ARRAY), (&slot_name, Type::TEXT)];
        let row = server.client().query_typed_one(&query, &params)?;
        let setting_names: Vec<String> = row.try_get(13)?;
        let setting_values: Vec<String> = row.try_get(14)?;
        let slot_found: bool = row.try_get(19)?;
        Ok(ServerFacts {
            version: row.try_get(0)?,
            superuser: row.try_get(1)?,
            backup_privileges: row.try_get(2)?,
            monitoring_privileges: row.try_get(3)?,
            in_recovery: row.try_get(4)?,
            current_lsn: row.try_get(5)?,
            current_file: row.try_get(6)?,
            current_offset: row.try_get(7)?,
            current_size: row.try_get(8)?,
            data_directory: row.try_get(9)?,
            archive_timeout: row.try_get(10)?,
            checkpoint_timeout: row.try_get(11)?,
            wal_segment_size: row.try_get(12)?,
            settings: setting_names.into_iter().zip(setting_values).collect(),
            config_files: [
                ("config_file", row.try_get(15)?),
                ("hba_file", row.try_get(16)?),
                ("ident_file", row.try_get(17)?),
            ],
            included_files: row.try_get(18)?,
            slot: match slot_found {
                true => Some(ReplicationSlot {
                    active: row.try_get(20)?,
                    restart_lsn: row.try_get(21)?,
                }),
                false => None,
            },
            system_identifier: row.try_get(22)?,
        })
    }

    fn setting(&self, name: &str) -> Option<String> {
        self.settings.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }

    /// Barman's list of names in `synchronous_standby_names`: the part between the first `(`
    /// and the last `)` when there are parentheses (`2 (a, "b")`), split on commas, blanks and
    /// double quotes stripped. An unreadable setting is an empty list.
    fn synchronous_standby_names(&self) -> Vec<String> {
        let Some(setting) = self.setting("synchronous_standby_names") else {
            return Vec::new();
        };
        let start = setting.find('(').map_or(0, |i| i + 1);
        let end = setting.rfind(')').unwrap_or(setting.len()).max(start);
        setting[start..end]
            .split(',')
            .map(|name| name.trim().trim_matches('"').to_owned())
            .collect()
    }

    /// The server's `SHOW server_version` as Barman reads it from `version()`: the second word
    /// (EnterpriseDB's versions drop their fourth component).
    fn server_txt_version(&self) -> Option<String> {
        let mut words = self.version.split_whitespace();
        let platform = words.next()?;
        let version = words.next()?;
        Some(if platform == "EnterpriseDB" {
            version.rsplit_once('.').map_or(version, |(head, _)| head).to_owned()
        } else {
            version.to_owned()
        })
    }

    /// The current WAL file, named as before PostgreSQL 17 at a segment boundary (the segment
    /// just finished, not the one starting).
    fn current_xlog(&self, version_num: u32) -> Option<String> {
        let file = self.current_file.clone()?;
        if version_num < 170_000 || self.current_offset != Some(0) {
            return Some(file);
        }
        let size = self
            .wal_segment_size
            .and_then(|bytes| u64::try_from(bytes).ok())
            .and_then(|bytes| SegmentSize::new(bytes).ok());
        let previous = WalFileName::parse(&file)
            .ok()
            .and_then(|name| name.segment())
            .zip(size)
            .and_then(|(segment, size)| segment.previous(size));
        Some(previous.map_or(file, |segment| segment.to_string()))
    }

    fn fill(&self, status: &mut RemoteStatus, version_num: u32, slot_name: Option<&str>) {
        let setting = |name: &str| StatusValue::text(self.setting(name));
        let int_setting = |text: &Option<String>| StatusValue::int(text.as_deref().and_then(|t| t.parse().ok()));
        status.set("data_directory", StatusValue::text(self.data_directory.clone()));
        for name in [
            "wal_level",
            "hot_standby",
            "max_wal_senders",
            "data_checksums",
            "max_replication_slots",
            "wal_compression",
        ] {
            status.set(name, setting(name));
        }
        if version_num < 130_000 {
            status.set("wal_keep_segments", setting("wal_keep_segments"));
        } else {
            status.set("wal_keep_size", setting("wal_keep_size"));
        }
        status.set("is_superuser", StatusValue::Bool(self.superuser));
        status.set("has_backup_privileges", StatusValue::bool(self.backup_privileges));
        status.set(
            "has_monitoring_privileges",
            StatusValue::bool(self.monitoring_privileges),
        );
        status.set("is_in_recovery", StatusValue::Bool(self.in_recovery));
        status.set("server_txt_version", StatusValue::text(self.server_txt_version()));
        status.set(
            "version_supported",
            StatusValue::Bool(version_num >= MINIMAL_VERSION_NUM),
        );
        status.set("current_lsn", StatusValue::text(self.current_lsn.clone()));
        status.set("current_xlog", StatusValue::text(self.current_xlog(version_num)));
        status.set(
            "current_size",
            self.current_size
                .clone()
                .map_or(StatusValue::None, StatusValue::Decimal),
        );
        status.set("archive_timeout", int_setting(&self.archive_timeout));
        status.set("checkpoint_timeout", int_setting(&self.checkpoint_timeout));
        status.set("xlog_segment_size", StatusValue::int(self.wal_segment_size));
        for (key, file) in &self.config_files {
            if let Some(file) = file {
                status.set(key, StatusValue::Text(file.clone()));
            }
        }
        if !self.included_files.is_empty() {
            status.set("included_files", StatusValue::List(self.included_files.clone()));
        }
        status.set("replication_slot_support", StatusValue::Bool(true));
        if let (Some(name), Some(slot)) = (slot_name, &self.slot) {
            status.set(
                "replication_slot",
                StatusValue::Slot {
                    name: name.to_owned(),
                    slot: slot.clone(),
                },
            );
        }
        status.set(
            "synchronous_standby_names",
            StatusValue::List(self.synchronous_standby_names()),
        );
        status.set("postgres_systemid", StatusValue::text(self.system_identifier.clone()));
    }
}

/// What the replication session told.
struct StreamingPart {
    entries: Vec<(&'static str, StatusValue)>,
    failure: Option<StatusFailure>,
    version_num: Option<u32>,
}

fn streaming_part(dsn: &str, env: &ClientEnvironment) -> StreamingPart {
    let mut status = RemoteStatus::default();
    status.set_none(STREAMING_KEYS);
    let mut part = StreamingPart {
        entries: Vec::new(),
        failure: None,
        version_num: None,
    };
    let result = ReplicationConnection::connect(dsn, env).and_then(|mut session| {
        let version = session
            .simple_query("SHOW server_version_num")
            .ok()
            .and_then(|rows| rows.rows.first()?.first()?.as_deref()?.parse::<u32>().ok());
        part.version_num = version;
        if let Some(version) = version {
            status.set("version_supported", StatusValue::Bool(version >= MINIMAL_VERSION_NUM));
            if version < MINIMAL_VERSION_NUM {
                return Ok(());
            }
        }
        status.set("streaming_supported", StatusValue::Bool(true));
        let identity = session.identify_system()?;
        status.set("streaming", StatusValue::Bool(true));
        status.set("streaming_systemid", StatusValue::Text(identity.system_identifier));
        status.set("timeline", StatusValue::Int(i64::from(identity.timeline)));
        status.set("xlogpos", StatusValue::Text(identity.xlogpos));
        Ok(())
    });
    if let Err(error) = result {
        status.set(
            "connection_error",
            StatusValue::Text(libpq_connection_error(&error, dsn, env)),
        );
        part.failure = Some(StatusFailure::from(&error));
    }
    part.entries = status.entries;
    part
}

/// A connection failure worded as libpq words it, which is what Barman shows in
/// `connection_error`: `connection to server at "HOST", port PORT failed: REASON`.
fn libpq_connection_error(error: &PostgresError, dsn: &str, env: &ClientEnvironment) -> String {
    let PostgresError::Connect { message, .. } = error else {
        return error.to_string();
    };
    let Ok((info, _)) = effective_conninfo(dsn, env) else {
        return message.clone();
    };
    let client_side = message.starts_with("error connecting to server") || message.contains("(os error ");
    let mut reason = message
        .strip_prefix("error connecting to server: ")
        .unwrap_or(message)
        .to_owned();
    if let Some(start) = reason.find(" (os error ") {
        reason.truncate(start);
    }
    let host = info.host().split(',').next().unwrap_or_default();
    let port = info.port();
    if let Some(rest) = reason.strip_prefix(&format!("{host}:{port}: ")) {
        reason = rest.to_owned();
    }
    if !client_side {
        reason = format!("FATAL:  {reason}");
    }
    if host.starts_with('/') {
        format!("connection to server on socket \"{host}/.s.PGSQL.{port}\" failed: {reason}")
    } else {
        format!("connection to server at \"{host}\", port {port} failed: {reason}")
    }
}

/// Barman's `pg_receivexlog_synchronous` rule: the streaming archiver's name, or `*`, among
/// the synchronous standby names. An empty list stays an empty list, as in Barman.
fn synchronous(names: &[String], archiver_name: &str) -> StatusValue {
    if names.is_empty() {
        return StatusValue::List(Vec::new());
    }
    StatusValue::Bool(names.iter().any(|n| n == "*" || n == archiver_name))
}

fn tool_found(
    status: &mut RemoteStatus,
    keys: [&'static str; 3],
    found: Result<ToolInstallation, ToolNotFound>,
) -> Option<ToolInstallation> {
    let [installed, path, version] = keys;
    match found {
        Ok(tool) => {
            status.set(installed, StatusValue::Bool(true));
            status.set(path, StatusValue::Text(tool.path.display().to_string()));
            status.set(version, StatusValue::Text(tool.version.clone()));
            Some(tool)
        }
        Err(_) => {
            status.set(installed, StatusValue::Bool(false));
            None
        }
    }
}

fn receivewal_keys(
    status: &mut RemoteStatus,
    found: Result<ToolInstallation, ToolNotFound>,
    server_version: Option<u32>,
    synchronous: Option<StatusValue>,
) {
    status.set_none(&[
        "pg_receivexlog_compatible",
        "pg_receivexlog_installed",
        "pg_receivexlog_path",
        "pg_receivexlog_supports_slots",
        "pg_receivexlog_synchronous",
        "pg_receivexlog_version",
    ]);
    let keys = [
        "pg_receivexlog_installed",
        "pg_receivexlog_path",
        "pg_receivexlog_version",
    ];
    let (Some(tool), Some(server_version)) = (tool_found(status, keys, found), server_version) else {
        return;
    };
    let compatible = tool.compatible_with(server_version);
    status.set("pg_receivexlog_compatible", StatusValue::Bool(compatible));
    status.set("pg_receivexlog_supports_slots", StatusValue::Bool(compatible));
    let synchronous = match compatible {
        true => synchronous.unwrap_or(StatusValue::None),
        false => StatusValue::Bool(false),
    };
    status.set("pg_receivexlog_synchronous", synchronous);
}

fn basebackup_keys(
    status: &mut RemoteStatus,
    found: Result<ToolInstallation, ToolNotFound>,
    server_version: Option<u32>,
) {
    status.set_none(&[
        "pg_basebackup_compatible",
        "pg_basebackup_installed",
        "pg_basebackup_tbls_mapping",
        "pg_basebackup_path",
        "pg_basebackup_bwlimit",
        "pg_basebackup_version",
    ]);
    let keys = ["pg_basebackup_installed", "pg_basebackup_path", "pg_basebackup_version"];
    let Some(tool) = tool_found(status, keys, found) else {
        return;
    };
    // --max-rate and --tablespace-mapping came with pg_basebackup 9.4.
    let modern = tool.compatible_with(90_400);
    status.set("pg_basebackup_bwlimit", StatusValue::Bool(modern));
    status.set("pg_basebackup_tbls_mapping", StatusValue::Bool(modern));
    if let Some(server_version) = server_version {
        status.set(
            "pg_basebackup_compatible",
            StatusValue::Bool(tool.compatible_with(server_version)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts_with(settings: &[(&str, &str)]) -> ServerFacts {
        ServerFacts {
            version: "PostgreSQL 15.18 (Debian 15.18-0+deb12u1) on x86_64-pc-linux-gnu".into(),
            superuser: false,
            backup_privileges: Some(true),
            monitoring_privileges: Some(true),
            in_recovery: false,
            current_lsn: Some("0/2000000".into()),
            current_file: Some("000000010000000000000002".into()),
            current_offset: Some(0),
            current_size: None,
            data_directory: None,
            archive_timeout: Some("0".into()),
            checkpoint_timeout: Some("300".into()),
            wal_segment_size: Some(16 * 1024 * 1024),
            settings: settings.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            config_files: [("config_file", None), ("hba_file", None), ("ident_file", None)],
            included_files: Vec::new(),
            slot: None,
            system_identifier: None,
        }
    }

    #[test]
    fn synchronous_standby_names_are_split_as_barman_does() {
        let names = |value: &str| facts_with(&[("synchronous_standby_names", value)]).synchronous_standby_names();
        assert_eq!(names(""), vec![""]);
        assert_eq!(names("a, \"b\""), vec!["a", "b"]);
        assert_eq!(
            names("FIRST 2 (s1, barman_receive_wal)"),
            vec!["s1", "barman_receive_wal"]
        );
        assert!(facts_with(&[]).synchronous_standby_names().is_empty());
        assert_eq!(synchronous(&["*".into()], "x"), StatusValue::Bool(true));
        assert_eq!(synchronous(&["".into()], "x"), StatusValue::Bool(false));
        assert_eq!(synchronous(&[], "x"), StatusValue::List(vec![]));
    }

    #[test]
    fn versions_and_wal_files_follow_barman() {
        let facts = facts_with(&[]);
        assert_eq!(facts.server_txt_version().as_deref(), Some("15.18"));
        assert_eq!(facts.current_xlog(150_000).as_deref(), Some("000000010000000000000002"));
        assert_eq!(
            facts.current_xlog(170_000).as_deref(),
            Some("000000010000000000000001"),
            "at a segment boundary PostgreSQL 17 names the next segment"
        );
        let edb = ServerFacts {
            version: "EnterpriseDB 10.4.9 on x86_64".into(),
            ..facts_with(&[])
        };
        assert_eq!(edb.server_txt_version().as_deref(), Some("10.4"));
    }

    fn bare_environment() -> ClientEnvironment {
        ClientEnvironment {
            variables: Vec::new(),
            home: None,
            os_user: "barman".into(),
        }
    }

    #[test]
    fn connection_errors_are_worded_as_libpq_words_them() {
        let worded = |message: &str, dsn: &str| {
            let error = PostgresError::Connect {
                dsn: String::new(),
                message: message.into(),
                hint: None,
            };
            libpq_connection_error(&error, dsn, &bare_environment())
        };
        assert_eq!(
            worded(
                "error connecting to server: Connection refused (os error 111)",
                "host=127.0.0.1 port=1"
            ),
            "connection to server at \"127.0.0.1\", port 1 failed: Connection refused"
        );
        assert_eq!(
            worded(
                "password authentication failed for user \"barman\"",
                "host=/run/postgresql"
            ),
            "connection to server on socket \"/run/postgresql/.s.PGSQL.5432\" failed: \
             FATAL:  password authentication failed for user \"barman\""
        );
    }

    #[test]
    fn unreachable_servers_keep_barmans_keys_as_none() {
        let env = bare_environment();
        let scope = StatusScope {
            conninfo: Some("host=127.0.0.1 port=1 connect_timeout=2".into()),
            streaming_conninfo: Some("host=127.0.0.1 port=1 connect_timeout=2".into()),
            slot_name: None,
            file_archiver: true,
            streaming_archiver_name: None,
            pg_basebackup: false,
            path_prefix: None,
        };
        let status = fetch(&scope, &env, "");
        let keys: Vec<&str> = status.iter().map(|(k, _)| k).collect();
        let mut expected: Vec<&str> = POSTGRES_BASIC_KEYS.to_vec();
        expected.extend(STREAMING_KEYS.iter().filter(|k| **k != "version_supported"));
        expected.extend(["archive_mode", "archive_command"]);
        assert_eq!(keys, expected);
        assert_eq!(
            status.get("connection_error").unwrap().console(),
            "connection to server at \"127.0.0.1\", port 1 failed: Connection refused"
        );
        assert!(status.postgres_failure.is_some() && status.streaming_failure.is_some());
        assert!(status
            .iter()
            .all(|(key, value)| key == "connection_error" || value.is_none()));
    }
}
