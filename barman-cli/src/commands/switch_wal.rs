//! `switch-wal [--force] [--archive] [--archive-timeout S] SERVER...|all`: close the current WAL
//! file of each server with `pg_switch_wal()`, as Barman does.
//!
//! `--force` runs a `CHECKPOINT` first, which needs a superuser or, from PostgreSQL 15, a
//! member of `pg_checkpoint`. The switch needs Barman's backup privileges; a standby is left
//! alone. The WAL file names before and after the switch tell whether one was closed.
//! `--archive` then runs archive-wal every 0.1 s until that file (or, when none was closed, any
//! new one) is in the archive, for at most `--archive-timeout` seconds (0: no limit).

use std::time::Duration;

use barman_core::archive::{self, ArchiveSettings, AwaitedWal, WaitOutcome};
use barman_core::config::{Config, ServerConfig};
use barman_core::postgres::server::PostgresServer;
use barman_core::postgres::{connect, effective_conninfo, ClientEnvironment, PostgresError};
use barman_core::wal::WalFileName;

use super::wal::layout_of;
use super::{usable_servers, Inactive, Usability};
use crate::cli::SwitchWal;
use crate::output::Output;

/// switch-wal skips inactive servers with a notice and refuses disabled ones.
const SWITCH_WAL: Usability = Usability {
    inactive: Inactive::SkipWithNotice,
    disabled: false,
    disabled_is_error: true,
};

/// What the switch did, which decides what `--archive` waits for.
enum Switched {
    /// This WAL file was closed.
    Closed(WalFileName),
    /// Nothing was closed (no switch needed, or a standby).
    Nothing,
}

/// `switch-wal`.
pub fn switch_wal(config: &Config, args: &SwitchWal, out: &mut Output) {
    let env = ClientEnvironment::from_process();
    for server in usable_servers(config, &args.server_name, SWITCH_WAL, out) {
        let Some(switched) = switch_one(server, args.force, &env, out) else {
            continue;
        };
        if args.archive {
            wait_for_archival(config, server, &switched, args.archive_timeout, out);
        }
    }
}

/// The failure Barman reports for any problem running `pg_switch_wal()`; the hint gives the
/// cause and, when known, what to do.
fn unable(out: &mut Output, server: &str, cause: &str, hint: Option<String>) {
    let hint = match hint {
        Some(hint) => format!("{cause}; {hint}"),
        None => cause.to_owned(),
    };
    out.error_with_hint(
        &format!("Unable to perform pg_switch_wal for server '{server}'."),
        &hint,
    );
}

/// Performs the switch on one server. `None` when it failed (reported) and nothing should be
/// awaited.
fn switch_one(server: &ServerConfig, force: bool, env: &ClientEnvironment, out: &mut Output) -> Option<Switched> {
    let name = server.name();
    if server.passive_node() {
        unable(
            out,
            name,
            &format!("'{name}' is a passive node (primary_ssh_command is set) with no PostgreSQL connection"),
            Some("run switch-wal on the primary Barman server".into()),
        );
        return None;
    }
    let dsn = server.text("conninfo").unwrap_or_default();
    let session = connect(dsn, env).map_err(|error| (error.to_string(), error.hint()));
    let mut session =
        match session.and_then(|client| PostgresServer::new(client).map_err(|error| (error.to_string(), None))) {
            Ok(session) => session,
            Err((cause, hint)) => {
                unable(out, name, &cause, hint);
                return None;
            }
        };
    let query_failed = |out: &mut Output, error: &dyn std::error::Error| {
        unable(out, name, &error.to_string(), None);
    };
    if force {
        match session.checkpoint_privileges() {
            Ok(true) => {
                out.debug("Force a CHECKPOINT before pg_switch_wal()");
                if let Err(error) = session.checkpoint() {
                    log::debug!("Error issuing CHECKPOINT: {error}");
                }
            }
            Ok(false) => {
                out.error_with_hint(
                    "Barman switch-wal --force requires superuser rights or the 'pg_checkpoint' role",
                    &format!(
                        "on PostgreSQL 15 or later run 'GRANT pg_checkpoint TO {}', or connect as a superuser",
                        role_of(dsn, env)
                    ),
                );
                return None;
            }
            Err(error) => {
                query_failed(out, &error);
                return None;
            }
        }
    }
    let privileges = match session.backup_privileges() {
        Ok(privileges) => privileges,
        Err(error) => {
            query_failed(out, &error);
            return None;
        }
    };
    if !privileges.sufficient() {
        out.error_with_hint(
            &format!(
                "Postgres user '{}' is missing required privileges (see \"Pre-requisites\" section in the Barman documentation)",
                role_of(dsn, env)
            ),
            &format!("run {}", privileges.missing_grants.join("; ")),
        );
        return None;
    }
    match session.is_in_recovery() {
        Ok(true) => {
            out.info(&format!("No switch performed because server '{name}' is a standby."));
            return Some(Switched::Nothing);
        }
        Ok(false) => {}
        Err(error) => {
            query_failed(out, &error);
            return None;
        }
    }
    match session.switch_wal() {
        Ok(Some(closed)) => {
            out.info(&format!("The WAL file {closed} has been closed on server '{name}'"));
            match WalFileName::parse(&closed) {
                Ok(closed) => Some(Switched::Closed(closed)),
                Err(error) => {
                    query_failed(out, &error);
                    None
                }
            }
        }
        Ok(None) => {
            out.info(&format!("No switch required for server '{name}'"));
            Some(Switched::Nothing)
        }
        Err(error) => {
            query_failed(out, &error);
            None
        }
    }
}

/// The role `dsn` connects as.
fn role_of(dsn: &str, env: &ClientEnvironment) -> String {
    effective_conninfo(dsn, env)
        .map(|(info, _)| info.user(&env.os_user).to_owned())
        .unwrap_or_else(|error: PostgresError| error.to_string())
}

/// `--archive`: archive-wal until the closed WAL (or any new one) is in the archive.
fn wait_for_archival(config: &Config, server: &ServerConfig, switched: &Switched, timeout: u64, out: &mut Output) {
    let name = server.name();
    let Some(layout) = layout_of(config, server, out) else {
        return;
    };
    let settings = match ArchiveSettings::for_server(server) {
        Ok(settings) => settings,
        Err(error) => return out.error(&error.to_string()),
    };
    let limit = if timeout > 0 {
        format!(" (max: {timeout} seconds)")
    } else {
        String::new()
    };
    let awaited = match switched {
        Switched::Closed(wal) => {
            out.info(&format!("Waiting for the WAL file {wal} from server '{name}'{limit}"));
            AwaitedWal::File(wal)
        }
        Switched::Nothing => {
            out.info(&format!(
                "Waiting for a WAL file from server '{name}' to be archived{limit}"
            ));
            AwaitedWal::AnyNew
        }
    };
    let timeout = (timeout > 0).then(|| Duration::from_secs(timeout));
    let outcome =
        archive::wait_for_archived_wal(&layout, &settings, awaited, timeout, &mut |event| log::info!("{event}"));
    match (outcome, awaited) {
        (Ok(WaitOutcome::Archived), _) => {}
        (Ok(WaitOutcome::TimedOut), AwaitedWal::File(wal)) => out.error_with_hint(
            &format!(
                "The WAL file {wal} has not been received in {} seconds",
                timeout.map_or(0, |t| t.as_secs())
            ),
            &format!(
                "check that archive_command delivers WAL files to barman (see 'barman check {name}' \
                 and PostgreSQL's pg_stat_archiver), or raise --archive-timeout"
            ),
        ),
        (Ok(WaitOutcome::TimedOut), AwaitedWal::AnyNew) => out.info(&format!(
            "A WAL file has not been received in {} seconds",
            timeout.map_or(0, |t| t.as_secs())
        )),
        (Err(error), _) => out.error(&format!("archive-wal failed for server '{name}': {error}")),
    }
}
