//! The server identity file, `<backup_directory>/identity.json`: which PostgreSQL cluster a
//! Barman server archives.
//!
//! Barman writes it before the first backup as `{"systemid": "<text>", "version": "<major>"}`
//! (4-space indent, sorted keys, trailing newline) and `check` compares it with the live
//! server. This implementation also learns it from the first WAL segment put-wal accepts and
//! then refuses WAL of any other cluster, so a misconfigured `archive_command` cannot mix two
//! clusters' WAL in one archive.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::durable::write_atomically;
use crate::file_error::FileError;
use crate::wal::{PgMajorVersion, WalExpectations};

/// The file name inside the backup directory.
pub const IDENTITY_FILE_NAME: &str = "identity.json";

/// What identifies the cluster behind a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerIdentity {
    /// The cluster's system identifier (`pg_control`, every WAL page header).
    pub system_identifier: u64,
    /// The cluster's major version.
    pub major_version: PgMajorVersion,
}

/// The file as Barman writes it: both values are strings.
#[derive(Debug, Serialize, Deserialize)]
struct IdentityDocument {
    systemid: String,
    version: String,
}

/// Why the identity file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Reading or writing failed.
    #[error(transparent)]
    Io(#[from] FileError),
    /// The content is not Barman's format.
    #[error("'{}' is not a valid identity file: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl ServerIdentity {
    /// The identity file of the server whose backup directory is `backup_directory`.
    pub fn path(backup_directory: &Path) -> PathBuf {
        backup_directory.join(IDENTITY_FILE_NAME)
    }

    /// Reads the identity file; `None` when it does not exist yet.
    pub fn read(path: &Path) -> Result<Option<Self>, IdentityError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(FileError::at("read", path)(source).into()),
        };
        let invalid = |reason: String| IdentityError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let document: IdentityDocument = serde_json::from_str(&text).map_err(|err| invalid(err.to_string()))?;
        let system_identifier = document
            .systemid
            .parse()
            .map_err(|_| invalid(format!("systemid '{}' is not a number", document.systemid)))?;
        let major_version = document.version.parse().map_err(|err| invalid(format!("{err}")))?;
        Ok(Some(ServerIdentity {
            system_identifier,
            major_version,
        }))
    }

    /// Writes the identity file atomically, in Barman's format.
    pub fn write(&self, path: &Path) -> Result<(), IdentityError> {
        write_atomically(path, self.to_json().as_bytes()).map_err(FileError::at("write", path))?;
        Ok(())
    }

    /// The file content: sorted keys, 4-space indent, trailing newline.
    pub fn to_json(&self) -> String {
        let document = IdentityDocument {
            systemid: self.system_identifier.to_string(),
            version: self.major_version.to_string(),
        };
        let mut out = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
        document
            .serialize(&mut serializer)
            .expect("two strings always serialise");
        out.push(b'\n');
        String::from_utf8(out).expect("serde_json writes UTF-8")
    }

    /// What WAL of this cluster must look like.
    pub fn expectations(&self) -> WalExpectations {
        WalExpectations {
            system_identifier: Some(self.system_identifier),
            segment_size: None,
            major_version: Some(self.major_version),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg15() -> ServerIdentity {
        ServerIdentity {
            system_identifier: 7_312_345_678_901_234_567,
            major_version: "15".parse().unwrap(),
        }
    }

    #[test]
    fn writes_barman_format() {
        assert_eq!(
            pg15().to_json(),
            "{\n    \"systemid\": \"7312345678901234567\",\n    \"version\": \"15\"\n}\n"
        );
        let old = ServerIdentity {
            major_version: "9.6".parse().unwrap(),
            ..pg15()
        };
        assert!(old.to_json().contains("\"version\": \"9.6\""));
    }

    #[test]
    fn round_trips_and_reports_absence() {
        let dir = tempfile::tempdir().unwrap();
        let path = ServerIdentity::path(dir.path());
        assert_eq!(ServerIdentity::read(&path).unwrap(), None);
        pg15().write(&path).unwrap();
        assert_eq!(ServerIdentity::read(&path).unwrap(), Some(pg15()));
    }

    #[test]
    fn reads_files_written_by_barman() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(IDENTITY_FILE_NAME);
        std::fs::write(&path, "{\"systemid\": \"42\", \"version\": \"16\"}").unwrap();
        let identity = ServerIdentity::read(&path).unwrap().unwrap();
        assert_eq!(identity.system_identifier, 42);
        assert_eq!(identity.major_version.to_string(), "16");
    }

    #[test]
    fn rejects_invalid_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(IDENTITY_FILE_NAME);
        for bad in [
            "",
            "{}",
            "{\"systemid\": \"x\", \"version\": \"15\"}",
            "{\"systemid\": \"1\", \"version\": \"x\"}",
        ] {
            std::fs::write(&path, bad).unwrap();
            let err = ServerIdentity::read(&path).unwrap_err();
            assert!(matches!(err, IdentityError::Invalid { .. }), "{bad:?}: {err}");
        }
    }
}
