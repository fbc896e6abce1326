//! Command-line arguments: Barman's global options and sub-commands, parsed with clap.
//!
//! Sub-commands this release implements have their own variants. Every other Barman sub-command
//! is still recognised by name (so scripts get a clear "not implemented yet" instead of a usage
//! error), and anything else is a usage error with exit code 2, as with Barman's argparse.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Barman sub-commands (and their aliases) that this release does not implement yet.
pub const NOT_YET_IMPLEMENTED: &[&str] = &[
    "backup",
    "check-backup",
    "check-wal-archive",
    "config-switch",
    "config-update",
    "delete",
    "generate-manifest",
    "keep",
    "list-backups",
    "list-backup",
    "list-files",
    "lock-directory-cleanup",
    "recover",
    "restore",
    "show-backup",
    "show-backups",
    "sync-backup",
    "sync-info",
    "sync-wals",
    "verify",
    "verify-backup",
];

/// Output formats selectable with `-f`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Console,
    Json,
}

/// When to colour console output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorMode {
    Never,
    Always,
    Auto,
}

/// Barman: backup and recovery manager for PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = "barman", disable_version_flag = true, arg_required_else_help = true)]
pub struct Cli {
    /// Uses a configuration file (defaults: ~/.barman.conf, /etc/barman.conf, /etc/barman/barman.conf)
    #[arg(short = 'c', long = "config", value_name = "CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Shows the version and exits
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    /// Whether to use colors in the output
    #[arg(
        long = "color",
        visible_alias = "colour",
        value_enum,
        default_value = "auto",
        global = true
    )]
    pub color: ColorMode,
    /// Overrides the log_level of the configuration file (NOTSET, DEBUG, INFO, WARNING, ERROR, CRITICAL)
    #[arg(long = "log-level", global = true)]
    pub log_level: Option<String>,
    /// Quiet output: only warnings and errors
    #[arg(short = 'q', long = "quiet", global = true)]
    pub quiet: bool,
    /// Debug output
    #[arg(short = 'd', long = "debug", global = true)]
    pub debug: bool,
    /// Output format
    #[arg(short = 'f', long = "format", value_enum, default_value = "console", global = true)]
    pub format: Format,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List available servers, with useful information
    #[command(visible_alias = "list-server")]
    ListServers(ListServers),
    /// Show all configuration parameters for the specified servers
    #[command(visible_alias = "show-server")]
    ShowServers(ServerNames),
    /// Diagnostic information in JSON format
    Diagnose(Diagnose),
    /// Show live information and status of the PostgreSQL server
    Status(ServerNames),
    /// Close the current WAL file of the server (pg_switch_wal), optionally waiting for its archival
    #[command(visible_alias = "switch-xlog")]
    SwitchWal(SwitchWal),
    /// Show live information and status of the streaming clients of the server
    ReplicationStatus(ReplicationStatus),
    /// Receive a WAL file (put-wal tar stream on standard input) into the incoming directory
    PutWal(PutWal),
    /// Archive the WAL files waiting in the incoming and streaming directories
    ArchiveWal(ServerName),
    /// Rebuild the WAL catalogue (xlog.db) from the archive content
    RebuildXlogdb(ServerNames),
    /// Retrieve a WAL file from the archive (to standard output by default)
    GetWal(GetWal),
    /// Run maintenance tasks for every server (starts WAL archiving)
    Cron(Cron),
    /// Check if the server configuration is working
    Check(Check),
    /// Stream WAL files from the server with pg_receivewal, or manage its slot and status
    ReceiveWal(ReceiveWal),
    /// List the active Barman sub-processes of a server
    #[command(visible_alias = "list-process")]
    ListProcesses(ServerName),
    /// Terminate a Barman sub-process of a server, by task name
    TerminateProcess(TerminateProcess),
    /// Any other name: a Barman sub-command not implemented yet, or a usage error.
    #[command(external_subcommand)]
    Other(Vec<OsString>),
}

/// `list-servers` options.
#[derive(Debug, Args)]
pub struct ListServers {
    /// Machine readable output
    #[arg(long)]
    pub minimal: bool,
}

/// One or more server names, or `all`.
#[derive(Debug, Args)]
pub struct ServerNames {
    /// Server names ('all' for every server)
    #[arg(value_name = "SERVER_NAME", required = true)]
    pub server_name: Vec<String>,
}

/// `diagnose` options.
#[derive(Debug, Args)]
pub struct Diagnose {
    /// Include the source file of every configuration value
    #[arg(long)]
    pub show_config_source: bool,
}

/// `switch-wal` options.
#[derive(Debug, Args)]
pub struct SwitchWal {
    /// Server names ('all' for every server)
    #[arg(value_name = "SERVER_NAME", required = true)]
    pub server_name: Vec<String>,
    /// Force the switch by running a CHECKPOINT first
    #[arg(long)]
    pub force: bool,
    /// Wait for one WAL file to be archived
    #[arg(long)]
    pub archive: bool,
    /// Seconds to wait for the WAL file to be archived (0: no limit)
    #[arg(long, value_name = "TIMEOUT", default_value_t = 30)]
    pub archive_timeout: u64,
}

/// Which streaming clients `replication-status` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReplicationTarget {
    /// Any of them.
    All,
    /// Hot standby servers only.
    HotStandby,
    /// WAL streamers only (such as pg_receivewal).
    WalStreamer,
}

/// Which connection `replication-status` asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReplicationSource {
    /// The backup connection (`conninfo`).
    BackupHost,
    /// The WAL streaming connection (`wal_conninfo`, else `conninfo`).
    WalHost,
}

/// `replication-status` options.
#[derive(Debug, Args)]
pub struct ReplicationStatus {
    /// Server names ('all' for every server)
    #[arg(value_name = "SERVER_NAME", required = true)]
    pub server_name: Vec<String>,
    /// Machine readable output
    #[arg(long)]
    pub minimal: bool,
    /// Which clients to list
    #[arg(long, value_enum, default_value = "all")]
    pub target: ReplicationTarget,
    /// Which connection of the server to ask
    #[arg(long, value_enum, default_value = "backup-host")]
    pub source: ReplicationSource,
}

/// One server name.
#[derive(Debug, Args)]
pub struct ServerName {
    /// The server name
    #[arg(value_name = "SERVER_NAME")]
    pub server_name: String,
}

/// `put-wal` options.
#[derive(Debug, Args)]
pub struct PutWal {
    /// The server name
    #[arg(value_name = "SERVER_NAME")]
    pub server_name: String,
    /// Check that the server is ready to receive WAL files, without reading standard input
    #[arg(short = 't', long)]
    pub test: bool,
}

/// `cron` options.
#[derive(Debug, Args)]
pub struct Cron {
    /// Keep the standard input, output and error of the started sub-processes
    #[arg(long)]
    pub keep_descriptors: bool,
}

/// `check` options.
#[derive(Debug, Args)]
pub struct Check {
    /// Nagios plugin compatible output
    #[arg(long)]
    pub nagios: bool,
    /// Seconds the check of each server may take (0: no limit); overrides check_timeout
    #[arg(long, value_name = "CHECK_TIMEOUT")]
    pub check_timeout: Option<u64>,
    /// Server names ('all' for every server)
    #[arg(value_name = "SERVER_NAME", required = true)]
    pub server_name: Vec<String>,
}

/// `receive-wal` options.
#[derive(Debug, Args)]
pub struct ReceiveWal {
    /// Stop the receive-wal subprocess for the server
    #[arg(long)]
    pub stop: bool,
    /// Reset the status of receive-wal, aligning it with the replication slot or the current WAL
    #[arg(long)]
    pub reset: bool,
    /// Create the replication slot, if it does not exist
    #[arg(long)]
    pub create_slot: bool,
    /// With --create-slot, do not fail when the slot already exists
    #[arg(long)]
    pub if_not_exists: bool,
    /// Drop the replication slot, if it exists
    #[arg(long)]
    pub drop_slot: bool,
    /// The server name
    #[arg(value_name = "SERVER_NAME")]
    pub server_name: String,
}

/// `terminate-process` arguments.
#[derive(Debug, Args)]
pub struct TerminateProcess {
    /// The server name
    #[arg(value_name = "SERVER_NAME")]
    pub server_name: String,
    /// The task to terminate (receive-wal, archive-wal, backup, cron, sync-backup, sync-wal)
    #[arg(value_name = "TASK")]
    pub task: String,
}

/// `get-wal` options.
#[derive(Debug, Args)]
pub struct GetWal {
    /// The server name
    #[arg(value_name = "SERVER_NAME")]
    pub server_name: String,
    /// The WAL file to get
    #[arg(value_name = "WAL_NAME")]
    pub wal_name: String,
    /// Put the retrieved WAL file in this directory, under its own name
    #[arg(short = 'o', long, value_name = "OUTPUT_DIRECTORY")]
    pub output_directory: Option<PathBuf>,
    /// Retrieve also partial WAL files (.partial)
    #[arg(short = 'P', long)]
    pub partial: bool,
    /// Compress the output with gzip
    #[arg(short = 'z', short_alias = 'x', long, overrides_with = "bzip2")]
    pub gzip: bool,
    /// Compress the output with bzip2
    #[arg(short = 'j', long, overrides_with = "gzip")]
    pub bzip2: bool,
    /// Do not decompress the output if compressed
    #[arg(long)]
    pub keep_compression: bool,
    /// List up to SIZE WAL file names, starting from the requested one, instead of sending it
    #[arg(short = 'p', long, value_name = "SIZE", value_parser = clap::value_parser!(u64).range(1..))]
    pub peek: Option<u64>,
    /// Check that the server is ready to send WAL files (WAL_NAME is ignored)
    #[arg(short = 't', long)]
    pub test: bool,
}
