//! `receive-wal SERVER [--stop|--reset|--create-slot [--if-not-exists]|--drop-slot]`.
//!
//! Without options it runs pg_receivewal in the foreground (cron starts it in the
//! background) under the server's receive-wal lock, printing pg_receivewal's lines prefixed
//! `<server>: `. SIGINT and SIGTERM stop it gracefully: pg_receivewal gets SIGINT and closes
//! its files, then the command ends with exit status 0. The work is in
//! `barman_core::receive_wal`; this module picks the server, reports, and handles signals.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use barman_core::config::{Config, ServerConfig};
use barman_core::postgres::ClientEnvironment;
use barman_core::receive_wal::{self, ReceiveWalError, ReceiveWalSettings, SlotAction, WalConninfo};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

use super::processes::terminate;
use super::{single_server, Inactive, Usability};
use crate::cli::ReceiveWal;
use crate::output::Output;

/// Streaming skips an inactive server with a notice; disabled servers are errors.
const STREAMING: Usability = Usability {
    inactive: Inactive::SkipWithNotice,
    disabled: false,
    disabled_is_error: true,
};

/// Slot management, `--stop` and `--reset` also work on inactive servers.
const MANAGEMENT: Usability = Usability {
    inactive: Inactive::Use,
    ..STREAMING
};

/// Set by the signal handler when SIGINT or SIGTERM arrives while pg_receivewal runs.
static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);
/// The signal that asked to stop.
static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);

/// `receive-wal`.
pub fn receive_wal(config: &Config, args: &ReceiveWal, out: &mut Output) {
    let managing = args.stop || args.reset || args.create_slot || args.drop_slot;
    let rules = if managing { MANAGEMENT } else { STREAMING };
    let Some(server) = single_server(config, &args.server_name, rules, out) else {
        return;
    };
    if let Some(notice) = WalConninfo::of(server).and_then(|wal| wal.overrides_notice()) {
        out.info(&notice);
    }
    let name = server.name();
    if args.stop && args.reset {
        return out.error("--stop and --reset options are not compatible");
    }
    if args.stop {
        out.warning(&format!(
            "--stop is deprecated and will be removed in a future release. Use 'barman terminate-process \
             {name} receive-wal' instead."
        ));
        terminate(config, name, "receive-wal", true, out);
        return;
    }
    let Some(settings) = ReceiveWalSettings::for_server(server, &config.global().barman_lock_directory) else {
        return out.error(&format!(
            "conninfo, backup_directory or streaming_wals_directory is not set for server {name}"
        ));
    };
    let env = ClientEnvironment::from_process();
    if args.create_slot || args.drop_slot {
        let action = if args.create_slot {
            SlotAction::Create {
                if_not_exists: args.if_not_exists,
            }
        } else {
            SlotAction::Drop
        };
        if let Err(error) = receive_wal::manage_slot(&settings, &env, action, &mut |event| out.info(&event.to_string()))
        {
            if let receive_wal::SlotCommandError::Connect { source, .. } = &error {
                log::error!("{error}: {source}");
            }
            match error.hint() {
                Some(hint) => out.error_with_hint(&error.to_string(), &hint),
                None => out.error(&error.to_string()),
            }
        }
        return;
    }
    stream(server, &settings, &env, args.reset, out);
}

/// Streams (or with `reset`, realigns the streaming directory).
fn stream(
    server: &ServerConfig,
    settings: &ReceiveWalSettings,
    env: &ClientEnvironment,
    reset: bool,
    out: &mut Output,
) {
    let name = server.name();
    if !server.streaming_archiver() {
        return out.error(
            "Unable to start receive-wal process: streaming_archiver option set to 'off' in barman configuration file",
        );
    }
    let connections = match receive_wal::connect_checked(settings, env) {
        Ok(connections) => connections,
        Err(failures) => {
            for failure in &failures {
                log::error!(
                    "Check '{}' failed for server '{name}': {}",
                    failure.check,
                    failure.detail
                );
            }
            let failed: Vec<String> = failures
                .iter()
                .map(|failure| format!("{}: {}", failure.check, failure.detail))
                .collect();
            return out.error_with_hint(
                &format!(
                    "Impossible to start WAL streaming. Check the log for more details, or run 'barman check {name}'"
                ),
                &failed.join("; "),
            );
        }
    };
    if reset {
        let result = receive_wal::reset(settings, connections, &mut |event| out.info(&event.to_string()));
        return match result {
            Err(ReceiveWalError::Busy { .. }) => out.error_with_hint(
                &format!("Unable to reset the status of receive-wal for server {name}. Process is still running"),
                &format!("stop it first: 'barman terminate-process {name} receive-wal'"),
            ),
            other => report(other, out),
        };
    }
    out.info(&format!("Starting receive-wal for server {name}"));
    let receiver = match receive_wal::start(settings, connections, &mut |event| out.info(&event.to_string())) {
        Ok(receiver) => receiver,
        Err(error) => return report(Err(error), out),
    };
    log::info!("Activating WAL archiving through streaming protocol");
    let (program, arguments) = receiver.command_line();
    log::debug!("Running {} {}", program.display(), arguments.join(" "));
    if let Err(error) = handle_stop_signals() {
        return out.error(&format!("cannot install the signal handlers: {error}"));
    }
    let prefix = format!("{name}: ");
    let result = receiver.run(&mut |line| out.info(&format!("{prefix}{line}")), &STOP_REQUESTED);
    if result.is_ok() && STOP_REQUESTED.load(Ordering::SeqCst) {
        let signal = Signal::try_from(STOP_SIGNAL.load(Ordering::SeqCst)).unwrap_or(Signal::SIGINT);
        out.info(&format!("{} received. Terminate gracefully.", signal.as_str()));
    }
    report(result.map(drop), out);
}

fn report(result: Result<(), ReceiveWalError>, out: &mut Output) {
    if let Err(error) = result {
        match error.hint() {
            Some(hint) => out.error_with_hint(&error.to_string(), &hint),
            None => out.error(&error.to_string()),
        }
    }
}

extern "C" fn request_stop(signal: i32) {
    STOP_SIGNAL.store(signal, Ordering::SeqCst);
    STOP_REQUESTED.store(true, Ordering::SeqCst);
}

/// SIGINT and SIGTERM only raise the stop flag; the receiver forwards the stop to pg_receivewal.
fn handle_stop_signals() -> nix::Result<()> {
    let action = SigAction::new(SigHandler::Handler(request_stop), SaFlags::SA_RESTART, SigSet::empty());
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores into atomics, which is async-signal-safe.
        unsafe { sigaction(signal, &action) }?;
    }
    Ok(())
}
