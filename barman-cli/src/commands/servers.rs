//! `list-servers` and `show-servers`: what is configured, and what the server says live, as
//! Barman prints it.

use barman_core::backups_overview::BackupsOverview;
use barman_core::config::{Config, ServerConfig};
use barman_core::postgres::status::{RemoteStatus, StatusScope};
use serde_json::{json, Map, Value};

use super::status::{fetch_live_status, warn_about_failures};
use super::{select_servers, state_marker, usable_servers, READ_ONLY};
use crate::output::Output;

/// `list-servers [--minimal]`: `name - description[ (inactive)| (WARNING: disabled)][ (Passive)]`.
pub fn list_servers(config: &Config, minimal: bool, out: &mut Output) {
    let Some(servers) = select_servers(config, &["all".to_string()], out) else {
        return;
    };
    for (name, server) in servers {
        let Some(server) = server else { continue };
        let mut description = server.description().unwrap_or_default().to_string();
        if let Some(marker) = state_marker(server) {
            description.push(' ');
            description.push_str(marker);
        }
        if server.passive_node() {
            description.push_str(" (Passive)");
        }
        if out.is_json() {
            out.json_result(&name, json!({ "description": description }));
        } else if minimal || description.is_empty() {
            out.info(&name);
        } else {
            out.info(&format!("{name} - {description}"));
        }
    }
}

/// `show-servers SERVER...|all`: every configuration key of each server and its live status
/// (PostgreSQL, replication, archivers, client tools), sorted.
pub fn show_servers(config: &Config, names: &[String], out: &mut Output) {
    for server in usable_servers(config, names, READ_ONLY, out) {
        let name = server.name();
        let marker = state_marker(server);
        let live = StatusScope::of(server).map(|scope| fetch_live_status(&scope));
        if let Some(live) = &live {
            warn_about_failures(out, name, live);
        }
        let shown = shown_keys(server, live.as_ref(), out);
        if out.is_json() {
            let mut object = Map::new();
            object.insert(
                "description".into(),
                marker.map_or(Value::Null, |m| Value::String(m.into())),
            );
            for shown in shown {
                if !(shown.json.is_null() && object.contains_key(&shown.key)) {
                    object.insert(shown.key, shown.json);
                }
            }
            out.json_result(name, Value::Object(object));
        } else {
            out.info(&match marker {
                Some(marker) => format!("Server {name} {marker}:"),
                None => format!("Server {name}:"),
            });
            for shown in shown {
                out.info(&format!("\t{}: {}", shown.key, shown.console));
            }
        }
    }
}

/// One key of `show-servers`, rendered for the console and for JSON.
struct Shown {
    key: String,
    console: String,
    json: Value,
}

impl Shown {
    fn config(key: &str, json: Value) -> Self {
        Shown {
            key: key.to_owned(),
            console: console_value(&json),
            json,
        }
    }
}

/// Every option, the derived keys and the live status, sorted by key.
fn shown_keys(server: &ServerConfig, live: Option<&RemoteStatus>, out: &mut Output) -> Vec<Shown> {
    let mut keys: Vec<Shown> = server
        .options()
        .map(|(spec, value)| Shown::config(spec.name, value.map_or(Value::Null, |v| v.to_json())))
        .collect();
    keys.push(Shown::config("name", Value::String(server.name().into())));
    keys.push(Shown::config("passive_node", Value::Bool(server.passive_node())));
    for (key, value) in live.into_iter().flat_map(RemoteStatus::iter) {
        keys.retain(|shown| shown.key != key);
        keys.push(Shown {
            key: key.to_owned(),
            console: value.console(),
            json: value.show_json(),
        });
    }
    let maximum_age = match BackupsOverview::of(server) {
        Ok(backups) => backups.maximum_age_report(server, chrono::Local::now().fixed_offset()),
        Err(error) => {
            out.warning(&format!(
                "cannot read the backup catalogue of server '{}': {error}",
                server.name()
            ));
            "None".to_owned()
        }
    };
    keys.retain(|shown| shown.key != "last_backup_maximum_age");
    keys.push(Shown::config("last_backup_maximum_age", Value::String(maximum_age)));
    keys.push(Shown::config("active_model", Value::Null));
    keys.sort_by(|a, b| a.key.cmp(&b.key));
    keys
}

/// Barman's console rendering of a value: Python's `True`, `False`, `None`.
fn console_value(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(console_value).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}
