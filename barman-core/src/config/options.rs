//! The option table: every configuration option Barman knows, with its type, default and scope.
//!
//! This table is the single source of truth. Resolution walks it (in this order, which is
//! Barman's, so `%(option)s` references to earlier options resolve the same way), validation
//! uses it to recognise unknown options, `show-servers` prints every entry, and the
//! configuration reference in `docs/configuration.md` is generated from it.

use super::value::Kind;

/// Where an option may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only in `[barman]`.
    Global,
    /// Only in a server section.
    Server,
    /// In a server section, or in `[barman]` as the default for every server.
    ServerOrGlobal,
}

/// One configuration option.
#[derive(Debug, Clone, Copy)]
pub struct OptionSpec {
    /// The option name, lower case.
    pub name: &'static str,
    /// How its value is parsed.
    pub kind: Kind,
    /// The default, as a template that may reference `%(name)s`, `%(barman_home)s` and options
    /// resolved before this one. `None`: unset by default.
    pub default: Option<&'static str>,
    /// Where it may be set.
    pub scope: Scope,
    /// One line for the reference documentation.
    pub doc: &'static str,
}

const fn opt(
    name: &'static str,
    kind: Kind,
    default: Option<&'static str>,
    scope: Scope,
    doc: &'static str,
) -> OptionSpec {
    OptionSpec {
        name,
        kind,
        default,
        scope,
        doc,
    }
}

use Kind::*;
use Scope::*;

const BACKUP_OPTIONS: Kind = Csv {
    allowed: &["concurrent_backup", "exclusive_backup", "external_configuration"],
    conflicts: &[("concurrent_backup", "exclusive_backup")],
};
const RECOVERY_OPTIONS: Kind = Csv {
    allowed: &["delta-restore", "get-wal"],
    conflicts: &[],
};
const BACKUP_METHODS: Kind = Choice(&["rsync", "postgres", "local-rsync", "snapshot", "local-to-cloud"]);
const HOOK: &str = "Shell command run at this hook point, with BARMAN_* variables in its environment.";
const CLOUD: &str = "Cloud and snapshot backups: accepted for compatibility; not used by this implementation.";

/// Options of the `[barman]` section that are not server options.
pub static GLOBAL_OPTIONS: &[OptionSpec] = &[
    opt(
        "barman_home",
        Text,
        None,
        Global,
        "Root of the per-server directories. Required.",
    ),
    opt(
        "barman_lock_directory",
        Text,
        Some("%(barman_home)s"),
        Global,
        "Directory of the lock files; must be on a local file system.",
    ),
    opt(
        "barman_user",
        Text,
        Some("barman"),
        Global,
        "OS user barman runs as; root drops to it.",
    ),
    opt(
        "config_changes_queue",
        Text,
        Some("%(barman_home)s/cfg_changes.queue"),
        Global,
        "Queue file of config-update.",
    ),
    opt(
        "configuration_files_directory",
        Text,
        None,
        Global,
        "Directory whose *.conf files are read, in sorted order, after the main file.",
    ),
    opt(
        "lock_directory_cleanup",
        Bool,
        Some("true"),
        Global,
        "cron removes unused lock files.",
    ),
    opt(
        "log_file",
        Text,
        None,
        Global,
        "Log file; unset: log to standard error.",
    ),
    opt(
        "log_format",
        Text,
        Some("%(asctime)s [%(process)s] %(name)s %(levelname)s: %(message)s"),
        Global,
        "Log line format (Python logging placeholders).",
    ),
    opt(
        "log_level",
        Choice(&["notset", "debug", "info", "warning", "error", "critical"]),
        Some("INFO"),
        Global,
        "Minimum level written to the log.",
    ),
];

/// Server options, in resolution order.
pub static SERVER_OPTIONS: &[OptionSpec] = &[
    opt(
        "active",
        Bool,
        Some("true"),
        Server,
        "An inactive server is skipped by cron and backup; read-only commands still work.",
    ),
    opt(
        "archiver",
        Bool,
        Some("off"),
        ServerOrGlobal,
        "Accept WAL files shipped by archive_command into the incoming directory.",
    ),
    opt(
        "archiver_batch_size",
        Int,
        Some("0"),
        ServerOrGlobal,
        "Most WAL files one archive-wal run processes from incoming (0: all).",
    ),
    opt(
        "autogenerate_manifest",
        Bool,
        Some("false"),
        ServerOrGlobal,
        "Write a backup_manifest after rsync backups.",
    ),
    opt("aws_check_object_lock", Bool, Some("off"), ServerOrGlobal, CLOUD),
    opt("aws_encryption", Text, None, ServerOrGlobal, CLOUD),
    opt("aws_read_timeout", Int, None, ServerOrGlobal, CLOUD),
    opt("aws_await_snapshots_timeout", Int, Some("3600"), ServerOrGlobal, CLOUD),
    opt("aws_snapshot_lock_mode", Text, None, ServerOrGlobal, CLOUD),
    opt("aws_snapshot_lock_duration", Int, None, ServerOrGlobal, CLOUD),
    opt("aws_snapshot_lock_cool_off_period", Int, None, ServerOrGlobal, CLOUD),
    opt("aws_snapshot_lock_expiration_date", Text, None, ServerOrGlobal, CLOUD),
    opt("aws_profile", Text, None, ServerOrGlobal, CLOUD),
    opt("aws_region", Text, None, ServerOrGlobal, CLOUD),
    opt("aws_sse_kms_key_id", Text, None, ServerOrGlobal, CLOUD),
    opt("aws_sse_customer_key", Text, None, ServerOrGlobal, CLOUD),
    opt("azure_credential", Text, None, ServerOrGlobal, CLOUD),
    opt("azure_resource_group", Text, None, ServerOrGlobal, CLOUD),
    opt("azure_subscription_id", Text, None, ServerOrGlobal, CLOUD),
    opt(
        "backup_compression",
        Choice(&["gzip", "lz4", "zstd", "none"]),
        None,
        ServerOrGlobal,
        "pg_basebackup compression (postgres method).",
    ),
    opt(
        "backup_compression_format",
        Choice(&["plain", "tar"]),
        None,
        ServerOrGlobal,
        "Format of compressed pg_basebackup backups.",
    ),
    opt(
        "backup_compression_level",
        Int,
        None,
        ServerOrGlobal,
        "pg_basebackup compression level.",
    ),
    opt(
        "backup_compression_location",
        Choice(&["client", "server"]),
        None,
        ServerOrGlobal,
        "Where pg_basebackup compresses.",
    ),
    opt(
        "backup_compression_workers",
        Int,
        None,
        ServerOrGlobal,
        "zstd worker threads of pg_basebackup.",
    ),
    opt(
        "backup_directory",
        Text,
        Some("%(barman_home)s/%(name)s"),
        Server,
        "Root directory of this server's backups and WAL files.",
    ),
    opt(
        "backup_method",
        BACKUP_METHODS,
        Some("rsync"),
        ServerOrGlobal,
        "How base backups are taken: rsync (over ssh_command) or postgres (pg_basebackup).",
    ),
    opt(
        "backup_options",
        BACKUP_OPTIONS,
        Some(""),
        ServerOrGlobal,
        "concurrent_backup, exclusive_backup (PostgreSQL < 15), external_configuration.",
    ),
    opt(
        "bandwidth_limit",
        Int,
        None,
        ServerOrGlobal,
        "Copy bandwidth limit in KB/s (0: none).",
    ),
    opt(
        "basebackup_retry_sleep",
        Int,
        Some("30"),
        ServerOrGlobal,
        "Seconds between copy retries.",
    ),
    opt(
        "basebackup_retry_times",
        Int,
        Some("0"),
        ServerOrGlobal,
        "Copy retries before a backup fails.",
    ),
    opt(
        "basebackups_directory",
        Text,
        Some("%(backup_directory)s/base"),
        Server,
        "Directory of base backups.",
    ),
    opt(
        "check_timeout",
        Int,
        Some("30"),
        ServerOrGlobal,
        "Seconds the whole check of one server may take (0: no limit).",
    ),
    opt("cloud_delete_batch_size", Int, None, ServerOrGlobal, CLOUD),
    opt(
        "cloud_staging_directory",
        AbsolutePath,
        Some("/tmp/barman/cloud-staging"),
        ServerOrGlobal,
        CLOUD,
    ),
    opt("cloud_staging_max_size", Size, Some("30Gi"), ServerOrGlobal, CLOUD),
    opt("cloud_upload_max_archive_size", Size, Some("100Gi"), Server, CLOUD),
    opt("cloud_upload_min_chunk_size", Size, None, Server, CLOUD),
    opt("cloud_wal_archive_parallel", Int, Some("0"), ServerOrGlobal, CLOUD),
    opt("cloud_wal_restore_parallel", Int, Some("0"), ServerOrGlobal, CLOUD),
    opt(
        "cluster",
        Text,
        Some("%(name)s"),
        Server,
        "Cluster name shared by a server and its configuration models.",
    ),
    opt(
        "compression",
        Compression,
        None,
        ServerOrGlobal,
        "WAL compression in the archive: gzip, bzip2, xz, zstd, lz4 (unset: none).",
    ),
    opt(
        "compression_level",
        CompressionLevel,
        Some("medium"),
        ServerOrGlobal,
        "low, medium, high or an algorithm-specific integer.",
    ),
    opt(
        "conninfo",
        Text,
        None,
        Server,
        "libpq connection string to the PostgreSQL server. Required.",
    ),
    opt(
        "custom_compression_filter",
        Text,
        None,
        ServerOrGlobal,
        "Deprecated custom compression command.",
    ),
    opt(
        "custom_decompression_filter",
        Text,
        None,
        ServerOrGlobal,
        "Deprecated custom decompression command.",
    ),
    opt(
        "custom_compression_magic",
        Text,
        None,
        ServerOrGlobal,
        "Deprecated custom compression magic (0x...).",
    ),
    opt("description", Text, None, Server, "Free text shown by list-servers."),
    opt(
        "disabled",
        Bool,
        Some("false"),
        Server,
        "Set when the configuration of a server is unusable; not settable.",
    ),
    opt(
        "encryption",
        ChoiceOrNone(&["gpg"]),
        Some("none"),
        ServerOrGlobal,
        "WAL and backup encryption: none or gpg.",
    ),
    opt(
        "encryption_key_id",
        Text,
        None,
        ServerOrGlobal,
        "GPG key used for encryption.",
    ),
    opt(
        "encryption_passphrase_command",
        Text,
        None,
        ServerOrGlobal,
        "Command printing the GPG passphrase.",
    ),
    opt(
        "errors_directory",
        Text,
        Some("%(backup_directory)s/errors"),
        Server,
        "Where rejected WAL files are kept for inspection.",
    ),
    opt(
        "forward_config_path",
        Bool,
        Some("false"),
        ServerOrGlobal,
        "Passive node: pass -c to the primary barman.",
    ),
    opt("gcp_project", Text, None, ServerOrGlobal, CLOUD),
    opt("gcp_zone", Text, None, Server, CLOUD),
    opt(
        "immediate_checkpoint",
        Bool,
        Some("false"),
        ServerOrGlobal,
        "Request a fast checkpoint at backup start.",
    ),
    opt(
        "incoming_wals_directory",
        Text,
        Some("%(backup_directory)s/incoming"),
        Server,
        "Where archive_command (put-wal or rsync) delivers WAL files.",
    ),
    // Barman spells this option `keepalive_internval` in its list of [barman]-inheritable options,
    // so a global value has never applied; it stays server-only to keep configurations meaning the same.
    opt(
        "keepalive_interval",
        Int,
        Some("60"),
        Server,
        "Seconds between keep-alive queries during rsync backups (0: off).",
    ),
    opt(
        "last_backup_maximum_age",
        Interval,
        None,
        ServerOrGlobal,
        "check fails when the newest backup is older.",
    ),
    opt(
        "last_backup_minimum_size",
        Size,
        None,
        ServerOrGlobal,
        "check fails when the newest backup is smaller.",
    ),
    opt(
        "last_wal_maximum_age",
        Interval,
        None,
        ServerOrGlobal,
        "check fails when the newest archived WAL is older.",
    ),
    opt(
        "combine_mode",
        Choice(&["copy", "link", "clone", "copy-file-range"]),
        Some("copy"),
        ServerOrGlobal,
        "pg_combinebackup mode for incremental backups.",
    ),
    opt(
        "local_staging_path",
        AbsolutePath,
        None,
        ServerOrGlobal,
        "Deprecated: use staging_path.",
    ),
    opt(
        "max_incoming_wals_queue",
        Int,
        None,
        ServerOrGlobal,
        "check fails when more WAL files wait in incoming or streaming.",
    ),
    opt(
        "minimum_redundancy",
        Int,
        Some("0"),
        ServerOrGlobal,
        "Fewest full backups that retention and delete keep.",
    ),
    opt(
        "network_compression",
        Bool,
        Some("false"),
        ServerOrGlobal,
        "rsync -z (rsync method only).",
    ),
    opt(
        "parallel_jobs",
        Int,
        Some("1"),
        ServerOrGlobal,
        "rsync workers for backup and restore.",
    ),
    opt(
        "parallel_jobs_start_batch_period",
        Int,
        Some("1"),
        ServerOrGlobal,
        "Seconds between batches of started rsync workers.",
    ),
    opt(
        "parallel_jobs_start_batch_size",
        Int,
        Some("10"),
        ServerOrGlobal,
        "rsync workers started per batch.",
    ),
    opt(
        "path_prefix",
        Text,
        None,
        ServerOrGlobal,
        "Directories searched before PATH for pg_basebackup, pg_receivewal and rsync.",
    ),
    opt("post_archive_retry_script", Text, None, ServerOrGlobal, HOOK),
    opt("post_archive_script", Text, None, ServerOrGlobal, HOOK),
    opt("post_backup_retry_script", Text, None, ServerOrGlobal, HOOK),
    opt("post_backup_script", Text, None, ServerOrGlobal, HOOK),
    opt("post_delete_script", Text, None, ServerOrGlobal, HOOK),
    opt("post_delete_retry_script", Text, None, ServerOrGlobal, HOOK),
    opt("post_recovery_retry_script", Text, None, ServerOrGlobal, HOOK),
    opt("post_recovery_script", Text, None, ServerOrGlobal, HOOK),
    opt("post_wal_delete_script", Text, None, ServerOrGlobal, HOOK),
    opt("post_wal_delete_retry_script", Text, None, ServerOrGlobal, HOOK),
    opt("pre_archive_retry_script", Text, None, ServerOrGlobal, HOOK),
    opt("pre_archive_script", Text, None, ServerOrGlobal, HOOK),
    opt("pre_backup_retry_script", Text, None, ServerOrGlobal, HOOK),
    opt("pre_backup_script", Text, None, ServerOrGlobal, HOOK),
    opt("pre_delete_script", Text, None, ServerOrGlobal, HOOK),
    opt("pre_delete_retry_script", Text, None, ServerOrGlobal, HOOK),
    opt("pre_recovery_retry_script", Text, None, ServerOrGlobal, HOOK),
    opt("pre_recovery_script", Text, None, ServerOrGlobal, HOOK),
    opt("pre_wal_delete_script", Text, None, ServerOrGlobal, HOOK),
    opt("pre_wal_delete_retry_script", Text, None, ServerOrGlobal, HOOK),
    opt(
        "primary_checkpoint_timeout",
        Int,
        Some("0"),
        Server,
        "Seconds to wait for a checkpoint on the primary when backing up a standby.",
    ),
    opt(
        "primary_conninfo",
        Text,
        None,
        Server,
        "Connection to the primary when conninfo points to a standby.",
    ),
    opt(
        "primary_ssh_command",
        Text,
        None,
        ServerOrGlobal,
        "Passive node: ssh command to the primary Barman.",
    ),
    opt(
        "recovery_options",
        RECOVERY_OPTIONS,
        Some(""),
        ServerOrGlobal,
        "get-wal and/or delta-restore.",
    ),
    opt(
        "recovery_staging_path",
        AbsolutePath,
        None,
        ServerOrGlobal,
        "Deprecated: use staging_path.",
    ),
    opt(
        "create_slot",
        Choice(&["manual", "auto"]),
        Some("manual"),
        ServerOrGlobal,
        "auto: receive-wal creates a missing replication slot.",
    ),
    opt(
        "retention_policy",
        RetentionPolicy,
        None,
        ServerOrGlobal,
        "REDUNDANCY n or RECOVERY WINDOW OF n DAYS|WEEKS|MONTHS.",
    ),
    opt(
        "retention_policy_mode",
        Choice(&["auto"]),
        Some("auto"),
        ServerOrGlobal,
        "Only auto.",
    ),
    opt(
        "reuse_backup",
        Choice(&["copy", "link", "off"]),
        None,
        ServerOrGlobal,
        "rsync method: reuse files of the previous backup.",
    ),
    opt(
        "slot_name",
        SlotName,
        None,
        ServerOrGlobal,
        "Physical replication slot used by receive-wal.",
    ),
    opt("snapshot_disks", NameList, None, Server, CLOUD),
    opt("snapshot_gcp_project", Text, None, ServerOrGlobal, CLOUD),
    opt("snapshot_instance", Text, None, Server, CLOUD),
    opt("snapshot_provider", Text, None, ServerOrGlobal, CLOUD),
    opt("snapshot_zone", Text, None, Server, CLOUD),
    opt(
        "ssh_command",
        Text,
        None,
        Server,
        "Command that opens a shell on the PostgreSQL host (rsync method).",
    ),
    opt(
        "staging_path",
        AbsolutePath,
        None,
        ServerOrGlobal,
        "Where compressed or incremental backups are prepared at restore time.",
    ),
    opt(
        "staging_location",
        Choice(&["local", "remote"]),
        Some("local"),
        ServerOrGlobal,
        "Whether staging_path is on the Barman host or the restore target.",
    ),
    opt(
        "streaming_archiver",
        Bool,
        Some("off"),
        ServerOrGlobal,
        "Stream WAL with pg_receivewal into the streaming directory.",
    ),
    opt(
        "streaming_archiver_batch_size",
        Int,
        Some("0"),
        ServerOrGlobal,
        "Most WAL files one archive-wal run processes from streaming (0: all).",
    ),
    opt(
        "streaming_archiver_name",
        Text,
        Some("barman_receive_wal"),
        ServerOrGlobal,
        "application_name of pg_receivewal.",
    ),
    opt(
        "streaming_backup_name",
        Text,
        Some("barman_streaming_backup"),
        ServerOrGlobal,
        "application_name of pg_basebackup.",
    ),
    opt(
        "streaming_conninfo",
        Text,
        Some("%(conninfo)s"),
        Server,
        "Replication connection string for pg_basebackup and pg_receivewal.",
    ),
    opt(
        "streaming_wals_directory",
        Text,
        Some("%(backup_directory)s/streaming"),
        Server,
        "Where pg_receivewal writes.",
    ),
    opt(
        "tablespace_bandwidth_limit",
        Text,
        None,
        ServerOrGlobal,
        "Per-tablespace limits: name:kbps ...",
    ),
    opt(
        "wal_conninfo",
        Text,
        None,
        Server,
        "Connection used to monitor WAL streaming, when it differs.",
    ),
    opt(
        "wal_retention_policy",
        WalRetentionPolicy,
        Some("main"),
        ServerOrGlobal,
        "Only main.",
    ),
    opt(
        "wal_streaming_conninfo",
        Text,
        None,
        Server,
        "Replication connection used for WAL streaming, when it differs.",
    ),
    opt(
        "wals_directory",
        Text,
        Some("%(backup_directory)s/wals"),
        Server,
        "The WAL archive.",
    ),
    opt("warehousepg_dbid", Int, None, ServerOrGlobal, CLOUD),
    opt(
        "worm_mode",
        Bool,
        Some("off"),
        ServerOrGlobal,
        "Immutable storage: never purge WAL files preceding the first backup.",
    ),
    opt(
        "xlogdb_directory",
        Text,
        Some("%(wals_directory)s"),
        ServerOrGlobal,
        "Directory of <server>-xlog.db.",
    ),
];

/// The six directories that must not overlap, within a server or between servers, in the
/// (alphabetical) order Barman compares them.
pub const CONFLICT_CHECKED_DIRECTORIES: [&str; 6] = [
    "backup_directory",
    "basebackups_directory",
    "errors_directory",
    "incoming_wals_directory",
    "streaming_wals_directory",
    "wals_directory",
];

/// The server option named `name`.
pub fn server_option(name: &str) -> Option<&'static OptionSpec> {
    SERVER_OPTIONS.iter().find(|o| o.name == name)
}

/// The global-only option named `name`.
pub fn global_option(name: &str) -> Option<&'static OptionSpec> {
    GLOBAL_OPTIONS.iter().find(|o| o.name == name)
}

/// The configuration reference in Markdown, generated from the tables above.
pub fn markdown_reference() -> String {
    let mut out = String::from(
        "# Configuration reference\n\n\
         Generated from the option table in `barman-core/src/config/options.rs`.\n\
         Scope: `global` = only in `[barman]`; `server` = only in a server section; \
         `server, global` = in a server section or in `[barman]` as the default for every server.\n\n\
         | Option | Type | Default | Scope | Meaning |\n|---|---|---|---|---|\n",
    );
    for spec in GLOBAL_OPTIONS.iter().chain(SERVER_OPTIONS) {
        let scope = match spec.scope {
            Global => "global",
            Server => "server",
            ServerOrGlobal => "server, global",
        };
        let default = spec.default.map(|d| format!("`{d}`")).unwrap_or_else(|| "—".into());
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            spec.name,
            kind_name(spec.kind),
            default.replace('|', "\\|"),
            scope,
            spec.doc
        ));
    }
    out
}

fn kind_name(kind: Kind) -> String {
    match kind {
        Text => "text".into(),
        AbsolutePath => "absolute path".into(),
        Bool => "boolean".into(),
        Int => "integer".into(),
        Size => "size".into(),
        Interval => "interval".into(),
        RetentionPolicy => "retention policy".into(),
        WalRetentionPolicy => "`main`".into(),
        Csv { allowed, .. } => format!("list of {}", allowed.join(", ")),
        Choice(words) => words.join(" \\| "),
        ChoiceOrNone(words) => format!("none \\| {}", words.join(" \\| ")),
        Compression => "compression".into(),
        CompressionLevel => "low \\| medium \\| high \\| integer".into(),
        SlotName => "slot name".into(),
        NameList => "list of names".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_names_are_unique_lower_case_and_defaults_parse() {
        let mut seen = std::collections::HashSet::new();
        for spec in GLOBAL_OPTIONS.iter().chain(SERVER_OPTIONS) {
            assert!(seen.insert(spec.name), "duplicate option {}", spec.name);
            assert_eq!(spec.name, spec.name.to_ascii_lowercase());
            if let Some(default) = spec.default.filter(|d| !d.contains("%(")) {
                assert!(
                    super::super::value::parse(spec.kind, default).is_ok(),
                    "default of {}",
                    spec.name
                );
            }
        }
    }

    #[test]
    fn documentation_is_generated_from_the_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/configuration.md");
        let generated = markdown_reference();
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/configuration.md is out of date: run `UPDATE_DOCS=1 cargo test -p barman-core documentation`"
        );
    }
}
