//! Second half of put-wal: give verified files their final names in `incoming/`, durably, after
//! deciding what to do with files the server already has.
//!
//! Barman's rule: a file already in `incoming/` with identical content is dropped silently (the
//! client is retrying after a lost acknowledgement); different content is moved to
//! `errors/<name>.<UTC stamp>.duplicate` and reported, yet the put-wal still succeeds so that
//! PostgreSQL does not retry forever. Where to look for an existing copy is a parameter
//! ([`ExistingCopyLookup`]) so that the archive (`wals/<hash>/<name>`, possibly compressed) can be
//! consulted too.
//!
//! Contents are compared by SHA-256 whatever algorithm the client used; Barman compares with the
//! client's algorithm, which is SHA-256 unless the client asked for MD5.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use super::checksum::{digest_of, ChecksumAlgorithm};
use super::receive::ReceivedWal;
use crate::durable::{move_replacing, rename_no_replace, sync_dir, TempFile};
use crate::wal::WalFileName;

/// How many times a store is retried when a file with the same name appears and vanishes
/// between the lookup and the rename.
const MAX_STORE_ATTEMPTS: usize = 3;

/// A copy of a WAL the server already holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingCopy {
    /// Where it is.
    pub location: PathBuf,
    /// SHA-256 of its (uncompressed) content, lower-case hex.
    pub sha256: String,
}

/// Finds a copy of a WAL the server already has, so that a resent file is recognised.
///
/// Implemented by [`IncomingDirectory`] (Barman's behaviour) and by any
/// `Fn(&WalFileName) -> io::Result<Option<ExistingCopy>>`, which lets callers chain further
/// places such as the archive.
pub trait ExistingCopyLookup {
    /// The existing copy of `name`, if any.
    fn find_existing(&self, name: &WalFileName) -> io::Result<Option<ExistingCopy>>;
}

impl<F> ExistingCopyLookup for F
where
    F: Fn(&WalFileName) -> io::Result<Option<ExistingCopy>>,
{
    fn find_existing(&self, name: &WalFileName) -> io::Result<Option<ExistingCopy>> {
        self(name)
    }
}

/// Looks for `<dir>/<name>` and hashes it.
#[derive(Debug, Clone, Copy)]
pub struct IncomingDirectory<'a> {
    dir: &'a Path,
}

impl<'a> IncomingDirectory<'a> {
    /// A lookup in `dir` (normally the server's `incoming_wals_directory`).
    pub fn new(dir: &'a Path) -> Self {
        IncomingDirectory { dir }
    }
}

impl ExistingCopyLookup for IncomingDirectory<'_> {
    fn find_existing(&self, name: &WalFileName) -> io::Result<Option<ExistingCopy>> {
        let location = self.dir.join(name.as_str());
        let file = match File::open(&location) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err),
        };
        let sha256 = digest_of(file, ChecksumAlgorithm::Sha256)?;
        Ok(Some(ExistingCopy { location, sha256 }))
    }
}

/// What happened to one received file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Now durable at `path`.
    Stored {
        /// The WAL name.
        name: WalFileName,
        /// Its final location in `incoming/`.
        path: PathBuf,
    },
    /// An identical copy existed; the received file was discarded.
    AlreadyArchived {
        /// The WAL name.
        name: WalFileName,
        /// Where the identical copy is.
        existing: PathBuf,
    },
    /// A different copy existed; the received file was moved to the errors directory.
    Duplicate {
        /// The WAL name.
        name: WalFileName,
        /// Where the other copy is.
        existing: PathBuf,
        /// SHA-256 of the other copy.
        existing_sha256: String,
        /// SHA-256 of the received file.
        incoming_sha256: String,
        /// Where the received file now is.
        moved_to: PathBuf,
    },
}

impl CommitOutcome {
    /// Barman's message for this outcome on `server`: debug level for an identical copy, info
    /// level (with its leading tab and missing space) for a mismatching one, nothing when stored.
    pub fn message(&self, server: &str) -> Option<String> {
        match self {
            CommitOutcome::Stored { .. } => None,
            CommitOutcome::AlreadyArchived { name, .. } => Some(format!(
                "Duplicate Files with Identical Checksums. File {name} already exists on server {server}, and the \
                 checksums are identical. Skipping the file."
            )),
            CommitOutcome::Duplicate {
                name,
                existing_sha256,
                incoming_sha256,
                ..
            } => Some(format!(
                "\tError: Duplicate Files Detected with Mismatched Checksums. File {name} already exists on server \
                 {server} with checksum {existing_sha256}, but the checksum of the incoming file is{incoming_sha256}. \
                 The file has been moved to the errors directory."
            )),
        }
    }
}

/// Why committing stopped. Files committed before the failure stay committed; the failing file
/// and those after it are removed.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The lookup for an existing copy failed.
    #[error("cannot check for an existing copy of WAL file {name}: {source}")]
    Lookup {
        /// The WAL being committed.
        name: WalFileName,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Giving the file its final name failed.
    #[error("cannot store WAL file {name} as '{}': {source}", path.display())]
    Store {
        /// The WAL being committed.
        name: WalFileName,
        /// The final path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Moving a mismatching duplicate to the errors directory failed.
    #[error("cannot move duplicate WAL file {name} to '{}': {source}", path.display())]
    MoveToErrors {
        /// The WAL being committed.
        name: WalFileName,
        /// The destination in the errors directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Syncing the incoming directory failed, so stored files may not survive a crash.
    #[error("cannot sync directory '{}': {source}", path.display())]
    SyncDirectory {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// Commits received files in order: duplicates are detected through `lookup`, other files are
/// renamed to `incoming_dir/<name>` without ever replacing an existing file, and the directory is
/// fsynced before returning. Mismatching duplicates go to `errors_dir` (created if missing).
pub fn commit_received<L>(
    files: Vec<ReceivedWal>,
    incoming_dir: &Path,
    errors_dir: &Path,
    lookup: &L,
) -> Result<Vec<CommitOutcome>, CommitError>
where
    L: ExistingCopyLookup + ?Sized,
{
    let mut outcomes = Vec::with_capacity(files.len());
    for file in files {
        outcomes.push(commit_one(file, incoming_dir, errors_dir, lookup)?);
    }
    if outcomes
        .iter()
        .any(|outcome| matches!(outcome, CommitOutcome::Stored { .. }))
    {
        sync_dir(incoming_dir).map_err(|source| CommitError::SyncDirectory {
            path: incoming_dir.to_owned(),
            source,
        })?;
    }
    Ok(outcomes)
}

fn commit_one<L>(
    file: ReceivedWal,
    incoming_dir: &Path,
    errors_dir: &Path,
    lookup: &L,
) -> Result<CommitOutcome, CommitError>
where
    L: ExistingCopyLookup + ?Sized,
{
    let (name, temp, sha256) = file.into_parts();
    let lookup_failed = |source| CommitError::Lookup {
        name: name.clone(),
        source,
    };
    let mut existing = lookup.find_existing(&name).map_err(lookup_failed)?;
    let target = incoming_dir.join(name.as_str());
    for _ in 0..MAX_STORE_ATTEMPTS {
        if let Some(existing) = existing {
            return settle_duplicate(name, temp, sha256, existing, errors_dir);
        }
        match rename_no_replace(temp.path(), &target) {
            Ok(()) => {
                drop(temp);
                return Ok(CommitOutcome::Stored { name, path: target });
            }
            // Another put-wal stored the same name since the lookup: compare with that one.
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                existing = IncomingDirectory::new(incoming_dir)
                    .find_existing(&name)
                    .map_err(lookup_failed)?;
            }
            Err(source) => {
                return Err(CommitError::Store {
                    name,
                    path: target,
                    source,
                })
            }
        }
    }
    Err(CommitError::Store {
        name,
        path: target,
        source: io::Error::new(
            io::ErrorKind::AlreadyExists,
            "a file with this name keeps appearing and disappearing",
        ),
    })
}

fn settle_duplicate(
    name: WalFileName,
    temp: TempFile,
    incoming_sha256: String,
    existing: ExistingCopy,
    errors_dir: &Path,
) -> Result<CommitOutcome, CommitError> {
    if existing.sha256.eq_ignore_ascii_case(&incoming_sha256) {
        drop(temp);
        return Ok(CommitOutcome::AlreadyArchived {
            name,
            existing: existing.location,
        });
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let moved_to = errors_dir.join(format!("{name}.{stamp}.duplicate"));
    let moved = fs::create_dir_all(errors_dir).and_then(|()| move_replacing(temp, &moved_to));
    match moved {
        Ok(()) => Ok(CommitOutcome::Duplicate {
            name,
            existing: existing.location,
            existing_sha256: existing.sha256,
            incoming_sha256,
            moved_to,
        }),
        Err(source) => Err(CommitError::MoveToErrors {
            name,
            path: moved_to,
            source,
        }),
    }
}
