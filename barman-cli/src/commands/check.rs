//! `check [--nagios] [--check-timeout S] SERVER...|all`: every prerequisite of each server.
//!
//! Console: `Server pg:` (with ` (inactive)` or ` (WARNING: disabled)`), then one line per
//! check, `\t<name>: OK|FAILED (<hint>)`, printed as soon as it is known. JSON: each server's
//! checks keyed by their name lower-cased, spaces and dashes as `_`, dots removed, with
//! `status` and `hint`. A failed check on an active server makes the exit status 1; inactive
//! servers never fail it.
//!
//! `--nagios` prints nothing but a Nagios plugin report at the end: a first line `BARMAN OK -
//! ...` or `BARMAN CRITICAL - ...` with performance data (`<server>=<bytes>B` for the last
//! backup, `<server>_wals=<bytes>B` for the WAL since), then one line per failed check; the
//! exit status is 2 when something failed.

use std::io::{self, Write};
use std::time::Duration;

use barman_core::check::{check_server, CheckEnvironment, CheckResult, CheckStatus};
use barman_core::config::Config;
use barman_core::redact::redact_passwords;
use serde_json::{Map, Value};

use super::{select_servers, state_marker, usable_server, Inactive, Usability};
use crate::cli::Check;
use crate::output::Output;

/// Exit status of `check --nagios` when something failed (Nagios' CRITICAL).
const EXIT_NAGIOS_CRITICAL: i32 = 2;

/// `check` runs on inactive and disabled servers too, and shows why the latter are disabled.
const CHECK: Usability = Usability {
    inactive: Inactive::Use,
    disabled: true,
    disabled_is_error: false,
};

/// One server's results.
struct ServerChecks {
    name: String,
    active: bool,
    results: Vec<CheckResult>,
}

/// `check`.
pub fn check(config: &Config, args: &Check, out: &mut Output) {
    if args.nagios {
        out.silence();
    }
    let environment = CheckEnvironment::from_process(config.global().barman_lock_directory.clone());
    let mut checked = Vec::new();
    for (name, server) in select_servers(config, &args.server_name, out).unwrap_or_default() {
        if !usable_server(server, &name, CHECK, out) {
            continue;
        }
        let Some(server) = server else {
            continue;
        };
        let timeout = args
            .check_timeout
            .or_else(|| server.int("check_timeout").and_then(|t| u64::try_from(t).ok()))
            .map(Duration::from_secs);
        let console = !args.nagios && !out.is_json();
        if console {
            let header = match state_marker(server) {
                Some(marker) => format!("Server {name} {marker}:"),
                None => format!("Server {name}:"),
            };
            out.info(&header);
        }
        let mut results = Vec::new();
        check_server(server, &environment, timeout, &mut |result| {
            if result.failed_check() {
                log::error!("Check '{}' failed for server '{name}'", result.name);
            } else {
                log::debug!("Check '{}' succeeded for server '{name}'", result.name);
            }
            if console {
                out.info(&console_line(&result, out));
            }
            if !args.nagios {
                for detail in &result.details {
                    out.info(&format!("\t\t{detail}"));
                }
            }
            results.push(result);
        });
        if out.is_json() {
            out.json_result(&name, json_results(&results));
        }
        checked.push(ServerChecks {
            name,
            active: server.active(),
            results,
        });
    }
    let failed_active = checked
        .iter()
        .any(|server| server.active && server.results.iter().any(CheckResult::failed_check));
    if args.nagios {
        let (lines, critical) = nagios_report(&checked, out.error_shown() || failed_active);
        let mut stdout = io::stdout().lock();
        for line in lines {
            // A closed pipe (`barman check --nagios all | head -1`) is not an error.
            let _ = writeln!(stdout, "{}", redact_passwords(&line));
        }
        if critical {
            out.fail_with_status(EXIT_NAGIOS_CRITICAL);
        }
    } else if failed_active {
        out.fail_with_status(crate::output::EXIT_ERROR);
    }
}

/// `\t<name>: OK|FAILED[ (<hint>)]`, the status coloured when colours are on.
fn console_line(result: &CheckResult, out: &Output) -> String {
    let status = match result.status {
        CheckStatus::Ok => out.paint("OK", "32"),
        CheckStatus::Failed => out.paint("FAILED", "31"),
    };
    match &result.hint {
        Some(hint) => format!("\t{}: {status} ({hint})", result.name),
        None => format!("\t{}: {status}", result.name),
    }
}

/// `{"<key>": {"status": "OK", "hint": ""}, ...}`.
fn json_results(results: &[CheckResult]) -> Value {
    let mut map = Map::new();
    for result in results {
        let status = match result.status {
            CheckStatus::Ok => "OK",
            CheckStatus::Failed => "FAILED",
        };
        map.insert(
            json_key(&result.name),
            serde_json::json!({"status": status, "hint": result.hint.as_deref().unwrap_or_default()}),
        );
    }
    Value::Object(map)
}

/// Barman's key for a check name: lower case, spaces and dashes as `_`, no dots.
fn json_key(name: &str) -> String {
    name.to_lowercase().replace([' ', '-'], "_").replace('.', "")
}

/// The Nagios report and whether it is CRITICAL. `error_occurred`: an error was shown or a
/// check failed on an active server.
fn nagios_report(checked: &[ServerChecks], error_occurred: bool) -> (Vec<String>, bool) {
    let servers: Vec<&str> = checked
        .iter()
        .filter(|server| !server.results.is_empty())
        .map(|server| server.name.as_str())
        .collect();
    let issues: Vec<&ServerChecks> = checked
        .iter()
        .filter(|server| server.results.iter().any(CheckResult::failed_check))
        .collect();
    let perfdata: Vec<String> = checked
        .iter()
        .flat_map(|server| {
            server.results.iter().filter_map(move |result| {
                let bytes = result.perfdata?;
                match result.name.as_str() {
                    "backup minimum size" => Some(format!("{}={bytes}B", server.name)),
                    "wal size" => Some(format!("{}_wals={bytes}B", server.name)),
                    _ => None,
                }
            })
        })
        .collect();
    let perfdata = if perfdata.is_empty() {
        String::new()
    } else {
        format!("|{}", perfdata.join(" "))
    };
    if issues.is_empty() && error_occurred {
        return (vec!["BARMAN CRITICAL - Global configuration errors".to_owned()], true);
    }
    if !issues.is_empty() && error_occurred {
        let summary: Vec<String> = issues
            .iter()
            .map(|server| {
                let failed: Vec<&str> = failures(server).map(|result| result.name.as_str()).collect();
                format!("{} FAILED: {}", server.name, failed.join(", "))
            })
            .collect();
        let first = if servers.len() == 1 {
            format!(
                "BARMAN CRITICAL - server {} has issues * {}{perfdata}",
                servers[0],
                summary.join(" * ")
            )
        } else {
            format!(
                "BARMAN CRITICAL - {} server out of {} have issues * {}{perfdata}",
                issues.len(),
                servers.len(),
                summary.join(" * ")
            )
        };
        let mut lines = vec![first];
        for server in &issues {
            for result in failures(server) {
                lines.push(match &result.hint {
                    Some(hint) => format!("{}.{}: FAILED ({hint})", server.name, result.name),
                    None => format!("{}.{}: FAILED", server.name, result.name),
                });
            }
        }
        return (lines, true);
    }
    let ignoring: String = issues
        .iter()
        .map(|server| format!(" * IGNORING: {}", server.name))
        .collect();
    let good: Vec<&str> = servers
        .iter()
        .copied()
        .filter(|name| !issues.iter().any(|server| server.name == *name))
        .collect();
    let line = match good.as_slice() {
        [] => format!("BARMAN OK - No server configured{ignoring}"),
        [one] => format!("BARMAN OK - Ready to serve the Espresso backup for {one}{ignoring}{perfdata}"),
        many => format!(
            "BARMAN OK - Ready to serve the Espresso backup for {} servers * {}{ignoring}{perfdata}",
            many.len(),
            many.join(" * ")
        ),
    };
    (vec![line], false)
}

fn failures(server: &ServerChecks) -> impl Iterator<Item = &CheckResult> {
    server.results.iter().filter(|result| result.failed_check())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(name: &str, active: bool, results: Vec<CheckResult>) -> ServerChecks {
        ServerChecks {
            name: name.into(),
            active,
            results,
        }
    }

    fn sized(name: &str, bytes: u64) -> CheckResult {
        let mut result = CheckResult::ok(name, None);
        result.perfdata = Some(bytes);
        result
    }

    #[test]
    fn json_keys_follow_barman() {
        assert_eq!(
            json_key("superuser or standard user with backup privileges"),
            "superuser_or_standard_user_with_backup_privileges"
        );
        assert_eq!(json_key("receive-wal running"), "receive_wal_running");
        assert_eq!(json_key("PostgreSQL"), "postgresql");
        assert_eq!(json_key("a.b"), "ab");
    }

    #[test]
    fn nagios_reports_match_barman() {
        let pg = server(
            "pg",
            true,
            vec![sized("backup minimum size", 23_129_640), sized("wal size", 17_650)],
        );
        assert_eq!(
            nagios_report(&[pg], false),
            (
                vec!["BARMAN OK - Ready to serve the Espresso backup for pg|pg=23129640B pg_wals=17650B".to_owned()],
                false
            )
        );
        let off = server("off", false, vec![CheckResult::failed("WAL archive", "x".into())]);
        let pg = server("pg", true, vec![CheckResult::ok("PostgreSQL", None)]);
        let pg2 = server("pg2", true, vec![CheckResult::ok("PostgreSQL", None)]);
        assert_eq!(
            nagios_report(&[off, pg, pg2], false).0,
            ["BARMAN OK - Ready to serve the Espresso backup for 2 servers * pg * pg2 * IGNORING: off"]
        );
        let bad = server(
            "bad",
            true,
            vec![
                CheckResult::failed("PostgreSQL", "down".into()),
                CheckResult::ok("wal_level", None),
                CheckResult::failed("archiver errors", "duplicates: 1".into()),
            ],
        );
        let pg = server("pg", true, vec![sized("wal size", 0)]);
        assert_eq!(
            nagios_report(&[bad, pg], true),
            (
                vec![
                    "BARMAN CRITICAL - 1 server out of 2 have issues * bad FAILED: PostgreSQL, archiver errors|pg_wals=0B"
                        .to_owned(),
                    "bad.PostgreSQL: FAILED (down)".to_owned(),
                    "bad.archiver errors: FAILED (duplicates: 1)".to_owned(),
                ],
                true
            )
        );
        assert_eq!(
            nagios_report(&[], true),
            (vec!["BARMAN CRITICAL - Global configuration errors".to_owned()], true)
        );
        assert_eq!(nagios_report(&[], false).0, ["BARMAN OK - No server configured"]);
    }
}
