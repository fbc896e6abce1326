//! Why an SSH connection or a remote command failed, in categories the WAL clients map to
//! exit codes and advice: the network, the host's identity, authentication, or the remote
//! command itself.

use std::io;
use std::path::PathBuf;

/// One key (or the agent) offered during authentication, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthAttempt {
    /// `ssh-agent`, or the path of a private key file.
    pub source: String,
    /// Why it did not authenticate (`rejected by the server`, `no such file`, ...).
    pub outcome: String,
}

/// A failure of the SSH layer. The remote command's own exit status is not an error here:
/// it is part of [`super::RemoteExit`].
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// The host name could not be resolved, or no address accepted the TCP connection.
    #[error("cannot connect to {host} port {port}: {reason}")]
    Connect {
        /// The host name or address tried.
        host: String,
        /// The TCP port.
        port: u16,
        /// What the resolver or the network said.
        reason: String,
    },
    /// The SSH handshake or a later protocol exchange failed (the connection dropped, the
    /// peer is not an SSH server, no common algorithm, a timeout).
    #[error("SSH session with {host} port {port} failed during {stage}: {reason}")]
    Protocol {
        /// The host name or address.
        host: String,
        /// The TCP port.
        port: u16,
        /// `handshake`, `authentication`, `command execution`, `data transfer`, ...
        stage: &'static str,
        /// What libssh2 reported.
        reason: String,
    },
    /// The host is not in any known-hosts file: its identity cannot be verified.
    #[error(
        "the SSH host key of {host} port {port} is not known ({key_type} key fingerprint is {fingerprint}); \
         looked in {}",
        display_paths(.searched)
    )]
    HostKeyUnknown {
        /// The host name as checked.
        host: String,
        /// The TCP port.
        port: u16,
        /// `ED25519`, `ECDSA`, `RSA`, ...
        key_type: String,
        /// `SHA256:<base64>`, as OpenSSH prints it.
        fingerprint: String,
        /// The known-hosts files read.
        searched: Vec<PathBuf>,
    },
    /// The host presented a key that differs from the one recorded for it, or a revoked key.
    #[error(
        "the SSH host key of {host} port {port} has CHANGED or is revoked: it is a {key_type} key with \
         fingerprint {fingerprint}, which does not match the key recorded in {}; someone could be \
         intercepting the connection (man-in-the-middle attack), or the host key was replaced",
        display_paths(.recorded_in)
    )]
    HostKeyChanged {
        /// The host name as checked.
        host: String,
        /// The TCP port.
        port: u16,
        /// Type of the key presented.
        key_type: String,
        /// Fingerprint of the key presented.
        fingerprint: String,
        /// The known-hosts files holding the conflicting entry.
        recorded_in: Vec<PathBuf>,
    },
    /// No key was accepted by the server.
    #[error("SSH authentication as '{user}' on {host} port {port} failed: {}", describe_attempts(.attempts))]
    Authentication {
        /// The remote user.
        user: String,
        /// The host name or address.
        host: String,
        /// The TCP port.
        port: u16,
        /// Every key offered, in order.
        attempts: Vec<AuthAttempt>,
    },
    /// The remote command could not be run, or ended without an exit status.
    #[error("remote command '{command}' failed: {reason}")]
    RemoteCommand {
        /// The command line sent.
        command: String,
        /// Why (refused by the server, killed by a signal, ...).
        reason: String,
    },
    /// Reading or writing the local side of a transfer failed.
    #[error("{context}: {source}")]
    Local {
        /// What was being done.
        context: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

impl SshError {
    /// Whether the failure is on this machine (files, environment) rather than in the
    /// connection or on the remote side.
    pub fn is_local(&self) -> bool {
        matches!(self, SshError::Local { .. })
    }

    /// The message, followed by a `HINT:` line when there is advice.
    pub fn with_hint(&self) -> String {
        match self.hint() {
            Some(hint) => format!("{self}\nHINT: {hint}"),
            None => self.to_string(),
        }
    }

    /// What to do about it, for a `HINT:` line.
    pub fn hint(&self) -> Option<String> {
        match self {
            SshError::Connect { host, port, .. } => Some(format!(
                "check that {host} is the Barman host, that it is reachable from here and that its sshd \
                 listens on port {port} (--port)"
            )),
            SshError::HostKeyUnknown { host, port, .. } => Some(format!(
                "verify the fingerprint with the Barman host's administrator (`ssh-keygen -lf \
                 /etc/ssh/ssh_host_*_key.pub` there), then record the key as this OS user with \
                 `ssh-keyscan -p {port} {host} >> ~/.ssh/known_hosts`, or connect once with \
                 `ssh -p {port} {host} true` and accept it"
            )),
            SshError::HostKeyChanged { host, port, .. } => Some(format!(
                "nothing was sent. If the Barman host's key was replaced on purpose, verify the new \
                 fingerprint with its administrator, remove the old entry with `ssh-keygen -R '[{host}]:{port}'` \
                 (or `ssh-keygen -R {host}` for port 22) and record the new key; otherwise investigate"
            )),
            SshError::Authentication { user, .. } => Some(format!(
                "append this OS user's public key (for example ~/.ssh/id_ed25519.pub or ~/.ssh/id_rsa.pub) \
                 to ~{user}/.ssh/authorized_keys on the Barman host, then check with `ssh {user}@HOST true`"
            )),
            SshError::Protocol { .. } | SshError::RemoteCommand { .. } | SshError::Local { .. } => None,
        }
    }
}

fn display_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "no file (none configured)".to_owned();
    }
    paths
        .iter()
        .map(|path| path.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_attempts(attempts: &[AuthAttempt]) -> String {
    if attempts.is_empty() {
        return "no key to offer".to_owned();
    }
    let tried: Vec<String> = attempts
        .iter()
        .map(|attempt| format!("{} ({})", attempt.source, attempt.outcome))
        .collect();
    format!("no key was accepted; tried {}", tried.join(", "))
}
