//! Connections to PostgreSQL: connection strings as libpq reads them, the password file, and
//! opening a session with errors that say what to fix.
//!
//! The `postgres` crate speaks the protocol; this module gives it what libpq would have
//! computed from the same `conninfo`, environment and `.pgpass`, so Barman configurations keep
//! their meaning, and turns connection failures into [`PostgresError`]s that carry the DSN
//! with its password redacted and a hint.

pub mod client_tools;
pub mod conninfo;
pub mod pgpass;
pub mod replication;
pub mod server;
pub mod status;
pub mod streaming_clients;

use std::path::{Path, PathBuf};
use std::time::Duration;

use conninfo::{ConnInfo, ConnInfoError};
use pgpass::{PasswordLookup, PasswordTarget};

use crate::redact::redact_passwords;

/// libpq parameters that only matter for TLS, Kerberos or GSSAPI: accepted, and refused only
/// when they ask for something this implementation cannot do.
const IGNORED_PARAMETERS: &[&str] = &[
    "sslcert",
    "sslkey",
    "sslrootcert",
    "sslcrl",
    "sslcrldir",
    "sslpassword",
    "sslcompression",
    "sslsni",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "requirepeer",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "service",
    "passfile",
    "fallback_application_name",
    "client_encoding",
    "gssencmode",
    "require_auth",
];

/// Why a PostgreSQL session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    /// The connection string itself is malformed.
    #[error("invalid connection string '{dsn}': {source}")]
    InvalidConnInfo {
        /// The string, password redacted.
        dsn: String,
        /// What is wrong.
        source: ConnInfoError,
    },
    /// A parameter asks for something this implementation does not support.
    #[error("connection string '{dsn}': {key}={value} is not supported")]
    Unsupported {
        /// The string, password redacted.
        dsn: String,
        /// The parameter.
        key: String,
        /// Its value.
        value: String,
        /// What to do instead.
        hint: &'static str,
    },
    /// The server could not be reached, or refused the session.
    #[error("cannot connect to PostgreSQL with '{dsn}': {message}")]
    Connect {
        /// The effective connection string, password redacted.
        dsn: String,
        /// The server's or the network's message.
        message: String,
        /// What to check, when it can be told.
        hint: Option<String>,
    },
}

impl PostgresError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            PostgresError::InvalidConnInfo { .. } => {
                Some("write it as libpq does: 'host=pghost user=barman dbname=postgres' or a postgresql:// URI".into())
            }
            PostgresError::Unsupported { hint, .. } => Some((*hint).to_string()),
            PostgresError::Connect { hint, .. } => hint.clone(),
        }
    }
}

/// What libpq would take from the process: environment, home directory, OS user name.
#[derive(Debug, Clone)]
pub struct ClientEnvironment {
    /// `PG*` variables and friends, looked up by name.
    pub variables: Vec<(String, String)>,
    /// Home directory, for `~/.pgpass`.
    pub home: Option<PathBuf>,
    /// The OS user name, the default PostgreSQL user.
    pub os_user: String,
}

impl ClientEnvironment {
    /// The current process's environment.
    pub fn from_process() -> Self {
        let os_user = nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .map(|u| u.name)
            .unwrap_or_default();
        ClientEnvironment {
            variables: std::env::vars().filter(|(k, _)| k.starts_with("PG")).collect(),
            home: std::env::var_os("HOME").map(PathBuf::from),
            os_user,
        }
    }

    fn variable(&self, name: &str) -> Option<String> {
        self.variables.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }
}

/// The effective parameters of `dsn`: the string, then the environment, then the password file.
/// Also returns a note when the password file was ignored.
pub fn effective_conninfo(dsn: &str, env: &ClientEnvironment) -> Result<(ConnInfo, Option<String>), PostgresError> {
    let info = ConnInfo::parse(dsn).map_err(|source| PostgresError::InvalidConnInfo {
        dsn: redact_passwords(dsn).into_owned(),
        source,
    })?;
    let mut info = info.with_environment_defaults(|name| env.variable(name));
    let mut note = None;
    if info.get("password").is_none() {
        if let Some(passfile) = info.passfile(env.home.as_deref()) {
            let target = PasswordTarget {
                host: first_of_list(info.host()),
                port: info.port(),
                database: info.dbname(&env.os_user),
                user: info.user(&env.os_user),
            };
            match pgpass::lookup(&passfile, target) {
                PasswordLookup::Found(password) => info.set("password", &password),
                PasswordLookup::NotFound => {}
                PasswordLookup::InsecurePermissions { mode } => {
                    note = Some(insecure_passfile_note(&passfile, mode));
                }
            }
        }
    }
    Ok((info, note))
}

fn insecure_passfile_note(passfile: &Path, mode: u32) -> String {
    format!(
        "password file \"{}\" is ignored because group or others can read it (mode {mode:04o}); run 'chmod 0600 {}'",
        passfile.display(),
        passfile.display()
    )
}

fn first_of_list(value: &str) -> &str {
    value.split(',').next().unwrap_or(value)
}

/// Opens a session for `dsn` (a Barman `conninfo`), as libpq would.
pub fn connect(dsn: &str, env: &ClientEnvironment) -> Result<postgres::Client, PostgresError> {
    let (info, passfile_note) = effective_conninfo(dsn, env)?;
    let config = client_config(&info, env, dsn)?;
    config.connect(postgres::NoTls).map_err(|error| {
        let message = connection_message(&error);
        let hint = connection_hint(&message, &info, env).or(passfile_note);
        PostgresError::Connect {
            dsn: redact_passwords(&info.to_string()).into_owned(),
            message,
            hint,
        }
    })
}

fn client_config(info: &ConnInfo, env: &ClientEnvironment, dsn: &str) -> Result<postgres::Config, PostgresError> {
    let unsupported = |key: &str, value: &str, hint: &'static str| PostgresError::Unsupported {
        dsn: redact_passwords(dsn).into_owned(),
        key: key.to_string(),
        value: value.to_string(),
        hint,
    };
    let mut config = postgres::Config::new();
    config.user(info.user(&env.os_user)).dbname(info.dbname(&env.os_user));
    for host in info.host().split(',') {
        if host.starts_with('/') {
            config.host_path(host);
        } else {
            config.host(host);
        }
    }
    for port in info.get("port").unwrap_or("5432").split(',') {
        let port = port
            .parse()
            .map_err(|_| unsupported("port", port, "a port is a number from 1 to 65535"))?;
        config.port(port);
    }
    if info.get("application_name").is_none() {
        if let Some(fallback) = info.get("fallback_application_name") {
            config.application_name(fallback);
        }
    }
    for (key, value) in info.params() {
        match key {
            "host" | "port" | "user" | "dbname" => {}
            "password" => {
                config.password(value);
            }
            "application_name" => {
                config.application_name(value);
            }
            "options" => {
                config.options(value);
            }
            "hostaddr" => {
                let address = value
                    .parse()
                    .map_err(|_| unsupported(key, value, "hostaddr must be an IP address"))?;
                config.hostaddr(address);
            }
            "connect_timeout" => {
                let seconds: u64 = value
                    .parse()
                    .map_err(|_| unsupported(key, value, "connect_timeout is a number of seconds"))?;
                if seconds > 0 {
                    config.connect_timeout(Duration::from_secs(seconds.max(2)));
                }
            }
            "keepalives" => {
                config.keepalives(value != "0");
            }
            "keepalives_idle" => {
                let seconds: u64 = value
                    .parse()
                    .map_err(|_| unsupported(key, value, "keepalives_idle is a number of seconds"))?;
                config.keepalives_idle(Duration::from_secs(seconds));
            }
            "target_session_attrs" => match value {
                "any" => {}
                "read-write" => {
                    config.target_session_attrs(postgres::config::TargetSessionAttrs::ReadWrite);
                }
                _ => return Err(unsupported(key, value, "use target_session_attrs=any or read-write")),
            },
            "sslmode" => match value {
                "disable" | "allow" | "prefer" => {}
                _ => {
                    return Err(unsupported(
                        key,
                        value,
                        "TLS connections are not available yet: use sslmode=prefer or disable on a trusted network",
                    ))
                }
            },
            "replication" => {
                return Err(unsupported(
                    key,
                    value,
                    "replication connections are opened by the commands that need them, not from conninfo",
                ))
            }
            "client_encoding" if !value.eq_ignore_ascii_case("utf8") && !value.eq_ignore_ascii_case("utf-8") => {
                return Err(unsupported(
                    key,
                    value,
                    "the connection always uses UTF8; remove client_encoding",
                ))
            }
            key if IGNORED_PARAMETERS.contains(&key) => {}
            _ => {
                return Err(unsupported(
                    key,
                    value,
                    "not a libpq connection parameter; check its spelling",
                ))
            }
        }
    }
    Ok(config)
}

/// The server's own message when there is one, else the client error's text.
fn connection_message(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => db.message().to_string(),
        None => {
            let text = error.to_string();
            match std::error::Error::source(error) {
                Some(source) if !text.contains(&source.to_string()) => format!("{text}: {source}"),
                _ => text,
            }
        }
    }
}

pub(crate) fn connection_hint(message: &str, info: &ConnInfo, env: &ClientEnvironment) -> Option<String> {
    let user = info.user(&env.os_user);
    let endpoint = format!("{}:{}", first_of_list(info.host()), info.port());
    if message.contains("password authentication failed") {
        Some(format!(
            "check the password of user '{user}' for {endpoint} in ~/.pgpass (or in conninfo)"
        ))
    } else if message.contains("password missing") || message.contains("no password") {
        Some(format!(
            "add a line '{endpoint}:*:{user}:PASSWORD' to ~/.pgpass (mode 0600)"
        ))
    } else if message.contains("Connection refused") || message.contains("No such file or directory") {
        Some(format!(
            "is PostgreSQL running and listening on {endpoint}? check listen_addresses and port"
        ))
    } else if message.contains("no pg_hba.conf entry") {
        Some(format!(
            "allow user '{user}' from this host in pg_hba.conf, then reload PostgreSQL"
        ))
    } else if message.contains("does not exist") {
        Some("check user and dbname in conninfo".into())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(home: Option<&Path>) -> ClientEnvironment {
        ClientEnvironment {
            variables: vec![("PGPORT".into(), "6543".into())],
            home: home.map(Path::to_path_buf),
            os_user: "barman".into(),
        }
    }

    #[test]
    fn password_comes_from_the_password_file_for_the_effective_target() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let passfile = dir.path().join(".pgpass");
        std::fs::write(&passfile, "pg:6543:postgres:barman:from-file\n").unwrap();
        std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).unwrap();
        let (info, note) = effective_conninfo("host=pg dbname=postgres", &env(Some(dir.path()))).unwrap();
        assert_eq!(info.get("password"), Some("from-file"));
        assert_eq!(note, None);
        std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (info, note) = effective_conninfo("host=pg dbname=postgres", &env(Some(dir.path()))).unwrap();
        assert_eq!(info.get("password"), None);
        assert!(note.unwrap().contains("chmod 0600"));
    }

    fn connect_error(dsn: &str) -> PostgresError {
        match connect(dsn, &env(None)) {
            Ok(_) => panic!("connecting with '{dsn}' should fail"),
            Err(error) => error,
        }
    }

    #[test]
    fn unsupported_parameters_are_refused_with_a_hint() {
        let err = connect_error("host=pg sslmode=verify-full password=secret");
        assert_eq!(
            err.to_string(),
            "connection string 'host=pg sslmode=verify-full password=*REDACTED*': sslmode=verify-full is not supported"
        );
        assert!(err.hint().unwrap().contains("TLS"));
        let err = connect_error("host=pg hots=x");
        assert!(err.hint().unwrap().contains("spelling"), "{err}");
        let err = connect_error("host=pg port");
        assert!(matches!(err, PostgresError::InvalidConnInfo { .. }));
    }

    #[test]
    fn refused_connections_name_the_endpoint() {
        let err = connect_error("host=127.0.0.1 port=1 user=barman password=secret connect_timeout=2");
        let PostgresError::Connect { dsn, message, hint } = &err else {
            panic!("{err}")
        };
        assert_eq!(
            dsn,
            "host=127.0.0.1 port=1 user=barman password=*REDACTED* connect_timeout=2"
        );
        assert!(message.contains("refused"), "{message}");
        assert!(hint.as_deref().unwrap().contains("127.0.0.1:1"));
    }
}
