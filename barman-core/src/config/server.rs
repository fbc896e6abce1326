//! One server's effective configuration: every option of the table resolved from the server
//! section, the `[barman]` section or the default, then checked the way Barman checks it before
//! it lets a command touch the server.
//!
//! Resolution order, per option in table order: the server section (or `[DEFAULT]`); else, for
//! options that may be global, `[barman]`; else the default template. Values go through
//! `%(name)s` interpolation, where the names already resolved for this server come first, and
//! have one pair of surrounding quotes removed. An explicitly empty text option stops the
//! search: it means "unset" even when `[barman]` or the default would give a value.

use std::path::{Path, PathBuf};

use super::ini::IniDocument;
use super::interpolate::{interpolate, InterpolationError, MAX_DEPTH};
use super::options::{OptionSpec, Scope, SERVER_OPTIONS};
use super::value::{self, Kind, Value};
use super::{Diagnostic, GlobalConfig, GLOBAL_SECTION};

/// The effective configuration of one server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    name: String,
    /// One slot per entry of [`SERVER_OPTIONS`], same order.
    values: Vec<Option<Value>>,
    /// The file that provided each value; `None` for defaults.
    sources: Vec<Option<PathBuf>>,
    /// Why the server is disabled; empty when it is usable.
    disabled_reasons: Vec<String>,
    /// Warnings Barman prints whenever a command uses this server.
    usage_warnings: Vec<String>,
    /// Options written with a value that was ignored as invalid.
    invalid_options: Vec<&'static str>,
}

/// The outcome of looking for a value in one place.
enum Found {
    /// Not set here: keep looking.
    Absent,
    /// Set here (possibly to "unset", which stops the search).
    Value(Option<Value>),
}

impl ServerConfig {
    /// Resolves server `name` from `doc`. Problems with individual values are appended to
    /// `diagnostics` (they do not stop resolution: the value falls back as Barman's does).
    pub(crate) fn resolve(
        doc: &IniDocument,
        global: &GlobalConfig,
        name: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Self {
        let mut server = ServerConfig {
            name: name.to_string(),
            values: Vec::with_capacity(SERVER_OPTIONS.len()),
            sources: Vec::with_capacity(SERVER_OPTIONS.len()),
            disabled_reasons: Vec::new(),
            usage_warnings: Vec::new(),
            invalid_options: Vec::new(),
        };
        for spec in SERVER_OPTIONS {
            let reported = diagnostics.len();
            let (value, source) = server.resolve_option(doc, global, spec, diagnostics);
            if diagnostics.len() > reported {
                server.invalid_options.push(spec.name);
            }
            server.values.push(value);
            server.sources.push(source);
        }
        server.apply_server_rules();
        server
    }

    fn resolve_option(
        &self,
        doc: &IniDocument,
        global: &GlobalConfig,
        spec: &OptionSpec,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> (Option<Value>, Option<PathBuf>) {
        // `disabled` reflects configuration errors; users cannot set it.
        let mut sections = vec![];
        if spec.name != "disabled" {
            sections.push(self.name.as_str());
            if spec.scope == Scope::ServerOrGlobal {
                sections.push(GLOBAL_SECTION);
            }
        }
        for section in sections {
            let Some(entry) = doc.lookup(section, spec.name) else {
                continue;
            };
            let raw = if entry.value == "None" {
                ""
            } else {
                entry.value.as_str()
            };
            let parsed = self
                .expand(doc, global, section, raw, 0)
                .map_err(|e| e.to_string())
                .and_then(|expanded| parse_for_option(spec.kind, strip_quotes(&expanded)));
            match parsed {
                Ok(Found::Value(v)) => return (normalise(v), Some(entry.source.clone())),
                Ok(Found::Absent) => {}
                Err(reason) => diagnostics.push(Diagnostic::warning(format!(
                    "Ignoring invalid configuration value '{}' for key {} in [{}] section of {}: {}",
                    entry.value,
                    spec.name,
                    section,
                    entry.source.display(),
                    reason
                ))),
            }
        }
        let Some(template) = spec.default else {
            return (None, None);
        };
        let value = self
            .expand_resolved_only(global, template)
            .ok()
            .and_then(|text| value::parse(spec.kind, &text).ok().flatten());
        (normalise(value), None)
    }

    /// Interpolates `raw`, found in `section`: names resolve to this server's values resolved so
    /// far, then to options of the same section (themselves interpolated), then `[DEFAULT]`.
    fn expand(
        &self,
        doc: &IniDocument,
        global: &GlobalConfig,
        section: &str,
        raw: &str,
        depth: usize,
    ) -> Result<String, InterpolationError> {
        interpolate(raw, &mut |name| {
            if let Some(text) = self.resolved_text(global, name) {
                return Ok(text);
            }
            let entry = doc
                .lookup(section, name)
                .ok_or_else(|| InterpolationError::Missing(name.to_string()))?;
            if depth + 1 >= MAX_DEPTH {
                return Err(InterpolationError::TooDeep(name.to_string()));
            }
            self.expand(doc, global, section, &entry.value, depth + 1)
        })
    }

    /// Default templates are Python `%` formats over the server's resolved values only.
    fn expand_resolved_only(&self, global: &GlobalConfig, template: &str) -> Result<String, InterpolationError> {
        interpolate(template, &mut |name| {
            self.resolved_text(global, name)
                .ok_or_else(|| InterpolationError::Missing(name.to_string()))
        })
    }

    /// The text of an attribute already known while resolving: the identity of the server, the
    /// global settings every server carries, and the options resolved before this one.
    fn resolved_text(&self, global: &GlobalConfig, name: &str) -> Option<String> {
        match name {
            "name" => Some(self.name.clone()),
            "barman_home" => Some(global.barman_home.display().to_string()),
            "barman_lock_directory" => Some(global.barman_lock_directory.display().to_string()),
            "config_changes_queue" => Some(global.config_changes_queue.display().to_string()),
            "lock_directory_cleanup" => Some(value::Value::Bool(global.lock_directory_cleanup).to_string()),
            _ => {
                let index = SERVER_OPTIONS.iter().position(|o| o.name == name)?;
                let value = self.values.get(index)?;
                Some(value.as_ref().map_or_else(|| "None".to_string(), Value::to_string))
            }
        }
    }

    /// Consistency rules Barman applies when it builds a server: they disable the server (with
    /// the reason) or adjust a value (with a warning). Only active servers are checked.
    fn apply_server_rules(&mut self) {
        if !self.active() || self.text("primary_ssh_command").is_some() {
            return;
        }
        let name = self.name.clone();
        let method = self.backup_method().to_string();
        if self.text("conninfo").is_none() {
            self.disable(format!(
                "PostgreSQL connection: Missing 'conninfo' parameter for server '{name}'"
            ));
        }
        if (method == "postgres" || self.streaming_archiver()) && self.text("streaming_conninfo").is_none() {
            self.disable(format!(
                "Streaming connection: Missing 'streaming_conninfo' parameter for server '{name}'"
            ));
        }
        match method.as_str() {
            "postgres" => self.apply_postgres_method_rules(),
            "rsync" | "local-rsync" => self.apply_rsync_method_rules(&method),
            _ => {}
        }
        if !self.archiver() && self.streaming_archiver() && self.text("slot_name").is_none() {
            self.disable("Streaming-only archiver requires 'streaming_conninfo' and 'slot_name' options to be properly configured".into());
        }
        if !self.archiver() && !self.streaming_archiver() {
            self.usage_warnings.push(format!(
                "No archiver enabled for server '{name}'. Please turn on 'archiver', 'streaming_archiver' or both"
            ));
            self.usage_warnings.push("Forcing 'archiver = on'".into());
            self.set("archiver", Some(Value::Bool(true)));
        }
    }

    fn apply_postgres_method_rules(&mut self) {
        if self.text("tablespace_bandwidth_limit").is_some() {
            self.disable("tablespace_bandwidth_limit option is not supported by postgres backup_method".into());
        }
        if matches!(self.text("reuse_backup"), Some("copy" | "link")) {
            self.disable("reuse_backup option is not supported by postgres backup_method".into());
        }
        if self.bool("network_compression") {
            self.disable("network_compression option is not supported by postgres backup_method".into());
        }
        let mut options = self.backup_options().to_vec();
        if let Some(pos) = options.iter().position(|o| o == "exclusive_backup") {
            options.remove(pos);
            self.usage_warnings.push(
                "'exclusive_backup' is not a valid backup_option using postgres backup_method. Overriding with 'concurrent_backup'.".into(),
            );
        }
        self.set_backup_strategy_default(options);
    }

    fn apply_rsync_method_rules(&mut self, method: &str) {
        let name = self.name.clone();
        let has_ssh = self.text("ssh_command").is_some();
        if method == "rsync" && !has_ssh {
            self.disable(format!(
                "Missing or invalid ssh_command in barman configuration for server {name}"
            ));
            return;
        }
        if method == "local-rsync" && has_ssh {
            self.disable(format!(
                "Local copy requires ssh_command in barman configuration to be empty for server {name}"
            ));
            return;
        }
        let options = self.backup_options().to_vec();
        if !options
            .iter()
            .any(|o| o == "concurrent_backup" || o == "exclusive_backup")
        {
            self.usage_warnings.push(format!(
                "No backup strategy set for server '{name}' (using default 'concurrent_backup')."
            ));
        }
        self.set_backup_strategy_default(options);
    }

    /// Without an explicit strategy a backup is concurrent.
    fn set_backup_strategy_default(&mut self, mut options: Vec<String>) {
        if !options
            .iter()
            .any(|o| o == "concurrent_backup" || o == "exclusive_backup")
        {
            options.push("concurrent_backup".into());
            options.sort();
        }
        self.set("backup_options", Some(Value::Csv(options)));
    }

    pub(crate) fn disable(&mut self, reason: String) {
        self.disabled_reasons.push(reason);
        self.set("disabled", Some(Value::Bool(true)));
    }

    fn set(&mut self, key: &str, value: Option<Value>) {
        let index = option_index(key);
        self.values[index] = value;
    }

    /// The server name (its section name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value of option `key`; `None` when unset.
    ///
    /// # Panics
    /// If `key` is not in the option table: that is a programming error, not a user one.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values[option_index(key)].as_ref()
    }

    /// The file that set option `key`, or `None` when it has its default value.
    pub fn source(&self, key: &str) -> Option<&Path> {
        self.sources[option_index(key)].as_deref()
    }

    /// Every option with its value, in table order.
    pub fn options(&self) -> impl Iterator<Item = (&'static OptionSpec, Option<&Value>)> {
        SERVER_OPTIONS.iter().zip(self.values.iter().map(Option::as_ref))
    }

    /// A text option's value.
    pub fn text(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(Value::Text(s)) => Some(s),
            _ => None,
        }
    }

    /// A boolean option's value (`false` when unset).
    pub fn bool(&self, key: &str) -> bool {
        matches!(self.get(key), Some(Value::Bool(true)))
    }

    /// An integer option's value.
    pub fn int(&self, key: &str) -> Option<i64> {
        match self.get(key) {
            Some(Value::Int(n)) => Some(*n),
            _ => None,
        }
    }

    /// A directory option (`backup_directory`, `wals_directory`, ...).
    pub fn path(&self, key: &str) -> Option<&Path> {
        self.text(key).map(Path::new)
    }

    /// `active`.
    pub fn active(&self) -> bool {
        self.bool("active")
    }

    /// Whether a configuration error disabled the server.
    pub fn disabled(&self) -> bool {
        self.bool("disabled")
    }

    /// Why the server is disabled, one message per problem.
    pub fn disabled_reasons(&self) -> &[String] {
        &self.disabled_reasons
    }

    /// Whether option `key` was written with an invalid value (reported when the configuration
    /// was read, then ignored).
    pub fn has_invalid_value(&self, key: &str) -> bool {
        self.invalid_options.contains(&key)
    }

    /// Warnings to show whenever a command works on this server.
    pub fn usage_warnings(&self) -> &[String] {
        &self.usage_warnings
    }

    /// `description`.
    pub fn description(&self) -> Option<&str> {
        self.text("description")
    }

    /// `archiver` (after Barman's rule that forces it on when no archiver is enabled).
    pub fn archiver(&self) -> bool {
        self.bool("archiver")
    }

    /// `streaming_archiver`.
    pub fn streaming_archiver(&self) -> bool {
        self.bool("streaming_archiver")
    }

    /// `backup_method`.
    pub fn backup_method(&self) -> &str {
        self.text("backup_method").unwrap_or("rsync")
    }

    /// `backup_options`, sorted.
    pub fn backup_options(&self) -> &[String] {
        match self.get("backup_options") {
            Some(Value::Csv(words)) => words,
            _ => &[],
        }
    }

    /// A passive node copies from another Barman instead of PostgreSQL.
    pub fn passive_node(&self) -> bool {
        self.text("primary_ssh_command").is_some()
    }
}

/// Parses one found value. Text options keep an empty value (which blocks inheritance); typed
/// options whose parser yields "unset" let the search continue, as Barman's parsers do.
fn parse_for_option(kind: Kind, text: &str) -> Result<Found, String> {
    match kind {
        Kind::Text => Ok(Found::Value(Some(Value::Text(text.to_string())))),
        // Barman's compression parsers hand an empty value back unchanged, which stops the search.
        Kind::Compression | Kind::CompressionLevel if text.is_empty() => Ok(Found::Value(None)),
        _ => value::parse(kind, text).map(|v| v.map_or(Found::Absent, |v| Found::Value(Some(v)))),
    }
}

/// An empty or `None` text is "unset".
fn normalise(value: Option<Value>) -> Option<Value> {
    match value {
        Some(Value::Text(s)) if s.is_empty() || s == "None" => None,
        other => other,
    }
}

/// Removes one pair of matching surrounding quotes, as Barman does after interpolation.
pub(crate) fn strip_quotes(text: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = text.strip_prefix(quote).and_then(|t| t.strip_suffix(quote)) {
            if !inner.contains('\n') {
                return inner;
            }
        }
    }
    text
}

fn option_index(key: &str) -> usize {
    SERVER_OPTIONS
        .iter()
        .position(|o| o.name == key)
        .unwrap_or_else(|| panic!("'{key}' is not a server option"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_stripped_once_and_only_when_matching() {
        assert_eq!(strip_quotes("\"a b\""), "a b");
        assert_eq!(strip_quotes("'x'"), "x");
        assert_eq!(strip_quotes("\"mismatch'"), "\"mismatch'");
        assert_eq!(strip_quotes("\"\"nested\"\""), "\"nested\"");
        assert_eq!(strip_quotes("\""), "\"");
    }
}
