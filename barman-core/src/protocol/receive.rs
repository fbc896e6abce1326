//! Server side of put-wal: read the tar stream sent by `barman-wal-archive`, write each WAL to a
//! hidden temporary file in `incoming/` while hashing it, and verify the checksums.
//!
//! The stream holds the WAL first and the checksum member after it, so digests (both SHA-256 and
//! MD5, since the algorithm is only known at the end) are computed while writing; nothing is read
//! twice and memory stays at one 64 KiB buffer whatever the segment size. Every member is
//! checked as Barman does (regular files only, no `/` in names, checksum present and matching)
//! and, beyond Barman, must be named like a WAL file and appear once. Any failure removes every
//! temporary file written so far. Success hands back verified files still under their temporary
//! names; [`super::commit_received`] gives them their final names.

use std::fmt;
use std::fs::{self, File, FileTimes};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::checksum::{parse_checksum_line, ChecksumAlgorithm, ChecksumHasher, CHUNK_SIZE};
use crate::durable::TempFile;
use crate::wal::WalFileName;

/// Largest checksum member accepted: far more than any real client sends, small enough to read
/// into memory.
const MAX_SUMS_FILE_SIZE: u64 = 1 << 20;

/// Who a put-wal runs for, used in every message as Barman words them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutWalOrigin {
    /// The Barman server name.
    pub server: String,
    /// The client address when invoked through SSH.
    pub ssh_host: Option<String>,
}

impl PutWalOrigin {
    /// An origin for `server` with no SSH client.
    pub fn new(server: impl Into<String>) -> Self {
        PutWalOrigin {
            server: server.into(),
            ssh_host: None,
        }
    }

    /// Records the SSH client from the value of `$SSH_CONNECTION` (its first field), if set.
    pub fn with_ssh_connection(mut self, ssh_connection: Option<&str>) -> Self {
        self.ssh_host = ssh_connection
            .and_then(|value| value.split_whitespace().next())
            .map(str::to_owned);
        self
    }

    /// Barman's message suffix: ` (SSH host: <address>)` or nothing.
    pub fn suffix(&self) -> String {
        self.ssh_host
            .as_ref()
            .map(|host| format!(" (SSH host: {host})"))
            .unwrap_or_default()
    }
}

/// Why a put-wal stream was refused. Displayed with [`PutWalError`]'s Barman wording.
#[derive(Debug)]
pub enum PutWalFailure {
    /// A member is not a regular file (symlink, directory, device...).
    UnsupportedFileType {
        /// The tar type flag.
        type_flag: u8,
        /// The member name.
        name: String,
    },
    /// A member name contains a `/`.
    UnsupportedFilename {
        /// The member name.
        name: String,
    },
    /// A member name is not a WAL file name (not checked by Barman).
    NotAWalFile {
        /// The member name.
        name: String,
    },
    /// The same WAL appears twice in one stream (not checked by Barman).
    RepeatedFile {
        /// The member name.
        name: String,
    },
    /// A checksum member larger than any real client sends.
    ChecksumFileTooLarge {
        /// The member name.
        name: String,
        /// Its declared size.
        size: u64,
    },
    /// A checksum line names a file the stream did not contain.
    ChecksumWithoutFile {
        /// The name in the checksum line.
        name: String,
    },
    /// A file's content does not match its checksum.
    BadChecksum {
        /// The file.
        name: String,
        /// Digest of the received bytes.
        got: String,
        /// Digest announced by the client.
        expected: String,
    },
    /// A file has no checksum line.
    MissingChecksum {
        /// The file.
        name: String,
    },
    /// The stream ended in the middle of a member.
    TruncatedFile {
        /// The member.
        name: String,
        /// Size announced in the tar header.
        expected: u64,
        /// Bytes actually received.
        received: u64,
    },
    /// The stream contained no WAL file at all.
    NoFiles,
    /// The stream is not a readable tar archive (garbage, truncated header, broken pipe).
    Tar(io::Error),
    /// Writing a temporary file failed.
    Write {
        /// The temporary file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

impl fmt::Display for PutWalFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutWalFailure::UnsupportedFileType { type_flag, name } => {
                // Barman formats Python's `bytes` type flag with %s, which prints its repr.
                write!(
                    f,
                    "Unsupported file type '{}' for file '{name}'",
                    python_bytes_repr(*type_flag)
                )
            }
            PutWalFailure::UnsupportedFilename { name } => write!(f, "Unsupported filename '{name}'"),
            PutWalFailure::NotAWalFile { name } => write!(
                f,
                "Unsupported WAL file name '{name}' (expected a 24 hex digit segment, optionally with \
                 .partial or .<offset>.backup, or <timeline>.history)"
            ),
            PutWalFailure::RepeatedFile { name } => write!(f, "File '{name}' sent more than once"),
            PutWalFailure::ChecksumFileTooLarge { name, size } => write!(
                f,
                "Checksum file '{name}' is too large ({size} bytes, at most {MAX_SUMS_FILE_SIZE})"
            ),
            PutWalFailure::ChecksumWithoutFile { name } => write!(f, "Checksum without corresponding file '{name}'"),
            PutWalFailure::BadChecksum { name, got, expected } => {
                write!(f, "Bad file checksum '{got}' (should be {expected}) for file '{name}'")
            }
            PutWalFailure::MissingChecksum { name } => write!(f, "Missing checksum for file '{name}'"),
            PutWalFailure::TruncatedFile {
                name,
                expected,
                received,
            } => write!(
                f,
                "Truncated stream: file '{name}' ended after {received} of {expected} bytes"
            ),
            PutWalFailure::NoFiles => write!(f, "No WAL file received"),
            PutWalFailure::Tar(source) => write!(f, "Invalid tar stream ({source})"),
            PutWalFailure::Write { path, source } => write!(f, "Cannot write '{}' ({source})", path.display()),
        }
    }
}

/// A refused put-wal stream. Displays as Barman does:
/// `<reason> in put-wal for server '<server>'<suffix>`.
#[derive(Debug, thiserror::Error)]
#[error("{failure} in put-wal for server '{}'{}", origin.server, origin.suffix())]
pub struct PutWalError {
    /// What went wrong.
    pub failure: PutWalFailure,
    /// The server and client the stream was for.
    pub origin: PutWalOrigin,
}

/// A problem Barman only warns about: a checksum line it cannot parse (the line is skipped).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Bad checksum line '{line}' found in put-wal for server '{}'{}", origin.server, origin.suffix())]
pub struct PutWalWarning {
    /// The offending line, trailing whitespace removed.
    pub line: String,
    /// The server and client the stream was for.
    pub origin: PutWalOrigin,
}

/// A WAL received and verified, still under its hidden temporary name in `incoming/`. Dropping
/// it without committing removes the temporary file.
#[derive(Debug)]
pub struct ReceivedWal {
    name: WalFileName,
    temp: TempFile,
    size: u64,
    sha256: String,
    algorithm: ChecksumAlgorithm,
    checksum: String,
}

impl ReceivedWal {
    /// The WAL file name the client sent.
    pub fn name(&self) -> &WalFileName {
        &self.name
    }

    /// Where the verified bytes are: `incoming/.<pid>-<name>`.
    pub fn temp_path(&self) -> &Path {
        self.temp.path()
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// SHA-256 of the content, whatever algorithm the client used.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The algorithm the client's checksum used.
    pub fn algorithm(&self) -> ChecksumAlgorithm {
        self.algorithm
    }

    /// The verified digest, in [`Self::algorithm`], lower-case hex.
    pub fn checksum(&self) -> &str {
        &self.checksum
    }

    pub(crate) fn into_parts(self) -> (WalFileName, TempFile, String) {
        (self.name, self.temp, self.sha256)
    }
}

/// The verified content of one put-wal stream.
#[derive(Debug)]
pub struct ReceivedBatch {
    /// Files in stream order.
    pub files: Vec<ReceivedWal>,
    /// Skipped checksum lines.
    pub warnings: Vec<PutWalWarning>,
}

/// A data member written to disk, waiting for its checksum line.
struct PendingFile {
    name: WalFileName,
    temp: TempFile,
    size: u64,
    sha256: String,
    md5: String,
    verified_with: Option<ChecksumAlgorithm>,
}

impl PendingFile {
    fn digest(&self, algorithm: ChecksumAlgorithm) -> &str {
        match algorithm {
            ChecksumAlgorithm::Md5 => &self.md5,
            ChecksumAlgorithm::Sha256 => &self.sha256,
        }
    }
}

/// One usable checksum line, with the algorithm of the member it came from.
struct Announced {
    name: String,
    algorithm: ChecksumAlgorithm,
    digest: String,
}

/// Reads a put-wal tar stream from `input` into `incoming_dir` (created if missing) and verifies
/// it. See the module documentation for the checks. Nothing is left in `incoming_dir` on error.
pub fn receive_put_wal<R: Read>(
    input: R,
    incoming_dir: &Path,
    origin: &PutWalOrigin,
) -> Result<ReceivedBatch, PutWalError> {
    let mut warnings = Vec::new();
    let failed = |failure| PutWalError {
        failure,
        origin: origin.clone(),
    };
    // Barman creates the directory on demand too.
    fs::create_dir_all(incoming_dir)
        .map_err(|source| PutWalFailure::Write {
            path: incoming_dir.to_owned(),
            source,
        })
        .map_err(failed)?;
    let (files, announced) = read_members(input, incoming_dir, origin, &mut warnings).map_err(failed)?;
    let files = verify(files, &announced).map_err(failed)?;
    Ok(ReceivedBatch { files, warnings })
}

fn read_members<R: Read>(
    input: R,
    incoming_dir: &Path,
    origin: &PutWalOrigin,
    warnings: &mut Vec<PutWalWarning>,
) -> Result<(Vec<PendingFile>, Vec<Announced>), PutWalFailure> {
    let mut archive = tar::Archive::new(input);
    let mut files: Vec<PendingFile> = Vec::new();
    let mut announced: Vec<Announced> = Vec::new();
    for entry in archive.entries().map_err(PutWalFailure::Tar)? {
        let mut entry = entry.map_err(PutWalFailure::Tar)?;
        let entry_type = entry.header().entry_type();
        // Global headers only carry defaults for later members; Python's tarfile hides them too.
        if entry_type.is_pax_global_extensions() {
            continue;
        }
        let name = member_name(&entry);
        if !is_regular(entry_type) {
            return Err(PutWalFailure::UnsupportedFileType {
                type_flag: entry_type.as_byte(),
                name,
            });
        }
        if name.contains('/') {
            return Err(PutWalFailure::UnsupportedFilename { name });
        }
        if let Some(algorithm) = ChecksumAlgorithm::from_sums_file_name(&name) {
            let text = read_sums_member(&mut entry, &name)?;
            collect_checksums(&text, algorithm, origin, &mut announced, warnings);
            continue;
        }
        let wal_name = WalFileName::parse(&name).map_err(|_| PutWalFailure::NotAWalFile { name: name.clone() })?;
        if files.iter().any(|file| file.name == wal_name) {
            return Err(PutWalFailure::RepeatedFile { name });
        }
        files.push(write_member(&mut entry, incoming_dir, wal_name)?);
    }
    Ok((files, announced))
}

/// The member name with Barman's single leading `./` removed. Non-UTF-8 bytes are replaced,
/// which can only make the name fail the WAL name check.
fn member_name<R: Read>(entry: &tar::Entry<'_, R>) -> String {
    let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
    match raw.strip_prefix("./") {
        Some(stripped) => stripped.to_owned(),
        None => raw,
    }
}

/// The tar types Python's `TarInfo.isreg()` accepts.
fn is_regular(entry_type: tar::EntryType) -> bool {
    entry_type.is_file() || entry_type.is_contiguous() || entry_type.is_gnu_sparse()
}

fn read_sums_member<R: Read>(entry: &mut tar::Entry<'_, R>, name: &str) -> Result<String, PutWalFailure> {
    let size = entry.size();
    if size > MAX_SUMS_FILE_SIZE {
        return Err(PutWalFailure::ChecksumFileTooLarge {
            name: name.to_owned(),
            size,
        });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    entry.read_to_end(&mut bytes).map_err(PutWalFailure::Tar)?;
    if bytes.len() as u64 != size {
        return Err(PutWalFailure::TruncatedFile {
            name: name.to_owned(),
            expected: size,
            received: bytes.len() as u64,
        });
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Adds the parsable lines of a checksum member to `announced` (a later line for the same file
/// replaces an earlier one, as in Barman) and a warning for each other line.
fn collect_checksums(
    text: &str,
    algorithm: ChecksumAlgorithm,
    origin: &PutWalOrigin,
    announced: &mut Vec<Announced>,
    warnings: &mut Vec<PutWalWarning>,
) {
    for line in text.split_inclusive('\n') {
        let Some(parsed) = parse_checksum_line(line) else {
            warnings.push(PutWalWarning {
                line: line.trim_end().to_owned(),
                origin: origin.clone(),
            });
            continue;
        };
        let entry = Announced {
            name: parsed.name,
            algorithm,
            digest: parsed.digest,
        };
        match announced.iter_mut().find(|known| known.name == entry.name) {
            Some(known) => *known = entry,
            None => announced.push(entry),
        }
    }
}

/// Streams one data member into `incoming_dir/.<pid>-<name>`, hashing as it goes, then applies
/// the member's mtime and fsyncs.
fn write_member<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    incoming_dir: &Path,
    name: WalFileName,
) -> Result<PendingFile, PutWalFailure> {
    let expected = entry.size();
    let mtime = member_mtime(entry);
    let temp = TempFile::new(incoming_dir.join(format!(".{}-{}", std::process::id(), name)));
    let write_failed = |source| PutWalFailure::Write {
        path: temp.path().to_owned(),
        source,
    };
    let mut file = File::create(temp.path()).map_err(write_failed)?;
    let mut sha256 = ChecksumHasher::new(ChecksumAlgorithm::Sha256);
    let mut md5 = ChecksumHasher::new(ChecksumAlgorithm::Md5);
    let mut chunk = vec![0u8; CHUNK_SIZE];
    let mut received = 0u64;
    loop {
        let read = match entry.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => read,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(PutWalFailure::Tar(err)),
        };
        file.write_all(&chunk[..read]).map_err(write_failed)?;
        sha256.update(&chunk[..read]);
        md5.update(&chunk[..read]);
        received += read as u64;
    }
    if received != expected {
        return Err(PutWalFailure::TruncatedFile {
            name: name.to_string(),
            expected,
            received,
        });
    }
    if let Some(mtime) = mtime {
        file.set_times(FileTimes::new().set_accessed(mtime).set_modified(mtime))
            .map_err(write_failed)?;
    }
    file.sync_all().map_err(write_failed)?;
    Ok(PendingFile {
        name,
        temp,
        size: received,
        sha256: sha256.finish(),
        md5: md5.finish(),
        verified_with: None,
    })
}

/// The member's modification time: the PAX `mtime` record when present (Python's tarfile writes
/// one with sub-second precision), else the header's whole seconds.
fn member_mtime<R: Read>(entry: &mut tar::Entry<'_, R>) -> Option<SystemTime> {
    let pax_mtime = entry.pax_extensions().ok().flatten().and_then(|extensions| {
        extensions
            .filter_map(Result::ok)
            .find(|extension| extension.key() == Ok("mtime"))
            .and_then(|extension| extension.value().ok()?.parse::<f64>().ok())
    });
    match pax_mtime {
        Some(seconds) if seconds.is_finite() && seconds >= 0.0 => {
            UNIX_EPOCH.checked_add(Duration::from_secs_f64(seconds))
        }
        _ => entry
            .header()
            .mtime()
            .ok()
            .and_then(|seconds| UNIX_EPOCH.checked_add(Duration::from_secs(seconds))),
    }
}

/// Barman's validation, in its order: every checksum line must name a received file and match
/// it, then every received file must have had a checksum line. Digests are compared ignoring
/// case (Barman compares exactly, refusing upper-case digests of correct data).
fn verify(mut files: Vec<PendingFile>, announced: &[Announced]) -> Result<Vec<ReceivedWal>, PutWalFailure> {
    for line in announced {
        let Some(file) = files.iter_mut().find(|file| file.name.as_str() == line.name) else {
            return Err(PutWalFailure::ChecksumWithoutFile {
                name: line.name.clone(),
            });
        };
        let got = file.digest(line.algorithm);
        if !got.eq_ignore_ascii_case(&line.digest) {
            return Err(PutWalFailure::BadChecksum {
                name: line.name.clone(),
                got: got.to_owned(),
                expected: line.digest.clone(),
            });
        }
        file.verified_with = Some(line.algorithm);
    }
    if files.is_empty() {
        return Err(PutWalFailure::NoFiles);
    }
    files
        .into_iter()
        .map(|file| {
            let Some(algorithm) = file.verified_with else {
                return Err(PutWalFailure::MissingChecksum {
                    name: file.name.to_string(),
                });
            };
            let checksum = file.digest(algorithm).to_owned();
            Ok(ReceivedWal {
                name: file.name,
                temp: file.temp,
                size: file.size,
                sha256: file.sha256,
                algorithm,
                checksum,
            })
        })
        .collect()
}

/// Python's `repr()` of a one-byte `bytes` object, e.g. `b'2'`, `b'\x00'`, `b"'"`.
fn python_bytes_repr(byte: u8) -> String {
    let body = match byte {
        b'\'' => return "b\"'\"".to_owned(),
        b'\\' => "\\\\".to_owned(),
        b'\t' => "\\t".to_owned(),
        b'\n' => "\\n".to_owned(),
        b'\r' => "\\r".to_owned(),
        0x20..=0x7e => char::from(byte).to_string(),
        _ => format!("\\x{byte:02x}"),
    };
    format!("b'{body}'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_type_flags_like_python() {
        assert_eq!(python_bytes_repr(b'2'), "b'2'");
        assert_eq!(python_bytes_repr(b'5'), "b'5'");
        assert_eq!(python_bytes_repr(0), "b'\\x00'");
        assert_eq!(python_bytes_repr(0xff), "b'\\xff'");
        assert_eq!(python_bytes_repr(b'\''), "b\"'\"");
        assert_eq!(python_bytes_repr(b'\\'), "b'\\\\'");
        assert_eq!(python_bytes_repr(b'\n'), "b'\\n'");
    }

    #[test]
    fn builds_ssh_suffix_from_ssh_connection() {
        let origin = PutWalOrigin::new("pg").with_ssh_connection(Some("10.0.0.7 51234 10.0.0.1 22"));
        assert_eq!(origin.ssh_host.as_deref(), Some("10.0.0.7"));
        assert_eq!(origin.suffix(), " (SSH host: 10.0.0.7)");
        assert_eq!(PutWalOrigin::new("pg").with_ssh_connection(None).suffix(), "");
        assert_eq!(PutWalOrigin::new("pg").with_ssh_connection(Some("  ")).suffix(), "");
    }

    #[test]
    fn words_errors_and_warnings_like_barman() {
        let origin = PutWalOrigin::new("pg").with_ssh_connection(Some("192.0.2.1 1 2 3"));
        let error = |failure| {
            PutWalError {
                failure,
                origin: origin.clone(),
            }
            .to_string()
        };
        let name = || "000000010000000000000002".to_owned();
        assert_eq!(
            error(PutWalFailure::UnsupportedFileType {
                type_flag: b'2',
                name: name()
            }),
            "Unsupported file type 'b'2'' for file '000000010000000000000002' in put-wal for server 'pg' \
             (SSH host: 192.0.2.1)"
        );
        assert_eq!(
            error(PutWalFailure::UnsupportedFilename { name: "a/b".into() }),
            "Unsupported filename 'a/b' in put-wal for server 'pg' (SSH host: 192.0.2.1)"
        );
        assert_eq!(
            error(PutWalFailure::ChecksumWithoutFile { name: name() }),
            "Checksum without corresponding file '000000010000000000000002' in put-wal for server 'pg' \
             (SSH host: 192.0.2.1)"
        );
        assert_eq!(
            error(PutWalFailure::BadChecksum {
                name: name(),
                got: "aa".into(),
                expected: "bb".into()
            }),
            "Bad file checksum 'aa' (should be bb) for file '000000010000000000000002' in put-wal for server \
             'pg' (SSH host: 192.0.2.1)"
        );
        assert_eq!(
            error(PutWalFailure::MissingChecksum { name: name() }),
            "Missing checksum for file '000000010000000000000002' in put-wal for server 'pg' (SSH host: 192.0.2.1)"
        );
        let warning = PutWalWarning {
            line: "garbage".into(),
            origin: PutWalOrigin::new("pg"),
        };
        assert_eq!(
            warning.to_string(),
            "Bad checksum line 'garbage' found in put-wal for server 'pg'"
        );
    }
}
