//! The backup method's checks: pg_basebackup for `postgres`; the SSH channel and the backup
//! strategy for `rsync`; PGDATA for `local-rsync`; the SSH channel to the primary Barman for a
//! passive node.

use std::path::Path;

use super::live::{run_shell, search_path, shell_quote, ssh_command_line, Executor, SshProbe};
use super::postgres::Sessions;
use super::{hint, CheckResult, Checker};
use crate::catalog::BackupStatus;
use crate::postgres::client_tools::ClientTool;

/// pg_basebackup gained `--tablespace-mapping` in 9.4.
const TABLESPACE_MAPPING_VERSION: u32 = 90_400;

impl Checker<'_> {
    /// The checks of the server's backup executor, if it has one.
    pub(super) fn check_executor(&mut self) {
        match Executor::of(self.server) {
            Some(Executor::Postgres) => self.check_pg_basebackup(),
            Some(Executor::Rsync { exclusive }) => {
                self.check_ssh("PostgreSQL server");
                self.check_strategy(exclusive);
            }
            Some(Executor::LocalRsync { exclusive }) => {
                self.check_local_pgdata();
                self.check_strategy(exclusive);
            }
            Some(Executor::Passive) => self.check_ssh("Barman primary node"),
            None => {}
        }
    }

    fn check_pg_basebackup(&mut self) {
        self.start("pg_basebackup");
        let found = self.live.pg_basebackup.as_mut().map(|pending| pending.get().clone());
        let tablespace_mapping = match &found {
            Some(Ok(installation)) => installation_supports_mapping(&installation.version),
            _ => None,
        };
        let server_version = self.streaming_version();
        self.report_tool(ClientTool::PgBasebackup, found, server_version);
        let Some(live) = self.live.connected(Sessions::Main) else {
            return;
        };
        let has_tablespaces =
            tablespace_mapping != Some(true) && live.server.tablespace_count().map_or(true, |count| count > 0);
        self.start("pg_basebackup supports tablespaces mapping");
        let result = if tablespace_mapping == Some(true) {
            CheckResult::ok("pg_basebackup supports tablespaces mapping", None)
        } else {
            let barman = "pg_basebackup 9.4 or higher is required for tablespaces support";
            if has_tablespaces {
                CheckResult::failed(
                    "pg_basebackup supports tablespaces mapping",
                    hint(
                        barman,
                        "install a recent pg_basebackup and point path_prefix at its directory",
                    ),
                )
            } else {
                CheckResult::ok("pg_basebackup supports tablespaces mapping", Some(barman.to_owned()))
            }
        };
        self.report(result);
    }

    /// `ssh` and, when it printed anything, `ssh output clean`.
    fn check_ssh(&mut self, ok_hint: &str) {
        self.start("ssh");
        let Some(probe) = self.live.ssh.as_mut().map(|pending| pending.get()) else {
            return;
        };
        let command = match Executor::of(self.server) {
            Some(Executor::Passive) => self.server.text("primary_ssh_command"),
            _ => self.server.text("ssh_command"),
        }
        .unwrap_or_default()
        .to_owned();
        let (_, shown) = ssh_command_line(&command, "true");
        let output = match probe {
            SshProbe::Ran {
                status: Some(0),
                output,
            } => {
                let output = output.clone();
                self.report(CheckResult::ok("ssh", Some(ok_hint.to_owned())));
                output
            }
            SshProbe::Ran { status, output } => {
                let status = status.map_or_else(|| "None".to_owned(), |code| code.to_string());
                let detail = output.trim().lines().last().unwrap_or_default().to_owned();
                self.report(CheckResult::failed(
                    "ssh",
                    hint(
                        &format!("Connection failed using '{shown}' return code {status}"),
                        &format!(
                            "{}run '{shown} true' as the barman user and fix what it reports (key in the remote \
                             user's ~/.ssh/authorized_keys, host name, port)",
                            if detail.is_empty() {
                                String::new()
                            } else {
                                format!("ssh said: {detail}; ")
                            }
                        ),
                    ),
                ));
                return;
            }
            SshProbe::NotStarted(error) => {
                let program = command.split_whitespace().next().unwrap_or_default().to_owned();
                let error = error.clone();
                self.report(CheckResult::failed(
                    "ssh",
                    hint(
                        &format!("Unable to execute {program}"),
                        &format!("{error}: install OpenSSH's client or fix ssh_command"),
                    ),
                ));
                return;
            }
        };
        if !output.is_empty() {
            self.start("ssh output clean");
            self.report(CheckResult::failed(
                "ssh output clean",
                hint(
                    "the configured ssh_command must not add anything to the remote command output",
                    &format!(
                        "'{shown} true' printed {:?}: remove what prints it (remote shell start-up files, a banner, \
                         a known_hosts warning)",
                        output.trim()
                    ),
                ),
            ));
        }
        self.check_backup_label_left_behind();
    }

    /// `backup_label` (only when failing): PostgreSQL is down and the last backup's
    /// `backup_label` is still in PGDATA, which would stop it from starting normally.
    fn check_backup_label_left_behind(&mut self) {
        if self.live.postgres(Sessions::Main).is_none() || self.live.connected(Sessions::Main).is_some() {
            return;
        }
        let pgdata = match self.catalog() {
            Ok(catalog) => catalog
                .last(&[
                    BackupStatus::Started,
                    BackupStatus::WaitingForWals,
                    BackupStatus::Done,
                    BackupStatus::Syncing,
                    BackupStatus::Failed,
                ])
                .and_then(|backup| backup.get("pgdata").map(str::to_owned)),
            Err(_) => None,
        };
        let Some(pgdata) = pgdata else {
            return;
        };
        self.start("backup_label");
        let label = Path::new(&pgdata).join("backup_label");
        let ssh_command = self.server.text("ssh_command").unwrap_or_default();
        let remote = format!("test -e {}", shell_quote(&label.to_string_lossy()));
        let (test, _) = ssh_command_line(ssh_command, &remote);
        let exists =
            run_shell(&test, &search_path(self.server, self.environment)).is_ok_and(|output| output.status.success());
        if exists {
            self.report(CheckResult::failed(
                "backup_label",
                hint(
                    "Check that the PostgreSQL server is up and no 'backup_label' file is in PGDATA.",
                    &format!(
                        "{} is left from an interrupted backup: start PostgreSQL, or remove it if no backup is running",
                        label.display()
                    ),
                ),
            ));
        }
    }

    /// `local PGDATA`: the data directory must be readable on this host.
    fn check_local_pgdata(&mut self) {
        self.start("local PGDATA");
        let pgdata = self
            .live
            .connected(Sessions::Main)
            .and_then(|live| live.server.setting("data_directory").ok().flatten());
        let result = match pgdata {
            Some(pgdata) if Path::new(&pgdata).is_dir() => {
                CheckResult::ok("local PGDATA", Some("Access to local PGDATA".into()))
            }
            Some(pgdata) => CheckResult::failed(
                "local PGDATA",
                format!(
                    "{pgdata} is not a directory on this host: local-rsync needs Barman on the PostgreSQL host, with \
                     read access to PGDATA"
                ),
            ),
            None => CheckResult::failed(
                "local PGDATA",
                "the data directory is unknown: PostgreSQL must be reachable through conninfo, with a superuser \
                 or a role granted pg_read_all_settings"
                    .to_owned(),
            ),
        };
        self.report(result);
    }

    /// The backup strategy's checks: `postgres minimal version` (reported only when failing)
    /// for concurrent backups; `not in recovery` and `exclusive backup supported` for
    /// exclusive ones.
    fn check_strategy(&mut self, exclusive: bool) {
        let facts = self
            .live
            .connected(Sessions::Main)
            .map(|live| (live.facts.version_num, live.facts.in_recovery));
        if !exclusive {
            self.start("postgres minimal version");
            if let Some((version, _)) = facts.filter(|(version, _)| *version < 90_600) {
                self.report(CheckResult::failed(
                    "postgres minimal version",
                    hint(
                        &format!(
                            "unsupported PostgresSQL version {}. Expecting 9.6 or above.",
                            version / 10_000
                        ),
                        "upgrade PostgreSQL to 9.6 or newer",
                    ),
                ));
            }
            return;
        }
        self.start("not in recovery");
        self.report(CheckResult::verdict(
            "not in recovery",
            facts.and_then(|(_, in_recovery)| in_recovery) != Some(true),
            "cannot perform exclusive backup on a standby",
            "use backup_options = concurrent_backup",
        ));
        self.start("exclusive backup supported");
        self.report(match facts {
            Some((version, _)) if version < 150_000 => CheckResult::ok("exclusive backup supported", None),
            Some((version, _)) => CheckResult::failed(
                "exclusive backup supported",
                hint(
                    &format!("exclusive backups not supported on PostgreSQL {}", version / 10_000),
                    "use backup_options = concurrent_backup",
                ),
            ),
            None => CheckResult::failed(
                "exclusive backup supported",
                hint(
                    "unable to determine postgres version",
                    "PostgreSQL must be reachable through conninfo (see the PostgreSQL check)",
                ),
            ),
        });
    }
}

/// Whether a pg_basebackup of `version` (`15.18`, `9.3.25`) has `--tablespace-mapping`.
fn installation_supports_mapping(version: &str) -> Option<bool> {
    let mut parts = version.split(|c: char| !c.is_ascii_digit()).filter(|p| !p.is_empty());
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = if major >= 10 { 0 } else { parts.next()?.parse().ok()? };
    Some(major * 10_000 + minor * 100 >= TABLESPACE_MAPPING_VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tablespace_mapping_arrived_in_9_4() {
        assert_eq!(installation_supports_mapping("15.18"), Some(true));
        assert_eq!(installation_supports_mapping("9.4.1"), Some(true));
        assert_eq!(installation_supports_mapping("9.3.25"), Some(false));
        assert_eq!(installation_supports_mapping("devel"), None);
    }
}
