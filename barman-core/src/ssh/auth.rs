//! Public-key authentication: keys held by `ssh-agent` first (unless `IdentitiesOnly`),
//! then the private key files, as OpenSSH tries them. The files are the `IdentityFile`s of
//! the configuration or, when none is configured, the user's default keys. Keys protected by
//! a passphrase cannot be used unattended (an `archive_command` has nobody to ask) and are
//! reported as such. Password and keyboard-interactive methods are never tried.

use std::path::{Path, PathBuf};

use ssh2::Session;

use super::config::ResolvedHost;
use super::error::{AuthAttempt, SshError};

/// The default keys, in the order OpenSSH tries those it supports here.
const DEFAULT_KEY_FILES: [&str; 3] = ["id_rsa", "id_ecdsa", "id_ed25519"];

/// Authenticates `user` on the connected `session`; the error lists every key offered.
pub(crate) fn authenticate(session: &Session, host: &ResolvedHost, user: &str, home: &Path) -> Result<(), SshError> {
    let mut attempts = Vec::new();
    if !host.identities_only {
        if let Some(attempt) = try_agent(session, user) {
            attempts.push(attempt);
        }
        if session.authenticated() {
            return Ok(());
        }
    }
    let (files, configured) = if host.identity_files.is_empty() {
        let ssh_dir = home.join(".ssh");
        let defaults = DEFAULT_KEY_FILES.iter().map(|name| ssh_dir.join(name)).collect();
        (defaults, false)
    } else {
        (host.identity_files.clone(), true)
    };
    for file in files {
        match try_key_file(session, user, &file) {
            KeyFileResult::Accepted => return Ok(()),
            // Absent default keys are normal; a configured one is worth reporting.
            KeyFileResult::Missing if !configured => {}
            result => attempts.push(AuthAttempt {
                source: file.display().to_string(),
                outcome: result.describe(),
            }),
        }
    }
    Err(SshError::Authentication {
        user: user.to_owned(),
        host: host.hostname.clone(),
        port: host.port,
        attempts,
    })
}

/// Offers the agent's keys; `None` when no agent is running (`SSH_AUTH_SOCK` unset).
fn try_agent(session: &Session, user: &str) -> Option<AuthAttempt> {
    std::env::var_os("SSH_AUTH_SOCK")?;
    let outcome = match session.userauth_agent(user) {
        Ok(()) => "accepted".to_owned(),
        Err(err) => format!("no key accepted: {}", err.message()),
    };
    Some(AuthAttempt {
        source: "ssh-agent".to_owned(),
        outcome,
    })
}

enum KeyFileResult {
    Accepted,
    Missing,
    Unreadable(String),
    Rejected(String),
}

impl KeyFileResult {
    fn describe(&self) -> String {
        match self {
            KeyFileResult::Accepted => "accepted".to_owned(),
            KeyFileResult::Missing => "no such file".to_owned(),
            KeyFileResult::Unreadable(reason) => format!("cannot be read: {reason}"),
            KeyFileResult::Rejected(reason) => reason.clone(),
        }
    }
}

fn try_key_file(session: &Session, user: &str, file: &Path) -> KeyFileResult {
    match std::fs::File::open(file) {
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return KeyFileResult::Missing,
        Err(err) => return KeyFileResult::Unreadable(err.to_string()),
    }
    let public_key = public_key_beside(file);
    match session.userauth_pubkey_file(user, public_key.as_deref(), file, None) {
        Ok(()) if session.authenticated() => KeyFileResult::Accepted,
        Ok(()) => KeyFileResult::Rejected("not accepted by the server".to_owned()),
        Err(err) => KeyFileResult::Rejected(describe_key_error(&err)),
    }
}

/// `<key>.pub` when it exists: libssh2 then needs not derive the public key itself.
fn public_key_beside(private_key: &Path) -> Option<PathBuf> {
    let mut name = private_key.as_os_str().to_owned();
    name.push(".pub");
    let public_key = PathBuf::from(name);
    public_key.is_file().then_some(public_key)
}

fn describe_key_error(err: &ssh2::Error) -> String {
    match err.code() {
        // LIBSSH2_ERROR_FILE: the key could not be parsed, typically encrypted.
        ssh2::ErrorCode::Session(-16) => format!(
            "unusable key file (protected by a passphrase, or a format libssh2 cannot read): {}",
            err.message()
        ),
        // LIBSSH2_ERROR_AUTHENTICATION_FAILED / PUBLICKEY_UNVERIFIED
        ssh2::ErrorCode::Session(-18 | -19) => "rejected by the server".to_owned(),
        _ => err.message().to_owned(),
    }
}
