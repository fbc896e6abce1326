//! `receive-wal`: WAL streaming with `pg_receivewal` into the server's `streaming/` directory,
//! with Barman's preconditions, command line and slot management.
//!
//! The steps, in Barman's order:
//!
//! 1. [`WalConninfo`]: the connections WAL streaming uses (`wal_streaming_conninfo` and
//!    `wal_conninfo` when set, else `streaming_conninfo` and `conninfo`);
//! 2. [`connect_checked`]: the silent pre-flight checks (monitoring privileges, the replication
//!    connection, `wal_level`, system identifier coherence, also against `identity.json`),
//!    which yield the open sessions or the list of what failed;
//! 3. [`start`] (or [`reset`]): under `.<server>-receive-wal.lock`, creates `streaming/`, finds
//!    a `pg_receivewal` at least as new as the server, checks the replication slot (creating a
//!    missing one when `create_slot = auto`, refusing one in use), truncates a `.partial` file
//!    of the wrong size, and returns a [`Receiver`] that still holds the lock;
//! 4. [`Receiver::run`]: runs `pg_receivewal`, hands each line it prints to the caller, and
//!    forwards a stop request as SIGINT so it closes its files cleanly.
//!
//! The command line is Barman's: `--dbname=` with the streaming connection string as Barman
//! rewrites it (sorted `key=value` pairs, `dbname=replication`, `replication=true`,
//! `options=-cdatestyle=iso`, then `application_name=<streaming_archiver_name>` unless set),
//! `--verbose --no-loop --no-password --directory=<streaming dir>`, `--slot=` and
//! `--synchronous` when `synchronous_standby_names` names `*` or the archiver. Unlike Barman, a
//! password written in the connection string is passed in `PGPASSWORD`, never on the command
//! line where every local user could read it.
//!
//! [`manage_slot`] implements `--create-slot [--if-not-exists]` and `--drop-slot`.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufRead, BufReader};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::config::ServerConfig;
use crate::identity::ServerIdentity;
use crate::locks::{LockError, LockFile, LockName};
use crate::postgres::client_tools::{self, ClientTool, ToolInstallation, ToolNotFound};
use crate::postgres::conninfo::ConnInfo;
use crate::postgres::replication::{ReplicationConnection, SlotError, SystemIdentity};
use crate::postgres::server::{PostgresServer, QueryError};
use crate::postgres::{connect, ClientEnvironment, PostgresError};
use crate::wal::{Lsn, SegmentName, SegmentSize, WalFileKind, WalFileName};

/// How often the running receiver looks at the stop request while `pg_receivewal` is silent.
const STOP_POLL: Duration = Duration::from_millis(100);

/// The connection strings WAL streaming uses, as Barman's `get_wal_conninfo` chooses them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalConninfo {
    /// The replication connection: `wal_streaming_conninfo`, else `streaming_conninfo`.
    pub streaming_conninfo: String,
    /// The regular connection: `wal_conninfo`, else `wal_streaming_conninfo`, else `conninfo`.
    pub conninfo: String,
    /// The options replaced, with their replacement, for Barman's notice.
    pub overrides: Vec<(&'static str, String)>,
}

impl WalConninfo {
    /// The WAL connections of `server`; `None` when `conninfo` is unset (the server is then
    /// disabled by the configuration).
    pub fn of(server: &ServerConfig) -> Option<Self> {
        let wal_streaming = server.text("wal_streaming_conninfo");
        let wal_conninfo = server.text("wal_conninfo").or(wal_streaming);
        let mut overrides = Vec::new();
        if let Some(value) = wal_streaming {
            overrides.push(("streaming_conninfo", value.to_owned()));
        }
        if let Some(value) = wal_conninfo {
            overrides.push(("conninfo", value.to_owned()));
        }
        let conninfo = wal_conninfo.or(server.text("conninfo"))?.to_owned();
        let streaming_conninfo = wal_streaming
            .or(server.text("streaming_conninfo"))
            .unwrap_or(&conninfo)
            .to_owned();
        Some(WalConninfo {
            streaming_conninfo,
            conninfo,
            overrides,
        })
    }

    /// Barman's notice when WAL-specific connection strings replace the general ones.
    pub fn overrides_notice(&self) -> Option<String> {
        if self.overrides.is_empty() {
            return None;
        }
        let parts: Vec<String> = self
            .overrides
            .iter()
            .map(|(key, value)| format!("'{key}' overridden with '{value}'"))
            .collect();
        Some(format!("Configuration overrides applied: {}", parts.join(" and ")))
    }
}

/// What receive-wal needs from a server's configuration.
#[derive(Debug, Clone)]
pub struct ReceiveWalSettings {
    /// The server name.
    pub server: String,
    /// The connections.
    pub connections: WalConninfo,
    /// `slot_name`.
    pub slot_name: Option<String>,
    /// `create_slot = auto`.
    pub create_slot_auto: bool,
    /// `streaming_archiver_name`: pg_receivewal's `application_name`.
    pub application_name: String,
    /// `streaming_wals_directory`.
    pub streaming_directory: PathBuf,
    /// `backup_directory` (holds `identity.json`).
    pub backup_directory: PathBuf,
    /// `barman_lock_directory`.
    pub lock_directory: PathBuf,
    /// `path_prefix`: searched for pg_receivewal before `PATH`.
    pub path_prefix: Option<String>,
}

impl ReceiveWalSettings {
    /// The settings of `server`; `None` when an option it needs is unset (the configuration
    /// then disables the server).
    pub fn for_server(server: &ServerConfig, lock_directory: &Path) -> Option<Self> {
        Some(ReceiveWalSettings {
            server: server.name().to_owned(),
            connections: WalConninfo::of(server)?,
            slot_name: server.text("slot_name").map(str::to_owned),
            create_slot_auto: server.text("create_slot") == Some("auto"),
            application_name: server
                .text("streaming_archiver_name")
                .unwrap_or("barman_receive_wal")
                .to_owned(),
            streaming_directory: server.path("streaming_wals_directory")?.to_owned(),
            backup_directory: server.path("backup_directory")?.to_owned(),
            lock_directory: lock_directory.to_owned(),
            path_prefix: server.text("path_prefix").map(str::to_owned),
        })
    }
}

/// One failed pre-flight check, as `barman check` would name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreflightFailure {
    /// The check (`PostgreSQL streaming (WAL streaming)`, ...).
    pub check: String,
    /// What was found.
    pub detail: String,
}

/// The open sessions of a server that passed the pre-flight checks.
pub struct Connections {
    postgres: PostgresServer,
    replication: ReplicationConnection,
    identity: SystemIdentity,
}

/// Barman's silent pre-flight checks of WAL streaming: the open sessions, or every failure.
pub fn connect_checked(
    settings: &ReceiveWalSettings,
    env: &ClientEnvironment,
) -> Result<Connections, Vec<PreflightFailure>> {
    let mut failures = Vec::new();
    let mut fail = |check: &str, detail: String| {
        failures.push(PreflightFailure {
            check: format!("{check} (WAL streaming)"),
            detail,
        })
    };
    let mut postgres = connect(&settings.connections.conninfo, env)
        .map_err(|e| e.to_string())
        .and_then(|client| PostgresServer::new(client).map_err(|e| e.to_string()));
    let monitoring = postgres
        .as_mut()
        .map_err(|e| e.clone())
        .and_then(|server| server.monitoring_privileges().map_err(|e| e.to_string()));
    match monitoring {
        Ok(true) => {}
        Ok(false) => fail(
            "has monitoring privileges",
            "privileges for PostgreSQL monitoring functions are required (see documentation)".into(),
        ),
        Err(error) => fail("has monitoring privileges", error),
    }
    let replication = ReplicationConnection::connect(&settings.connections.streaming_conninfo, env)
        .and_then(|mut connection| connection.identify_system().map(|identity| (connection, identity)));
    if let Err(error) = &replication {
        fail("PostgreSQL streaming", error.to_string());
    }
    let mut postgres_systemid = None;
    if let Ok(server) = postgres.as_mut() {
        match server.setting("wal_level") {
            Ok(Some(level)) if level == "minimal" => {
                fail("wal_level", "please set it to a higher level than 'minimal'".into())
            }
            Ok(_) => {}
            Err(error) => fail("wal_level", error.to_string()),
        }
        postgres_systemid = server.system_identifier().ok();
    }
    let streaming_systemid = replication.as_ref().ok().map(|(_, id)| id.system_identifier.clone());
    if let Some(detail) = systemid_incoherence(settings, postgres_systemid, streaming_systemid) {
        fail("systemid coherence", detail);
    }
    match (postgres, replication) {
        (Ok(postgres), Ok((replication, identity))) if failures.is_empty() => Ok(Connections {
            postgres,
            replication,
            identity,
        }),
        _ => Err(failures),
    }
}

/// Barman's `systemid coherence`: both connections reach the same cluster, the one recorded in
/// `identity.json` when there is one.
fn systemid_incoherence(
    settings: &ReceiveWalSettings,
    postgres: Option<String>,
    streaming: Option<String>,
) -> Option<String> {
    if let (Some(postgres), Some(streaming)) = (&postgres, &streaming) {
        if postgres != streaming {
            return Some(format!(
                "is the streaming DSN targeting the same server of the PostgreSQL connection string? \
                 (conninfo: {postgres}, streaming_conninfo: {streaming})"
            ));
        }
    }
    let live = streaming.or(postgres)?;
    let path = ServerIdentity::path(&settings.backup_directory);
    match ServerIdentity::read(&path) {
        Ok(Some(stored)) if stored.system_identifier.to_string() != live => Some(format!(
            "the system Id of the connected PostgreSQL server changed, stored in \"{}\"",
            path.display()
        )),
        Ok(_) => None,
        Err(error) => Some(error.to_string()),
    }
}

/// Why receive-wal stopped before or while streaming. The messages are Barman's
/// (`ArchiverFailure:` included, as Barman prints it).
#[derive(Debug, thiserror::Error)]
pub enum ReceiveWalError {
    /// Another receive-wal holds the lock.
    #[error("Another receive-wal process is already running for server {server}.")]
    Busy {
        /// The server.
        server: String,
    },
    /// The lock could not be taken.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// `streaming_wals_directory` cannot be created.
    #[error("cannot create the streaming directory '{}': {source}", path.display())]
    Directory {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// No working pg_receivewal.
    #[error("ArchiverFailure:pg_receivewal not present in $PATH")]
    ToolNotFound(#[from] ToolNotFound),
    /// pg_receivewal is older than the server.
    #[error("ArchiverFailure:pg_receivewal version not compatible with PostgreSQL server version")]
    ToolIncompatible {
        /// The tool found.
        tool: ToolInstallation,
        /// The server's major version.
        server_version: String,
    },
    /// The slot does not exist and `create_slot` is `manual`.
    #[error(
        "ArchiverFailure:replication slot '{slot}' doesn't exist. Please execute 'barman receive-wal --create-slot {server}'"
    )]
    SlotMissing {
        /// The slot.
        slot: String,
        /// The server.
        server: String,
    },
    /// Another client streams from the slot.
    #[error("ArchiverFailure:replication slot '{0}' is already in use")]
    SlotInUse(String),
    /// Creating the missing slot failed.
    #[error(transparent)]
    SlotCreation(#[from] SlotCommandError),
    /// A query on the server failed.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// The server reported a value this implementation cannot use.
    #[error("PostgreSQL reported an unusable {what}: '{value}'")]
    ServerValue {
        /// What.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// A streaming directory file could not be inspected, truncated, removed or created.
    #[error("{action} '{}': {source}", path.display())]
    StatusFile {
        /// What was attempted.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `--reset`: the streaming directory is past the server's current WAL.
    #[error("The receive-wal position is ahead of PostgreSQL current WAL lsn ({last} > {current})")]
    Ahead {
        /// The newest file in the streaming directory.
        last: String,
        /// The server's current WAL segment.
        current: String,
    },
    /// The connection string cannot be turned into pg_receivewal's.
    #[error(transparent)]
    Conninfo(#[from] PostgresError),
    /// pg_receivewal could not be started.
    #[error("cannot run '{}': {source}", program.display())]
    Spawn {
        /// The program.
        program: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// pg_receivewal ended with an error.
    #[error("ArchiverFailure:pg_receivewal terminated with error code: {0}")]
    Exited(i32),
    /// pg_receivewal was killed by a signal.
    #[error("ArchiverFailure:pg_receivewal terminated by signal: {0}")]
    Signaled(i32),
}

impl ReceiveWalError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            ReceiveWalError::ToolNotFound(missing) => Some(missing.hint()),
            ReceiveWalError::ToolIncompatible { tool, server_version } => Some(format!(
                "{} is version {}, the server runs PostgreSQL {server_version}: install the client tools of \
                 PostgreSQL {server_version} or newer and point path_prefix at them",
                tool.path.display(),
                tool.version
            )),
            ReceiveWalError::SlotMissing { .. } => {
                Some("or set create_slot = auto so that receive-wal creates it".into())
            }
            ReceiveWalError::SlotInUse(slot) => Some(format!(
                "another client streams from slot '{slot}': stop it, or give this server its own slot_name"
            )),
            ReceiveWalError::Ahead { .. } => Some(
                "the streaming directory holds WAL newer than the server's: check that streaming_conninfo \
                 reaches the right server"
                    .into(),
            ),
            ReceiveWalError::SlotCreation(error) => error.hint(),
            _ => None,
        }
    }
}

/// What receive-wal reports as it prepares, in Barman's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiveWalEvent {
    /// `create_slot = auto` and the slot is missing.
    CreatingMissingSlot(String),
    /// A slot command is sent.
    Slot(SlotEvent),
    /// A `.partial` file of the wrong size is emptied.
    Truncating {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The segment size.
        expected: u64,
    },
    /// `--reset`: nothing to change.
    Aligned,
    /// `--reset`: the position is moved.
    Resetting,
    /// `--reset`: the old `.partial` file is removed.
    RemovingStatusFile(PathBuf),
    /// `--reset`: the new empty `.partial` file is created.
    CreatingStatusFile(PathBuf),
}

impl fmt::Display for ReceiveWalEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReceiveWalEvent::CreatingMissingSlot(slot) => write!(f, "Creating replication slot '{slot}'"),
            ReceiveWalEvent::Slot(event) => event.fmt(f),
            ReceiveWalEvent::Truncating { path, size, expected } => write!(
                f,
                "Truncating partial file {} that has wrong size {size} while {expected} was expected.",
                path.display()
            ),
            ReceiveWalEvent::Aligned => f.write_str("Nothing to do. Position of receive-wal is aligned."),
            ReceiveWalEvent::Resetting => f.write_str("Resetting receive-wal directory status"),
            ReceiveWalEvent::RemovingStatusFile(path) => write!(f, "Removing status file {}", path.display()),
            ReceiveWalEvent::CreatingStatusFile(path) => write!(f, "Creating status file {}", path.display()),
        }
    }
}

/// `--create-slot` or `--drop-slot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotAction {
    /// Create the slot; an existing one is fine with `if_not_exists`.
    Create {
        /// `--if-not-exists`.
        if_not_exists: bool,
    },
    /// Drop the slot.
    Drop,
}

/// The progress of a slot command, in Barman's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotEvent {
    /// About to create.
    Creating {
        /// The slot.
        slot: String,
        /// The server.
        server: String,
    },
    /// Created.
    Created(String),
    /// Existed already, and `--if-not-exists` was given.
    AlreadyExists(String),
    /// About to drop.
    Dropping {
        /// The slot.
        slot: String,
        /// The server.
        server: String,
    },
    /// Dropped.
    Dropped(String),
}

impl fmt::Display for SlotEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SlotEvent::Creating { slot, server } => {
                write!(f, "Creating physical replication slot '{slot}' on server '{server}'")
            }
            SlotEvent::Created(slot) => write!(f, "Replication slot '{slot}' created"),
            SlotEvent::AlreadyExists(slot) => write!(
                f,
                "Replication slot '{slot}' already exists and --if-not-exists was specified. Skipping creation"
            ),
            SlotEvent::Dropping { slot, server } => {
                write!(f, "Dropping physical replication slot '{slot}' on server '{server}'")
            }
            SlotEvent::Dropped(slot) => write!(f, "Replication slot '{slot}' dropped"),
        }
    }
}

/// Why a slot command failed, in Barman's words.
#[derive(Debug, thiserror::Error)]
pub enum SlotCommandError {
    /// The replication connection could not be opened.
    #[error("Cannot connect to server '{server}'")]
    Connect {
        /// The server.
        server: String,
        /// Why.
        source: PostgresError,
    },
    /// `slot_name` is not set.
    #[error("Unable to {} a physical replication slot: slot_name configuration option required", action.verb())]
    NoSlotName {
        /// The command.
        action: SlotAction,
    },
    /// Creating a slot that exists.
    #[error("Replication slot '{0}' already exists")]
    AlreadyExists(String),
    /// Dropping a slot that does not exist.
    #[error("Replication slot '{0}' does not exist")]
    DoesNotExist(String),
    /// Every slot is taken.
    #[error(
        "All replication slots for server '{0}' are in use\nFree one or increase the max_replication_slots value on your PostgreSQL server."
    )]
    AllInUse(String),
    /// Dropping a slot a client streams from.
    #[error("Cannot drop replication slot '{slot}' on server '{server}' because it is in use.")]
    InUse {
        /// The slot.
        slot: String,
        /// The server.
        server: String,
    },
    /// Any other refusal.
    #[error("Cannot {} replication slot '{slot}' on server '{server}': {message}", action.verb())]
    Refused {
        /// The command.
        action: SlotAction,
        /// The slot.
        slot: String,
        /// The server.
        server: String,
        /// The server's message.
        message: String,
    },
}

impl SlotCommandError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            SlotCommandError::Connect { source, .. } => Some(match source.hint() {
                Some(hint) => format!("{source}; {hint}"),
                None => source.to_string(),
            }),
            SlotCommandError::NoSlotName { .. } => {
                Some("set slot_name (e.g. slot_name = barman) for the server".into())
            }
            SlotCommandError::AlreadyExists(_) => Some("add --if-not-exists to accept an existing slot".into()),
            SlotCommandError::InUse { server, .. } => Some(format!(
                "stop the client streaming from it first ('barman terminate-process {server} receive-wal')"
            )),
            _ => None,
        }
    }
}

impl SlotAction {
    fn verb(self) -> &'static str {
        match self {
            SlotAction::Create { .. } => "create",
            SlotAction::Drop => "drop",
        }
    }
}

/// `receive-wal --create-slot [--if-not-exists]` and `--drop-slot`, over a new replication
/// connection.
pub fn manage_slot(
    settings: &ReceiveWalSettings,
    env: &ClientEnvironment,
    action: SlotAction,
    events: &mut dyn FnMut(SlotEvent),
) -> Result<(), SlotCommandError> {
    let mut connection =
        ReplicationConnection::connect(&settings.connections.streaming_conninfo, env).map_err(|source| {
            SlotCommandError::Connect {
                server: settings.server.clone(),
                source,
            }
        })?;
    run_slot_command(&mut connection, settings, action, events)
}

fn run_slot_command(
    connection: &mut ReplicationConnection,
    settings: &ReceiveWalSettings,
    action: SlotAction,
    events: &mut dyn FnMut(SlotEvent),
) -> Result<(), SlotCommandError> {
    let slot = settings
        .slot_name
        .clone()
        .ok_or(SlotCommandError::NoSlotName { action })?;
    let server = settings.server.clone();
    let result = match action {
        SlotAction::Create { .. } => {
            events(SlotEvent::Creating {
                slot: slot.clone(),
                server: server.clone(),
            });
            connection.create_physical_slot(&slot)
        }
        SlotAction::Drop => {
            events(SlotEvent::Dropping {
                slot: slot.clone(),
                server: server.clone(),
            });
            connection.drop_slot(&slot)
        }
    };
    match (action, result) {
        (SlotAction::Create { .. }, Ok(())) => events(SlotEvent::Created(slot)),
        (SlotAction::Drop, Ok(())) => events(SlotEvent::Dropped(slot)),
        (SlotAction::Create { if_not_exists: true }, Err(SlotError::AlreadyExists(_))) => {
            events(SlotEvent::AlreadyExists(slot))
        }
        (_, Err(SlotError::AlreadyExists(_))) => return Err(SlotCommandError::AlreadyExists(slot)),
        (_, Err(SlotError::DoesNotExist(_))) => return Err(SlotCommandError::DoesNotExist(slot)),
        (_, Err(SlotError::InUse(_))) => return Err(SlotCommandError::InUse { slot, server }),
        (_, Err(SlotError::AllInUse(_))) => return Err(SlotCommandError::AllInUse(server)),
        (_, Err(SlotError::Refused(message))) => {
            return Err(SlotCommandError::Refused {
                action,
                slot,
                server,
                message,
            })
        }
        (_, Err(SlotError::Connection(error))) => {
            return Err(SlotCommandError::Refused {
                action,
                slot,
                server,
                message: error.to_string(),
            })
        }
    }
    Ok(())
}

/// What was checked under the lock, shared by [`start`] and [`reset`].
struct Checked {
    lock: LockFile,
    tool: ToolInstallation,
    slot: Option<SlotState>,
    segment_size: SegmentSize,
}

/// The configured slot as the server reports it.
struct SlotState {
    name: String,
    restart_lsn: Option<String>,
}

/// Takes the receive-wal lock and checks everything Barman checks before streaming: the
/// directory, the tool, the slot (created when missing and `create_missing_slot`).
fn check_under_lock(
    settings: &ReceiveWalSettings,
    connections: &mut Connections,
    create_missing_slot: bool,
    events: &mut dyn FnMut(ReceiveWalEvent),
) -> Result<Checked, ReceiveWalError> {
    let lock =
        LockFile::try_acquire(&settings.lock_directory, LockName::ReceiveWal(&settings.server))?.ok_or_else(|| {
            ReceiveWalError::Busy {
                server: settings.server.clone(),
            }
        })?;
    std::fs::create_dir_all(&settings.streaming_directory).map_err(|source| ReceiveWalError::Directory {
        path: settings.streaming_directory.clone(),
        source,
    })?;
    let path = std::env::var("PATH").unwrap_or_default();
    let tool = client_tools::find(ClientTool::PgReceivewal, settings.path_prefix.as_deref(), &path)?;
    let server_version = connections.postgres.version_num();
    if !tool.compatible_with(server_version) {
        return Err(ReceiveWalError::ToolIncompatible {
            tool,
            server_version: connections.postgres.major_version(),
        });
    }
    let slot = match &settings.slot_name {
        None => None,
        Some(name) => Some(match connections.postgres.replication_slot(name)? {
            Some(slot) if slot.active => return Err(ReceiveWalError::SlotInUse(name.clone())),
            Some(slot) => SlotState {
                name: name.clone(),
                restart_lsn: slot.restart_lsn,
            },
            None if settings.create_slot_auto => {
                if create_missing_slot {
                    events(ReceiveWalEvent::CreatingMissingSlot(name.clone()));
                    run_slot_command(
                        &mut connections.replication,
                        settings,
                        SlotAction::Create { if_not_exists: false },
                        &mut |event| events(ReceiveWalEvent::Slot(event)),
                    )?;
                }
                SlotState {
                    name: name.clone(),
                    restart_lsn: None,
                }
            }
            None => {
                return Err(ReceiveWalError::SlotMissing {
                    slot: name.clone(),
                    server: settings.server.clone(),
                })
            }
        }),
    };
    let bytes = connections.postgres.wal_segment_size()?;
    let segment_size = SegmentSize::new(bytes).map_err(|_| ReceiveWalError::ServerValue {
        what: "wal_segment_size",
        value: bytes.to_string(),
    })?;
    Ok(Checked {
        lock,
        tool,
        slot,
        segment_size,
    })
}

/// Checks everything under the lock and prepares pg_receivewal; the [`Receiver`] keeps the
/// lock until it is dropped.
pub fn start(
    settings: &ReceiveWalSettings,
    mut connections: Connections,
    events: &mut dyn FnMut(ReceiveWalEvent),
) -> Result<Receiver, ReceiveWalError> {
    let checked = check_under_lock(settings, &mut connections, true, events)?;
    truncate_partial_if_needed(&settings.streaming_directory, checked.segment_size, events)?;
    let synchronous = connections
        .postgres
        .setting("synchronous_standby_names")?
        .is_some_and(|names| names_synchronous_standby(&names, &settings.application_name));
    let (dsn, password) = receivewal_dsn(&settings.connections.streaming_conninfo, &settings.application_name)?;
    let mut args = vec![
        format!("--dbname={dsn}"),
        "--verbose".to_owned(),
        "--no-loop".to_owned(),
        "--no-password".to_owned(),
        format!("--directory={}", settings.streaming_directory.display()),
    ];
    if let Some(slot) = &checked.slot {
        args.push(format!("--slot={}", slot.name));
    }
    if synchronous {
        args.push("--synchronous".to_owned());
    }
    // The sessions are closed before streaming, so they do not hold server resources.
    drop(connections);
    Ok(Receiver {
        _lock: checked.lock,
        program: checked.tool.path,
        args,
        password,
    })
}

/// `receive-wal --reset`: under the lock, after the same checks as [`start`], makes the
/// streaming directory's position the slot's `restart_lsn` (or the server's current WAL): the
/// newest `.partial` file is replaced by an empty one for that segment.
pub fn reset(
    settings: &ReceiveWalSettings,
    mut connections: Connections,
    events: &mut dyn FnMut(ReceiveWalEvent),
) -> Result<(), ReceiveWalError> {
    let checked = check_under_lock(settings, &mut connections, false, events)?;
    let timeline = connections.identity.timeline;
    let size = checked.segment_size;
    let lsn = |text: &str| {
        text.parse::<Lsn>().map_err(|_| ReceiveWalError::ServerValue {
            what: "WAL location",
            value: text.to_owned(),
        })
    };
    let current_text = connections
        .postgres
        .current_wal_lsn()?
        .ok_or_else(|| ReceiveWalError::ServerValue {
            what: "WAL location",
            value: "NULL".into(),
        })?;
    let current = SegmentName::containing(timeline, lsn(&current_text)?, size);
    let restart = match checked.slot.as_ref().and_then(|slot| slot.restart_lsn.as_deref()) {
        Some(restart_lsn) => SegmentName::containing(timeline, lsn(restart_lsn)?, size),
        None => current,
    };
    let restart_partial = format!("{restart}.partial");
    let Some(last) = newest_wal_file(&settings.streaming_directory)? else {
        events(ReceiveWalEvent::Aligned);
        return Ok(());
    };
    if last.as_str() == restart_partial || last.as_str() == restart.to_string() {
        events(ReceiveWalEvent::Aligned);
        return Ok(());
    }
    if last.segment().is_some_and(|segment| segment > current) {
        return Err(ReceiveWalError::Ahead {
            last: last.as_str().to_owned(),
            current: current.to_string(),
        });
    }
    events(ReceiveWalEvent::Resetting);
    if last.kind() == WalFileKind::Partial {
        let path = settings.streaming_directory.join(last.as_str());
        events(ReceiveWalEvent::RemovingStatusFile(path.clone()));
        std::fs::remove_file(&path).map_err(|source| ReceiveWalError::StatusFile {
            action: "cannot remove",
            path,
            source,
        })?;
    }
    let path = settings.streaming_directory.join(restart_partial);
    events(ReceiveWalEvent::CreatingStatusFile(path.clone()));
    std::fs::File::create(&path).map_err(|source| ReceiveWalError::StatusFile {
        action: "cannot create",
        path,
        source,
    })?;
    Ok(())
}

/// The names of the WAL segments and `.partial` files in `directory`, sorted.
fn streaming_files(directory: &Path, wanted: &[WalFileKind]) -> Result<Vec<WalFileName>, ReceiveWalError> {
    let entries = std::fs::read_dir(directory).map_err(|source| ReceiveWalError::StatusFile {
        action: "cannot list",
        path: directory.to_owned(),
        source,
    })?;
    let mut names: Vec<WalFileName> = entries
        .flatten()
        .filter_map(|entry| WalFileName::parse(entry.file_name().to_str()?).ok())
        .filter(|name| wanted.contains(&name.kind()))
        .collect();
    names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    Ok(names)
}

/// The newest segment or `.partial` file of the streaming directory.
fn newest_wal_file(directory: &Path) -> Result<Option<WalFileName>, ReceiveWalError> {
    Ok(streaming_files(directory, &[WalFileKind::Segment, WalFileKind::Partial])?.pop())
}

/// Empties the newest `.partial` file when its size is neither 0 nor the segment size:
/// pg_receivewal pads a new file to full size before writing, so any other size means a
/// copy went wrong, and pg_receivewal refuses to resume from it.
fn truncate_partial_if_needed(
    directory: &Path,
    size: SegmentSize,
    events: &mut dyn FnMut(ReceiveWalEvent),
) -> Result<(), ReceiveWalError> {
    let Some(last) = streaming_files(directory, &[WalFileKind::Partial])?.pop() else {
        return Ok(());
    };
    let path = directory.join(last.as_str());
    let file_error = |action: &'static str, path: &Path| {
        let path = path.to_owned();
        move |source| ReceiveWalError::StatusFile { action, path, source }
    };
    let actual = std::fs::metadata(&path)
        .map_err(file_error("cannot inspect", &path))?
        .len();
    if actual == 0 || actual == size.bytes() {
        return Ok(());
    }
    events(ReceiveWalEvent::Truncating {
        path: path.clone(),
        size: actual,
        expected: size.bytes(),
    });
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|file| file.set_len(0))
        .map_err(file_error("cannot truncate", &path))
}

/// Barman's rule: the archiver is a synchronous standby when `synchronous_standby_names` lists
/// `*` or its name (ignoring a `FIRST n (...)` / `ANY n (...)` wrapper and double quotes).
fn names_synchronous_standby(setting: &str, application_name: &str) -> bool {
    let start = setting.find('(').map_or(0, |i| i + 1);
    let end = setting.rfind(')').unwrap_or(setting.len()).max(start);
    setting[start..end]
        .split(',')
        .map(|name| name.trim().trim_matches('"'))
        .any(|name| name == "*" || name == application_name)
}

/// pg_receivewal's `--dbname`: the streaming connection string as Barman rewrites it, without
/// its password, which is returned apart for `PGPASSWORD`.
fn receivewal_dsn(streaming_conninfo: &str, application_name: &str) -> Result<(String, Option<String>), PostgresError> {
    let parsed = ConnInfo::parse(streaming_conninfo).map_err(|source| PostgresError::InvalidConnInfo {
        dsn: crate::redact::redact_passwords(streaming_conninfo).into_owned(),
        source,
    })?;
    let mut params: BTreeMap<String, String> = parsed.params().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    let password = params.remove("password");
    params.insert("replication".into(), "true".into());
    params.insert("options".into(), "-cdatestyle=iso".into());
    params.insert("dbname".into(), "replication".into());
    let mut dsn = ConnInfo::default();
    for (key, value) in &params {
        dsn.set(key, value);
    }
    if !params.contains_key("application_name") {
        dsn.set("application_name", application_name);
    }
    Ok((dsn.to_string(), password))
}

/// A prepared pg_receivewal run, holding the receive-wal lock.
pub struct Receiver {
    _lock: LockFile,
    program: PathBuf,
    args: Vec<String>,
    password: Option<String>,
}

/// How pg_receivewal ended when it was asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

impl Receiver {
    /// The program and its arguments, as they will run.
    pub fn command_line(&self) -> (&Path, &[String]) {
        (&self.program, &self.args)
    }

    /// Runs pg_receivewal until it ends, handing every line it prints (standard output and
    /// error, in order) to `on_line`. Once `stop` becomes true, pg_receivewal gets SIGINT, so
    /// it closes its files cleanly; its end is then a normal one. pg_receivewal also gets
    /// SIGTERM if this process dies first.
    pub fn run(self, on_line: &mut dyn FnMut(&str), stop: &AtomicBool) -> Result<Stopped, ReceiveWalError> {
        let spawn_error = |source| ReceiveWalError::Spawn {
            program: self.program.clone(),
            source,
        };
        let (reader, writer) = std::io::pipe().map_err(spawn_error)?;
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(writer.try_clone().map_err(spawn_error)?)
            .stderr(writer);
        if let Some(password) = &self.password {
            command.env("PGPASSWORD", password);
        }
        // SAFETY: prctl is async-signal-safe and only changes the child's own attributes.
        unsafe {
            command.pre_exec(|| nix::sys::prctl::set_pdeathsig(Signal::SIGTERM).map_err(std::io::Error::from));
        }
        let mut child = command.spawn().map_err(spawn_error)?;
        // The writing ends now belong to the child alone, so the reader sees the end of the
        // output when pg_receivewal exits.
        drop(command);
        let (lines, received) = mpsc::channel();
        let forwarder = std::thread::spawn(move || {
            for line in BufReader::new(reader).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut interrupted = false;
        loop {
            match received.recv_timeout(STOP_POLL) {
                Ok(line) => on_line(&line),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if !interrupted && stop.load(Ordering::SeqCst) {
                interrupted = true;
                let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
                // It may have ended already; waiting below tells.
                let _ = kill(pid, Signal::SIGINT);
            }
        }
        let _ = forwarder.join();
        let status = child.wait().map_err(spawn_error)?;
        if interrupted || stop.load(Ordering::SeqCst) {
            return Ok(Stopped);
        }
        match (status.code(), status.signal()) {
            (Some(0), _) => Ok(Stopped),
            (Some(code), _) => Err(ReceiveWalError::Exited(code)),
            (None, Some(signal)) => Err(ReceiveWalError::Signaled(signal)),
            (None, None) => Err(ReceiveWalError::Exited(-1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dbname_is_barman_s_rewrite_without_the_password() {
        let (dsn, password) = receivewal_dsn(
            "host=127.0.0.1 port=5433 user=streaming_barman dbname=postgres password=s3cret",
            "barman_receive_wal",
        )
        .unwrap();
        assert_eq!(
            dsn,
            "dbname=replication host=127.0.0.1 options=-cdatestyle=iso port=5433 replication=true \
             user=streaming_barman application_name=barman_receive_wal"
        );
        assert_eq!(password.as_deref(), Some("s3cret"));
        let (dsn, password) = receivewal_dsn(
            "postgresql://streaming_barman@pg/postgres?application_name=mine",
            "barman_receive_wal",
        )
        .unwrap();
        assert_eq!(
            dsn,
            "application_name=mine dbname=replication host=pg options=-cdatestyle=iso replication=true \
             user=streaming_barman"
        );
        assert_eq!(password, None);
    }

    #[test]
    fn synchronous_standby_names_are_read_as_barman_does() {
        assert!(names_synchronous_standby("*", "barman_receive_wal"));
        assert!(names_synchronous_standby(
            "FIRST 1 (standby1, \"barman_receive_wal\")",
            "barman_receive_wal"
        ));
        assert!(names_synchronous_standby(
            "ANY 2 (a,barman_receive_wal,b)",
            "barman_receive_wal"
        ));
        assert!(!names_synchronous_standby("barman_receive_wal_2", "barman_receive_wal"));
        assert!(!names_synchronous_standby("", "barman_receive_wal"));
    }

    #[test]
    fn a_partial_file_of_the_wrong_size_is_emptied() {
        let dir = tempfile::tempdir().unwrap();
        let size = SegmentSize::new(1 << 20).unwrap();
        std::fs::write(dir.path().join("000000010000000000000001"), vec![0; 1 << 20]).unwrap();
        let partial = dir.path().join("000000010000000000000002.partial");
        std::fs::write(&partial, vec![0; 1000]).unwrap();
        let mut seen = Vec::new();
        truncate_partial_if_needed(dir.path(), size, &mut |event| seen.push(event.to_string())).unwrap();
        assert_eq!(
            seen,
            [format!(
                "Truncating partial file {} that has wrong size 1000 while 1048576 was expected.",
                partial.display()
            )]
        );
        assert_eq!(std::fs::metadata(&partial).unwrap().len(), 0);
        seen.clear();
        truncate_partial_if_needed(dir.path(), size, &mut |event| seen.push(event.to_string())).unwrap();
        assert!(seen.is_empty());
    }

    #[test]
    fn the_newest_status_file_ignores_other_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "000000010000000000000003",
            "000000010000000000000004.partial",
            "00000002.history",
            "zzz",
        ] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        assert_eq!(
            newest_wal_file(dir.path()).unwrap().unwrap().as_str(),
            "000000010000000000000004.partial"
        );
    }
}
