//! libpq connection strings (`conninfo`, `streaming_conninfo`), as libpq reads them.
//!
//! Barman hands these strings to libpq, so users write them in either libpq form: `key=value`
//! pairs (values optionally single-quoted, `\'` and `\\` escapes) or a
//! `postgresql://user:password@host:port/dbname?key=value` URI. Missing parameters come from
//! the usual `PG*` environment variables, and a missing password from the password file
//! (`passfile`, `PGPASSFILE` or `~/.pgpass`), exactly as libpq does, so a `barman.conf` and a
//! `.pgpass` that work with Barman work here.

use std::fmt;
use std::path::{Path, PathBuf};

/// A parsed connection string: parameters in the order written, later ones overriding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnInfo {
    params: Vec<(String, String)>,
}

/// Why a connection string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnInfoError {
    /// `key=value` text where a `key` has no `=`.
    #[error("missing \"=\" after \"{0}\" in connection info string")]
    MissingEquals(String),
    /// A quoted value without its closing quote.
    #[error("unterminated quoted string in connection info string")]
    UnterminatedQuote,
    /// A URI that cannot be decoded.
    #[error("invalid connection URI: {0}")]
    InvalidUri(String),
}

/// Environment variables libpq reads for parameters the string does not set.
const ENVIRONMENT_DEFAULTS: &[(&str, &str)] = &[
    ("host", "PGHOST"),
    ("hostaddr", "PGHOSTADDR"),
    ("port", "PGPORT"),
    ("dbname", "PGDATABASE"),
    ("user", "PGUSER"),
    ("password", "PGPASSWORD"),
    ("passfile", "PGPASSFILE"),
    ("options", "PGOPTIONS"),
    ("application_name", "PGAPPNAME"),
    ("sslmode", "PGSSLMODE"),
    ("connect_timeout", "PGCONNECT_TIMEOUT"),
    ("target_session_attrs", "PGTARGETSESSIONATTRS"),
];

/// Where Debian's libpq looks for the server socket when no host is given.
pub const DEFAULT_SOCKET_DIRECTORY: &str = "/var/run/postgresql";
/// PostgreSQL's default port.
pub const DEFAULT_PORT: u16 = 5432;

impl ConnInfo {
    /// Parses either libpq form.
    pub fn parse(text: &str) -> Result<Self, ConnInfoError> {
        let trimmed = text.trim_start();
        if trimmed.starts_with("postgresql://") || trimmed.starts_with("postgres://") {
            parse_uri(trimmed.trim_end())
        } else {
            parse_key_values(text)
        }
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sets `key` (replacing any earlier value).
    pub fn set(&mut self, key: &str, value: &str) {
        self.params.retain(|(k, _)| k != key);
        self.params.push((key.to_string(), value.to_string()));
    }

    /// The parameters, in order.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Fills unset parameters from `env` (a lookup such as `std::env::var`), as libpq does.
    pub fn with_environment_defaults(mut self, env: impl Fn(&str) -> Option<String>) -> Self {
        for (key, variable) in ENVIRONMENT_DEFAULTS {
            if self.get(key).is_none() {
                if let Some(value) = env(variable).filter(|v| !v.is_empty()) {
                    self.params.push((key.to_string(), value));
                }
            }
        }
        self
    }

    /// The host to connect to: `host`, else the default socket directory.
    pub fn host(&self) -> &str {
        self.get("host").unwrap_or(DEFAULT_SOCKET_DIRECTORY)
    }

    /// The port: `port`, else 5432. A value that is not a port is left to the connection to
    /// report.
    pub fn port(&self) -> u16 {
        self.get("port").and_then(|p| p.parse().ok()).unwrap_or(DEFAULT_PORT)
    }

    /// The user: `user`, else `os_user`.
    pub fn user<'a>(&'a self, os_user: &'a str) -> &'a str {
        self.get("user").unwrap_or(os_user)
    }

    /// The database: `dbname`, else the user name.
    pub fn dbname<'a>(&'a self, os_user: &'a str) -> &'a str {
        self.get("dbname").unwrap_or_else(|| self.user(os_user))
    }

    /// The password file: `passfile`, else `<home>/.pgpass`.
    pub fn passfile(&self, home: Option<&Path>) -> Option<PathBuf> {
        match self.get("passfile") {
            Some(file) => Some(PathBuf::from(file)),
            None => home.map(|h| h.join(".pgpass")),
        }
    }
}

impl fmt::Display for ConnInfo {
    /// The `key=value` form, quoting values where libpq needs it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rendered: Vec<String> = self
            .params
            .iter()
            .map(|(k, v)| format!("{k}={}", quote_value(v)))
            .collect();
        f.write_str(&rendered.join(" "))
    }
}

fn quote_value(value: &str) -> String {
    if !value.is_empty() && !value.contains(|c: char| c.is_whitespace() || c == '\'' || c == '\\') {
        return value.to_string();
    }
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn parse_key_values(text: &str) -> Result<ConnInfo, ConnInfoError> {
    let mut info = ConnInfo::default();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(info);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(ConnInfoError::MissingEquals(key));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    None => return Err(ConnInfoError::UnterminatedQuote),
                    Some('\'') => break,
                    Some('\\') => value.extend(chars.next()),
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        info.set(&key, &value);
    }
}

fn parse_uri(text: &str) -> Result<ConnInfo, ConnInfoError> {
    let invalid = |why: &str| ConnInfoError::InvalidUri(format!("{why} in \"{text}\""));
    let rest = text.split_once("://").map(|(_, rest)| rest).unwrap_or_default();
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, dbname) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hostspec) = authority.rsplit_once('@').unwrap_or(("", authority));
    let mut info = ConnInfo::default();
    if !userinfo.is_empty() {
        let (user, password) = match userinfo.split_once(':') {
            Some((user, password)) => (user, Some(password)),
            None => (userinfo, None),
        };
        info.set(
            "user",
            &percent_decode(user).ok_or_else(|| invalid("bad %-escape in user"))?,
        );
        if let Some(password) = password {
            info.set(
                "password",
                &percent_decode(password).ok_or_else(|| invalid("bad %-escape in password"))?,
            );
        }
    }
    if !hostspec.is_empty() {
        let mut hosts = Vec::new();
        let mut ports = Vec::new();
        for spec in hostspec.split(',') {
            let (host, port) = split_host_port(spec).ok_or_else(|| invalid("bad host"))?;
            hosts.push(percent_decode(host).ok_or_else(|| invalid("bad %-escape in host"))?);
            ports.push(port.to_string());
        }
        if hosts.iter().any(|h| !h.is_empty()) {
            info.set("host", &hosts.join(","));
        }
        if ports.iter().any(|p| !p.is_empty()) {
            info.set("port", &ports.join(","));
        }
    }
    if !dbname.is_empty() {
        info.set(
            "dbname",
            &percent_decode(dbname).ok_or_else(|| invalid("bad %-escape in dbname"))?,
        );
    }
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| invalid("query parameter without '='"))?;
        let key = percent_decode(key).ok_or_else(|| invalid("bad %-escape in a parameter"))?;
        let value = percent_decode(value).ok_or_else(|| invalid("bad %-escape in a parameter"))?;
        info.set(&key, &value);
    }
    Ok(info)
}

/// `host:port`, `[v6]:port`, `host`, `[v6]`.
fn split_host_port(spec: &str) -> Option<(&str, &str)> {
    if let Some(rest) = spec.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(port) => port,
            None if after.is_empty() => "",
            None => return None,
        };
        return Some((host, port));
    }
    Some(spec.split_once(':').unwrap_or((spec, "")))
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        ConnInfo::parse(text)
            .unwrap()
            .params()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn kv(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn key_value_form_with_quotes_escapes_and_spaces_around_equals() {
        assert_eq!(
            pairs("host=pghost user = barman  dbname=postgres"),
            kv(&[("host", "pghost"), ("user", "barman"), ("dbname", "postgres")])
        );
        assert_eq!(
            pairs(r"password='a \'quoted\' pass' application_name=my\ app"),
            kv(&[("password", "a 'quoted' pass"), ("application_name", "my app")])
        );
        assert_eq!(pairs("  "), kv(&[]));
        assert_eq!(pairs("port=1 port=2"), kv(&[("port", "2")]));
    }

    #[test]
    fn key_value_errors_are_libpq_messages() {
        assert_eq!(
            ConnInfo::parse("host pghost").unwrap_err(),
            ConnInfoError::MissingEquals("host".into())
        );
        assert_eq!(
            ConnInfo::parse("password='open").unwrap_err(),
            ConnInfoError::UnterminatedQuote
        );
    }

    #[test]
    fn uri_form_decodes_every_part() {
        assert_eq!(
            pairs("postgresql://barman:p%40ss@pghost:5433/postgres?application_name=barman&sslmode=disable"),
            kv(&[
                ("user", "barman"),
                ("password", "p@ss"),
                ("host", "pghost"),
                ("port", "5433"),
                ("dbname", "postgres"),
                ("application_name", "barman"),
                ("sslmode", "disable"),
            ])
        );
        assert_eq!(pairs("postgres://[::1]:5432"), kv(&[("host", "::1"), ("port", "5432")]));
        assert_eq!(
            pairs("postgresql://%2Fvar%2Frun%2Fpostgresql/db"),
            kv(&[("host", "/var/run/postgresql"), ("dbname", "db")])
        );
        assert!(ConnInfo::parse("postgresql://h/db?broken").is_err());
    }

    #[test]
    fn environment_fills_only_missing_parameters() {
        let env = |name: &str| match name {
            "PGHOST" => Some("envhost".to_string()),
            "PGUSER" => Some("envuser".to_string()),
            "PGPORT" => Some(String::new()),
            _ => None,
        };
        let info = ConnInfo::parse("user=barman").unwrap().with_environment_defaults(env);
        assert_eq!(info.get("user"), Some("barman"));
        assert_eq!(info.host(), "envhost");
        assert_eq!(info.port(), 5432);
        assert_eq!(info.dbname("os"), "barman");
        assert_eq!(ConnInfo::default().host(), DEFAULT_SOCKET_DIRECTORY);
    }

    #[test]
    fn display_round_trips_through_the_parser() {
        let info = ConnInfo::parse(r"host=pg password='a b\'c' dbname=x").unwrap();
        assert_eq!(info.to_string(), r"host=pg password='a b\'c' dbname=x");
        assert_eq!(ConnInfo::parse(&info.to_string()).unwrap(), info);
    }
}
