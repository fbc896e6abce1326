//! `list-servers` and `show-servers`: what is configured, as Barman prints it.

use barman_core::config::{Config, ServerConfig};
use serde_json::{json, Map, Value};

use super::{select_servers, state_marker, usable_server, READ_ONLY};
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

/// `show-servers SERVER...|all`: every configuration key of each server, sorted.
pub fn show_servers(config: &Config, names: &[String], out: &mut Output) {
    let Some(servers) = select_servers(config, names, out) else {
        return;
    };
    for (name, server) in servers {
        if !usable_server(server, &name, READ_ONLY, out) {
            continue;
        }
        let Some(server) = server else { continue };
        let marker = state_marker(server);
        let shown = shown_keys(server);
        if out.is_json() {
            let mut object = Map::new();
            object.insert(
                "description".into(),
                marker.map_or(Value::Null, |m| Value::String(m.into())),
            );
            for (key, value) in shown {
                if !(value.is_null() && object.contains_key(&key)) {
                    object.insert(key, value);
                }
            }
            out.json_result(&name, Value::Object(object));
        } else {
            out.info(&match marker {
                Some(marker) => format!("Server {name} {marker}:"),
                None => format!("Server {name}:"),
            });
            for (key, value) in shown {
                out.info(&format!("\t{key}: {}", console_value(&value)));
            }
        }
    }
}

/// The configuration part of `show-servers`: every option, plus the derived keys, sorted.
fn shown_keys(server: &ServerConfig) -> Vec<(String, Value)> {
    let mut keys: Vec<(String, Value)> = server
        .options()
        .map(|(spec, value)| (spec.name.to_string(), value.map_or(Value::Null, |v| v.to_json())))
        .collect();
    keys.push(("name".into(), Value::String(server.name().into())));
    keys.push(("passive_node".into(), Value::Bool(server.passive_node())));
    keys.push(("active_model".into(), Value::Null));
    keys.sort_by(|a, b| a.0.cmp(&b.0));
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
