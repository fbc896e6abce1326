//! `cron`: the periodic maintenance Barman's packages run every minute.
//!
//! For every active server that is not disabled, in name order, under the server's
//! `.<server>-cron.lock`: unless an archive-wal already runs for it, print `Starting WAL
//! archiving for server X` and start `barman -c <config> -q archive-wal X` in its own session,
//! detached (standard streams on `/dev/null` unless `--keep-descriptors`), as Barman does.
//!
//! The other duties of Barman's cron are not part of this release: starting or stopping
//! `receive-wal` (streaming), `check-backup` of backups waiting for WAL, retention policies,
//! passive-node synchronisation, the configuration-changes queue and the removal of unused
//! lock files. Servers are still locked and archived exactly as above when they are
//! configured for those features.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use barman_core::config::Config;
use barman_core::locks::{LockFile, LockName};

use super::select_servers;
use crate::output::Output;

/// `cron [--keep-descriptors]`.
pub fn cron(config: &Config, keep_descriptors: bool, out: &mut Output) {
    let Some(servers) = select_servers(config, &["all".to_owned()], out) else {
        return;
    };
    let lock_directory = &config.global().barman_lock_directory;
    let mut eligible = Vec::new();
    for (name, server) in servers {
        match server {
            Some(server) if server.disabled() => out.info(&format!("Skipping temporarily disabled server '{name}'")),
            Some(server) if server.active() => eligible.push(name),
            _ => {}
        }
    }
    for name in eligible {
        let _cron_lock = match LockFile::try_acquire(lock_directory, LockName::Cron(&name)) {
            Ok(Some(lock)) => lock,
            Ok(None) => {
                out.info(&format!(
                    "Another cron process is already running on server {name}. Skipping to the next server"
                ));
                continue;
            }
            Err(error) => {
                out.error(&error.to_string());
                continue;
            }
        };
        match LockFile::is_busy(lock_directory, LockName::ArchiveWal(&name)) {
            Ok(true) => out.info(&format!(
                "Another archive-wal process is already running on server {name}. Skipping to the next server"
            )),
            Ok(false) => {
                out.info(&format!("Starting WAL archiving for server {name}"));
                if let Err(error) = start_detached(config, &["archive-wal", &name], keep_descriptors) {
                    out.error_with_hint(
                        &format!("Cannot start archive-wal for server {name}: {error}"),
                        "run 'barman archive-wal' by hand to see what fails",
                    );
                }
            }
            Err(error) => out.error(&error.to_string()),
        }
    }
}

/// Starts this barman, quiet, on the same configuration file, in a new session so that it
/// outlives cron and no terminal signal reaches it.
fn start_detached(config: &Config, args: &[&str], keep_descriptors: bool) -> std::io::Result<()> {
    let mut command = Command::new(std::env::current_exe()?);
    command.arg("-c").arg(config.path()).arg("-q").args(args);
    if !keep_descriptors {
        command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    }
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| nix::unistd::setsid().map(drop).map_err(std::io::Error::from));
    }
    // The child is not waited for: once cron exits it is adopted by init, like Barman's.
    command.spawn().map(drop)
}
