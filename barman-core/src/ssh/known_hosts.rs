//! Host identity: the server's key checked against OpenSSH known-hosts files through
//! libssh2's known-hosts API (plain, wildcard, `[host]:port` and hashed `|1|` entries).
//!
//! libssh2 compares a key with every entry of the host regardless of key type, so a host
//! recorded only with its RSA key would look "changed" when the server offers ED25519. To
//! avoid that false alarm, and to negotiate a key type that can actually be verified (as
//! OpenSSH does), entries are loaded into one libssh2 collection per key type:
//!
//! * before the handshake, [`KnownHosts::recorded_types`] finds the key types recorded for
//!   the host (a check with a key that cannot match reports "mismatch" exactly when the
//!   host has an entry of that type), and the connection prefers those algorithms;
//! * after it, the server's key is checked against the entries of its own type only:
//!   a match is accepted, a mismatch is a changed key, nothing is an unknown host.
//!
//! `@revoked` entries refuse their key; `@cert-authority` entries are skipped (host
//! certificates are not supported). Lines libssh2 cannot parse are skipped, so one unusual
//! line does not hide the rest of the file.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ssh2::{CheckResult, HostKeyType, KnownHostFileKind, Session};

use super::error::SshError;

/// The host key algorithms in OpenSSH's default order of preference, by key type.
const ALGORITHMS: [(KeyType, &str); 5] = [
    (KeyType::Ed25519, "ssh-ed25519"),
    (KeyType::Ecdsa256, "ecdsa-sha2-nistp256"),
    (KeyType::Ecdsa384, "ecdsa-sha2-nistp384"),
    (KeyType::Ecdsa521, "ecdsa-sha2-nistp521"),
    (KeyType::Rsa, "rsa-sha2-512,rsa-sha2-256,ssh-rsa"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyType {
    Ed25519,
    Ecdsa256,
    Ecdsa384,
    Ecdsa521,
    Rsa,
}

impl KeyType {
    /// The key type named in a known-hosts line.
    fn from_known_hosts_name(name: &str) -> Option<KeyType> {
        match name {
            "ssh-ed25519" => Some(KeyType::Ed25519),
            "ecdsa-sha2-nistp256" => Some(KeyType::Ecdsa256),
            "ecdsa-sha2-nistp384" => Some(KeyType::Ecdsa384),
            "ecdsa-sha2-nistp521" => Some(KeyType::Ecdsa521),
            "ssh-rsa" => Some(KeyType::Rsa),
            _ => None,
        }
    }

    fn from_host_key(kind: HostKeyType) -> Option<KeyType> {
        match kind {
            HostKeyType::Ed25519 => Some(KeyType::Ed25519),
            HostKeyType::Ecdsa256 => Some(KeyType::Ecdsa256),
            HostKeyType::Ecdsa384 => Some(KeyType::Ecdsa384),
            HostKeyType::Ecdsa521 => Some(KeyType::Ecdsa521),
            HostKeyType::Rsa => Some(KeyType::Rsa),
            _ => None,
        }
    }

    /// The name OpenSSH shows in fingerprint messages.
    fn display_name(self) -> &'static str {
        match self {
            KeyType::Ed25519 => "ED25519",
            KeyType::Ecdsa256 | KeyType::Ecdsa384 | KeyType::Ecdsa521 => "ECDSA",
            KeyType::Rsa => "RSA",
        }
    }
}

/// One usable known-hosts line.
struct KnownHostLine {
    file: PathBuf,
    key_type: KeyType,
    /// The line without its marker, as libssh2 reads it.
    text: String,
    /// The base64 key, compared directly for `@revoked`.
    key_base64: String,
    revoked: bool,
}

/// The entries of the known-hosts files, ready to check one host.
pub(crate) struct KnownHosts {
    lines: Vec<KnownHostLine>,
    searched: Vec<PathBuf>,
}

impl KnownHosts {
    /// Reads `files` in order; missing or unreadable files count as empty.
    pub(crate) fn read(files: &[PathBuf]) -> KnownHosts {
        let mut lines = Vec::new();
        for file in files {
            let Ok(text) = fs::read_to_string(file) else {
                continue;
            };
            lines.extend(text.lines().filter_map(|line| parse_line(file, line)));
        }
        KnownHosts {
            lines,
            searched: files.to_vec(),
        }
    }

    /// The host key algorithms to offer, those recorded for `host`:`port` first, in
    /// OpenSSH's order; the others follow so that an unknown host still connects far enough
    /// to show its fingerprint.
    pub(crate) fn algorithm_preference(&self, session: &Session, host: &str, port: u16) -> String {
        let recorded = self.recorded_types(session, host, port);
        let (known, unknown): (Vec<_>, Vec<_>) =
            ALGORITHMS.iter().partition(|(key_type, _)| recorded.contains(key_type));
        known
            .into_iter()
            .chain(unknown)
            .map(|(_, names)| names.to_owned())
            .collect::<Vec<String>>()
            .join(",")
    }

    fn recorded_types(&self, session: &Session, host: &str, port: u16) -> Vec<KeyType> {
        // No real key is this one byte, so a recorded entry always reports a mismatch.
        const NEVER_A_KEY: &[u8] = b"\0";
        ALGORITHMS
            .iter()
            .map(|(key_type, _)| *key_type)
            .filter(|key_type| {
                let files = self.files_recording(session, host, port, *key_type, NEVER_A_KEY);
                !files.is_empty()
            })
            .collect()
    }

    /// Checks the key the server presented during the handshake.
    pub(crate) fn verify(&self, session: &Session, host: &str, port: u16) -> Result<(), SshError> {
        let (key, kind) = session.host_key().ok_or_else(|| SshError::Protocol {
            host: host.to_owned(),
            port,
            stage: "handshake",
            reason: "the server presented no host key".to_owned(),
        })?;
        let fingerprint = fingerprint(session);
        let key_type = KeyType::from_host_key(kind);
        let key_type_name = key_type.map_or("unsupported", KeyType::display_name).to_owned();
        let Some(key_type) = key_type else {
            return Err(SshError::HostKeyUnknown {
                host: host.to_owned(),
                port,
                key_type: key_type_name,
                fingerprint,
                searched: self.searched.clone(),
            });
        };
        let key_base64 = base64::engine::general_purpose::STANDARD.encode(key);
        let changed = |recorded_in: Vec<PathBuf>| SshError::HostKeyChanged {
            host: host.to_owned(),
            port,
            key_type: key_type_name.clone(),
            fingerprint: fingerprint.clone(),
            recorded_in,
        };
        let revoked_in: Vec<PathBuf> = self
            .lines
            .iter()
            .filter(|line| line.revoked && line.key_base64 == key_base64)
            .map(|line| line.file.clone())
            .collect();
        if !revoked_in.is_empty() {
            return Err(changed(revoked_in));
        }
        let collection = self
            .collection(session, key_type, None)
            .map_err(|reason| SshError::Protocol {
                host: host.to_owned(),
                port,
                stage: "host key verification",
                reason,
            })?;
        match collection.check_port(host, port, key) {
            CheckResult::Match => Ok(()),
            CheckResult::Mismatch => Err(changed(self.files_recording(session, host, port, key_type, key))),
            CheckResult::NotFound => Err(SshError::HostKeyUnknown {
                host: host.to_owned(),
                port,
                key_type: key_type_name,
                fingerprint,
                searched: self.searched.clone(),
            }),
            CheckResult::Failure => Err(SshError::Protocol {
                host: host.to_owned(),
                port,
                stage: "host key verification",
                reason: "libssh2 could not check the known hosts".to_owned(),
            }),
        }
    }

    /// The files with an entry of `key_type` for the host that does not match `key`.
    fn files_recording(&self, session: &Session, host: &str, port: u16, key_type: KeyType, key: &[u8]) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = Vec::new();
        for file in &self.searched {
            let Ok(collection) = self.collection(session, key_type, Some(file)) else {
                continue;
            };
            let mismatch = matches!(collection.check_port(host, port, key), CheckResult::Mismatch);
            if mismatch && !files.contains(file) {
                files.push(file.clone());
            }
        }
        files
    }

    /// A libssh2 collection of the non-revoked entries of `key_type`, from `file` or all files.
    fn collection(
        &self,
        session: &Session,
        key_type: KeyType,
        file: Option<&Path>,
    ) -> Result<ssh2::KnownHosts, String> {
        let mut collection = session.known_hosts().map_err(|err| err.to_string())?;
        for line in &self.lines {
            if line.revoked || line.key_type != key_type || file.is_some_and(|file| file != line.file) {
                continue;
            }
            // A line libssh2 rejects is skipped rather than failing the whole check.
            let _ = collection.read_str(&line.text, KnownHostFileKind::OpenSSH);
        }
        Ok(collection)
    }
}

/// The fingerprint of the server's key as OpenSSH prints it: `SHA256:` and unpadded base64.
fn fingerprint(session: &Session) -> String {
    session
        .host_key_hash(ssh2::HashType::Sha256)
        .map(|hash| {
            format!(
                "SHA256:{}",
                base64::engine::general_purpose::STANDARD_NO_PAD.encode(hash)
            )
        })
        .unwrap_or_else(|| "unavailable".to_owned())
}

/// A line with a supported key type, or `None` (comments, blank lines, certificates,
/// unknown key types).
fn parse_line(file: &Path, line: &str) -> Option<KnownHostLine> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (revoked, entry) = match line.split_once(char::is_whitespace) {
        Some(("@revoked", rest)) => (true, rest.trim_start()),
        Some((marker, _)) if marker.starts_with('@') => return None,
        _ => (false, line),
    };
    let mut fields = entry.split_whitespace();
    let _hosts = fields.next()?;
    let key_type = KeyType::from_known_hosts_name(fields.next()?)?;
    let key_base64 = fields.next()?.to_owned();
    Some(KnownHostLine {
        file: file.to_owned(),
        key_type,
        text: entry.to_owned(),
        key_base64,
        revoked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_supported_lines_only() {
        let file = Path::new("/k");
        assert!(parse_line(file, "# comment").is_none());
        assert!(parse_line(file, "   ").is_none());
        assert!(parse_line(file, "@cert-authority *.example ssh-ed25519 AAAA").is_none());
        assert!(parse_line(file, "host sk-ssh-ed25519@openssh.com AAAA").is_none());
        assert!(parse_line(file, "host ssh-ed25519").is_none());
        let plain = parse_line(file, "[127.0.0.1]:2222 ssh-ed25519 AAAAkey comment").unwrap();
        assert_eq!(plain.key_type, KeyType::Ed25519);
        assert_eq!(plain.key_base64, "AAAAkey");
        assert!(!plain.revoked);
        let revoked = parse_line(file, "@revoked * ssh-rsa AAAArsa").unwrap();
        assert!(revoked.revoked);
        assert_eq!(revoked.key_type, KeyType::Rsa);
        assert_eq!(revoked.text, "* ssh-rsa AAAArsa");
    }
}
