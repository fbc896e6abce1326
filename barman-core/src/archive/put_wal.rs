//! Server side of `barman put-wal`: receive a stream, check that every segment belongs to the
//! server's cluster, and commit the files to `incoming/`.
//!
//! Beyond Barman, the first page of each WAL segment (decompressed first when the client
//! compressed it) is validated against `identity.json`: system identifier and major version.
//! Without an identity file yet, the first valid segment defines it and the file is written, so
//! from then on WAL of any other cluster is refused before it reaches `incoming/`.
//!
//! Resent files are recognised against `incoming/` (as Barman) and the archive (`wals/`),
//! comparing decompressed content, so a segment PostgreSQL archives again after a crash is
//! acknowledged instead of piling up in `errors/`.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::content::{content_digest, content_prefix, StoredFile};
use super::ArchiveLayout;
use crate::file_error::FileError;
use crate::identity::{IdentityError, ServerIdentity};
use crate::protocol::{
    commit_received, receive_put_wal, CommitError, CommitOutcome, ExistingCopy, PutWalError, PutWalOrigin,
    PutWalWarning, ReceivedWal,
};
use crate::wal::{
    validate_segment_header, LongPageHeader, WalExpectations, WalFileKind, WalFileName, WalHeaderError,
    LONG_PAGE_HEADER_LEN,
};

/// What a successful put-wal did.
#[derive(Debug)]
pub struct PutWalReport {
    /// One outcome per received file, in stream order.
    pub outcomes: Vec<CommitOutcome>,
    /// Checksum lines that were skipped.
    pub warnings: Vec<PutWalWarning>,
    /// The identity written to `identity.json` by this put-wal, if it had none.
    pub learned_identity: Option<ServerIdentity>,
}

/// Why a put-wal was refused. Nothing is left in `incoming/` under a final or temporary name,
/// except files committed before a [`ServerPutWalError::Commit`] failure.
#[derive(Debug, thiserror::Error)]
pub enum ServerPutWalError {
    /// The stream itself is invalid (Barman's checks).
    #[error(transparent)]
    Stream(#[from] PutWalError),
    /// A segment does not belong to the server, or is not a WAL segment at all.
    #[error("{error} in put-wal for server '{}'{}", origin.server, origin.suffix())]
    Rejected {
        /// What is wrong with the segment.
        error: WalHeaderError,
        /// The server and client.
        origin: PutWalOrigin,
        /// The identity file the segment was checked against, if any.
        identity_path: Option<PathBuf>,
    },
    /// A received segment could not be read back for validation.
    #[error("cannot read received WAL file {name} for validation: {source}")]
    ReadBack {
        /// The WAL.
        name: WalFileName,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// `identity.json` cannot be read or written.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The backup directory cannot be created for `identity.json`.
    #[error(transparent)]
    Directory(#[from] FileError),
    /// Giving the files their final names failed.
    #[error(transparent)]
    Commit(#[from] CommitError),
}

impl ServerPutWalError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            ServerPutWalError::Rejected {
                error, identity_path, ..
            } => Some(rejection_hint(error, identity_path.as_deref())),
            ServerPutWalError::Identity(IdentityError::Invalid { path, .. }) => Some(format!(
                "fix or remove {}; it is written again from the next WAL segment received",
                path.display()
            )),
            _ => None,
        }
    }
}

fn rejection_hint(error: &WalHeaderError, identity_path: Option<&Path>) -> String {
    let reinitialised = identity_path.map_or_else(String::new, |path| {
        format!(", or remove {} if the server was re-initialised", path.display())
    });
    match error {
        WalHeaderError::SystemIdentifierMismatch { .. } => {
            format!("this WAL comes from another PostgreSQL cluster; check archive_command on that host{reinitialised}")
        }
        WalHeaderError::MajorVersionMismatch { .. } => {
            format!("this WAL comes from another PostgreSQL major version; check archive_command on that host{reinitialised} after an upgrade")
        }
        _ => "the file is not the WAL segment its name says; check what archive_command sends".to_owned(),
    }
}

/// Receives a put-wal stream for the server laid out as `layout`, validates it and commits it.
pub fn put_wal<R: Read>(
    input: R,
    layout: &ArchiveLayout,
    origin: &PutWalOrigin,
) -> Result<PutWalReport, ServerPutWalError> {
    let batch = receive_put_wal(input, &layout.incoming, origin)?;
    let identity_path = layout.identity_path();
    let known = ServerIdentity::read(&identity_path)?;
    let learned = validate_segments(&batch.files, known, origin, &identity_path)?;
    if let Some(identity) = &learned {
        // incoming/ may be configured outside the backup directory, which may not exist yet.
        std::fs::create_dir_all(&layout.backup_directory)
            .map_err(FileError::at("create directory", &layout.backup_directory))?;
        identity.write(&identity_path)?;
    }
    let received: Vec<ReceivedCopy> = batch.files.iter().map(ReceivedCopy::of).collect();
    let lookup = |name: &WalFileName| find_existing_copy(layout, &received, name);
    let outcomes = commit_received(batch.files, &layout.incoming, &layout.errors, &lookup)?;
    Ok(PutWalReport {
        outcomes,
        warnings: batch.warnings,
        learned_identity: learned,
    })
}

/// Validates the first page of every segment in `files`. Returns the identity learned from the
/// first segment when the server had none.
fn validate_segments(
    files: &[ReceivedWal],
    known: Option<ServerIdentity>,
    origin: &PutWalOrigin,
    identity_path: &Path,
) -> Result<Option<ServerIdentity>, ServerPutWalError> {
    let mut expectations = known.map(|identity| identity.expectations()).unwrap_or_default();
    let mut learned = None;
    for file in files {
        let (WalFileKind::Segment, Some(segment)) = (file.name().kind(), file.name().segment()) else {
            continue;
        };
        let first_page =
            content_prefix(file.temp_path(), LONG_PAGE_HEADER_LEN).map_err(|source| ServerPutWalError::ReadBack {
                name: file.name().clone(),
                source,
            })?;
        let header = validate_segment_header(segment, &first_page, &expectations).map_err(|error| {
            ServerPutWalError::Rejected {
                error,
                origin: origin.clone(),
                identity_path: known.map(|_| identity_path.to_owned()),
            }
        })?;
        if known.is_none() && learned.is_none() {
            learned = identity_of(&header);
            expectations = learned_expectations(&header, learned);
        }
    }
    Ok(learned)
}

/// The cluster identity a valid header reveals; `None` for a magic newer than this build
/// knows (such a header only validates against a configured newer version).
fn identity_of(header: &LongPageHeader) -> Option<ServerIdentity> {
    header.major_version().map(|major_version| ServerIdentity {
        system_identifier: header.system_identifier,
        major_version,
    })
}

/// Later segments of the same stream must come from the same cluster as the first.
fn learned_expectations(header: &LongPageHeader, learned: Option<ServerIdentity>) -> WalExpectations {
    WalExpectations {
        system_identifier: Some(header.system_identifier),
        segment_size: crate::wal::SegmentSize::new(u64::from(header.segment_size)).ok(),
        major_version: learned.map(|identity| identity.major_version),
    }
}

/// What duplicate detection needs of a received file while it waits under its temporary name.
struct ReceivedCopy {
    name: WalFileName,
    temp_path: PathBuf,
    sha256: String,
}

impl ReceivedCopy {
    fn of(file: &ReceivedWal) -> Self {
        ReceivedCopy {
            name: file.name().clone(),
            temp_path: file.temp_path().to_owned(),
            sha256: file.sha256().to_owned(),
        }
    }

    /// The digest of the WAL content: the received bytes' own SHA-256 when sent plain, the
    /// digest after decompression when the client compressed them.
    fn content_digest(&self) -> io::Result<String> {
        match StoredFile::open(&self.temp_path)?.compression {
            None => Ok(self.sha256.clone()),
            Some(_) => content_digest(&self.temp_path),
        }
    }
}

/// Finds an existing copy of `name` in `incoming/`, then in the archive, and reports it for
/// [`commit_received`], which compares digests of the received bytes: identical WAL content
/// is reported with the received file's own digest (so a file compressed differently still
/// counts as already there), different content with the existing copy's content digest.
fn find_existing_copy(
    layout: &ArchiveLayout,
    received: &[ReceivedCopy],
    name: &WalFileName,
) -> io::Result<Option<ExistingCopy>> {
    let received = received
        .iter()
        .find(|copy| &copy.name == name)
        .expect("only received names are looked up");
    for location in [layout.incoming.join(name.as_str()), layout.archived_path(name)] {
        let existing = match content_digest(&location) {
            Ok(digest) => digest,
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(err) => return Err(err),
        };
        let sha256 = if existing == received.content_digest()? {
            received.sha256.clone()
        } else {
            existing
        };
        return Ok(Some(ExistingCopy { location, sha256 }));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compression::{compress, CompressionKind, CompressionLevel};
    use crate::protocol::{send_put_wal, ChecksumAlgorithm};

    const SEGMENT: &str = "000000010000000000000003";
    const WAL: &[u8] = include_bytes!("../../tests/data/wal/pg15-16mib/000000010000000000000003");

    fn stream_of(content: &[u8], dir: &Path) -> Vec<u8> {
        let path = dir.join("source");
        std::fs::write(&path, content).unwrap();
        let mut stream = Vec::new();
        send_put_wal(&path, SEGMENT, ChecksumAlgorithm::Sha256, &mut stream).unwrap();
        stream
    }

    fn gzip(content: &[u8], level: CompressionLevel) -> Vec<u8> {
        let mut compressed = Vec::new();
        compress(CompressionKind::Gzip, level, content, &mut compressed).unwrap();
        compressed
    }

    #[test]
    fn client_compressed_segments_are_validated_and_recognised_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let layout = ArchiveLayout::for_tests(dir.path());
        let origin = PutWalOrigin::new("pg");
        let first = put_wal(
            &stream_of(&gzip(WAL, CompressionLevel::Low), dir.path())[..],
            &layout,
            &origin,
        )
        .unwrap();
        assert!(matches!(first.outcomes[..], [CommitOutcome::Stored { .. }]));
        let identity = first.learned_identity.unwrap();
        assert_eq!(identity.major_version.to_string(), "15");
        assert_eq!(ServerIdentity::read(&layout.identity_path()).unwrap(), Some(identity));

        // Same WAL, compressed differently: already there.
        let again = put_wal(
            &stream_of(&gzip(WAL, CompressionLevel::High), dir.path())[..],
            &layout,
            &origin,
        )
        .unwrap();
        assert!(matches!(again.outcomes[..], [CommitOutcome::AlreadyArchived { .. }]));
        assert_eq!(again.learned_identity, None);
    }

    #[test]
    fn a_segment_of_another_cluster_is_rejected_with_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        let layout = ArchiveLayout::for_tests(dir.path());
        let mut foreign = WAL.to_vec();
        foreign[24] ^= 1;
        let known = ServerIdentity {
            system_identifier: u64::from_le_bytes(WAL[24..32].try_into().unwrap()),
            major_version: "15".parse().unwrap(),
        };
        std::fs::create_dir_all(&layout.backup_directory).unwrap();
        known.write(&layout.identity_path()).unwrap();
        let err = put_wal(&stream_of(&foreign, dir.path())[..], &layout, &PutWalOrigin::new("pg")).unwrap_err();
        assert!(matches!(
            err,
            ServerPutWalError::Rejected {
                error: WalHeaderError::SystemIdentifierMismatch { .. },
                ..
            }
        ));
        assert!(err
            .hint()
            .unwrap()
            .contains("identity.json if the server was re-initialised"));
        assert_eq!(std::fs::read_dir(&layout.incoming).unwrap().count(), 0);
    }

    #[test]
    fn something_that_is_not_wal_is_rejected_without_learning_an_identity() {
        let dir = tempfile::tempdir().unwrap();
        let layout = ArchiveLayout::for_tests(dir.path());
        let err = put_wal(
            &stream_of(&[0u8; 8192], dir.path())[..],
            &layout,
            &PutWalOrigin::new("pg"),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                ServerPutWalError::Rejected {
                    identity_path: None,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(
            err.hint().unwrap(),
            "the file is not the WAL segment its name says; check what archive_command sends"
        );
        assert!(!layout.identity_path().exists());
    }

    #[test]
    fn the_identity_is_written_even_when_incoming_lives_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let layout = ArchiveLayout {
            incoming: dir.path().join("spool/incoming"),
            ..ArchiveLayout::for_tests(dir.path())
        };
        let report = put_wal(&stream_of(WAL, dir.path())[..], &layout, &PutWalOrigin::new("pg")).unwrap();
        assert!(report.learned_identity.is_some());
        assert!(layout.identity_path().exists());
    }
}
