//! Checks on the live PostgreSQL server: connection and version, privileges, streaming,
//! `wal_level`, standby set-up, replication slot, system identifier, and the WAL archivers
//! (pg_receivewal and receive-wal for streaming; `archive_mode`, `archive_command` and
//! `pg_stat_archiver` for `archive_command` shipping).

use super::live::{LivePostgres, PostgresFacts};
use super::{hint, CheckResult, Checker};
use crate::identity::ServerIdentity;
use crate::locks::{LockFile, LockName};
use crate::postgres::client_tools::{ClientTool, ToolInstallation, ToolNotFound};
use crate::postgres::server::ArchiverStats;
use crate::wal::PgMajorVersion;

/// The oldest PostgreSQL Barman supports.
const MINIMAL_VERSION_NUM: u32 = 90_600;

/// Which sessions a group of checks looks at: the main ones (`conninfo`,
/// `streaming_conninfo`), or those of WAL streaming when `wal_conninfo` or
/// `wal_streaming_conninfo` make them differ (their checks carry a ` (WAL streaming)` suffix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sessions {
    Main,
    WalStreaming,
}

impl Sessions {
    fn check_name(self, name: &str) -> String {
        match self {
            Sessions::Main => name.to_owned(),
            Sessions::WalStreaming => format!("{name} (WAL streaming)"),
        }
    }

    /// The options naming the normal and the replication connection.
    fn options(self) -> (&'static str, &'static str) {
        match self {
            Sessions::Main => ("conninfo", "streaming_conninfo"),
            Sessions::WalStreaming => ("wal_conninfo", "wal_streaming_conninfo"),
        }
    }
}

impl Checker<'_> {
    /// `PostgreSQL`, then (when connected) privileges, `PostgreSQL streaming`, `wal_level`,
    /// the standby checks; then the WAL streaming checks.
    pub(super) fn check_postgres(&mut self) {
        self.start("PostgreSQL");
        let probe = self.live.postgres(Sessions::Main).map(|pending| pending.get());
        let connected = match probe {
            None => Err("conninfo is not set: add 'conninfo = host=PGHOST user=barman dbname=postgres'".to_owned()),
            Some(Err(error)) => Err(error.clone()),
            Some(Ok(live)) => Ok((
                live.facts.version_num,
                live.facts.server_txt_version.clone(),
                live.facts.privileges.clone(),
                live.facts.wal_level.clone(),
            )),
        };
        match connected {
            Err(failure) => self.report(CheckResult::failed("PostgreSQL", failure)),
            Ok((version_num, version, _, _)) if version_num < MINIMAL_VERSION_NUM => {
                self.report(CheckResult::failed(
                    "PostgreSQL",
                    hint(
                        &format!("unsupported version: PostgreSQL server is too old ({version} < 9.6.0)"),
                        "upgrade PostgreSQL to 9.6 or newer",
                    ),
                ));
            }
            Ok((_, _, privileges, wal_level)) => {
                self.report(CheckResult::ok("PostgreSQL", None));
                if let Some(privileges) = privileges {
                    self.start("superuser or standard user with backup privileges");
                    if privileges.sufficient() {
                        self.report(CheckResult::ok(
                            "superuser or standard user with backup privileges",
                            None,
                        ));
                    } else {
                        self.report(CheckResult::failed(
                            "no access to backup functions",
                            hint(
                                "privileges for PostgreSQL backup functions are required (see documentation)",
                                &format!("as a superuser, run: {}", privileges.missing_grants.join("; ")),
                            ),
                        ));
                    }
                }
                self.check_streaming_connection(Sessions::Main);
                if let Some(wal_level) = wal_level {
                    self.check_wal_level(Sessions::Main, &wal_level);
                }
                if self.server.text("primary_conninfo").is_some() {
                    self.check_standby();
                }
            }
        }
        self.check_wal_streaming();
    }

    /// The replication slot, and when WAL streaming has its own connections, that they suit
    /// it (monitoring privileges, streaming, `wal_level`, system identifier).
    fn check_wal_streaming(&mut self) {
        if !self.live.wal_sessions_differ() {
            return self.check_replication_slot(Sessions::Main);
        }
        let sessions = Sessions::WalStreaming;
        let name = sessions.check_name("has monitoring privileges");
        self.start(&name);
        let probe = self.live.postgres(sessions).map(|pending| pending.get());
        let (monitoring, advice, wal_level) = match probe {
            Some(Ok(live)) => {
                let grants: Vec<String> = live
                    .facts
                    .privileges
                    .iter()
                    .flat_map(|p| p.missing_grants.iter().filter(|g| g.contains("pg_read_all")).cloned())
                    .collect();
                (
                    live.facts.monitoring,
                    format!("as a superuser, run: {}", grants.join("; ")),
                    live.facts.wal_level.clone(),
                )
            }
            Some(Err(error)) => (None, error.clone(), None),
            None => (None, "wal_conninfo must be set".to_owned(), None),
        };
        if monitoring == Some(true) {
            self.report(CheckResult::ok(&name, None));
        } else {
            // Barman names the failure without the suffix.
            self.report(CheckResult::failed(
                "no access to monitoring functions",
                hint(
                    "privileges for PostgreSQL monitoring functions are required (see documentation)",
                    &advice,
                ),
            ));
        }
        self.check_streaming_connection(sessions);
        if let Some(wal_level) = wal_level {
            self.check_wal_level(sessions, &wal_level);
        }
        self.check_identity(sessions);
        self.check_replication_slot(sessions);
    }

    /// `PostgreSQL streaming`, when a replication connection is configured and needed.
    fn check_streaming_connection(&mut self, sessions: Sessions) {
        let name = sessions.check_name("PostgreSQL streaming");
        let result = match self.live.streaming(sessions).map(|pending| pending.get()) {
            None => return,
            Some(Ok(_)) => CheckResult::ok(&name, None),
            Some(Err(error)) => CheckResult::failed(&name, streaming_advice(error)),
        };
        self.start(&name);
        self.report(result);
    }

    fn check_wal_level(&mut self, sessions: Sessions, wal_level: &str) {
        let name = sessions.check_name("wal_level");
        self.start(&name);
        self.report(CheckResult::verdict(
            &name,
            wal_level != "minimal",
            "please set it to a higher level than 'minimal'",
            "set wal_level = replica in postgresql.conf and restart PostgreSQL",
        ));
    }

    /// With `primary_conninfo`, `conninfo` must reach a standby of that primary.
    fn check_standby(&mut self) {
        self.start("PostgreSQL server is standby");
        let (in_recovery, standby_id) = self.live.connected(Sessions::Main).map_or((None, None), |live| {
            (live.facts.in_recovery, live.facts.system_identifier.clone())
        });
        if in_recovery != Some(true) {
            self.report(CheckResult::failed(
                "PostgreSQL server is standby",
                hint(
                    "conninfo should point to a standby server if primary_conninfo is set",
                    "point conninfo at the standby, or remove primary_conninfo to back up this primary directly",
                ),
            ));
            return;
        }
        self.report(CheckResult::ok("PostgreSQL server is standby", None));
        let primary = match self.live.primary.as_mut().map(|pending| pending.get()) {
            Some(Ok(primary)) => (primary.in_recovery, primary.system_identifier.clone()),
            Some(Err(error)) => (None, Some(format!("unreachable: {error}"))),
            None => (None, None),
        };
        self.start("Primary server is not a standby");
        self.report(CheckResult::verdict(
            "Primary server is not a standby",
            primary.0 != Some(true),
            "primary_conninfo should point to a primary server, not a standby",
            "point primary_conninfo at the server the standby replicates from",
        ));
        self.start("Primary and standby have same system ID");
        if standby_id.is_some() && standby_id == primary.1 {
            self.report(CheckResult::ok("Primary and standby have same system ID", None));
        } else {
            self.report(CheckResult::failed(
                "Primary and standby have same system ID",
                hint(
                    "primary_conninfo and conninfo should point to primary and standby servers which share \
                     the same system identifier",
                    &format!(
                        "conninfo reaches system {}, primary_conninfo {}",
                        standby_id.as_deref().unwrap_or("unknown"),
                        primary.1.as_deref().unwrap_or("unknown")
                    ),
                ),
            ));
        }
    }

    /// `replication slot`, when `slot_name` is set.
    fn check_replication_slot(&mut self, sessions: Sessions) {
        let Some(slot_name) = self.server.text("slot_name").map(str::to_owned) else {
            return;
        };
        let check = sessions.check_name("replication slot");
        self.start(&check);
        let name = self.server.name().to_owned();
        let live = self.live.connected(sessions);
        let connected = live.is_some();
        let slot = live.and_then(|live| live.facts.slot.clone()).flatten();
        let streaming = self.server.streaming_archiver();
        let start_advice = format!(
            "start it: 'barman cron' starts receive-wal when streaming_archiver = on (or run 'barman receive-wal {name}')"
        );
        let result = match (streaming, slot) {
            (true, None) => CheckResult::failed(
                &check,
                hint(
                    &format!(
                        "replication slot '{slot_name}' doesn't exist. Please execute 'barman receive-wal \
                         --create-slot {name}'"
                    ),
                    if connected {
                        "or set create_slot = auto so that receive-wal creates it"
                    } else {
                        "PostgreSQL could not be queried: see the connection error above"
                    },
                ),
            ),
            (true, Some(slot)) if slot.restart_lsn.is_none() => CheckResult::failed(
                &check,
                hint(
                    &format!("slot '{slot_name}' not initialised: is 'receive-wal' running?"),
                    &start_advice,
                ),
            ),
            (true, Some(slot)) if !slot.active => CheckResult::failed(
                &check,
                hint(
                    &format!("slot '{slot_name}' not active: is 'receive-wal' running?"),
                    &start_advice,
                ),
            ),
            (true, Some(_)) => CheckResult::ok(&check, None),
            (false, Some(slot)) if slot.restart_lsn.is_some() => {
                let state = if slot.active { "active" } else { "initialised" };
                CheckResult::ok(
                    &check,
                    Some(format!(
                        "WARNING: slot '{slot_name}' is {state} but not required by the current config"
                    )),
                )
            }
            (false, _) => return,
        };
        self.report(result);
    }

    /// `systemid coherence`: the replication and normal sessions reach the same cluster, the
    /// one recorded in `identity.json`.
    pub(super) fn check_identity(&mut self, sessions: Sessions) {
        let check = sessions.check_name("systemid coherence");
        self.start(&check);
        let streaming_id = match self.live.streaming(sessions).map(|pending| pending.get()) {
            Some(Ok(facts)) => Some(facts.system_identifier.clone()),
            _ => None,
        };
        let postgres_id = self
            .live
            .connected(sessions)
            .and_then(|live| live.facts.system_identifier.clone());
        if let (Some(streaming), Some(postgres)) = (&streaming_id, &postgres_id) {
            if streaming != postgres {
                let (normal, replication) = sessions.options();
                return self.report(CheckResult::failed(
                    &check,
                    hint(
                        "is the streaming DSN targeting the same server of the PostgreSQL connection string?",
                        &format!(
                            "{normal} reaches system {postgres}, {replication} system {streaming}: make both \
                             point to the same PostgreSQL server"
                        ),
                    ),
                ));
            }
        }
        let Some(live_id) = streaming_id.or(postgres_id) else {
            return self.report(CheckResult::ok(&check, Some("no system Id available".into())));
        };
        let Some(path) = self.server.path("backup_directory").map(ServerIdentity::path) else {
            return self.report(CheckResult::ok(&check, Some("no system Id stored on disk".into())));
        };
        let result = match ServerIdentity::read(&path) {
            Ok(None) => CheckResult::ok(&check, Some("no system Id stored on disk".into())),
            Ok(Some(stored)) if stored.system_identifier.to_string() == live_id => CheckResult::ok(&check, None),
            Ok(Some(stored)) => CheckResult::failed(
                &check,
                hint(
                    &format!(
                        "the system Id of the connected PostgreSQL server changed, stored in \"{}\"",
                        path.display()
                    ),
                    &format!(
                        "the archive belongs to system {}, the server is system {live_id}: if conninfo is right and \
                         this is a new cluster, configure it as a new Barman server (or move this server's \
                         directories away first)",
                        stored.system_identifier
                    ),
                ),
            ),
            Err(error) => CheckResult::failed(
                &check,
                format!("{error}; restore it from a copy or remove it so that it is written again"),
            ),
        };
        self.report(result);
    }

    /// The archivers' checks: streaming first, then `archive_command`, as Barman orders them.
    pub(super) fn check_archivers(&mut self) {
        if self.server.streaming_archiver() {
            self.check_streaming_archiver();
        }
        if self.server.archiver() {
            self.check_file_archiver();
        }
    }

    fn check_streaming_archiver(&mut self) {
        self.start("pg_receivexlog");
        let name = self.server.name().to_owned();
        let tool = self.live.pg_receivewal.as_mut().map(|pending| pending.get().clone());
        let server_version = self.streaming_version();
        self.report_tool(ClientTool::PgReceivewal, tool, server_version);
        self.start("receive-wal running");
        let lock = LockFile::path_in(&self.environment.lock_directory, LockName::ReceiveWal(&name));
        let running = lock.exists()
            && LockFile::is_busy(&self.environment.lock_directory, LockName::ReceiveWal(&name)).unwrap_or(false);
        self.report(if running {
            CheckResult::ok("receive-wal running", None)
        } else {
            CheckResult::failed(
                "receive-wal running",
                hint(
                    "See the Barman log file for more details",
                    &format!(
                        "no receive-wal holds {}: 'barman cron' starts it when streaming_archiver = on (or run \
                         'barman receive-wal {name}')",
                        lock.display()
                    ),
                ),
            )
        });
    }

    /// `<tool>` and `<tool> compatible` (Barman's names: `pg_basebackup`, `pg_receivexlog`).
    pub(super) fn report_tool(
        &mut self,
        tool: ClientTool,
        found: Option<Result<ToolInstallation, ToolNotFound>>,
        server_version: (Option<u32>, Option<String>),
    ) {
        let label = match tool {
            ClientTool::PgBasebackup => "pg_basebackup",
            ClientTool::PgReceivewal => "pg_receivexlog",
        };
        let installation = match found {
            Some(Ok(installation)) => {
                self.report(CheckResult::ok(label, None));
                Some(installation)
            }
            Some(Err(missing)) => {
                self.report(CheckResult::failed(label, format!("{missing}; {}", missing.hint())));
                None
            }
            None => None,
        };
        let compatible_name = format!("{label} compatible");
        self.start(&compatible_name);
        let (version_num, version_text) = server_version;
        let compatible = match (&installation, version_num) {
            (Some(installation), Some(num)) => installation.compatible_with(num),
            _ => false,
        };
        if compatible {
            return self.report(CheckResult::ok(&compatible_name, None));
        }
        // Barman prints `Unknown` for a missing pg_basebackup and `None` for pg_receivexlog.
        let missing_version = if tool == ClientTool::PgBasebackup {
            "Unknown"
        } else {
            "None"
        };
        let barman = format!(
            "PostgreSQL version: {}, {label} version: {}",
            version_text.as_deref().unwrap_or("None"),
            installation.as_ref().map_or(missing_version, |i| i.version.as_str())
        );
        let program = tool.names()[0];
        let advice = match (&installation, version_num) {
            (None, _) => format!("install {program} (see the {label} check)"),
            (Some(_), None) => "the server's version is unknown: fix the streaming connection first".to_owned(),
            (Some(installation), Some(num)) => {
                let major = PgMajorVersion::from_server_version_num(num);
                format!(
                    "{} is too old for the server: install {program} {major} or newer (Debian/Ubuntu: \
                     'apt-get install postgresql-client-{major}') and point path_prefix at its directory",
                    installation.path.display()
                )
            }
        };
        self.report(CheckResult::failed(&compatible_name, hint(&barman, &advice)));
    }

    /// The server's version as the replication session tells it (`15.18`, `None` unknown).
    pub(super) fn streaming_version(&mut self) -> (Option<u32>, Option<String>) {
        match self.live.streaming(Sessions::Main).map(|pending| pending.get()) {
            Some(Ok(facts)) => (facts.version_num, facts.version_num.map(version_text)),
            _ => (None, None),
        }
    }

    fn check_file_archiver(&mut self) {
        self.start("archive_mode");
        let Some(live) = self.live.connected(Sessions::Main) else {
            return;
        };
        let facts: &PostgresFacts = &live.facts;
        let (mode, command, archiver) = (
            facts.archive_mode.clone(),
            facts.archive_command.clone(),
            facts.archiver.clone(),
        );
        let Some(mode) = mode else {
            return;
        };
        let name = self.server.name().to_owned();
        self.report(CheckResult::verdict(
            "archive_mode",
            mode == "on" || mode == "always",
            "please set it to 'on' or 'always'",
            "set archive_mode = on in postgresql.conf and restart PostgreSQL",
        ));
        self.start("archive_command");
        match command.filter(|c| !c.is_empty() && c != "(disabled)") {
            Some(command) => {
                self.report(CheckResult::ok("archive_command", None));
                self.start("continuous archiving");
                if let Some(result) = continuous_archiving(archiver.as_ref(), &command) {
                    self.report(result);
                }
            }
            None => self.report(CheckResult::failed(
                "archive_command",
                hint(
                    "please set it accordingly to documentation",
                    &format!(
                        "set archive_command = 'barman-wal-archive BARMAN_HOST {name} %p' in postgresql.conf \
                         (BARMAN_HOST: this host as PostgreSQL reaches it over SSH; archive_mode must be on), then \
                         reload PostgreSQL"
                    ),
                ),
            )),
        }
    }

    /// Barman's WAL archive check, when nothing is archived yet: `pg_switch_wal()` so that a
    /// WAL reaches the archive. Whether to wait for it afterwards.
    pub(super) fn switch_wal_for_check(&mut self) -> bool {
        let Some(LivePostgres { server, facts }) = self.live.connected(Sessions::Main) else {
            return false;
        };
        if facts.in_recovery == Some(true) {
            // A standby cannot switch, but its primary's WAL may still arrive.
            return true;
        }
        if !facts.privileges.as_ref().is_some_and(|p| p.sufficient()) {
            return false;
        }
        let switched = server.switch_wal();
        if switched.is_ok() && self.server.streaming_archiver() {
            // archive-wal leaves the newest streamed segment to pg_receivewal until the next one
            // begins; on a quiet server that would wait for unrelated activity.
            if let Err(error) = server.write_wal_record() {
                log::debug!("cannot write a WAL record after the switch: {error}");
            }
        }
        if switched.is_ok() {
            // The archiver's statistics change with the switch: read them again.
            facts.archiver = server.archiver_stats().ok();
        }
        switched.is_ok()
    }
}

/// `continuous archiving`, from `pg_stat_archiver`. Barman leaves it out when the server
/// cannot tell (failures and no success yet); this reports that case as failing.
fn continuous_archiving(stats: Option<&ArchiverStats>, command: &str) -> Option<CheckResult> {
    let stats = stats?;
    let archiving = match stats.is_archiving {
        Some(archiving) => archiving,
        None if stats.failed_count > 0 => false,
        None => return None,
    };
    if archiving {
        return Some(CheckResult::ok("continuous archiving", None));
    }
    let failed = match (&stats.last_failed_wal, &stats.last_failed_time) {
        (Some(wal), Some(time)) => format!("{wal} at {}", time.format("%Y-%m-%d %H:%M:%S%:z")),
        (Some(wal), None) => wal.clone(),
        _ => "a WAL".to_owned(),
    };
    let succeeded = match (&stats.last_archived_wal, &stats.last_archived_time) {
        (Some(wal), Some(time)) => format!("last success: {wal} at {}", time.format("%Y-%m-%d %H:%M:%S%:z")),
        _ => "no success yet".to_owned(),
    };
    Some(CheckResult::failed(
        "continuous archiving",
        format!(
            "PostgreSQL's archiver failed {} times, last on {failed} ({succeeded}): run archive_command '{command}' \
             as the postgres user to see why, and read PostgreSQL's log",
            stats.failed_count
        ),
    ))
}

/// `150018` → `15.18`, `90624` → `9.6.24`, as Barman writes versions it computed.
fn version_text(num: u32) -> String {
    if num >= 100_000 {
        format!("{}.{}", num / 10_000, num % 100)
    } else {
        format!("{}.{}.{}", num / 10_000, num / 100 % 100, num % 100)
    }
}

/// The replication session's error, with what to change for the usual causes.
fn streaming_advice(error: &str) -> String {
    let setting = if error.contains("max_wal_senders") {
        Some("set max_wal_senders = 2 (or more) in postgresql.conf and restart PostgreSQL")
    } else if error.contains("must be superuser or replication role")
        || error.contains("permission denied to start WAL sender")
    {
        Some("give the streaming role the REPLICATION attribute: ALTER ROLE <role> REPLICATION")
    } else if error.contains("no pg_hba.conf entry for replication") {
        Some("add a 'host replication <role> <barman address> scram-sha-256' line to pg_hba.conf and reload PostgreSQL")
    } else {
        None
    };
    match setting {
        Some(setting) if !error.contains(setting) => format!("{error}; {setting}"),
        _ => error.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_written_as_barman_computes_them() {
        assert_eq!(version_text(150_018), "15.18");
        assert_eq!(version_text(170_000), "17.0");
        assert_eq!(version_text(90_624), "9.6.24");
    }

    #[test]
    fn streaming_errors_name_the_setting_to_change() {
        let error = "cannot connect to PostgreSQL with 'host=pg': number of requested standby connections \
                     exceeds max_wal_senders (currently 0)";
        assert!(streaming_advice(error)
            .ends_with("set max_wal_senders = 2 (or more) in postgresql.conf and restart PostgreSQL"));
        assert_eq!(streaming_advice("other"), "other");
    }
}
