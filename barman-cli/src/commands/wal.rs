//! The server-side WAL commands: `put-wal`, `archive-wal`, `rebuild-xlogdb`.
//!
//! Each command resolves its server as Barman does (which inactive or disabled servers it
//! accepts differs per command), then hands the work to `barman_core::archive` and turns the
//! result into Barman's messages.

use std::io;

use barman_core::archive::{self, ArchiveLayout, ArchiveOutcome, ArchiveSettings};
use barman_core::config::{Config, ServerConfig};
use barman_core::protocol::PutWalOrigin;

use super::{select_servers, single_server, usable_server, Inactive, Usability};
use crate::cli::PutWal;
use crate::output::Output;

/// put-wal refuses inactive and disabled servers.
const PUT_WAL: Usability = Usability {
    inactive: Inactive::Error,
    disabled: false,
    disabled_is_error: true,
};

/// archive-wal and rebuild-xlogdb skip inactive servers with a notice and refuse disabled ones.
const MAINTENANCE: Usability = Usability {
    inactive: Inactive::SkipWithNotice,
    disabled: false,
    disabled_is_error: true,
};

/// `put-wal SERVER [--test]`: receive a put-wal stream on standard input into `incoming/`.
pub fn put_wal(config: &Config, args: &PutWal, out: &mut Output) {
    let Some(server) = single_server(config, &args.server_name, PUT_WAL, out) else {
        return;
    };
    if args.test {
        out.info(&format!("Ready to accept WAL files for the server {}", server.name()));
        return;
    }
    let Some(layout) = layout_of(config, server, out) else {
        return;
    };
    let origin = PutWalOrigin::new(server.name()).with_ssh_connection(std::env::var("SSH_CONNECTION").ok().as_deref());
    match archive::put_wal(io::stdin().lock(), &layout, &origin) {
        Ok(report) => {
            for warning in &report.warnings {
                out.warning(&warning.to_string());
            }
            if let Some(identity) = report.learned_identity {
                log::info!(
                    "Recorded the identity of server '{}' from the WAL received: system identifier {}, PostgreSQL {}",
                    server.name(),
                    identity.system_identifier,
                    identity.major_version
                );
            }
            for message in report
                .outcomes
                .iter()
                .filter_map(|outcome| outcome.message(server.name()))
            {
                out.info(&message);
            }
        }
        Err(error) => match error.hint() {
            Some(hint) => out.error_with_hint(&error.to_string(), &hint),
            None => out.error(&error.to_string()),
        },
    }
}

/// `archive-wal SERVER`: archive what waits in `streaming/` and `incoming/`.
pub fn archive_wal(config: &Config, name: &str, out: &mut Output) {
    let Some(server) = single_server(config, name, MAINTENANCE, out) else {
        return;
    };
    let Some(layout) = layout_of(config, server, out) else {
        return;
    };
    let settings = match ArchiveSettings::for_server(server) {
        Ok(settings) => settings,
        Err(error) => return out.error(&error.to_string()),
    };
    out.debug(&format!("Starting archive-wal for server {}", server.name()));
    match archive::archive_wal(&layout, &settings, &mut |event| out.info(&event.to_string())) {
        Ok(ArchiveOutcome::Done(summary)) => log::debug!(
            "archive-wal for server {}: {} archived, {} already archived, {} duplicates, {} unknown",
            server.name(),
            summary.archived,
            summary.already_archived,
            summary.duplicates,
            summary.unknown
        ),
        Ok(ArchiveOutcome::AlreadyRunning) => out.info(&format!(
            "Another archive-wal process is already running on server {}. Skipping to the next server",
            server.name()
        )),
        Err(error) => out.error(&error.to_string()),
    }
}

/// `rebuild-xlogdb SERVER...|all`: rewrite each server's WAL catalogue from `wals/`.
pub fn rebuild_xlogdb(config: &Config, names: &[String], out: &mut Output) {
    let Some(servers) = select_servers(config, names, out) else {
        return;
    };
    for (name, server) in servers {
        if !usable_server(server, &name, MAINTENANCE, out) {
            continue;
        }
        let Some(layout) = server.and_then(|server| layout_of(config, server, out)) else {
            continue;
        };
        out.info(&format!("Rebuilding xlogdb for server {name}"));
        match archive::rebuild_xlogdb(&layout) {
            Ok(report) => {
                for skipped in &report.skipped {
                    log::warn!(
                        "{} rebuilding the wal database: {}",
                        skipped.reason,
                        skipped.path.display()
                    );
                }
                out.info(&format!(
                    "Done rebuilding xlogdb for server {name} (history: {}, backup_labels: {}, wal_file: {})",
                    report.history, report.backup_labels, report.wal_files
                ));
            }
            Err(error) => out.error(&error.to_string()),
        }
    }
}

/// The server's archive directories; an unset directory option is reported.
fn layout_of(config: &Config, server: &ServerConfig, out: &mut Output) -> Option<ArchiveLayout> {
    match ArchiveLayout::for_server(server, &config.global().barman_lock_directory) {
        Ok(layout) => Some(layout),
        Err(error) => {
            out.error_with_hint(
                &error.to_string(),
                &format!("set {} in the configuration", error.option),
            );
            None
        }
    }
}
