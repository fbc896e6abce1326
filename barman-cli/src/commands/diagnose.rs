//! `diagnose`: one JSON document describing the configuration and the system, for support.
//!
//! This release fills the configuration part (global and per-server settings, the reasons a
//! server is disabled, configuration errors), the local system information and each server's
//! live status (the keys `show-servers` prints, asked of every server in parallel); the
//! backups and WAL sections are present but empty.

use std::process::Command;

use barman_core::config::{Config, ServerConfig};
use barman_core::postgres::status::{RemoteStatus, StatusScope};
use serde_json::{json, Map, Value};

use super::status::fetch_live_status;
use crate::output::{pretty_sorted_json, Output};

/// Prints the diagnose document on stdout.
pub fn diagnose(config: &Config, show_config_source: bool, out: &mut Output) {
    let statuses: Vec<Value> = std::thread::scope(|threads| {
        let pending: Vec<_> = config
            .servers()
            .iter()
            .map(|server| threads.spawn(move || live_status(server)))
            .collect();
        pending
            .into_iter()
            .map(|thread| thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    let servers: Map<String, Value> = config
        .servers()
        .iter()
        .zip(statuses)
        .map(|(server, status)| {
            (
                server.name().to_string(),
                server_section(server, show_config_source, status),
            )
        })
        .collect();
    let document = json!({
        "global": {
            "config": global_config(config, show_config_source),
            "system_info": system_info(),
        },
        "models": {},
        "servers": servers,
    });
    out.info(&pretty_sorted_json(&document));
}

fn with_source(value: Value, source: Option<String>, show: bool) -> Value {
    if show {
        json!({ "value": value, "source": source.unwrap_or_else(|| "default".into()) })
    } else {
        value
    }
}

fn global_config(config: &Config, show_source: bool) -> Value {
    let mut map = Map::new();
    for entry in config.global_entries() {
        let source = Some(entry.source.display().to_string());
        map.insert(
            entry.key.clone(),
            with_source(Value::String(entry.value.clone()), source, show_source),
        );
    }
    let global = config.global();
    let derived = [
        ("barman_lock_directory", json!(global.barman_lock_directory)),
        ("lock_directory_cleanup", json!(global.lock_directory_cleanup)),
        ("config_changes_queue", json!(global.config_changes_queue)),
    ];
    for (key, value) in derived {
        let source = config
            .global_entries()
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.source.display().to_string());
        map.insert(key.into(), with_source(value, source, show_source));
    }
    map.insert("errors_list".into(), json!(config.global_errors()));
    Value::Object(map)
}

/// The server's live status as `diagnose` writes it; empty for inactive and passive servers.
fn live_status(server: &ServerConfig) -> Value {
    let status = StatusScope::of(server).map(|scope| fetch_live_status(&scope));
    Value::Object(
        status
            .iter()
            .flat_map(RemoteStatus::iter)
            .map(|(key, value)| (key.to_owned(), value.diagnose_json()))
            .collect(),
    )
}

fn server_section(server: &ServerConfig, show_source: bool, status: Value) -> Value {
    let mut config: Map<String, Value> = server
        .options()
        .map(|(spec, value)| {
            let value = value.map_or(Value::Null, |v| v.to_json());
            let source = server.source(spec.name).map(|p| p.display().to_string());
            (spec.name.to_string(), with_source(value, source, show_source))
        })
        .collect();
    config.insert("name".into(), with_source(json!(server.name()), None, show_source));
    json!({
        "active_model": null,
        "backups": {},
        "config": config,
        "msg_list": server.disabled_reasons(),
        "status": status,
        "wals": {},
    })
}

fn system_info() -> Value {
    json!({
        "barman_ver": env!("CARGO_PKG_VERSION"),
        "kernel_ver": first_line("uname", &["-a"]),
        "release": os_release(),
        "rsync_ver": first_line("rsync", &["--version"]),
        "ssh_ver": first_line("ssh", &["-V"]),
        "timestamp": chrono::Local::now().to_rfc3339(),
    })
}

/// The first output line of a command (stdout, else stderr), or an empty string.
fn first_line(program: &str, args: &[&str]) -> String {
    let Ok(output) = Command::new(program).args(args).output() else {
        return String::new();
    };
    let text = if output.stdout.is_empty() {
        output.stderr
    } else {
        output.stdout
    };
    String::from_utf8_lossy(&text)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

fn os_release() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_string()))
        })
        .unwrap_or_default()
}
