//! The server-side WAL commands: `put-wal`, `archive-wal`, `rebuild-xlogdb`, `get-wal`.
//!
//! Each command resolves its server as Barman does (which inactive or disabled servers it
//! accepts differs per command), then hands the work to `barman_core::archive` and turns the
//! result into Barman's messages.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::Path;

use barman_core::archive::get_wal::{self as wal_retrieval, GetWalError, SendOptions};
use barman_core::archive::{self, ArchiveLayout, ArchiveOutcome, ArchiveSettings};
use barman_core::compression::CompressionKind;
use barman_core::config::value::Value;
use barman_core::config::{Config, ServerConfig};
use barman_core::protocol::PutWalOrigin;
use barman_core::wal::WalFileName;

use super::{select_servers, single_server, usable_server, Inactive, Usability};
use crate::cli::{GetWal, PutWal};
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

/// get-wal serves inactive servers (a standby may restore from a retired one) but not disabled
/// ones.
const GET_WAL: Usability = Usability {
    inactive: Inactive::Use,
    disabled: false,
    disabled_is_error: true,
};

/// get-wal's exit status for an invalid WAL name or an unusable output file.
const EXIT_GET_WAL_INPUT: i32 = 3;

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
    let origin = ssh_origin(server.name());
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

/// `get-wal SERVER WAL`: send a WAL file to standard output (or into `-o DIR`), or with
/// `--peek N` list the names of the WAL files available from it on.
pub fn get_wal(config: &Config, args: &GetWal, out: &mut Output) {
    let Some(server) = single_server(config, &args.server_name, GET_WAL, out) else {
        return;
    };
    if args.test {
        out.info(&format!(
            "Ready to retrieve WAL files from the server {}",
            server.name()
        ));
        return;
    }
    let compression = match (args.gzip, args.bzip2) {
        (true, _) => Some(CompressionKind::Gzip),
        (_, true) => Some(CompressionKind::Bzip2),
        _ => None,
    };
    if let (Some(kind), true) = (compression, args.keep_compression) {
        return out.error(&format!(
            "argument `{kind}` not allowed with argument `keep-compression`"
        ));
    }
    let suffix = ssh_origin(server.name()).suffix();
    let Ok(name) = WalFileName::parse(&args.wal_name) else {
        let message = format!("'{}' is not a valid wal file name{suffix}", args.wal_name);
        return out.error_with_status(&message, EXIT_GET_WAL_INPUT);
    };
    let Some(layout) = layout_of(config, server, out) else {
        return;
    };
    if let Some(count) = args.peek {
        for found in wal_retrieval::peek(&layout, &name, count) {
            out.info(&found);
        }
        return;
    }
    let options = SendOptions {
        compression,
        compression_level: match server.get("compression_level") {
            Some(Value::CompressionLevel(level)) => *level,
            _ => Default::default(),
        },
        keep_compression: args.keep_compression,
        partial: args.partial,
    };
    match &args.output_directory {
        Some(directory) => send_into_directory(&layout, &name, &options, &directory.join(name.as_str()), &suffix, out),
        None => send_to_stdout(&layout, &name, &options, &suffix, out),
    }
}

/// Streams the WAL to standard output; messages only go to the log, never into the stream.
fn send_to_stdout(layout: &ArchiveLayout, name: &WalFileName, options: &SendOptions, suffix: &str, out: &mut Output) {
    // A descriptor of its own, so the data bypasses the line-buffered standard output.
    let mut stdout = match io::stdout().as_fd().try_clone_to_owned() {
        Ok(fd) => File::from(fd),
        Err(error) => return out.error(&format!("Unable to write to standard output{suffix}: {error}")),
    };
    match wal_retrieval::send_wal(layout, name, options, &mut stdout) {
        Ok(path) => log::info!(
            "Sending WAL '{}' for server '{}' to standard output{suffix}",
            file_name_of(&path),
            layout.server
        ),
        Err(error) => report_send_error(&error, layout, name, suffix, out),
    }
}

/// Writes the WAL to `destination` (`-o DIR`); an empty file is not left behind on failure.
fn send_into_directory(
    layout: &ArchiveLayout,
    name: &WalFileName,
    options: &SendOptions,
    destination: &Path,
    suffix: &str,
    out: &mut Output,
) {
    let mut file = match File::create(destination) {
        Ok(file) => file,
        Err(error) => {
            let message = format!("Unable to open '{}' file{suffix}: {error}", destination.display());
            return out.error_with_status(&message, EXIT_GET_WAL_INPUT);
        }
    };
    match wal_retrieval::send_wal(layout, name, options, &mut file) {
        Ok(path) => out.info(&format!(
            "Sending WAL '{}' for server '{}' into '{}' file{suffix}",
            file_name_of(&path),
            layout.server,
            destination.display()
        )),
        Err(error) => {
            drop(file);
            // Our own, incomplete output: nothing else can have written there since.
            let _ = std::fs::remove_file(destination);
            report_send_error(&error, layout, name, suffix, out);
        }
    }
}

fn report_send_error(error: &GetWalError, layout: &ArchiveLayout, name: &WalFileName, suffix: &str, out: &mut Output) {
    match error {
        GetWalError::NotFound => out.error(&format!(
            "WAL file '{name}' not found in server '{}'{suffix}",
            layout.server
        )),
        other => out.error(&format!("{other}{suffix}")),
    }
}

fn file_name_of(path: &Path) -> String {
    path.file_name().unwrap_or_default().to_string_lossy().into_owned()
}

/// Who runs the command: the server, and the SSH client from `$SSH_CONNECTION` if any.
fn ssh_origin(server: &str) -> PutWalOrigin {
    PutWalOrigin::new(server).with_ssh_connection(std::env::var("SSH_CONNECTION").ok().as_deref())
}

/// The server's archive directories; an unset directory option is reported.
pub(super) fn layout_of(config: &Config, server: &ServerConfig, out: &mut Output) -> Option<ArchiveLayout> {
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
