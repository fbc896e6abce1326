//! The part of OpenSSH's client configuration (`~/.ssh/config`) that decides where and how
//! the WAL clients connect.
//!
//! Honoured keywords: `Host`, `Match` (criteria `all`, `host`, `originalhost`, `user`,
//! `localuser`), `Include`, `HostName`, `Port`, `User`, `IdentityFile`, `IdentitiesOnly`,
//! `UserKnownHostsFile`, `GlobalKnownHostsFile`, `ConnectTimeout`. Every other keyword is
//! ignored, as the WAL clients have no use for it.
//!
//! The rules are OpenSSH's: keywords are case-insensitive and written `Key value` or
//! `Key=value`; for each keyword the first value obtained wins, except `IdentityFile`, whose
//! values accumulate; a `Match` block with a criterion this parser cannot evaluate (`exec`,
//! `canonical`, `address`, ...) is treated as not matching, so nothing is applied on a guess.
//! Paths accept `~`, `%d` (home), `%u` (local user), `%h` (host name), `%r` (remote user),
//! `%p` (port), `%n` (host as given) and `%%`.

use std::fs;
use std::path::{Path, PathBuf};

/// Includes nested deeper than this are ignored (OpenSSH stops at the same depth).
const MAX_INCLUDE_DEPTH: usize = 16;

/// The default SSH port.
pub const DEFAULT_SSH_PORT: u16 = 22;

/// The parsed lines of a configuration, with `Include` already expanded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshConfig {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// `Host` or `Match`: starts a block whose settings apply when the condition holds.
    Condition(Condition),
    /// A setting line (keyword lower-cased, arguments unquoted).
    Setting { keyword: String, args: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Condition {
    Host(Vec<String>),
    Match(Vec<MatchCriterion>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum MatchCriterion {
    All,
    Host {
        patterns: String,
        negated: bool,
    },
    OriginalHost {
        patterns: String,
        negated: bool,
    },
    User {
        patterns: String,
        negated: bool,
    },
    LocalUser {
        patterns: String,
        negated: bool,
    },
    /// A criterion this parser does not evaluate: the block never applies.
    Unsupported(String),
}

/// Who connects where, before the configuration is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRequest<'a> {
    /// The host as given on the command line (an alias or a real name).
    pub host: &'a str,
    /// `-p`/`--port`, when given: it wins over `Port`.
    pub port: Option<u16>,
    /// The user given on the command line (`USER@HOST`): it wins over `User`.
    pub user: Option<&'a str>,
    /// The local OS user name (`%u`, `Match localuser`).
    pub local_user: &'a str,
    /// The local user's home directory (`~`, `%d`).
    pub home: &'a Path,
}

/// Where and how to connect, once the configuration is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedHost {
    /// The name or address to connect to (`HostName`, else the host as given).
    pub hostname: String,
    /// The TCP port.
    pub port: u16,
    /// The remote user; `None` when neither the command line nor `User` names one.
    pub user: Option<String>,
    /// `IdentityFile` values, expanded, in order; empty means "use the default keys".
    pub identity_files: Vec<PathBuf>,
    /// `IdentitiesOnly yes`: keys from the agent are not offered.
    pub identities_only: bool,
    /// The user's known-hosts files (`UserKnownHostsFile`, default `~/.ssh/known_hosts`
    /// and `~/.ssh/known_hosts2`).
    pub user_known_hosts_files: Vec<PathBuf>,
    /// The system-wide known-hosts files (`GlobalKnownHostsFile`).
    pub global_known_hosts_files: Vec<PathBuf>,
    /// `ConnectTimeout` in seconds, if set.
    pub connect_timeout_seconds: Option<u64>,
}

impl SshConfig {
    /// Parses `text`. `Include`d files are read relative to `ssh_dir` (the user's `~/.ssh`);
    /// missing ones are skipped as OpenSSH does.
    pub fn parse(text: &str, ssh_dir: &Path) -> SshConfig {
        let mut config = SshConfig::default();
        config.parse_into(text, ssh_dir, 0);
        config
    }

    /// Reads and parses the file at `path`; a missing file is an empty configuration.
    pub fn read(path: &Path, ssh_dir: &Path) -> std::io::Result<SshConfig> {
        match fs::read_to_string(path) {
            Ok(text) => Ok(SshConfig::parse(&text, ssh_dir)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(SshConfig::default()),
            Err(err) => Err(err),
        }
    }

    fn parse_into(&mut self, text: &str, ssh_dir: &Path, depth: usize) {
        for line in text.lines() {
            let Some((keyword, args)) = split_line(line) else {
                continue;
            };
            match keyword.as_str() {
                "host" => self.entries.push(Entry::Condition(Condition::Host(args))),
                "match" => self
                    .entries
                    .push(Entry::Condition(Condition::Match(parse_match(&args)))),
                "include" if depth < MAX_INCLUDE_DEPTH => {
                    for pattern in &args {
                        for file in expand_include(pattern, ssh_dir) {
                            if let Ok(included) = fs::read_to_string(&file) {
                                self.parse_into(&included, ssh_dir, depth + 1);
                            }
                        }
                    }
                }
                _ => self.entries.push(Entry::Setting { keyword, args }),
            }
        }
    }

    /// Applies the configuration to `request`.
    pub fn resolve(&self, request: &ConnectRequest<'_>) -> ResolvedHost {
        let mut found = FoundSettings::default();
        // Settings before the first Host/Match apply to every host.
        let mut active = true;
        for entry in &self.entries {
            match entry {
                Entry::Condition(condition) => active = condition.matches(request, &found),
                Entry::Setting { keyword, args } if active => found.record(keyword, args),
                Entry::Setting { .. } => {}
            }
        }
        found.into_resolved(request)
    }
}

impl Condition {
    fn matches(&self, request: &ConnectRequest<'_>, found: &FoundSettings) -> bool {
        match self {
            Condition::Host(patterns) => matches_pattern_list(request.host, patterns),
            Condition::Match(criteria) => criteria.iter().all(|criterion| {
                let (subject, patterns, negated) = match criterion {
                    MatchCriterion::All => return true,
                    MatchCriterion::Unsupported(_) => return false,
                    MatchCriterion::Host { patterns, negated } => {
                        (found.hostname.as_deref().unwrap_or(request.host), patterns, negated)
                    }
                    MatchCriterion::OriginalHost { patterns, negated } => (request.host, patterns, negated),
                    MatchCriterion::User { patterns, negated } => {
                        let user = request.user.or(found.user.as_deref()).unwrap_or(request.local_user);
                        (user, patterns, negated)
                    }
                    MatchCriterion::LocalUser { patterns, negated } => (request.local_user, patterns, negated),
                };
                let list: Vec<String> = patterns.split(',').map(str::to_owned).collect();
                matches_pattern_list(subject, &list) != *negated
            }),
        }
    }
}

/// First-value-wins collection of the settings that apply.
#[derive(Debug, Default)]
struct FoundSettings {
    hostname: Option<String>,
    port: Option<u16>,
    user: Option<String>,
    identity_files: Vec<String>,
    identities_only: Option<bool>,
    user_known_hosts_files: Option<Vec<String>>,
    global_known_hosts_files: Option<Vec<String>>,
    connect_timeout_seconds: Option<u64>,
}

impl FoundSettings {
    fn record(&mut self, keyword: &str, args: &[String]) {
        let Some(first) = args.first() else {
            return;
        };
        match keyword {
            "hostname" => set_once(&mut self.hostname, first.clone()),
            "port" => {
                if let Ok(port) = first.parse() {
                    set_once(&mut self.port, port);
                }
            }
            "user" => set_once(&mut self.user, first.clone()),
            "identityfile" => self.identity_files.push(first.clone()),
            "identitiesonly" => set_once(&mut self.identities_only, first.eq_ignore_ascii_case("yes")),
            "userknownhostsfile" => set_once(&mut self.user_known_hosts_files, args.to_vec()),
            "globalknownhostsfile" => set_once(&mut self.global_known_hosts_files, args.to_vec()),
            "connecttimeout" => {
                if let Ok(seconds) = first.parse() {
                    set_once(&mut self.connect_timeout_seconds, seconds);
                }
            }
            _ => {}
        }
    }

    fn into_resolved(self, request: &ConnectRequest<'_>) -> ResolvedHost {
        let hostname = self
            .hostname
            .map(|name| name.replace("%h", request.host).replace("%%", "%"))
            .unwrap_or_else(|| request.host.to_owned());
        let port = request.port.or(self.port).unwrap_or(DEFAULT_SSH_PORT);
        let user = request.user.map(str::to_owned).or(self.user);
        let tokens = Tokens {
            home: request.home,
            local_user: request.local_user,
            hostname: &hostname,
            original_host: request.host,
            remote_user: user.as_deref().unwrap_or(request.local_user),
            port,
        };
        let expand_all = |values: Vec<String>| -> Vec<PathBuf> {
            values
                .iter()
                // `none` disables the file.
                .filter(|value| !value.eq_ignore_ascii_case("none"))
                .map(|value| tokens.expand_path(value))
                .collect()
        };
        let ssh_dir = request.home.join(".ssh");
        ResolvedHost {
            identity_files: expand_all(self.identity_files),
            identities_only: self.identities_only.unwrap_or(false),
            user_known_hosts_files: self
                .user_known_hosts_files
                .map(&expand_all)
                .unwrap_or_else(|| vec![ssh_dir.join("known_hosts"), ssh_dir.join("known_hosts2")]),
            global_known_hosts_files: self.global_known_hosts_files.map(&expand_all).unwrap_or_else(|| {
                vec![
                    PathBuf::from("/etc/ssh/ssh_known_hosts"),
                    PathBuf::from("/etc/ssh/ssh_known_hosts2"),
                ]
            }),
            connect_timeout_seconds: self.connect_timeout_seconds,
            hostname,
            port,
            user,
        }
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T) {
    if slot.is_none() {
        *slot = Some(value);
    }
}

/// The values `%` tokens and `~` expand to.
struct Tokens<'a> {
    home: &'a Path,
    local_user: &'a str,
    hostname: &'a str,
    original_host: &'a str,
    remote_user: &'a str,
    port: u16,
}

impl Tokens<'_> {
    fn expand_path(&self, value: &str) -> PathBuf {
        let home = self.home.to_string_lossy();
        let tilde_expanded = match value.strip_prefix('~') {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("{home}{rest}"),
            _ => value.to_owned(),
        };
        let mut expanded = String::with_capacity(tilde_expanded.len());
        let mut chars = tilde_expanded.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                expanded.push(c);
                continue;
            }
            match chars.next() {
                Some('%') => expanded.push('%'),
                Some('d') => expanded.push_str(&home),
                Some('u') => expanded.push_str(self.local_user),
                Some('h') => expanded.push_str(self.hostname),
                Some('n') => expanded.push_str(self.original_host),
                Some('r') => expanded.push_str(self.remote_user),
                Some('p') => expanded.push_str(&self.port.to_string()),
                // An unknown token stays as written; the path will simply not exist.
                Some(other) => {
                    expanded.push('%');
                    expanded.push(other);
                }
                None => expanded.push('%'),
            }
        }
        let path = PathBuf::from(expanded);
        if path.is_relative() {
            // OpenSSH resolves relative key and known-hosts paths against the home directory.
            self.home.join(path)
        } else {
            path
        }
    }
}

/// Splits a configuration line into its lower-cased keyword and unquoted arguments; `None`
/// for blank lines and comments.
fn split_line(line: &str) -> Option<(String, Vec<String>)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let keyword_end = line.find(|c: char| c.is_whitespace() || c == '=').unwrap_or(line.len());
    let keyword = line[..keyword_end].to_ascii_lowercase();
    let rest = line[keyword_end..].trim_start();
    // One `=` may separate the keyword from its arguments, with spaces around it.
    let rest = rest.strip_prefix('=').unwrap_or(rest).trim_start();
    Some((keyword, split_arguments(rest)))
}

/// Whitespace-separated arguments; double quotes group words and are removed. A `#` starting
/// an argument begins a trailing comment.
fn split_arguments(text: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut in_argument = false;
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                in_argument = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_argument {
                    args.push(std::mem::take(&mut current));
                    in_argument = false;
                }
            }
            '#' if !quoted && !in_argument => break,
            c => {
                current.push(c);
                in_argument = true;
            }
        }
    }
    if in_argument {
        args.push(current);
    }
    args
}

fn parse_match(args: &[String]) -> Vec<MatchCriterion> {
    let mut criteria = Vec::new();
    let mut words = args.iter();
    while let Some(word) = words.next() {
        let (negated, name) = match word.strip_prefix('!') {
            Some(name) => (true, name.to_ascii_lowercase()),
            None => (false, word.to_ascii_lowercase()),
        };
        if name == "all" {
            criteria.push(if negated {
                MatchCriterion::Unsupported(word.clone())
            } else {
                MatchCriterion::All
            });
            continue;
        }
        let Some(patterns) = words.next().cloned() else {
            criteria.push(MatchCriterion::Unsupported(word.clone()));
            break;
        };
        criteria.push(match name.as_str() {
            "host" => MatchCriterion::Host { patterns, negated },
            "originalhost" => MatchCriterion::OriginalHost { patterns, negated },
            "user" => MatchCriterion::User { patterns, negated },
            "localuser" => MatchCriterion::LocalUser { patterns, negated },
            _ => MatchCriterion::Unsupported(word.clone()),
        });
    }
    criteria
}

/// OpenSSH's pattern-list rule: the subject matches if some pattern matches and no negated
/// (`!pattern`) one does. Host names compare case-insensitively.
fn matches_pattern_list(subject: &str, patterns: &[String]) -> bool {
    let subject = subject.to_ascii_lowercase();
    let mut matched = false;
    for pattern in patterns {
        let pattern = pattern.to_ascii_lowercase();
        match pattern.strip_prefix('!') {
            Some(negated) if wildcard_match(negated, &subject) => return false,
            Some(_) => {}
            None => matched |= wildcard_match(&pattern, &subject),
        }
    }
    matched
}

/// `*` matches any run of characters, `?` exactly one.
fn wildcard_match(pattern: &str, subject: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let subject: Vec<char> = subject.chars().collect();
    let (mut p, mut s) = (0, 0);
    // Where the last `*` was, and the subject position it currently absorbs up to.
    let mut backtrack: Option<(usize, usize)> = None;
    while s < subject.len() {
        match pattern.get(p) {
            Some('*') => {
                backtrack = Some((p, s));
                p += 1;
            }
            Some(&c) if c == '?' || c == subject[s] => {
                p += 1;
                s += 1;
            }
            _ => match backtrack {
                Some((star, absorbed)) => {
                    p = star + 1;
                    s = absorbed + 1;
                    backtrack = Some((star, absorbed + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// The files an `Include` argument names: relative paths are under `ssh_dir`; a `*` or `?`
/// in the last path component selects the matching files, in sorted order.
fn expand_include(pattern: &str, ssh_dir: &Path) -> Vec<PathBuf> {
    let path = match pattern.strip_prefix("~/") {
        Some(rest) => ssh_dir.parent().unwrap_or(ssh_dir).join(rest),
        None => ssh_dir.join(pattern),
    };
    let Some(file_pattern) = path.file_name().map(|name| name.to_string_lossy().into_owned()) else {
        return Vec::new();
    };
    if !file_pattern.contains(['*', '?']) {
        return vec![path];
    }
    let dir = path.parent().unwrap_or(ssh_dir);
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| wildcard_match(&file_pattern, &entry.file_name().to_string_lossy()))
        .map(|entry| entry.path())
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: &str = "/home/postgres";

    fn request<'a>(host: &'a str, user: Option<&'a str>, port: Option<u16>) -> ConnectRequest<'a> {
        ConnectRequest {
            host,
            port,
            user,
            local_user: "postgres",
            home: Path::new(HOME),
        }
    }

    fn resolve(text: &str, request: &ConnectRequest<'_>) -> ResolvedHost {
        SshConfig::parse(text, &Path::new(HOME).join(".ssh")).resolve(request)
    }

    #[test]
    fn defaults_without_configuration() {
        let resolved = resolve("", &request("backup", Some("barman"), None));
        assert_eq!(resolved.hostname, "backup");
        assert_eq!(resolved.port, 22);
        assert_eq!(resolved.user.as_deref(), Some("barman"));
        assert!(resolved.identity_files.is_empty());
        assert_eq!(
            resolved.user_known_hosts_files,
            vec![
                PathBuf::from("/home/postgres/.ssh/known_hosts"),
                PathBuf::from("/home/postgres/.ssh/known_hosts2")
            ]
        );
    }

    #[test]
    fn host_block_sets_hostname_port_user_and_files() {
        let config = "\
# the Barman host
Host backup backup.example
    HostName 10.0.0.5
    Port 2222
    User barman2
    IdentityFile ~/.ssh/barman_key
    IdentityFile %d/.ssh/other_%u
    UserKnownHostsFile ~/.ssh/known_hosts_barman /etc/extra_hosts
";
        let resolved = resolve(config, &request("backup", None, None));
        assert_eq!(resolved.hostname, "10.0.0.5");
        assert_eq!(resolved.port, 2222);
        assert_eq!(resolved.user.as_deref(), Some("barman2"));
        assert_eq!(
            resolved.identity_files,
            vec![
                PathBuf::from("/home/postgres/.ssh/barman_key"),
                PathBuf::from("/home/postgres/.ssh/other_postgres")
            ]
        );
        assert_eq!(
            resolved.user_known_hosts_files,
            vec![
                PathBuf::from("/home/postgres/.ssh/known_hosts_barman"),
                PathBuf::from("/etc/extra_hosts")
            ]
        );
    }

    #[test]
    fn command_line_user_and_port_win() {
        let config = "Host backup\n  Port 2222\n  User barman2\n";
        let resolved = resolve(config, &request("backup", Some("barman"), Some(2200)));
        assert_eq!(resolved.port, 2200);
        assert_eq!(resolved.user.as_deref(), Some("barman"));
    }

    #[test]
    fn first_value_wins_and_identity_files_accumulate() {
        let config = "\
Host backup
  Port 1111
  IdentityFile /k1
Host *
  Port 2222
  HostName ignored
  IdentityFile /k2
";
        let resolved = resolve(config, &request("backup", None, None));
        assert_eq!(resolved.port, 1111);
        assert_eq!(resolved.hostname, "ignored");
        assert_eq!(
            resolved.identity_files,
            vec![PathBuf::from("/k1"), PathBuf::from("/k2")]
        );
        let other = resolve(config, &request("other", None, None));
        assert_eq!(other.port, 2222);
        assert_eq!(other.identity_files, vec![PathBuf::from("/k2")]);
    }

    #[test]
    fn patterns_wildcards_negation_and_case() {
        let config = "Host *.example !secret.example\n  Port 2022\n";
        assert_eq!(resolve(config, &request("Db.EXAMPLE", None, None)).port, 2022);
        assert_eq!(resolve(config, &request("secret.example", None, None)).port, 22);
        assert_eq!(resolve(config, &request("example", None, None)).port, 22);
        assert!(wildcard_match("b?ck*", "backup"));
        assert!(wildcard_match("*up", "backup"));
        assert!(wildcard_match("a*b*c", "aXbYbZc"));
        assert!(!wildcard_match("a*b*c", "aXbYbZ"));
        assert!(!wildcard_match("?", ""));
    }

    #[test]
    fn equals_sign_quotes_and_comments() {
        let config = "Host=backup\nPort = 2022 # trailing comment\nIdentityFile \"/path with space/key\"\n";
        let resolved = resolve(config, &request("backup", None, None));
        assert_eq!(resolved.port, 2022);
        assert_eq!(resolved.identity_files, vec![PathBuf::from("/path with space/key")]);
    }

    #[test]
    fn match_localuser_user_host_and_all() {
        let config = "\
Match localuser root
  IdentityFile /root-key
Match localuser postgres
  IdentityFile /postgres-key
Match host 10.0.0.* user barman
  Port 3333
Host backup
  HostName 10.0.0.5
Match all
  IdentitiesOnly yes
";
        // `Match host` sees the HostName found so far, not the alias: the alias's HostName
        // comes after it here, so it does not apply yet on the first pass.
        let resolved = resolve(config, &request("backup", Some("barman"), None));
        assert_eq!(resolved.identity_files, vec![PathBuf::from("/postgres-key")]);
        assert_eq!(resolved.port, 22);
        assert!(resolved.identities_only);
        let direct = resolve(config, &request("10.0.0.7", Some("barman"), None));
        assert_eq!(direct.port, 3333);
        let other_user = resolve(config, &request("10.0.0.7", Some("someone"), None));
        assert_eq!(other_user.port, 22);
    }

    #[test]
    fn unsupported_match_criteria_never_apply() {
        let config = "Match exec \"true\"\n  Port 4444\nMatch !all\n  Port 5555\nMatch canonical\n  Port 6666\n";
        assert_eq!(resolve(config, &request("backup", None, None)).port, 22);
    }

    #[test]
    fn harness_style_configuration() {
        let config = "\
Host *
    IdentitiesOnly yes
    UserKnownHostsFile /tmp/t/home/.ssh/known_hosts
    StrictHostKeyChecking yes
    BatchMode yes
Match localuser root
    IdentityFile /tmp/t/home/.ssh/id_ed25519
Match localuser postgres
    IdentityFile /tmp/t/home/.ssh/postgres/id_ed25519
";
        let resolved = resolve(config, &request("127.0.0.1", Some("root"), Some(40000)));
        assert_eq!(
            resolved.identity_files,
            vec![PathBuf::from("/tmp/t/home/.ssh/postgres/id_ed25519")]
        );
        assert_eq!(
            resolved.user_known_hosts_files,
            vec![PathBuf::from("/tmp/t/home/.ssh/known_hosts")]
        );
        assert_eq!(resolved.port, 40000);
    }

    #[test]
    fn tokens_and_none() {
        let config = "\
Host backup
  HostName %h.internal
  IdentityFile keys/%r@%h:%p
  UserKnownHostsFile none
  GlobalKnownHostsFile /etc/%n_%%
";
        let resolved = resolve(config, &request("backup", Some("barman"), Some(2200)));
        assert_eq!(resolved.hostname, "backup.internal");
        assert_eq!(
            resolved.identity_files,
            vec![PathBuf::from("/home/postgres/keys/barman@backup.internal:2200")]
        );
        assert!(resolved.user_known_hosts_files.is_empty());
        assert_eq!(resolved.global_known_hosts_files, vec![PathBuf::from("/etc/backup_%")]);
    }

    #[test]
    fn include_reads_files_relative_to_ssh_dir() {
        let home = tempfile::tempdir().unwrap();
        let ssh_dir = home.path().join(".ssh");
        fs::create_dir_all(ssh_dir.join("config.d")).unwrap();
        fs::write(ssh_dir.join("config.d/10-backup.conf"), "Host backup\n  Port 2201\n").unwrap();
        fs::write(ssh_dir.join("config.d/20-other.conf"), "Host backup\n  Port 2202\n").unwrap();
        fs::write(ssh_dir.join("config.d/ignored.txt"), "Host backup\n  Port 2203\n").unwrap();
        let config = SshConfig::parse("Include config.d/*.conf missing.conf\n", &ssh_dir);
        let request = ConnectRequest {
            host: "backup",
            port: None,
            user: None,
            local_user: "postgres",
            home: home.path(),
        };
        assert_eq!(config.resolve(&request).port, 2201);
    }
}
