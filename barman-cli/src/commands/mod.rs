//! The sub-commands, and the server selection rules they share.
//!
//! Selection follows Barman: `all` alone means every server; unknown names are errors; errors
//! that involve several servers (overlapping directories) stop multi-server commands; whether
//! an inactive or disabled server is skipped, reported or used depends on the command.

pub mod check;
pub mod cron;
pub mod diagnose;
pub mod processes;
pub mod receive_wal;
pub mod replication;
pub mod servers;
pub mod status;
pub mod switch_wal;
pub mod wal;

use barman_core::config::{Config, ServerConfig};

use crate::output::Output;

/// The servers named on the command line: each name with its configuration, `None` if unknown.
/// Returns `None` when global configuration errors stop the command (they have been shown).
pub fn select_servers<'a>(
    config: &'a Config,
    names: &[String],
    out: &mut Output,
) -> Option<Vec<(String, Option<&'a ServerConfig>)>> {
    if !config.global_errors().is_empty() {
        for error in config.global_errors() {
            out.error(error);
        }
        return None;
    }
    let mut selected: Vec<String> = if names.iter().any(|n| n == "all") {
        if names.len() != 1 {
            out.error("You cannot use 'all' with other server names");
        }
        config.servers().iter().map(|s| s.name().to_string()).collect()
    } else {
        names.to_vec()
    };
    selected.sort();
    selected.dedup();
    let servers = selected
        .into_iter()
        .map(|name| {
            let server = config.server(&name);
            if let Some(server) = server {
                for warning in server.usage_warnings() {
                    out.warning(warning);
                }
            }
            (name, server)
        })
        .collect();
    Some(servers)
}

/// The server of a single-server command, as Barman's `get_server`: `all` is refused, global
/// configuration errors and an unknown or unusable server are reported. `None` when the
/// command must not run.
pub fn single_server<'a>(
    config: &'a Config,
    name: &str,
    rules: Usability,
    out: &mut Output,
) -> Option<&'a ServerConfig> {
    if name == "all" {
        out.error("You cannot use 'all' in a single server context");
        return None;
    }
    let (name, server) = select_servers(config, &[name.to_owned()], out)?.pop()?;
    usable_server(server, &name, rules, out).then_some(server).flatten()
}

/// The servers named on the command line that a command runs on, in order, after
/// [`select_servers`] and [`usable_server`] have reported the others as `rules` say.
pub fn usable_servers<'a>(
    config: &'a Config,
    names: &[String],
    rules: Usability,
    out: &mut Output,
) -> Vec<&'a ServerConfig> {
    let Some(servers) = select_servers(config, names, out) else {
        return Vec::new();
    };
    servers
        .into_iter()
        .filter_map(|(name, server)| usable_server(server, &name, rules, out).then_some(server).flatten())
        .collect()
}

/// Reports an unknown server (always an error) and, for commands that reject them, an inactive or
/// disabled one. Returns whether the command should run on this server.
pub fn usable_server(server: Option<&ServerConfig>, name: &str, rules: Usability, out: &mut Output) -> bool {
    let Some(server) = server else {
        out.error_with_hint(
            &format!("Unknown server '{name}'"),
            "'barman list-servers' shows the configured servers",
        );
        return false;
    };
    if !server.active() {
        match rules.inactive {
            Inactive::Use => {}
            Inactive::SkipWithNotice => {
                out.info(&format!("Skipping inactive server '{name}'"));
                return false;
            }
            Inactive::Error => {
                out.error(&format!("Inactive server: {name}"));
                return false;
            }
        }
    }
    if server.disabled() {
        if rules.disabled_is_error {
            // Barman reports the first reason only.
            if let Some(reason) = server.disabled_reasons().first() {
                out.error(reason);
            }
            return false;
        }
        return rules.disabled;
    }
    true
}

/// Which servers a command accepts.
#[derive(Debug, Clone, Copy)]
pub struct Usability {
    /// What an inactive server means.
    pub inactive: Inactive,
    /// Runs on disabled servers.
    pub disabled: bool,
    /// A disabled server is reported as an error.
    pub disabled_is_error: bool,
}

/// How a command treats an inactive server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inactive {
    /// Runs on it.
    Use,
    /// Leaves it out with `Skipping inactive server 'X'`.
    SkipWithNotice,
    /// Reports `Inactive server: X` as an error.
    Error,
}

/// Commands that only read the configuration show every server.
pub const READ_ONLY: Usability = Usability {
    inactive: Inactive::Use,
    disabled: true,
    disabled_is_error: false,
};

/// The ` (inactive)` / ` (WARNING: disabled)` marker shown after a server's name.
pub fn state_marker(server: &ServerConfig) -> Option<&'static str> {
    if !server.active() {
        Some("(inactive)")
    } else if server.disabled() {
        Some("(WARNING: disabled)")
    } else {
        None
    }
}
