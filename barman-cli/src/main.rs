//! `barman`: the backup and recovery manager for PostgreSQL, command-line entry point.
//!
//! Start-up follows Barman: parse arguments; read the main configuration file; drop root
//! privileges to `barman_user`; set up logging; read the included configuration files and
//! validate; run the sub-command. Exit codes: 0 success, 1 an error was reported, 2 usage error.

mod cli;
mod commands;
mod logging;
mod output;
mod privileges;

use std::io::IsTerminal;

use barman_core::config::{Config, ConfigError, Discovery, MainConfig, Severity};
use clap::Parser;

use cli::{Cli, ColorMode, Command, NOT_YET_IMPLEMENTED};
use output::{Output, EXIT_ERROR};

/// Exit status of usage errors, as argparse's.
const EXIT_USAGE: i32 = 2;

fn main() {
    std::process::exit(run());
}

fn run() -> i32 {
    let mut cli = Cli::parse();
    if cli.version {
        println!(
            "{}\n\nBarman-compatible backup and recovery manager for PostgreSQL",
            env!("CARGO_PKG_VERSION")
        );
        return 0;
    }
    let Some(command) = cli.command.take() else {
        // `arg_required_else_help` covers an empty command line; options alone land here.
        eprintln!("barman: error: a sub-command is required (see 'barman --help')");
        return EXIT_USAGE;
    };
    if let Command::Other(args) = &command {
        return unknown_subcommand(args);
    }
    let color = match cli.color {
        ColorMode::Always => true,
        ColorMode::Never => false,
        ColorMode::Auto => std::io::stdout().is_terminal() && std::io::stderr().is_terminal(),
    };
    let mut out = Output::new(cli.format, cli.quiet, cli.debug, color);
    let Some(config) = load_config(&cli, &mut out) else {
        return out.finish();
    };
    out.debug(&format!(
        "Initialised barman {} (config: {})",
        env!("CARGO_PKG_VERSION"),
        config.path().display()
    ));
    for diagnostic in config.diagnostics() {
        match diagnostic.severity {
            Severity::Warning => out.warning(&diagnostic.message),
            Severity::Error => out.error(&diagnostic.message),
        }
    }
    match command {
        Command::ListServers(args) => commands::servers::list_servers(&config, args.minimal, &mut out),
        Command::ShowServers(args) => commands::servers::show_servers(&config, &args.server_name, &mut out),
        Command::Diagnose(args) => commands::diagnose::diagnose(&config, args.show_config_source, &mut out),
        Command::Status(args) => commands::status::status(&config, &args.server_name, &mut out),
        Command::SwitchWal(args) => commands::switch_wal::switch_wal(&config, &args, &mut out),
        Command::ReplicationStatus(args) => commands::replication::replication_status(&config, &args, &mut out),
        Command::PutWal(args) => commands::wal::put_wal(&config, &args, &mut out),
        Command::ArchiveWal(args) => commands::wal::archive_wal(&config, &args.server_name, &mut out),
        Command::RebuildXlogdb(args) => commands::wal::rebuild_xlogdb(&config, &args.server_name, &mut out),
        Command::GetWal(args) => commands::wal::get_wal(&config, &args, &mut out),
        Command::Cron(args) => commands::cron::cron(&config, args.keep_descriptors, &mut out),
        Command::ReceiveWal(args) => commands::receive_wal::receive_wal(&config, &args, &mut out),
        Command::ListProcesses(args) => commands::processes::list_processes(&config, &args.server_name, &mut out),
        Command::TerminateProcess(args) => {
            commands::processes::terminate_process(&config, &args.server_name, &args.task, &mut out)
        }
        Command::Check(args) => commands::check::check(&config, &args, &mut out),
        Command::Other(_) => unreachable!("handled before loading the configuration"),
    }
    out.finish()
}

/// Reads the configuration in Barman's order, dropping privileges and opening the log between
/// the main file and the included ones. Errors are shown on `out`.
fn load_config(cli: &Cli, out: &mut Output) -> Option<Config> {
    let show_config_error = |out: &mut Output, error: ConfigError| {
        let hint = error.hint();
        if error.is_fatal() {
            out.fatal(&format!("{error}\nHINT: {hint}"));
        } else {
            out.error_with_hint(&error.to_string(), &hint);
        }
    };
    let main = match MainConfig::read(&Discovery::from_process(cli.config.clone())) {
        Ok(main) => main,
        Err(error) => {
            show_config_error(out, error);
            return None;
        }
    };
    if let Err(error) = privileges::drop_to(&main.global().barman_user) {
        out.error_with_hint(&error.to_string(), &error.hint());
        return None;
    }
    let level_name = cli.log_level.clone().unwrap_or_else(|| main.global().log_level.clone());
    let level = match logging::parse_level(&level_name) {
        Ok(level) => level,
        Err(error) => {
            out.warning(&error.to_string());
            log::LevelFilter::Info
        }
    };
    if let Some(log_file) = &main.global().log_file {
        if let Err(error) = logging::init(log_file, &main.global().log_format, level) {
            out.warning(&format!("{error}; logging disabled"));
        }
    }
    match main.complete() {
        Ok(config) => Some(config),
        Err(error) => {
            show_config_error(out, error);
            None
        }
    }
}

/// A sub-command clap did not match: a Barman command this release lacks, or a typo.
fn unknown_subcommand(args: &[std::ffi::OsString]) -> i32 {
    let name = args
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_default();
    if NOT_YET_IMPLEMENTED.contains(&name.as_str()) {
        eprintln!("ERROR: the '{name}' sub-command is not implemented yet in this release");
        EXIT_ERROR
    } else {
        eprintln!("barman: error: invalid choice: '{name}' (see 'barman --help' for the sub-commands)");
        EXIT_USAGE
    }
}
