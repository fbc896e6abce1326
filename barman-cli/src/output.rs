//! Everything barman shows the user: console lines or one JSON document, with Barman's prefixes,
//! colours and password redaction, and the exit status that follows from what was shown.
//!
//! Console: information on stdout as is; `WARNING:`, `ERROR:` and `FATAL:` lines on stderr.
//! JSON: nothing until the end, then one object with sorted keys: free-form messages under
//! `_INFO`, `_WARNING`, `_ERROR`, `_DEBUG`, and results keyed by server name.
//! Any error shown makes the exit status 1, as in Barman. Every message is also logged.

use std::io::{self, Write};

use barman_core::redact::redact_passwords;
use serde_json::{Map, Value};

use crate::cli::Format;

/// Exit status when an error was shown.
pub const EXIT_ERROR: i32 = 1;

/// Collects and renders the output of one command.
pub struct Output {
    format: Format,
    quiet: bool,
    debug: bool,
    color: bool,
    error_shown: bool,
    /// Exit status chosen by the command instead of the default for errors.
    status: Option<i32>,
    /// Nothing is printed (the command writes its own report, as `check --nagios`).
    silent: bool,
    json: Map<String, Value>,
}

impl Output {
    /// An output for `format`; `quiet` hides information, `debug` shows debug lines.
    pub fn new(format: Format, quiet: bool, debug: bool, color: bool) -> Self {
        Output {
            format,
            quiet,
            debug,
            color,
            error_shown: false,
            status: None,
            silent: false,
            json: Map::new(),
        }
    }

    /// From now on nothing is printed, not even the JSON document; messages are still logged
    /// and still decide the exit status.
    pub fn silence(&mut self) {
        self.silent = true;
    }

    /// Whether an error has been reported so far.
    pub fn error_shown(&self) -> bool {
        self.error_shown
    }

    /// Ends the command with `status` (a failure) without printing anything more.
    pub fn fail_with_status(&mut self, status: i32) {
        self.error_shown = true;
        self.status = Some(status);
    }

    /// `text` in the colour of ANSI code `color` when colours are on (`32` green, `31` red).
    pub fn paint(&self, text: &str, color: &str) -> String {
        if self.color {
            format!("\x1b[{color}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// A normal message (stdout).
    pub fn info(&mut self, message: &str) {
        log::info!("{message}");
        if self.quiet || self.silent {
            return;
        }
        match self.format {
            Format::Console => print_line(&mut io::stdout(), &redact_passwords(message)),
            Format::Json => self.push_message("_INFO", message),
        }
    }

    /// A warning: shown with `WARNING:` on stderr.
    pub fn warning(&mut self, message: &str) {
        log::warn!("{message}");
        self.labelled("_WARNING", "WARNING", "33", message);
    }

    /// An error: shown with `ERROR:` on stderr; the exit status becomes 1.
    pub fn error(&mut self, message: &str) {
        log::error!("{message}");
        self.error_shown = true;
        self.labelled("_ERROR", "ERROR", "31", message);
    }

    /// An error followed by what to do about it.
    pub fn error_with_hint(&mut self, message: &str, hint: &str) {
        self.error(&format!("{message}\nHINT: {hint}"));
    }

    /// An error that ends the command with its own exit status (`get-wal` uses 3).
    pub fn error_with_status(&mut self, message: &str, status: i32) {
        self.error(message);
        self.status = Some(status);
    }

    /// A fatal configuration error: shown with `FATAL:`; the exit status becomes 1.
    pub fn fatal(&mut self, message: &str) {
        log::error!("{message}");
        self.error_shown = true;
        self.labelled("_ERROR", "FATAL", "31", message);
    }

    /// A debug message, shown only with `-d`.
    pub fn debug(&mut self, message: &str) {
        log::debug!("{message}");
        if self.debug {
            self.labelled("_DEBUG", "DEBUG", "0", message);
        }
    }

    /// Records the JSON result of a command for one key (usually a server name).
    pub fn json_result(&mut self, key: &str, value: Value) {
        self.json.insert(key.to_string(), value);
    }

    /// Whether results are collected as JSON rather than printed.
    pub fn is_json(&self) -> bool {
        self.format == Format::Json
    }

    /// Writes the JSON document if any and returns the exit status.
    pub fn finish(self) -> i32 {
        if self.format == Format::Json && !self.silent {
            let document = redact_passwords(&sorted_json(&Value::Object(self.json))).into_owned();
            print_line(&mut io::stdout(), &document);
        }
        if let Some(status) = self.status {
            status
        } else if self.error_shown {
            EXIT_ERROR
        } else {
            0
        }
    }

    fn labelled(&mut self, field: &str, label: &str, color: &str, message: &str) {
        if self.silent {
            return;
        }
        match self.format {
            Format::Console => {
                let label = if self.color {
                    format!("\x1b[{color}m{label}")
                } else {
                    label.to_string()
                };
                let reset = if self.color { "\x1b[0m" } else { "" };
                print_line(
                    &mut io::stderr(),
                    &format!("{label}: {}{reset}", redact_passwords(message)),
                );
            }
            Format::Json => self.push_message(field, message),
        }
    }

    fn push_message(&mut self, field: &str, message: &str) {
        let list = self.json.entry(field).or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(items) = list {
            items.push(Value::String(message.to_string()));
        }
    }
}

/// JSON with object keys sorted at every level, as Barman's `json.dump(sort_keys=True)`.
pub fn sorted_json(value: &Value) -> String {
    serde_json::to_string(&sort_keys(value)).expect("JSON values always serialise")
}

/// Indented (4 spaces) and sorted JSON, as `diagnose` prints it.
pub fn pretty_sorted_json(value: &Value) -> String {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    serde::Serialize::serialize(&sort_keys(value), &mut serializer).expect("JSON values always serialise");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

fn sort_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k.clone(), sort_keys(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sort_keys).collect()),
        other => other.clone(),
    }
}

/// Writes one line; a closed pipe (`barman show-servers pg | head`) is not an error.
fn print_line(stream: &mut dyn Write, line: &str) {
    let _ = writeln!(stream, "{line}");
}
