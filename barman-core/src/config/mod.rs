//! Barman configuration: which files are read, how they merge, and what every server ends up
//! with.
//!
//! Loading happens in two phases because Barman drops root privileges in between: [`MainConfig`]
//! reads the main file (found as [`discover_main_file`] says) and exposes the `[barman]` settings
//! needed to drop privileges and set up logging; [`MainConfig::complete`] then reads
//! `configuration_files_directory/*.conf` and `<barman_home>/.barman.auto.conf`, validates, and
//! resolves every server into a [`Config`].
//!
//! Nothing here prints. Problems that Barman reports and carries on from are returned as
//! [`Diagnostic`]s; problems that stop Barman are [`ConfigError`]s.

mod ini;
mod interpolate;
pub mod options;
mod server;
pub mod value;

use std::path::{Path, PathBuf};

pub use ini::{Entry, IniDocument, Section};
pub use interpolate::InterpolationError;
pub use server::ServerConfig;

use options::{OptionSpec, CONFLICT_CHECKED_DIRECTORIES, GLOBAL_OPTIONS, SERVER_OPTIONS};

/// The name of the global section.
pub const GLOBAL_SECTION: &str = "barman";

/// Section names that cannot be servers (they are command-line keywords).
pub const RESERVED_SERVER_NAMES: &[&str] = &["all"];

/// The default main configuration files, first existing one wins (`~` is the user's home).
pub const DEFAULT_CONFIG_FILES: &[&str] = &["~/.barman.conf", "/etc/barman.conf", "/etc/barman/barman.conf"];

/// A configuration problem that stops every command.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)] // Variants and fields are described by their messages.
pub enum ConfigError {
    #[error("Configuration file '{}' does not exist", path.display())]
    FileNotFound { path: PathBuf },
    #[error(
        "Could not find any configuration file at default locations.\nCheck Barman's documentation for more help."
    )]
    NoDefaultFile,
    #[error("cannot read configuration file '{}': {source}", path.display())]
    Unreadable { path: PathBuf, source: std::io::Error },
    #[error("configuration file '{}' is not valid INI at line {line}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("Parameter \"barman_home\" is required in [barman] section.")]
    MissingBarmanHome { path: PathBuf },
    #[error("the reserved word '{name}' is not allowed as server name.Please rename it.")]
    ReservedServerName { name: String, path: PathBuf },
    #[error("the configuration file {} contains a not empty [barman] section", path.file_name().unwrap_or_default().to_string_lossy())]
    GlobalSectionInInclude { path: PathBuf },
    #[error("invalid value '{value}' for {key} in [barman] section of {}: {reason}", path.display())]
    InvalidGlobalValue {
        key: &'static str,
        value: String,
        path: PathBuf,
        reason: String,
    },
}

impl ConfigError {
    /// What the user can do about it.
    pub fn hint(&self) -> String {
        match self {
            ConfigError::FileNotFound { .. } => "check the path given with -c/--config or BARMAN_CONFIG_FILE".into(),
            ConfigError::NoDefaultFile => format!(
                "create one of {} or pass -c/--config FILE",
                DEFAULT_CONFIG_FILES.join(", ")
            ),
            ConfigError::Unreadable { .. } => "check the file's permissions for the user running barman".into(),
            ConfigError::Syntax { .. } => "every option must be 'key = value' inside a [section]".into(),
            ConfigError::MissingBarmanHome { path } => format!(
                "add 'barman_home = /var/lib/barman' (or another directory) to the [barman] section of {}",
                path.display()
            ),
            ConfigError::ReservedServerName { path, .. } => format!("rename the [all] section in {}", path.display()),
            ConfigError::GlobalSectionInInclude { path } => format!(
                "move the [barman] options of {} into the main configuration file",
                path.display()
            ),
            ConfigError::InvalidGlobalValue { .. } => "fix the value in the [barman] section".into(),
        }
    }

    /// Barman prints these with `FATAL:` rather than `ERROR:`.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            ConfigError::ReservedServerName { .. } | ConfigError::GlobalSectionInInclude { .. }
        )
    }
}

/// How serious a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Reported; the command goes on.
    Warning,
    /// Reported; the command goes on but exits 1.
    Error,
}

/// A configuration problem Barman reports and carries on from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// How serious it is.
    pub severity: Severity,
    /// The message, naming the file, section and key concerned.
    pub message: String,
}

impl Diagnostic {
    fn warning(message: String) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            message,
        }
    }
}

/// Where to look for the main configuration file.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    /// `-c/--config`.
    pub explicit: Option<PathBuf>,
    /// `BARMAN_CONFIG_FILE`.
    pub from_env: Option<PathBuf>,
    /// The user's home directory, for `~/.barman.conf`.
    pub home: Option<PathBuf>,
}

impl Discovery {
    /// Discovery from the process environment, with the `-c` value if any.
    pub fn from_process(explicit: Option<PathBuf>) -> Self {
        Discovery {
            explicit,
            from_env: std::env::var_os("BARMAN_CONFIG_FILE")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            home: std::env::var_os("HOME").map(PathBuf::from),
        }
    }
}

/// The main configuration file: `-c`, else `BARMAN_CONFIG_FILE`, else the first existing default.
pub fn discover_main_file(discovery: &Discovery) -> Result<PathBuf, ConfigError> {
    if let Some(path) = discovery.explicit.as_ref().or(discovery.from_env.as_ref()) {
        let path = expand_home(path, discovery.home.as_deref());
        return if path.exists() {
            Ok(path)
        } else {
            Err(ConfigError::FileNotFound { path })
        };
    }
    DEFAULT_CONFIG_FILES
        .iter()
        .map(|candidate| expand_home(Path::new(candidate), discovery.home.as_deref()))
        .find(|path| path.exists())
        .ok_or(ConfigError::NoDefaultFile)
}

fn expand_home(path: &Path, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix("~"), home) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => path.to_path_buf(),
    }
}

/// The `[barman]` settings (see `docs/configuration.md` for each option).
#[derive(Debug, Clone)]
#[allow(missing_docs)] // Each field is the option of the same name.
pub struct GlobalConfig {
    pub barman_home: PathBuf,
    pub barman_user: String,
    pub barman_lock_directory: PathBuf,
    pub lock_directory_cleanup: bool,
    pub config_changes_queue: PathBuf,
    pub configuration_files_directory: Option<PathBuf>,
    pub log_file: Option<PathBuf>,
    pub log_level: String,
    pub log_format: String,
}

/// The main configuration file, read and not yet completed by its included files.
#[derive(Debug, Clone)]
pub struct MainConfig {
    path: PathBuf,
    doc: IniDocument,
    global: GlobalConfig,
}

impl MainConfig {
    /// Finds and reads the main configuration file.
    pub fn read(discovery: &Discovery) -> Result<Self, ConfigError> {
        let path = discover_main_file(discovery)?;
        let mut doc = IniDocument::default();
        doc.merge_file(&path)?;
        let global = parse_global(&doc, &path)?;
        Ok(MainConfig { path, doc, global })
    }

    /// The main file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The `[barman]` settings of the main file.
    pub fn global(&self) -> &GlobalConfig {
        &self.global
    }

    /// Reads the included files, validates, and resolves every server.
    pub fn complete(self) -> Result<Config, ConfigError> {
        let MainConfig { path, mut doc, global } = self;
        if let Some(dir) = &global.configuration_files_directory {
            merge_included_files(&mut doc, dir)?;
        }
        if global.barman_home.as_os_str().is_empty() {
            return Err(ConfigError::MissingBarmanHome { path });
        }
        let auto_conf = global.barman_home.join(".barman.auto.conf");
        if auto_conf.is_file() {
            doc.merge_file(&auto_conf)?;
        }
        // The auto file may change [barman]; later phases use its values.
        let global = parse_global(&doc, &path)?;
        let mut diagnostics = Vec::new();
        let mut servers = Vec::new();
        if let Some(section) = doc.section(GLOBAL_SECTION) {
            warn_unknown_options(
                &doc,
                section,
                |key| options::global_option(key).is_some() || options::server_option(key).is_some(),
                &mut diagnostics,
            );
        }
        for section in doc.sections().filter(|s| s.name != GLOBAL_SECTION) {
            if RESERVED_SERVER_NAMES.contains(&section.name.as_str()) {
                let path = section
                    .entries
                    .first()
                    .map_or_else(|| path.clone(), |e| e.source.clone());
                return Err(ConfigError::ReservedServerName {
                    name: section.name.clone(),
                    path,
                });
            }
            if is_model(&doc, section) {
                continue;
            }
            warn_unknown_options(
                &doc,
                section,
                |key| options::server_option(key).is_some(),
                &mut diagnostics,
            );
            servers.push(ServerConfig::resolve(&doc, &global, &section.name, &mut diagnostics));
        }
        servers.sort_by(|a, b| a.name().cmp(b.name()));
        let global_errors = check_conflicting_paths(&mut servers);
        Ok(Config {
            path,
            doc,
            global,
            servers,
            diagnostics,
            global_errors,
        })
    }
}

/// A complete configuration.
#[derive(Debug, Clone)]
pub struct Config {
    path: PathBuf,
    doc: IniDocument,
    global: GlobalConfig,
    servers: Vec<ServerConfig>,
    diagnostics: Vec<Diagnostic>,
    global_errors: Vec<String>,
}

impl Config {
    /// Finds, reads and resolves the configuration in one go (for programs that never drop
    /// privileges).
    pub fn load(discovery: &Discovery) -> Result<Self, ConfigError> {
        MainConfig::read(discovery)?.complete()
    }

    /// The main configuration file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The `[barman]` settings.
    pub fn global(&self) -> &GlobalConfig {
        &self.global
    }

    /// The servers, sorted by name.
    pub fn servers(&self) -> &[ServerConfig] {
        &self.servers
    }

    /// The server called `name`.
    pub fn server(&self, name: &str) -> Option<&ServerConfig> {
        self.servers.iter().find(|s| s.name() == name)
    }

    /// Warnings found while loading (unknown options, invalid values).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Errors that involve several servers (overlapping directories): every multi-server command
    /// reports them and stops.
    pub fn global_errors(&self) -> &[String] {
        &self.global_errors
    }

    /// The raw `[barman]` entries as written, with their files.
    pub fn global_entries(&self) -> Vec<&Entry> {
        self.doc
            .section(GLOBAL_SECTION)
            .map(|s| self.doc.visible_entries(s).collect())
            .unwrap_or_default()
    }
}

fn merge_included_files(doc: &mut IniDocument, dir: &Path) -> Result<(), ConfigError> {
    let Ok(listing) = std::fs::read_dir(dir) else {
        // Barman ignores a configuration_files_directory that is not a directory.
        return Ok(());
    };
    let mut files: Vec<PathBuf> = listing
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "conf") && p.is_file())
        .collect();
    files.sort();
    for file in files {
        let before = doc.section(GLOBAL_SECTION).cloned();
        doc.merge_file(&file)?;
        if doc.section(GLOBAL_SECTION).cloned() != before {
            return Err(ConfigError::GlobalSectionInInclude { path: file });
        }
    }
    Ok(())
}

fn parse_global(doc: &IniDocument, path: &Path) -> Result<GlobalConfig, ConfigError> {
    let get = |key: &str| -> Result<Option<String>, ConfigError> {
        let Some(entry) = doc.lookup(GLOBAL_SECTION, key) else {
            return Ok(None);
        };
        if entry.value == "None" {
            return Ok(None);
        }
        let expanded = expand_global(doc, &entry.value, 0).map_err(|e| ConfigError::InvalidGlobalValue {
            key: options::global_option(key).map_or("option", |o| o.name),
            value: entry.value.clone(),
            path: entry.source.clone(),
            reason: e.to_string(),
        })?;
        let text = server::strip_quotes(&expanded).to_string();
        Ok(Some(text).filter(|t| !t.is_empty()))
    };
    let barman_home = PathBuf::from(get("barman_home")?.unwrap_or_default());
    let home_text = barman_home.display().to_string();
    let lock_directory_cleanup = match get("lock_directory_cleanup")? {
        Some(text) => value::parse_bool(&text).map_err(|reason| ConfigError::InvalidGlobalValue {
            key: "lock_directory_cleanup",
            value: text,
            path: path.to_path_buf(),
            reason,
        })?,
        None => true,
    };
    Ok(GlobalConfig {
        barman_lock_directory: PathBuf::from(get("barman_lock_directory")?.unwrap_or_else(|| home_text.clone())),
        barman_user: get("barman_user")?.unwrap_or_else(|| "barman".into()),
        lock_directory_cleanup,
        config_changes_queue: PathBuf::from(
            get("config_changes_queue")?.unwrap_or_else(|| format!("{home_text}/cfg_changes.queue")),
        ),
        configuration_files_directory: get("configuration_files_directory")?
            .map(|d| expand_home(Path::new(&d), std::env::var_os("HOME").as_deref().map(Path::new))),
        log_file: get("log_file")?.map(PathBuf::from),
        log_level: get("log_level")?.unwrap_or_else(|| "INFO".into()).to_ascii_uppercase(),
        log_format: get("log_format")?.unwrap_or_else(|| global_default("log_format").to_string()),
        barman_home,
    })
}

fn global_default(key: &str) -> &'static str {
    options::global_option(key).and_then(|o| o.default).unwrap_or_default()
}

fn expand_global(doc: &IniDocument, raw: &str, depth: usize) -> Result<String, InterpolationError> {
    interpolate::interpolate(raw, &mut |name| {
        let entry = doc
            .lookup(GLOBAL_SECTION, name)
            .ok_or_else(|| InterpolationError::Missing(name.to_string()))?;
        if depth + 1 >= interpolate::MAX_DEPTH {
            return Err(InterpolationError::TooDeep(name.to_string()));
        }
        expand_global(doc, &entry.value, depth + 1)
    })
}

/// A section with `model = true` is a configuration model, not a server.
fn is_model(doc: &IniDocument, section: &Section) -> bool {
    doc.lookup(&section.name, "model")
        .is_some_and(|e| value::parse_bool(&e.value) == Ok(true))
}

fn warn_unknown_options(
    doc: &IniDocument,
    section: &Section,
    known: impl Fn(&str) -> bool,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for entry in doc.visible_entries(section) {
        if known(&entry.key) || (entry.key == "model" && section.name != GLOBAL_SECTION) {
            continue;
        }
        let suggestion = if options::global_option(&entry.key).is_some() {
            " (it is only valid in the [barman] section)".to_string()
        } else {
            closest_option(&entry.key)
                .map(|name| format!(" (did you mean \"{name}\"?)"))
                .unwrap_or_default()
        };
        diagnostics.push(Diagnostic::warning(format!(
            "Invalid configuration option \"{}\" in [{}] section of {}.{suggestion}",
            entry.key,
            section.name,
            entry.source.display()
        )));
    }
}

/// The known option whose name is closest to a misspelt one, if it is close enough to be a typo.
fn closest_option(unknown: &str) -> Option<&'static str> {
    GLOBAL_OPTIONS
        .iter()
        .chain(SERVER_OPTIONS)
        .map(|o: &OptionSpec| (strsim::levenshtein(unknown, o.name), o.name))
        .filter(|(distance, _)| *distance <= 2)
        .min()
        .map(|(_, name)| name)
}

/// Barman compares the six directories of every server after resolving symlinks. A directory
/// used twice inside one server disables that server; one shared by two servers is a global
/// error (servers are visited in name order, so the later name is the one reported).
fn check_conflicting_paths(servers: &mut [ServerConfig]) -> Vec<String> {
    let mut seen: Vec<(PathBuf, &'static str, String)> = Vec::new();
    let mut global_errors = Vec::new();
    for server in servers.iter_mut() {
        for label in CONFLICT_CHECKED_DIRECTORIES {
            let Some(path) = server.path(label).map(Path::to_path_buf) else {
                continue;
            };
            let real = real_path(&path);
            let shown = if real == path {
                format!("{label}={}", path.display())
            } else {
                format!("{label}={} (symlink to: {})", path.display(), real.display())
            };
            match seen.iter().find(|(p, _, _)| *p == real) {
                None => seen.push((real, label, server.name().to_string())),
                Some((_, other_label, other_server)) if other_server == server.name() => {
                    let reason = format!("Conflicting path: {shown} conflicts with '{other_label}' for server '{other_server}'");
                    server.disable(reason);
                }
                Some((_, other_label, other_server)) => global_errors.push(format!(
                    "Conflicting path: {shown} for server '{}' conflicts with '{other_label}' for server '{other_server}'",
                    server.name()
                )),
            }
        }
    }
    global_errors
}

/// `os.path.realpath`: resolve the longest existing prefix, keep the rest as written.
fn real_path(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return rest.iter().rev().fold(real, |acc, part| acc.join(part));
        }
        match (existing.file_name().map(|n| n.to_os_string()), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}

#[cfg(test)]
mod tests;
