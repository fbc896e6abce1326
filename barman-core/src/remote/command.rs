//! The command lines the WAL clients run on the Barman host, exactly as Barman's clients
//! build them, so that either server implementation answers:
//!
//! * `barman [--config='CONFIG'] put-wal SERVER [--test]`
//! * `barman [--config CONFIG] get-wal [--test] [--peek 'N'] [--gzip|--bzip2]
//!   [--keep-compression] [--partial] 'SERVER' 'WAL'`
//!
//! The remote user's shell parses these lines, and Barman quotes some words and not others.
//! Instead of trusting the quoting, every word coming from the command line is checked
//! first: only characters no shell treats specially are accepted, so nothing a user passes
//! can run another command or change the words the server receives.

use std::fmt;

/// Characters accepted besides ASCII letters and digits: none is special to a POSIX shell
/// inside or outside quotes.
const SAFE_PUNCTUATION: &str = "._-+:@,=%/";

/// Which command-line argument a word came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgumentRole {
    /// `SERVER_NAME`.
    ServerName,
    /// `-c/--config`.
    Config,
    /// `WAL_NAME`.
    WalName,
}

impl fmt::Display for ArgumentRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ArgumentRole::ServerName => "SERVER_NAME",
            ArgumentRole::Config => "the configuration file path (-c/--config)",
            ArgumentRole::WalName => "WAL_NAME",
        })
    }
}

/// A word that cannot be passed safely to the remote shell.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{role} '{value}' {problem}: it would be interpreted by the shell on the Barman host; \
     only letters, digits and . _ - + : @ , = % / are allowed"
)]
pub struct UnsafeArgument {
    /// Which argument.
    pub role: ArgumentRole,
    /// The value given.
    pub value: String,
    /// What is wrong with it.
    pub problem: String,
}

/// A word checked by [`RemoteWord::new`]: safe to place in a remote command line, quoted or
/// not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteWord(String);

impl RemoteWord {
    /// Accepts `value` if it is non-empty, does not start with `-` (it would be read as an
    /// option) and has only letters, digits and [`SAFE_PUNCTUATION`].
    pub fn new(role: ArgumentRole, value: &str) -> Result<RemoteWord, UnsafeArgument> {
        let reject = |problem: String| UnsafeArgument {
            role,
            value: value.to_owned(),
            problem,
        };
        if value.is_empty() {
            return Err(reject("is empty".to_owned()));
        }
        if value.starts_with('-') {
            return Err(reject("starts with '-'".to_owned()));
        }
        let mut unsafe_chars: Vec<char> = Vec::new();
        for c in value.chars() {
            if !c.is_ascii_alphanumeric() && !SAFE_PUNCTUATION.contains(c) && !unsafe_chars.contains(&c) {
                unsafe_chars.push(c);
            }
        }
        if !unsafe_chars.is_empty() {
            let listed: Vec<String> = unsafe_chars.iter().map(|c| format!("{c:?}")).collect();
            return Err(reject(format!("contains {}", listed.join(", "))));
        }
        Ok(RemoteWord(value.to_owned()))
    }

    /// The word.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The remote `barman put-wal` invocation.
pub fn put_wal_command(config: Option<&RemoteWord>, server: &RemoteWord, test: bool) -> String {
    let mut words = vec!["barman".to_owned()];
    if let Some(config) = config {
        words.push(format!("--config='{}'", config.as_str()));
    }
    words.push("put-wal".to_owned());
    words.push(server.as_str().to_owned());
    if test {
        words.push("--test".to_owned());
    }
    words.join(" ")
}

/// The compression `get-wal` is asked to apply on the way (`-z`/`-j`, deprecated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferCompression {
    /// `--gzip`.
    Gzip,
    /// `--bzip2`.
    Bzip2,
}

/// The options of one `barman get-wal` invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GetWalOptions {
    /// `--test`.
    pub test: bool,
    /// `--peek N` (0: no peek).
    pub peek: u32,
    /// `--gzip` or `--bzip2`.
    pub compression: Option<TransferCompression>,
    /// `--keep-compression`.
    pub keep_compression: bool,
    /// `--partial`.
    pub partial: bool,
}

/// The remote `barman get-wal` invocation.
pub fn get_wal_command(
    config: Option<&RemoteWord>,
    server: &RemoteWord,
    wal_name: &RemoteWord,
    options: GetWalOptions,
) -> String {
    let mut words = vec!["barman".to_owned()];
    if let Some(config) = config {
        words.push(format!("--config {}", config.as_str()));
    }
    words.push("get-wal".to_owned());
    if options.test {
        words.push("--test".to_owned());
    }
    if options.peek > 0 {
        words.push(format!("--peek '{}'", options.peek));
    }
    match options.compression {
        Some(TransferCompression::Gzip) => words.push("--gzip".to_owned()),
        Some(TransferCompression::Bzip2) => words.push("--bzip2".to_owned()),
        None => {}
    }
    if options.keep_compression {
        words.push("--keep-compression".to_owned());
    }
    if options.partial {
        words.push("--partial".to_owned());
    }
    words.push(format!("'{}'", server.as_str()));
    words.push(format!("'{}'", wal_name.as_str()));
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(value: &str) -> RemoteWord {
        RemoteWord::new(ArgumentRole::ServerName, value).unwrap()
    }

    #[test]
    fn put_wal_lines_match_barman() {
        assert_eq!(put_wal_command(None, &word("pg"), false), "barman put-wal pg");
        assert_eq!(
            put_wal_command(Some(&word("/etc/barman.conf")), &word("pg"), true),
            "barman --config='/etc/barman.conf' put-wal pg --test"
        );
    }

    #[test]
    fn get_wal_lines_match_barman() {
        let wal = word("000000010000000000000002");
        assert_eq!(
            get_wal_command(None, &word("pg"), &wal, GetWalOptions::default()),
            "barman get-wal 'pg' '000000010000000000000002'"
        );
        let every_option = GetWalOptions {
            test: true,
            peek: 4,
            compression: Some(TransferCompression::Bzip2),
            keep_compression: true,
            partial: true,
        };
        assert_eq!(
            get_wal_command(Some(&word("/etc/b.conf")), &word("pg"), &wal, every_option),
            "barman --config /etc/b.conf get-wal --test --peek '4' --bzip2 --keep-compression --partial \
             'pg' '000000010000000000000002'"
        );
    }

    #[test]
    fn shell_metacharacters_are_refused() {
        for bad in [
            "pg;reboot",
            "pg'",
            "pg\"",
            "$(id)",
            "`id`",
            "pg name",
            "pg|x",
            "pg&",
            "a>b",
            "a*",
            "~root",
            "pg\n",
            "a\\b",
            "é",
        ] {
            let err = RemoteWord::new(ArgumentRole::ServerName, bad).unwrap_err();
            assert!(err.to_string().contains("contains"), "{bad:?}: {err}");
        }
        assert!(RemoteWord::new(ArgumentRole::ServerName, "").is_err());
        assert!(RemoteWord::new(ArgumentRole::ServerName, "--help").is_err());
        for good in ["pg", "pg-15.main_2", "/etc/barman.d/x.conf", "srv@host:1,a=b%c+d"] {
            assert_eq!(RemoteWord::new(ArgumentRole::Config, good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn message_names_the_argument_and_characters() {
        let err = RemoteWord::new(ArgumentRole::ServerName, "pg;rm -rf").unwrap_err();
        assert_eq!(
            err.to_string(),
            "SERVER_NAME 'pg;rm -rf' contains ';', ' ': it would be interpreted by the shell on the Barman \
             host; only letters, digits and . _ - + : @ , = % / are allowed"
        );
    }
}
