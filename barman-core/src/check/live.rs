//! What the checks learn from outside Barman's directories: the PostgreSQL session
//! (`conninfo`), the replication session (`streaming_conninfo`), the primary of a standby
//! (`primary_conninfo`), the client tools and the `ssh` test. Each is started in its own thread
//! as soon as the run begins and waited for only when a check needs it.

use std::process::{Command, Stdio};
use std::thread::JoinHandle;

use super::postgres::Sessions;
use super::CheckEnvironment;
use crate::config::ServerConfig;
use crate::postgres::client_tools::{self, ClientTool, ToolInstallation, ToolNotFound};
use crate::postgres::replication::ReplicationConnection;
use crate::postgres::server::{ArchiverStats, BackupPrivileges, PostgresServer, ReplicationSlot};
use crate::postgres::{connect, PostgresError};

/// A value computed in another thread, waited for on first use.
pub(super) struct Pending<T> {
    thread: Option<JoinHandle<T>>,
    value: Option<T>,
}

impl<T: Send + 'static> Pending<T> {
    fn spawn(work: impl FnOnce() -> T + Send + 'static) -> Self {
        Pending {
            thread: Some(std::thread::spawn(work)),
            value: None,
        }
    }

    pub(super) fn get(&mut self) -> &mut T {
        if let Some(thread) = self.thread.take() {
            let value = thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            self.value = Some(value);
        }
        self.value.as_mut().expect("joined above")
    }
}

/// A connection error as the checks show it: the message, then what to do.
pub(super) fn describe(error: &PostgresError) -> String {
    match error.hint() {
        Some(hint) => format!("{error}; {hint}"),
        None => error.to_string(),
    }
}

/// What the PostgreSQL session told, queried once as Barman's remote status is.
pub(super) struct PostgresFacts {
    pub(super) server_txt_version: String,
    pub(super) version_num: u32,
    pub(super) privileges: Option<BackupPrivileges>,
    /// Barman's `has_monitoring_privileges`.
    pub(super) monitoring: Option<bool>,
    pub(super) wal_level: Option<String>,
    pub(super) archive_mode: Option<String>,
    pub(super) archive_command: Option<String>,
    pub(super) archiver: Option<ArchiverStats>,
    /// `None` when no slot is configured or the query failed; `Some(None)`: no such slot.
    pub(super) slot: Option<Option<ReplicationSlot>>,
    pub(super) system_identifier: Option<String>,
    pub(super) in_recovery: Option<bool>,
}

/// The PostgreSQL session and what it told.
pub(super) struct LivePostgres {
    pub(super) server: PostgresServer,
    pub(super) facts: PostgresFacts,
}

/// The outcome of opening the PostgreSQL session.
pub(super) type PostgresProbe = Result<Box<LivePostgres>, String>;

/// What the replication session told.
pub(super) struct StreamingFacts {
    pub(super) system_identifier: String,
    /// `server_version_num`, when the server answers `SHOW` on a replication session (10+).
    pub(super) version_num: Option<u32>,
}

/// The outcome of opening the replication session.
pub(super) type StreamingProbe = Result<StreamingFacts, String>;

/// What the primary of a standby told.
pub(super) struct PrimaryFacts {
    pub(super) in_recovery: Option<bool>,
    pub(super) system_identifier: Option<String>,
}

/// The outcome of `ssh_command ... true`.
pub(super) enum SshProbe {
    /// The command ran; its exit status and everything it printed.
    Ran { status: Option<i32>, output: String },
    /// It could not be started.
    NotStarted(String),
}

/// Everything started for one run.
pub(super) struct Live {
    postgres: Option<Pending<PostgresProbe>>,
    streaming: Option<Pending<StreamingProbe>>,
    /// The sessions of `wal_conninfo` and `wal_streaming_conninfo`, when they differ from the
    /// main ones.
    wal_postgres: Option<Pending<PostgresProbe>>,
    wal_streaming: Option<Pending<StreamingProbe>>,
    pub(super) primary: Option<Pending<Result<PrimaryFacts, String>>>,
    pub(super) pg_basebackup: Option<Pending<Result<ToolInstallation, ToolNotFound>>>,
    pub(super) pg_receivewal: Option<Pending<Result<ToolInstallation, ToolNotFound>>>,
    pub(super) ssh: Option<Pending<SshProbe>>,
}

/// Which backup executor Barman would build for the server, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Executor {
    /// `backup_method = postgres`: pg_basebackup.
    Postgres,
    /// `backup_method = rsync` over `ssh_command`; `exclusive` backups or concurrent ones.
    Rsync { exclusive: bool },
    /// `backup_method = local-rsync`.
    LocalRsync { exclusive: bool },
    /// A passive node copying from another Barman over `primary_ssh_command`.
    Passive,
}

impl Executor {
    /// None for inactive servers, and when `ssh_command` does not suit the rsync method (the
    /// server is disabled for it).
    pub(super) fn of(server: &ServerConfig) -> Option<Executor> {
        if !server.active() {
            return None;
        }
        if server.passive_node() {
            return Some(Executor::Passive);
        }
        let exclusive = server.backup_options().iter().any(|o| o == "exclusive_backup");
        let ssh = server.text("ssh_command").is_some();
        match server.backup_method() {
            "postgres" => Some(Executor::Postgres),
            "rsync" if ssh => Some(Executor::Rsync { exclusive }),
            "local-rsync" if !ssh => Some(Executor::LocalRsync { exclusive }),
            _ => None,
        }
    }
}

impl Live {
    /// Starts what `server` needs.
    pub(super) fn start(server: &ServerConfig, environment: &CheckEnvironment) -> Live {
        let connected = server.active() && !server.passive_node();
        let text = |key: &str| server.text(key).map(str::to_owned);
        let client = &environment.client;
        let postgres = text("conninfo").filter(|_| connected).map(|dsn| {
            let (slot, client) = (text("slot_name"), client.clone());
            Pending::spawn(move || probe_postgres(&dsn, slot.as_deref(), &client))
        });
        let streaming_wanted = server.backup_method() == "postgres" || server.streaming_archiver();
        let streaming = text("streaming_conninfo")
            .filter(|_| connected && streaming_wanted)
            .map(|dsn| {
                let client = client.clone();
                Pending::spawn(move || probe_streaming(&dsn, &client))
            });
        let wal = crate::receive_wal::WalConninfo::of(server);
        let wal_streaming_dsn = wal.as_ref().map(|wal| wal.streaming_conninfo.clone());
        let wal_dsn = wal.map(|wal| wal.conninfo);
        let (wal_postgres, wal_streaming) = if connected && wal_dsn != text("conninfo") {
            let (slot, postgres_client, streaming_client) = (text("slot_name"), client.clone(), client.clone());
            (
                wal_dsn.map(|dsn| Pending::spawn(move || probe_postgres(&dsn, slot.as_deref(), &postgres_client))),
                wal_streaming_dsn.map(|dsn| Pending::spawn(move || probe_streaming(&dsn, &streaming_client))),
            )
        } else {
            (None, None)
        };
        let primary = text("primary_conninfo").filter(|_| connected).map(|dsn| {
            let client = client.clone();
            Pending::spawn(move || probe_primary(&dsn, &client))
        });
        let executor = Executor::of(server);
        let tool = |tool: ClientTool| {
            let (prefix, path) = (text("path_prefix"), environment.path.clone());
            Pending::spawn(move || client_tools::find(tool, prefix.as_deref(), &path))
        };
        let pg_basebackup = (executor == Some(Executor::Postgres)).then(|| tool(ClientTool::PgBasebackup));
        let pg_receivewal = (connected && server.streaming_archiver()).then(|| tool(ClientTool::PgReceivewal));
        let ssh_command = match executor {
            Some(Executor::Rsync { .. }) => text("ssh_command"),
            Some(Executor::Passive) => text("primary_ssh_command"),
            _ => None,
        };
        let ssh = ssh_command.map(|command| {
            let path = search_path(server, environment);
            Pending::spawn(move || probe_ssh(&command, &path))
        });
        Live {
            postgres,
            streaming,
            wal_postgres,
            wal_streaming,
            primary,
            pg_basebackup,
            pg_receivewal,
            ssh,
        }
    }

    /// The PostgreSQL session of `sessions`, if one was attempted.
    pub(super) fn postgres(&mut self, sessions: Sessions) -> Option<&mut Pending<PostgresProbe>> {
        match sessions {
            Sessions::Main => self.postgres.as_mut(),
            Sessions::WalStreaming => self.wal_postgres.as_mut(),
        }
    }

    /// The replication session of `sessions`, if one was attempted.
    pub(super) fn streaming(&mut self, sessions: Sessions) -> Option<&mut Pending<StreamingProbe>> {
        match sessions {
            Sessions::Main => self.streaming.as_mut(),
            Sessions::WalStreaming => self.wal_streaming.as_mut(),
        }
    }

    /// The PostgreSQL session of `sessions`, if it was opened.
    pub(super) fn connected(&mut self, sessions: Sessions) -> Option<&mut LivePostgres> {
        match self.postgres(sessions)?.get() {
            Ok(live) => Some(live),
            Err(_) => None,
        }
    }

    /// Whether WAL streaming has connections of its own to check.
    pub(super) fn wal_sessions_differ(&self) -> bool {
        self.wal_postgres.is_some() || self.wal_streaming.is_some()
    }
}

/// `path_prefix` then `PATH`, as Barman runs its commands.
pub(super) fn search_path(server: &ServerConfig, environment: &CheckEnvironment) -> String {
    match server.text("path_prefix") {
        Some(prefix) => format!("{prefix}:{}", environment.path),
        None => environment.path.clone(),
    }
}

fn probe_postgres(dsn: &str, slot_name: Option<&str>, client: &crate::postgres::ClientEnvironment) -> PostgresProbe {
    let session = connect(dsn, client).map_err(|error| describe(&error))?;
    let mut server = PostgresServer::new(session).map_err(|error| error.to_string())?;
    let server_txt_version = server.server_txt_version().map_err(|error| error.to_string())?;
    let setting = |server: &mut PostgresServer, name: &str| server.setting(name).ok().flatten();
    let facts = PostgresFacts {
        server_txt_version,
        version_num: server.version_num(),
        privileges: server.backup_privileges().ok(),
        monitoring: server.monitoring_privileges().ok(),
        wal_level: setting(&mut server, "wal_level"),
        archive_mode: setting(&mut server, "archive_mode"),
        archive_command: setting(&mut server, "archive_command"),
        archiver: server.archiver_stats().ok(),
        slot: slot_name.and_then(|name| server.replication_slot(name).ok()),
        system_identifier: server.system_identifier().ok(),
        in_recovery: server.is_in_recovery().ok(),
    };
    Ok(Box::new(LivePostgres { server, facts }))
}

fn probe_streaming(dsn: &str, client: &crate::postgres::ClientEnvironment) -> StreamingProbe {
    let mut session = ReplicationConnection::connect(dsn, client).map_err(|error| describe(&error))?;
    let identity = session.identify_system().map_err(|error| describe(&error))?;
    let version_num = session
        .simple_query("SHOW server_version_num")
        .ok()
        .and_then(|rows| rows.rows.first()?.first()?.as_deref()?.parse().ok());
    Ok(StreamingFacts {
        system_identifier: identity.system_identifier,
        version_num,
    })
}

fn probe_primary(dsn: &str, client: &crate::postgres::ClientEnvironment) -> Result<PrimaryFacts, String> {
    let session = connect(dsn, client).map_err(|error| describe(&error))?;
    let mut server = PostgresServer::new(session).map_err(|error| error.to_string())?;
    Ok(PrimaryFacts {
        in_recovery: server.is_in_recovery().ok(),
        system_identifier: server.system_identifier().ok(),
    })
}

/// The shell command running `remote` through `ssh_command` as Barman does: its first word,
/// then every other word and the options that keep it from prompting, each quoted for the
/// shell, then `remote` as one word. Also returns the command as Barman shows it in messages
/// (without `remote`, unquoted).
pub(super) fn ssh_command_line(ssh_command: &str, remote: &str) -> (String, String) {
    let mut words = ssh_command.split_whitespace();
    let program = words.next().unwrap_or_default();
    let options: Vec<&str> = words
        .chain(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"])
        .collect();
    let shown = format!("{program} {}", options.join(" "));
    let quoted: Vec<String> = options.iter().chain(&[remote]).map(|word| shell_quote(word)).collect();
    (format!("{program} {}", quoted.join(" ")), shown)
}

/// Runs a shell command line with `path` as `PATH` and nothing on standard input.
pub(super) fn run_shell(command: &str, path: &str) -> std::io::Result<std::process::Output> {
    Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .env("PATH", path)
        .stdin(Stdio::null())
        .output()
}

fn probe_ssh(ssh_command: &str, path: &str) -> SshProbe {
    let (command, _) = ssh_command_line(ssh_command, "true");
    match run_shell(&command, path) {
        Ok(output) => SshProbe::Ran {
            status: output.status.code(),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        },
        Err(error) => SshProbe::NotStarted(error.to_string()),
    }
}

/// `word` between single quotes, for `sh`.
pub(super) fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ssh_test_adds_batch_options_and_quotes_every_argument() {
        let (command, shown) = ssh_command_line("ssh -p 2222 postgres@pg", "true");
        assert_eq!(
            command,
            "ssh '-p' '2222' 'postgres@pg' '-o' 'BatchMode=yes' '-o' 'StrictHostKeyChecking=no' 'true'"
        );
        assert_eq!(
            shown,
            "ssh -p 2222 postgres@pg -o BatchMode=yes -o StrictHostKeyChecking=no"
        );
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        let (command, _) = ssh_command_line("ssh pg", "test -e '/x'");
        assert_eq!(
            command,
            r#"ssh 'pg' '-o' 'BatchMode=yes' '-o' 'StrictHostKeyChecking=no' 'test -e '\''/x'\'''"#
        );
    }
}
