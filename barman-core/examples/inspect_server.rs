//! Loads a Barman configuration the way `barman` does and inspects one server.
//!
//! ```text
//! cargo run -p barman-core --example inspect_server -- /etc/barman.conf pg
//! ```
//!
//! Without arguments it uses the default locations (`~/.barman.conf`, `/etc/barman.conf`,
//! `/etc/barman/barman.conf`) and the first server.

use std::path::PathBuf;
use std::process::ExitCode;

use barman_core::config::{Config, Discovery};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let config_file = args.next().map(PathBuf::from);
    let wanted = args.next();
    let config = match Config::load(&Discovery::from_process(config_file)) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("cannot load the configuration: {error}\nhint: {}", error.hint());
            return ExitCode::FAILURE;
        }
    };
    for diagnostic in config.diagnostics() {
        eprintln!("warning: {}", diagnostic.message);
    }
    let server = match &wanted {
        Some(name) => config.server(name),
        None => config.servers().first(),
    };
    let Some(server) = server else {
        eprintln!(
            "no such server; configured: {:?}",
            config.servers().iter().map(|s| s.name()).collect::<Vec<_>>()
        );
        return ExitCode::FAILURE;
    };
    println!("server {} (from {})", server.name(), config.path().display());
    println!("  active: {}, disabled: {}", server.active(), server.disabled());
    for reason in server.disabled_reasons() {
        println!("  disabled because: {reason}");
    }
    for key in [
        "backup_method",
        "incoming_wals_directory",
        "wals_directory",
        "compression",
        "retention_policy",
    ] {
        let value = server.get(key).map_or_else(|| "unset".to_string(), ToString::to_string);
        let source = server
            .source(key)
            .map_or_else(|| "default".to_string(), |p| p.display().to_string());
        println!("  {key} = {value}  ({source})");
    }
    ExitCode::SUCCESS
}
