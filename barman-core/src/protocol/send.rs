//! Client side of put-wal: the tar stream `barman-wal-archive` writes to `barman put-wal`.
//!
//! One regular-file member named after the WAL (the file may already be compressed by the
//! caller; the name stays the WAL name), then the checksum member `SHA256SUMS` or `MD5SUMS` with
//! one line `<hexdigest> *<name>\n`. The digest is computed while the data is streamed, so the
//! WAL is read once. ustar headers are used: WAL names are short and Barman's server reads the
//! stream with Python's `tarfile` in `r|` mode, which accepts them.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::checksum::{format_checksum_line, ChecksumAlgorithm, ChecksumHasher};

/// Mode of the checksum member, as Python's `TarInfo` defaults it.
const SUMS_FILE_MODE: u32 = 0o644;

/// What was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentWal {
    /// The member name used.
    pub name: String,
    /// Bytes of file content sent.
    pub size: u64,
    /// The digest written to the checksum member.
    pub checksum: String,
}

/// Why the stream could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum PutWalSendError {
    /// The member name cannot be used in the stream.
    #[error("invalid put-wal member name '{name}': it must be a plain file name other than MD5SUMS or SHA256SUMS")]
    InvalidName {
        /// The rejected name.
        name: String,
    },
    /// The path is a directory (Barman's wording).
    #[error("WAL_PATH cannot be a directory: {}", path.display())]
    IsDirectory {
        /// The path given.
        path: PathBuf,
    },
    /// The WAL could not be opened or read.
    #[error("cannot read '{}': {source}", path.display())]
    Read {
        /// The WAL path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The file shrank while being sent; the stream is unusable.
    #[error("'{}' changed while being sent: expected {expected} bytes, read {read}", path.display())]
    Changed {
        /// The WAL path.
        path: PathBuf,
        /// Size when the header was written.
        expected: u64,
        /// Bytes actually read.
        read: u64,
    },
    /// Writing the stream failed (for example a broken pipe to ssh).
    #[error("cannot write the put-wal stream: {0}")]
    Write(#[source] io::Error),
}

/// Writes the put-wal stream for the file at `wal_path`, sent as `member_name`, to `output`.
pub fn send_put_wal<W: Write>(
    wal_path: &Path,
    member_name: &str,
    algorithm: ChecksumAlgorithm,
    output: W,
) -> Result<SentWal, PutWalSendError> {
    check_member_name(member_name)?;
    let read_failed = |source| PutWalSendError::Read {
        path: wal_path.to_owned(),
        source,
    };
    let file = File::open(wal_path).map_err(read_failed)?;
    let metadata = file.metadata().map_err(read_failed)?;
    if metadata.is_dir() {
        return Err(PutWalSendError::IsDirectory {
            path: wal_path.to_owned(),
        });
    }
    let size = metadata.len();
    let mut header = member_header(member_name, size, metadata.mode() & 0o7777, metadata.mtime())?;
    header.set_uid(u64::from(metadata.uid()));
    header.set_gid(u64::from(metadata.gid()));
    header.set_cksum();

    let mut builder = tar::Builder::new(output);
    let mut content = HashingReader {
        inner: file.take(size),
        hasher: ChecksumHasher::new(algorithm),
        read: 0,
        error: None,
    };
    if let Err(err) = builder.append(&header, &mut content) {
        return Err(match content.error.take() {
            Some(source) => read_failed(source),
            None => PutWalSendError::Write(err),
        });
    }
    if content.read != size {
        return Err(PutWalSendError::Changed {
            path: wal_path.to_owned(),
            expected: size,
            read: content.read,
        });
    }
    let checksum = content.hasher.finish();

    let sums = format_checksum_line(&checksum, member_name);
    let sums_header = member_header(
        algorithm.sums_file_name(),
        sums.len() as u64,
        SUMS_FILE_MODE,
        metadata.mtime(),
    )?;
    builder
        .append(&sums_header, sums.as_bytes())
        .map_err(PutWalSendError::Write)?;
    builder
        .into_inner()
        .and_then(|mut output| output.flush())
        .map_err(PutWalSendError::Write)?;
    Ok(SentWal {
        name: member_name.to_owned(),
        size,
        checksum,
    })
}

fn check_member_name(name: &str) -> Result<(), PutWalSendError> {
    let invalid = name.is_empty()
        || name.contains('/')
        || name.contains('\0')
        || name == "."
        || name == ".."
        || ChecksumAlgorithm::from_sums_file_name(name).is_some();
    if invalid {
        return Err(PutWalSendError::InvalidName { name: name.to_owned() });
    }
    Ok(())
}

/// A ustar header for a regular file.
fn member_header(name: &str, size: u64, mode: u32, mtime: i64) -> Result<tar::Header, PutWalSendError> {
    let mut header = tar::Header::new_ustar();
    header
        .set_path(name)
        .map_err(|_| PutWalSendError::InvalidName { name: name.to_owned() })?;
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(size);
    header.set_mode(mode);
    header.set_mtime(u64::try_from(mtime).unwrap_or(0));
    header.set_cksum();
    Ok(header)
}

/// Hashes and counts what passes through, and keeps read errors apart from write errors (the
/// tar builder reports both as one `io::Error`).
struct HashingReader<R> {
    inner: R,
    hasher: ChecksumHasher,
    read: u64,
    error: Option<io::Error>,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(read) => {
                self.hasher.update(&buf[..read]);
                self.read += read as u64;
                Ok(read)
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => Err(err),
            Err(err) => {
                let reported = io::Error::new(err.kind(), err.to_string());
                self.error = Some(err);
                Err(reported)
            }
        }
    }
}
