//! SSH client for the PostgreSQL-side WAL clients, over libssh2.
//!
//! `barman-wal-archive` and `barman-wal-restore` run once per WAL segment, so starting the
//! `ssh` program for each call is a cost worth avoiding: this module connects in-process and
//! behaves like the OpenSSH client the Barman documentation sets up, reading the same files:
//!
//! * `~/.ssh/config` ([`config`]): `Host`/`Match` blocks with `HostName`, `Port`, `User`,
//!   `IdentityFile`, `UserKnownHostsFile`, ...;
//! * the known-hosts files ([`known_hosts`]): an unknown host is refused with its
//!   fingerprint, a changed key is refused loudly, never accepted on first use;
//! * keys from `ssh-agent`, then `IdentityFile`s or `~/.ssh/id_rsa`, `id_ecdsa`, `id_ed25519`
//!   ([`auth`]).
//!
//! `~` is `$HOME`, falling back to the passwd entry of the effective user (OpenSSH itself
//! always uses the passwd entry).
//!
//! A [`SshConnection`] runs commands, one exec channel each ([`RemoteProcess`]); several may
//! run one after the other or at once on the same connection. Errors ([`SshError`]) tell the
//! network, the host identity, authentication and the remote command apart.

mod auth;
pub mod config;
mod connect;
mod error;
mod exec;
mod known_hosts;

use std::path::PathBuf;

pub use config::{ConnectRequest, ResolvedHost, SshConfig, DEFAULT_SSH_PORT};
pub use connect::SshConnection;
pub use error::{AuthAttempt, SshError};
pub use exec::{RemoteExit, RemoteProcess, StdinWriter};

/// Where to connect, as the WAL clients' command lines say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// `BARMAN_HOST`: a host name, an address or a `Host` alias of the ssh configuration.
    pub host: String,
    /// `--port`, when given.
    pub port: Option<u16>,
    /// `-U/--user`.
    pub user: Option<String>,
}

/// The local side: who connects and where their `~/.ssh` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalUser {
    /// The OS user name (`%u`, `Match localuser`, and the remote user when none is given).
    pub name: String,
    /// The home directory holding `.ssh/`.
    pub home: PathBuf,
}

impl LocalUser {
    /// The effective user, with `HOME` from the environment when set, else from the passwd
    /// entry.
    pub fn current() -> Result<LocalUser, SshError> {
        let passwd = nix::unistd::User::from_uid(nix::unistd::geteuid()).ok().flatten();
        let name = passwd
            .as_ref()
            .map(|user| user.name.clone())
            .or_else(|| std::env::var("USER").ok())
            .ok_or_else(|| SshError::Local {
                context: "cannot determine the local user name".to_owned(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            })?;
        let home = std::env::var_os("HOME")
            .filter(|home| !home.is_empty())
            .map(PathBuf::from)
            .or_else(|| passwd.map(|user| user.dir))
            .ok_or_else(|| SshError::Local {
                context: format!("cannot determine the home directory of '{name}' (HOME is not set)"),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            })?;
        Ok(LocalUser { name, home })
    }

    /// `~/.ssh`.
    pub fn ssh_dir(&self) -> PathBuf {
        self.home.join(".ssh")
    }

    /// Reads `~/.ssh/config` (empty if missing) and applies it to `destination`.
    pub fn resolve(&self, destination: &Destination) -> Result<ResolvedHost, SshError> {
        let ssh_dir = self.ssh_dir();
        let config_path = ssh_dir.join("config");
        let config = SshConfig::read(&config_path, &ssh_dir).map_err(|source| SshError::Local {
            context: format!("cannot read {}", config_path.display()),
            source,
        })?;
        Ok(config.resolve(&ConnectRequest {
            host: &destination.host,
            port: destination.port,
            user: destination.user.as_deref(),
            local_user: &self.name,
            home: &self.home,
        }))
    }
}
