//! The password file (`~/.pgpass`), read as libpq reads it.
//!
//! Each line is `hostname:port:database:username:password`; `*` matches anything, `\:` and
//! `\\` escape, the first matching line wins. A Unix-socket host matches `localhost`. Like
//! libpq, a file that group or others can read is ignored (a password readable by other users
//! is a leak the user should hear about): [`lookup`] reports it instead of using it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// What looking up a password found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordLookup {
    /// A matching line.
    Found(String),
    /// No file, or no matching line.
    NotFound,
    /// The file exists but group or others may read it, so it was ignored.
    InsecurePermissions {
        /// The file's permission bits.
        mode: u32,
    },
}

/// The connection a password is looked up for.
#[derive(Debug, Clone, Copy)]
pub struct PasswordTarget<'a> {
    /// Host name, address, or socket directory.
    pub host: &'a str,
    /// Port.
    pub port: u16,
    /// Database.
    pub database: &'a str,
    /// User name.
    pub user: &'a str,
}

/// Looks up the password for `target` in the password file at `path`.
pub fn lookup(path: &Path, target: PasswordTarget<'_>) -> PasswordLookup {
    let Ok(metadata) = std::fs::metadata(path) else {
        return PasswordLookup::NotFound;
    };
    if !metadata.is_file() {
        return PasswordLookup::NotFound;
    }
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return PasswordLookup::InsecurePermissions { mode };
    }
    let Ok(text) = std::fs::read_to_string(path) else {
        return PasswordLookup::NotFound;
    };
    find_password(&text, target).map_or(PasswordLookup::NotFound, PasswordLookup::Found)
}

/// The password of the first line of `text` matching `target`.
pub fn find_password(text: &str, target: PasswordTarget<'_>) -> Option<String> {
    let host = if target.host.starts_with('/') {
        "localhost"
    } else {
        target.host
    };
    let port = target.port.to_string();
    let wanted = [host, port.as_str(), target.database, target.user];
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#') && !line.trim().is_empty())
        .map(split_fields)
        .filter(|fields| fields.len() >= 5)
        .find(|fields| {
            fields
                .iter()
                .zip(wanted)
                .all(|(field, value)| field == "*" || field == value)
        })
        .map(|mut fields| fields.swap_remove(4))
}

/// Splits on unescaped `:` and removes the escapes. The password field keeps any further `:`.
fn split_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields.last_mut().expect("one field").extend(chars.next()),
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut().expect("one field").push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    const TARGET: PasswordTarget<'static> = PasswordTarget {
        host: "pg",
        port: 5432,
        database: "postgres",
        user: "barman",
    };

    #[test]
    fn first_matching_line_wins_with_wildcards_and_escapes() {
        let text = "# comment\nother:5432:*:barman:no\npg:*:*:barman:pass\\:word:with:colons\n*:*:*:*:fallback\n";
        assert_eq!(find_password(text, TARGET).as_deref(), Some("pass:word:with:colons"));
        let streaming = PasswordTarget {
            user: "streaming_barman",
            ..TARGET
        };
        assert_eq!(find_password(text, streaming).as_deref(), Some("fallback"));
        assert_eq!(find_password("pg:5433:*:barman:x\n", TARGET), None);
    }

    #[test]
    fn socket_directories_match_localhost() {
        let socket = PasswordTarget {
            host: "/var/run/postgresql",
            ..TARGET
        };
        assert_eq!(
            find_password("localhost:5432:*:barman:local\n", socket).as_deref(),
            Some("local")
        );
    }

    #[test]
    fn files_readable_by_others_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".pgpass");
        std::fs::write(&path, "*:*:*:*:secret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            lookup(&path, TARGET),
            PasswordLookup::InsecurePermissions { mode: 0o644 }
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(lookup(&path, TARGET), PasswordLookup::Found("secret".into()));
        assert_eq!(lookup(&dir.path().join("missing"), TARGET), PasswordLookup::NotFound);
    }
}
