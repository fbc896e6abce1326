//! The server-side WAL commands: `put-wal`.
//!
//! Each command resolves its server as Barman does (which inactive or disabled servers it
//! accepts differs per command), then hands the work to `barman_core::archive` and turns the
//! result into Barman's messages.

use std::io;

use barman_core::archive::{self, ArchiveLayout};
use barman_core::config::{Config, ServerConfig};
use barman_core::protocol::PutWalOrigin;

use super::{single_server, Inactive, Usability};
use crate::cli::PutWal;
use crate::output::Output;

/// put-wal refuses inactive and disabled servers.
const PUT_WAL: Usability = Usability {
    inactive: Inactive::Error,
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
