//! `list-processes` and `terminate-process`: a server's Barman sub-processes, found through the
//! lock files they hold, and their termination with SIGINT. The termination report is shared by
//! `receive-wal --stop` and `cron`.

use barman_core::config::Config;
use barman_core::processes::{self, Termination, TERMINATION_WAIT};
use serde_json::json;

use super::{single_server, READ_ONLY};
use crate::output::Output;

/// `list-processes SERVER`: the running sub-processes, `PID task` per line.
pub fn list_processes(config: &Config, name: &str, out: &mut Output) {
    let Some(server) = single_server(config, name, READ_ONLY, out) else {
        return;
    };
    let name = server.name();
    let (list, unreadable) = match processes::list(&config.global().barman_lock_directory, name) {
        Ok(found) => found,
        Err(error) => return out.error(&error.to_string()),
    };
    for error in unreadable {
        log::warn!("Skipping a process of server {name}: {error}");
    }
    if out.is_json() {
        let entries = list
            .iter()
            .map(|process| json!({"pid": process.pid, "name": process.task}))
            .collect();
        out.json_result(name, serde_json::Value::Array(entries));
    } else if list.is_empty() {
        out.info(&format!("No active subprocesses found for server {name}."));
    } else {
        out.info(&format!("Active subprocesses for server {name}:"));
        for process in list {
            out.info(&format!("{} {}", process.pid, process.task));
        }
    }
}

/// `terminate-process SERVER TASK`: SIGINT to the process of `task`, waiting for its end.
pub fn terminate_process(config: &Config, name: &str, task: &str, out: &mut Output) {
    let Some(server) = single_server(config, name, READ_ONLY, out) else {
        return;
    };
    terminate(config, server.name(), task, true, out);
}

/// Terminates the process of `task` for `server` and reports it as Barman does; a missing
/// process is an error only when `missing_is_error`. Returns whether a process was found.
pub fn terminate(config: &Config, server: &str, task: &str, missing_is_error: bool, out: &mut Output) -> bool {
    let lock_directory = &config.global().barman_lock_directory;
    match processes::terminate(lock_directory, server, task, TERMINATION_WAIT) {
        Ok(Termination::Stopped(process)) => {
            out.info(&format!("Stopped process {}({})", process.task, process.pid));
            true
        }
        Ok(Termination::StillRunning(process)) => {
            out.error_with_hint(
                &format!("Cannot terminate process {}({})", process.task, process.pid),
                &format!(
                    "it received SIGINT and still runs after {} seconds; see the Barman log file",
                    TERMINATION_WAIT.as_secs()
                ),
            );
            true
        }
        Ok(Termination::NotRunning) => {
            if missing_is_error {
                out.error_with_hint(
                    &format!("Termination of {task} failed: no such process for server {server}"),
                    &format!("'barman list-processes {server}' shows the running ones"),
                );
            }
            false
        }
        Err(error) => {
            out.error(&error.to_string());
            false
        }
    }
}
