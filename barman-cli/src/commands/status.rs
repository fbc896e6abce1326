//! `status SERVER...|all`: live information about each server and its backups, in Barman's
//! order and words, and the live-status helpers `show-servers` and `diagnose` share.
//!
//! Console: `Server pg:` then `\t<Description>: <value>` lines. JSON: per server, each line
//! keyed by Barman's name with its `description` and `message`. A server that cannot be
//! reached shows `PostgreSQL version: FAILED trying to get PostgreSQL version`, as in Barman,
//! and a warning on stderr says why and what to check; the exit status stays 0.

use barman_core::backups_overview::{retention_enforcement, BackupsOverview};
use barman_core::config::{Config, ServerConfig};
use barman_core::human::pretty_size;
use barman_core::postgres::status::{self, ctime, RemoteStatus, StatusScope, StatusValue};
use barman_core::postgres::ClientEnvironment;
use serde_json::{json, Map, Value};

use super::{usable_servers, READ_ONLY};
use crate::output::Output;

/// Asks the server what `scope` covers, with the process's environment (libpq variables,
/// `.pgpass`, `PATH` for the client tools).
pub fn fetch_live_status(scope: &StatusScope) -> RemoteStatus {
    let path = std::env::var("PATH").unwrap_or_default();
    status::fetch(scope, &ClientEnvironment::from_process(), &path)
}

/// Warns about the parts of the live status that could not be obtained, with what to check.
pub fn warn_about_failures(out: &mut Output, server: &str, live: &RemoteStatus) {
    let parts = [
        ("conninfo", &live.postgres_failure),
        ("streaming_conninfo", &live.streaming_failure),
    ];
    for (option, failure) in parts {
        let Some(failure) = failure else { continue };
        // The same endpoint unreachable for both sessions is said once.
        let repeated = option == "streaming_conninfo"
            && live
                .postgres_failure
                .as_ref()
                .is_some_and(|first| first.hint.is_some() && first.hint == failure.hint);
        if repeated {
            continue;
        }
        let mut message = format!("server '{server}' ({option}): {}", failure.message);
        if let Some(hint) = &failure.hint {
            message.push_str("\nHINT: ");
            message.push_str(hint);
        }
        out.warning(&message);
    }
}

/// The lines of one server's status, in order.
struct StatusLines {
    lines: Vec<(&'static str, &'static str, String)>,
}

impl StatusLines {
    fn push(&mut self, key: &'static str, description: &'static str, message: impl Into<String>) {
        self.lines.push((key, description, message.into()));
    }
}

/// `status SERVER...|all`.
pub fn status(config: &Config, names: &[String], out: &mut Output) {
    for server in usable_servers(config, names, READ_ONLY, out) {
        let name = server.name();
        let lines = server_status(server, out);
        if out.is_json() {
            let object: Map<String, Value> = lines
                .lines
                .into_iter()
                .map(|(key, description, message)| {
                    (
                        key.to_owned(),
                        json!({ "description": description, "message": message }),
                    )
                })
                .collect();
            out.json_result(name, Value::Object(object));
        } else {
            out.info(&format!("Server {name}:"));
            for (_, description, message) in lines.lines {
                out.info(&format!("\t{description}: {message}"));
            }
        }
    }
}

fn python_bool(value: bool) -> &'static str {
    if value {
        "True"
    } else {
        "False"
    }
}

fn server_status(server: &ServerConfig, out: &mut Output) -> StatusLines {
    let mut lines = StatusLines { lines: Vec::new() };
    if let Some(description) = server.description() {
        lines.push("description", "Description", description);
    }
    lines.push("active", "Active", python_bool(server.active()));
    lines.push("disabled", "Disabled", python_bool(server.disabled()));
    lines.push("active_model", "Active configuration model", "None");
    if let Some(scope) = StatusScope::of(server) {
        let live = fetch_live_status(&scope.postgres_only());
        warn_about_failures(out, server.name(), &live);
        postgres_lines(&mut lines, &live);
        if server.archiver() {
            archiver_lines(&mut lines, &live);
        }
    }
    lines.push("passive_node", "Passive node", python_bool(server.passive_node()));
    lines.push(
        "retention_policies",
        "Retention policies",
        retention_enforcement(server),
    );
    match BackupsOverview::of(server) {
        Ok(backups) => {
            let id = |id: &Option<String>| id.clone().unwrap_or_else(|| "None".into());
            lines.push(
                "backups_number",
                "No. of available backups",
                backups.available.to_string(),
            );
            lines.push("first_backup", "First available backup", id(&backups.first));
            lines.push("last_backup", "Last available backup", id(&backups.last));
            lines.push(
                "minimum_redundancy",
                "Minimum redundancy requirements",
                backups.minimum_redundancy(server),
            );
        }
        Err(error) => out.error_with_hint(
            &format!(
                "cannot read the backup catalogue of server '{}': {error}",
                server.name()
            ),
            "check the permissions of backup_directory and its meta/ directory",
        ),
    }
    if let Some(command) = server.text("primary_ssh_command") {
        lines.push("primary_ssh_command", "SSH command to primary server", command);
    }
    lines
}

/// Barman's `status_postgres`: the version (or why it is missing), then what is known.
fn postgres_lines(lines: &mut StatusLines, live: &RemoteStatus) {
    let value = |key: &str| live.get(key).unwrap_or(&StatusValue::None);
    let Some(version) = value("server_txt_version").as_str() else {
        lines.push(
            "pg_version",
            "PostgreSQL version",
            "FAILED trying to get PostgreSQL version",
        );
        return;
    };
    lines.push("pg_version", "PostgreSQL version", version);
    let state = match value("is_in_recovery").as_bool() {
        Some(true) => "in archive recovery",
        _ => "in production",
    };
    lines.push("is_in_recovery", "Cluster state", state);
    if let Some(bytes) = value("current_size").as_f64() {
        lines.push("current_size", "Current data size", pretty_size(bytes as u64));
    }
    if let Some(directory) = value("data_directory").as_str().filter(|d| !d.is_empty()) {
        lines.push("data_directory", "PostgreSQL Data directory", directory);
    }
    if let Some(segment) = value("current_xlog").as_str().filter(|s| !s.is_empty()) {
        lines.push("current_xlog", "Current WAL segment", segment);
    }
}

/// The file archiver's part: `archive_command`, the last archived WAL, failures and rate.
fn archiver_lines(lines: &mut StatusLines, live: &RemoteStatus) {
    let value = |key: &str| live.get(key).unwrap_or(&StatusValue::None);
    if value("archive_mode").is_none() {
        return;
    }
    let command = value("archive_command")
        .as_str()
        .filter(|c| !c.is_empty())
        .unwrap_or("FAILED (please set it accordingly to documentation)");
    lines.push("archive_command", "PostgreSQL 'archive_command' setting", command);
    let last_wal = match (
        value("last_archived_wal").as_str(),
        value("last_archived_time").as_timestamp(),
    ) {
        (Some(wal), Some(time)) if !wal.is_empty() => format!("{wal}, at {}", ctime(time)),
        (Some(wal), None) if !wal.is_empty() => wal.to_owned(),
        _ => "No WAL segment shipped yet".to_owned(),
    };
    lines.push("last_archived_wal", "Last archived WAL", last_wal);
    if let Some(failed) = value("failed_count").as_int() {
        let mut text = failed.to_string();
        if failed > 0 {
            let wal = value("last_failed_wal").console();
            let time = value("last_failed_time").as_timestamp().map_or("None".into(), ctime);
            text.push_str(&format!(" ({wal} at {time})"));
        }
        lines.push("failed_count", "Failures of WAL archiver", text);
    }
    if let Some(rate) = value("current_archived_wals_per_second").as_f64().filter(|r| *r != 0.0) {
        lines.push(
            "server_archived_wals_per_hour",
            "Server WAL archiving rate",
            format!("{:.2}/hour", rate * 3600.0),
        );
    }
}
