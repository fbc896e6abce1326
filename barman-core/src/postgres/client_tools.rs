//! PostgreSQL client tools Barman runs (`pg_basebackup`, `pg_receivewal`): where they are,
//! which version they are, and whether that version can work with a given server.
//!
//! Tools are searched in `path_prefix`, then `PATH`, and each candidate is run with
//! `--version`: Debian installs wrapper scripts for every tool name, which exist but fail when
//! the matching PostgreSQL version is not installed, so existing is not enough. A tool works
//! with servers of its own major version and older ones.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A client tool Barman needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientTool {
    /// `pg_basebackup`, for `backup_method = postgres`.
    PgBasebackup,
    /// `pg_receivewal` (`pg_receivexlog` before PostgreSQL 10), for `streaming_archiver`.
    PgReceivewal,
}

impl ClientTool {
    /// The executable names, preferred first.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            ClientTool::PgBasebackup => &["pg_basebackup"],
            ClientTool::PgReceivewal => &["pg_receivewal", "pg_receivexlog"],
        }
    }
}

/// A working installation of a tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolInstallation {
    /// Where it is.
    pub path: PathBuf,
    /// Its version, e.g. `15.18`.
    pub version: String,
}

impl ToolInstallation {
    /// Whether it can work with a server of `server_version_num` (e.g. 150018): its major
    /// version must be the server's or newer.
    pub fn compatible_with(&self, server_version_num: u32) -> bool {
        major_of_version(&self.version).is_some_and(|tool| tool >= major_of_version_num(server_version_num))
    }
}

/// A tool that could not be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} not found in path_prefix nor PATH ({searched})", tool.names()[0])]
pub struct ToolNotFound {
    /// The tool.
    pub tool: ClientTool,
    /// The directories searched, `:`-separated.
    pub searched: String,
}

impl ToolNotFound {
    /// What to install or configure.
    pub fn hint(&self) -> String {
        "install the PostgreSQL client tools (Debian/Ubuntu: 'apt-get install postgresql-client'; \
         RHEL, Rocky, Alma: 'dnf install postgresql') or point path_prefix at their directory"
            .to_string()
    }
}

/// Finds the first working installation of `tool` in `path_prefix` then `path` (both
/// `:`-separated directory lists).
pub fn find(tool: ClientTool, path_prefix: Option<&str>, path: &str) -> Result<ToolInstallation, ToolNotFound> {
    let directories: Vec<&str> = path_prefix
        .into_iter()
        .chain([path])
        .flat_map(|list| list.split(':'))
        .filter(|d| !d.is_empty())
        .collect();
    for name in tool.names() {
        for directory in &directories {
            let candidate = Path::new(directory).join(name);
            if let Some(version) = version_of(&candidate) {
                return Ok(ToolInstallation {
                    path: candidate,
                    version,
                });
            }
        }
    }
    Err(ToolNotFound {
        tool,
        searched: directories.join(":"),
    })
}

/// Runs `program --version` and parses `pg_basebackup (PostgreSQL) 15.18 (Debian ...)`.
fn version_of(program: &Path) -> Option<String> {
    if !program.is_file() {
        return None;
    }
    let output = Command::new(program).arg("--version").output().ok()?;
    if !output.status.success() {
        return None;
    }
    parse_version_output(&String::from_utf8_lossy(&output.stdout))
}

/// The version word of a `--version` line, after dropping parenthesised parts.
pub fn parse_version_output(text: &str) -> Option<String> {
    let mut without_parentheses = String::new();
    let mut depth = 0usize;
    for c in text.trim().chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            c if depth == 0 => without_parentheses.push(c),
            _ => {}
        }
    }
    let version = without_parentheses.split_whitespace().nth(1)?.to_string();
    major_of_version(&version).map(|_| version)
}

/// `(major, minor)` of a major version: `(15, 0)` for 15.x, `(9, 6)` for 9.6.x.
fn major_of_version(version: &str) -> Option<(u32, u32)> {
    let digits_end = version.find(|c: char| !c.is_ascii_digit()).unwrap_or(version.len());
    let major: u32 = version[..digits_end].parse().ok()?;
    if major >= 10 {
        return Some((major, 0));
    }
    let minor = version[digits_end..].strip_prefix('.')?;
    let minor_end = minor.find(|c: char| !c.is_ascii_digit()).unwrap_or(minor.len());
    Some((major, minor[..minor_end].parse().ok()?))
}

fn major_of_version_num(version_num: u32) -> (u32, u32) {
    if version_num >= 100_000 {
        (version_num / 10_000, 0)
    } else {
        (version_num / 10_000, version_num / 100 % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_lines_parse_as_barman_reads_them() {
        assert_eq!(
            parse_version_output("pg_basebackup (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n").as_deref(),
            Some("15.18")
        );
        assert_eq!(
            parse_version_output("pg_receivewal (PostgreSQL) 17devel").as_deref(),
            Some("17devel")
        );
        assert_eq!(
            parse_version_output("pg_receivexlog (PostgreSQL) 9.6.24").as_deref(),
            Some("9.6.24")
        );
        assert_eq!(parse_version_output("Error: pg_wrapper: not found"), None);
    }

    #[test]
    fn a_tool_works_with_its_major_version_and_older_servers() {
        let tool = |version: &str| ToolInstallation {
            path: PathBuf::from("/x"),
            version: version.into(),
        };
        assert!(tool("15.18").compatible_with(150_018));
        assert!(tool("15.18").compatible_with(140_011));
        assert!(tool("15.18").compatible_with(90_624));
        assert!(!tool("14.11").compatible_with(150_002));
        assert!(!tool("9.6.24").compatible_with(100_000));
        assert!(tool("9.6.24").compatible_with(90_600));
    }

    #[test]
    fn the_machine_s_postgresql_15_tools_are_found_through_path_prefix_first() {
        let bin = "/usr/lib/postgresql/15/bin";
        if !Path::new(bin).join("pg_basebackup").exists() {
            eprintln!("skipped: PostgreSQL 15 client tools not installed in {bin}");
            return;
        }
        let found = find(ClientTool::PgReceivewal, Some(bin), "/nonexistent").unwrap();
        assert_eq!(found.path, Path::new(bin).join("pg_receivewal"));
        assert!(found.version.starts_with("15."), "{found:?}");
        let missing = find(ClientTool::PgBasebackup, Some("/nonexistent/a"), "/nonexistent/b").unwrap_err();
        assert_eq!(
            missing.to_string(),
            "pg_basebackup not found in path_prefix nor PATH (/nonexistent/a:/nonexistent/b)"
        );
        assert!(missing.hint().contains("apt-get install postgresql-client"));
    }
}
