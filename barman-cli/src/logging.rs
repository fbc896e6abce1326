//! The log file, in Barman's format.
//!
//! `log_format` uses Python logging placeholders; the default gives lines such as
//! `2026-11-25 10:07:33,460 [6775] barman.cli WARNING: message`, so log readers written for
//! Barman keep working. Passwords are redacted before anything is written. Without `log_file`
//! nothing is logged: console output already shows every message.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use barman_core::redact::redact_passwords;
use log::{Level, LevelFilter, Log, Metadata, Record};

struct FileLogger {
    file: Mutex<File>,
    format: String,
    level: LevelFilter,
}

/// Why the log file could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("unknown log_level '{0}' (use NOTSET, DEBUG, INFO, WARNING, ERROR or CRITICAL)")]
    UnknownLevel(String),
    #[error("cannot open log file '{path}': {source}")]
    Open { path: String, source: std::io::Error },
}

/// Parses a Python logging level name.
pub fn parse_level(name: &str) -> Result<LevelFilter, LoggingError> {
    match name.to_ascii_uppercase().as_str() {
        "NOTSET" | "DEBUG" => Ok(LevelFilter::Debug),
        "INFO" => Ok(LevelFilter::Info),
        "WARNING" | "WARN" => Ok(LevelFilter::Warn),
        "ERROR" | "CRITICAL" | "FATAL" => Ok(LevelFilter::Error),
        _ => Err(LoggingError::UnknownLevel(name.to_string())),
    }
}

/// Sends log records at `level` or above to `path` (its directory is created if needed).
pub fn init(path: &Path, format: &str, level: LevelFilter) -> Result<(), LoggingError> {
    let open_error = |source| LoggingError::Open {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(open_error)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(open_error)?;
    let logger = FileLogger {
        file: Mutex::new(file),
        format: format.to_string(),
        level,
    };
    // Only fails if a logger is already installed, which `main` never does twice.
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(level);
    }
    Ok(())
}

impl Log for FileLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = render(
            &self.format,
            record.level(),
            record.target(),
            &record.args().to_string(),
        );
        if let Ok(mut file) = self.file.lock() {
            let _ = writeln!(file, "{}", redact_passwords(&line));
        }
    }

    fn flush(&self) {
        if let Ok(mut file) = self.file.lock() {
            let _ = file.flush();
        }
    }
}

/// Fills Python logging placeholders: asctime, process, name, levelname, message.
fn render(format: &str, level: Level, target: &str, message: &str) -> String {
    let level_name = match level {
        Level::Error => "ERROR",
        Level::Warn => "WARNING",
        Level::Info => "INFO",
        Level::Debug | Level::Trace => "DEBUG",
    };
    let now = chrono::Local::now();
    format
        .replace("%(asctime)s", &now.format("%Y-%m-%d %H:%M:%S,%3f").to_string())
        .replace("%(process)s", &std::process::id().to_string())
        .replace("%(name)s", &logger_name(target))
        .replace("%(levelname)s", level_name)
        .replace("%(message)s", message)
}

/// `barman_core::config::server` → `barman.config.server`, `barman` → `barman.cli`.
fn logger_name(target: &str) -> String {
    match target.split_once("::") {
        Some((_, rest)) => format!("barman.{}", rest.replace("::", ".")),
        None => "barman.cli".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_the_python_format() {
        let line = render(
            "%(asctime)s [%(process)s] %(name)s %(levelname)s: %(message)s",
            Level::Warn,
            "barman_core::config",
            "hi",
        );
        let pid = std::process::id();
        let (stamp, rest) = line.split_at(23);
        assert_eq!(rest, format!(" [{pid}] barman.config WARNING: hi"));
        assert_eq!(stamp.as_bytes()[19], b',');
    }

    #[test]
    fn levels_parse_case_insensitively() {
        assert_eq!(parse_level("debug").unwrap(), LevelFilter::Debug);
        assert_eq!(parse_level("CRITICAL").unwrap(), LevelFilter::Error);
        assert!(parse_level("loud").is_err());
    }
}
