//! `replication-status [--minimal] [--target all|hot-standby|wal-streamer] [--source
//! backup-host|wal-host] SERVER...|all`: the clients streaming WAL from each server, in
//! Barman's layout.
//!
//! Full output: `Status of <title> for server 'S':`, the server's LSN, the number of clients,
//! then one block per client (type and synchronisation stage, address, user, state, slot,
//! WAL sender, start time, and each LSN with its distance from the server's). `--minimal`: one
//! line per client. JSON: per server, the clients under the title's key and `server_lsn`.

use barman_core::config::{Config, ServerConfig};
use barman_core::human::pretty_size;
use barman_core::postgres::server::PostgresServer;
use barman_core::postgres::status::StatusValue;
use barman_core::postgres::streaming_clients::{self, ClientFilter, ReplicationStatus, StreamingClient};
use barman_core::postgres::{connect, effective_conninfo, ClientEnvironment};
use barman_core::receive_wal::WalConninfo;
use serde_json::{json, Map, Value};

use super::{select_servers, usable_server, Inactive, Usability};
use crate::cli::{ReplicationSource, ReplicationStatus as Args, ReplicationTarget};
use crate::output::Output;

/// replication-status skips inactive servers with a notice and refuses disabled ones.
const REPLICATION_STATUS: Usability = Usability {
    inactive: Inactive::SkipWithNotice,
    disabled: false,
    disabled_is_error: true,
};

/// `replication-status`.
pub fn replication_status(config: &Config, args: &Args, out: &mut Output) {
    let Some(servers) = select_servers(config, &args.server_name, out) else {
        return;
    };
    let env = ClientEnvironment::from_process();
    let (filter, title) = match args.target {
        ReplicationTarget::All => (ClientFilter::All, "streaming clients"),
        ReplicationTarget::HotStandby => (ClientFilter::HotStandby, "hot standby servers"),
        ReplicationTarget::WalStreamer => (ClientFilter::WalStreamer, "WAL streamers"),
    };
    for (name, server) in servers {
        if server.is_some_and(|s| s.active() && s.passive_node()) {
            out.info(&format!("Skipping passive server '{name}'"));
            continue;
        }
        if !usable_server(server, &name, REPLICATION_STATUS, out) {
            continue;
        }
        let Some(server) = server else { continue };
        if out.is_json() {
            out.json_result(&name, json!({}));
        }
        let Some(status) = ask(server, args.source, filter, &env, out) else {
            continue;
        };
        if out.is_json() {
            out.json_result(&name, json_report(&status, title, args.minimal));
        } else if args.minimal {
            minimal_report(out, &name, &status, title);
        } else {
            full_report(out, &name, &status, title);
        }
    }
}

/// The connection string `--source` designates: `conninfo`, or for `wal-host` the WAL
/// connection (`wal_conninfo`, else `wal_streaming_conninfo`, else `conninfo`).
fn source_conninfo(server: &ServerConfig, source: ReplicationSource) -> String {
    let conninfo = server.text("conninfo").unwrap_or_default().to_owned();
    match source {
        ReplicationSource::BackupHost => conninfo,
        ReplicationSource::WalHost => WalConninfo::of(server).map_or(conninfo, |wal| wal.conninfo),
    }
}

/// Connects and queries; failures are reported as Barman does, with the cause and what to do.
fn ask(
    server: &ServerConfig,
    source: ReplicationSource,
    filter: ClientFilter,
    env: &ClientEnvironment,
    out: &mut Output,
) -> Option<ReplicationStatus> {
    let name = server.name();
    let dsn = &source_conninfo(server, source);
    let unable = |out: &mut Output, hint: String| {
        out.error_with_hint(&format!("Unable to connect to server {name}"), &hint);
    };
    let mut session = match connect(dsn, env) {
        Ok(client) => match PostgresServer::new(client) {
            Ok(session) => session,
            Err(error) => {
                unable(out, error.to_string());
                return None;
            }
        },
        Err(error) => {
            let hint = match error.hint() {
                Some(hint) => format!("{error}; {hint}"),
                None => error.to_string(),
            };
            unable(out, hint);
            return None;
        }
    };
    match session.monitoring_privileges() {
        Ok(true) => {}
        Ok(false) => {
            let role = effective_conninfo(dsn, env)
                .map(|(info, _)| info.user(&env.os_user).to_owned())
                .unwrap_or_default();
            out.error_with_hint(
                &format!(
                    "Postgres user '{role}' is missing required privileges (see \"Pre-requisites\" section in the Barman documentation)"
                ),
                &format!("run GRANT pg_monitor TO {role} (or GRANT pg_read_all_settings and pg_read_all_stats)"),
            );
            return None;
        }
        Err(error) => {
            unable(out, error.to_string());
            return None;
        }
    }
    match streaming_clients::replication_status(&mut session, filter) {
        Ok(status) => Some(status),
        Err(error) => {
            unable(out, error.to_string());
            None
        }
    }
}

/// Barman's `pretty_size` of a signed byte count.
fn signed_size(bytes: i64) -> String {
    if bytes < 0 {
        format!("-{}", pretty_size(bytes.unsigned_abs()))
    } else {
        pretty_size(bytes.unsigned_abs())
    }
}

fn text(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("None")
}

/// Python's `str.capitalize()`.
fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars.flat_map(char::to_lowercase)).collect())
        .unwrap_or_default()
}

fn client_type(client: &StreamingClient) -> &'static str {
    if client.is_standby() {
        "standby"
    } else {
        "WAL streamer"
    }
}

/// `Async WAL streamer`, or with a synchronous priority `#1 Sync standby`.
fn client_name(client: &StreamingClient) -> String {
    let kind = format!("{} {}", capitalize(&client.sync_state), client_type(client));
    if client.sync_priority > 0 {
        format!("#{} {kind}", client.sync_priority)
    } else {
        kind
    }
}

fn started_at(client: &StreamingClient) -> String {
    StatusValue::timestamp(client.backend_start).console()
}

/// The LSNs a client reports, with Barman's labels and JSON prefixes.
fn lsns(client: &StreamingClient) -> [(&'static str, &'static str, &Option<String>); 4] {
    [
        ("Sent LSN   ", "sent", &client.sent_lsn),
        ("Write LSN  ", "write", &client.write_lsn),
        ("Flush LSN  ", "flush", &client.flush_lsn),
        ("Replay LSN ", "replay", &client.replay_lsn),
    ]
}

fn full_report(out: &mut Output, name: &str, status: &ReplicationStatus, title: &str) {
    out.info(&format!("Status of {title} for server '{name}':"));
    if let Some(lsn) = &status.server_lsn {
        out.info(&format!("  Current LSN on master: {lsn}"));
    }
    if status.clients.is_empty() {
        out.info(&format!("  No {title} attached"));
        return;
    }
    out.info(&format!("  Number of {title}: {}", status.clients.len()));
    for (number, client) in status.clients.iter().enumerate() {
        out.info("");
        out.info(&format!("  {}. {}", number + 1, client_name(client)));
        out.info(&format!("     Application name: {}", text(&client.application_name)));
        out.info(&format!("     Sync stage      : {}", client.sync_stage()));
        match &client.client_addr {
            Some(address) => {
                out.info("     Communication   : TCP/IP");
                out.info(&format!(
                    "     IP Address      : {address} / Port: {} / Host: {}",
                    client.client_port.map_or("None".into(), |p| p.to_string()),
                    client.client_hostname.as_deref().unwrap_or("-")
                ));
            }
            None => out.info("     Communication   : Unix domain socket"),
        }
        out.info(&format!("     User name       : {}", text(&client.usename)));
        out.info(&format!(
            "     Current state   : {} ({})",
            text(&client.state),
            client.sync_state
        ));
        if let Some(slot) = &client.slot_name {
            out.info(&format!("     Replication slot: {slot}"));
        }
        out.info(&format!(
            "     WAL sender PID  : {}",
            client.pid.map_or("None".into(), |p| p.to_string())
        ));
        out.info(&format!("     Started at      : {}", started_at(client)));
        if let Some(xmin) = &client.backend_xmin {
            out.info(&format!("     Standby's xmin  : {xmin}"));
        }
        for (label, _, lsn) in lsns(client) {
            if let Some(lsn) = lsn {
                let diff = client.lsn_diff(Some(lsn)).map_or("None".into(), signed_size);
                out.info(&format!("     {label}: {lsn} (diff: {diff})"));
            }
        }
    }
}

fn minimal_report(out: &mut Output, name: &str, status: &ReplicationStatus, title: &str) {
    match &status.server_lsn {
        Some(lsn) => out.info(&format!("{} for master '{name}' (LSN @ {lsn}):", capitalize(title))),
        None => out.info(&format!("{} for slave '{name}':", capitalize(title))),
    }
    if status.clients.is_empty() {
        out.info(&format!("  No {title} attached"));
        return;
    }
    for (number, client) in status.clients.iter().enumerate() {
        let user = text(&client.usename);
        let address = client.client_addr.as_deref().unwrap_or("socket");
        let application = text(&client.application_name);
        let line = if client.is_standby() {
            format!(
                "  {}. {}) {user}@{address} S:{} F:{} R:{} P:{} AN:{application}",
                number + 1,
                sync_letter(client),
                text(&client.sent_lsn),
                text(&client.flush_lsn),
                text(&client.replay_lsn),
                client.sync_priority
            )
        } else {
            format!(
                "  {}. W) {user}@{address} S:{} W:{} P:{} AN:{application}",
                number + 1,
                text(&client.sent_lsn),
                text(&client.write_lsn),
                client.sync_priority
            )
        };
        out.info(&line);
    }
}

/// The first letter of the synchronisation state, upper-cased (`A`, `S`, `P`, `Q`).
fn sync_letter(client: &StreamingClient) -> String {
    client.sync_state.chars().take(1).flat_map(char::to_uppercase).collect()
}

fn json_report(status: &ReplicationStatus, title: &str, minimal: bool) -> Value {
    let title_key = title.to_lowercase().replace(' ', "_");
    let mut object = Map::new();
    object.insert("server_lsn".into(), json!(status.server_lsn));
    if status.clients.is_empty() {
        object.insert(title_key, json!([]));
        object.insert("standby_info".into(), json!(format!("No {title} attached")));
        return Value::Object(object);
    }
    let clients: Vec<Value> = status
        .clients
        .iter()
        .map(|client| {
            if minimal {
                minimal_json(client)
            } else {
                full_json(client)
            }
        })
        .collect();
    object.insert(title_key, Value::Array(clients));
    Value::Object(object)
}

fn minimal_json(client: &StreamingClient) -> Value {
    let address = client.client_addr.as_deref().unwrap_or("socket");
    if client.is_standby() {
        json!({
            "sync_state": sync_letter(client),
            "user_name": client.usename,
            "client_addr": address,
            "sent_lsn": client.sent_lsn,
            "flush_lsn": client.flush_lsn,
            "replay_lsn": client.replay_lsn,
            "sync_priority": client.sync_priority,
            "application_name": client.application_name,
        })
    } else {
        json!({
            "user_name": client.usename,
            "client_addr": address,
            "sent_lsn": client.sent_lsn,
            "write_lsn": client.write_lsn,
            "sync_priority": client.sync_priority,
            "application_name": client.application_name,
        })
    }
}

fn full_json(client: &StreamingClient) -> Value {
    let mut object = Map::new();
    object.insert("name".into(), json!(client_name(client)));
    object.insert("application_name".into(), json!(client.application_name));
    object.insert("sync_stage".into(), json!(client.sync_stage()));
    match &client.client_addr {
        Some(address) => {
            object.insert("communication".into(), json!("TCP/IP"));
            object.insert("ip_address".into(), json!(address));
            object.insert("port".into(), json!(client.client_port));
            object.insert("host".into(), json!(client.client_hostname));
        }
        None => {
            object.insert("communication".into(), json!("Unix domain socket"));
        }
    }
    object.insert("user_name".into(), json!(client.usename));
    object.insert("current_state".into(), json!(client.state));
    object.insert("current_sync_state".into(), json!(client.sync_state));
    if let Some(slot) = &client.slot_name {
        object.insert("replication_slot".into(), json!(slot));
    }
    object.insert("wal_sender_pid".into(), json!(client.pid));
    object.insert("started_at".into(), json!(started_at(client)));
    if let Some(xmin) = &client.backend_xmin {
        object.insert("standbys_xmin".into(), json!(xmin));
    }
    for (_, prefix, lsn) in lsns(client) {
        if let Some(lsn) = lsn {
            let diff = client.lsn_diff(Some(lsn));
            object.insert(format!("{prefix}_lsn"), json!(lsn));
            object.insert(
                format!("{prefix}_lsn_diff"),
                json!(diff.map_or("None".into(), signed_size)),
            );
            object.insert(format!("{prefix}_lsn_diff_bytes"), json!(diff));
        }
    }
    Value::Object(object)
}
