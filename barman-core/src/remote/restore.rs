//! Restoring one WAL file through a remote `barman get-wal` (what `barman-wal-restore` does
//! for PostgreSQL's `restore_command`).
//!
//! The server streams the file on standard output. It arrives in a temporary file next to
//! the destination, is decompressed on the fly when its first bytes carry a compression
//! magic (`--keep-compression`, `-z`, `-j`), is fsynced, and only then takes the destination
//! name: PostgreSQL never sees a partial file under `%p`, even after a crash or a broken
//! connection, and a failed fetch leaves no file behind.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::compression::{decompress, identify_compression, CompressionError, MAGIC_MAX_LENGTH};
use crate::durable::{move_replacing, TempFile};
use crate::ssh::{RemoteExit, SshConnection, SshError};

use super::command::{get_wal_command, ArgumentRole, GetWalOptions, RemoteWord};

/// Buffer for writes to the destination file.
const WRITE_BUFFER: usize = 1024 * 1024;

/// What to ask `barman get-wal` for, besides the WAL name.
#[derive(Debug, Clone, Copy)]
pub struct GetWalRequest<'a> {
    /// `-c/--config` on the Barman host.
    pub config: Option<&'a RemoteWord>,
    /// `SERVER_NAME`.
    pub server: &'a RemoteWord,
    /// Compression and `--partial` options (never `--test` or `--peek`).
    pub options: GetWalOptions,
}

/// How a fetch ended when the connection itself worked.
#[derive(Debug)]
pub enum Fetched {
    /// The file is complete and durable under its destination name.
    Delivered,
    /// `get-wal` failed (WAL not found, invalid name, ...); nothing was written.
    RemoteFailed(RemoteExit),
}

/// Why a WAL could not be restored.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// `WAL_DEST` is a directory (Barman's wording).
    #[error("WAL_DEST cannot be a directory: {}", .0.display())]
    DestinationIsDirectory(PathBuf),
    /// The destination's directory does not accept the temporary file.
    #[error("Cannot open '{}' (WAL_DEST) for writing: {source}", path.display())]
    DestinationUnwritable {
        /// `WAL_DEST`.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Writing, syncing or renaming the received file failed.
    #[error("cannot store the WAL file at {}: {source}", path.display())]
    Store {
        /// The file being written.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The server sent a compressed file that does not decompress.
    #[error("the WAL file sent by the Barman host does not decompress: {0}")]
    Decompress(#[source] CompressionError),
    /// The spool directory could not be used.
    #[error("Cannot use the spool directory '{}': {source}", path.display())]
    Spool {
        /// The spool directory or file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The connection failed or broke.
    #[error(transparent)]
    Ssh(#[from] SshError),
}

/// Checks `WAL_DEST` as Barman does before anything runs remotely.
pub fn check_destination(dest: &Path) -> Result<(), RestoreError> {
    if dest.is_dir() {
        return Err(RestoreError::DestinationIsDirectory(dest.to_owned()));
    }
    Ok(())
}

/// The temporary file a fetch for `dest` writes to: hidden, in the same directory, so the
/// final rename is atomic.
pub(crate) fn temporary_path_for(dest: &Path, tag: &str) -> PathBuf {
    let name = dest.file_name().map(|name| name.to_string_lossy()).unwrap_or_default();
    dest.with_file_name(format!(".{name}.{tag}"))
}

/// Fetches `wal` into `dest` (temporary file, fsync, rename).
pub fn fetch_wal(
    connection: &SshConnection,
    request: &GetWalRequest<'_>,
    wal: &RemoteWord,
    dest: &Path,
) -> Result<Fetched, RestoreError> {
    check_destination(dest)?;
    let temp = TempFile::new(temporary_path_for(
        dest,
        &format!("barman-wal-restore-{}", std::process::id()),
    ));
    let mut file = File::create(temp.path()).map_err(|source| RestoreError::DestinationUnwritable {
        path: dest.to_owned(),
        source,
    })?;
    match fetch_into(connection, request, wal, &mut file, temp.path())? {
        Fetched::Delivered => {
            drop(file);
            move_replacing(temp, dest).map_err(|source| RestoreError::Store {
                path: dest.to_owned(),
                source,
            })?;
            Ok(Fetched::Delivered)
        }
        failed => Ok(failed),
    }
}

/// Streams `wal` from `get-wal` into `file` (at `path`, for messages), decompressing when
/// needed, and fsyncs it. On [`Fetched::RemoteFailed`] the file content is meaningless.
pub(crate) fn fetch_into(
    connection: &SshConnection,
    request: &GetWalRequest<'_>,
    wal: &RemoteWord,
    file: &mut File,
    path: &Path,
) -> Result<Fetched, RestoreError> {
    let mut process = connection.start(&get_wal_command(request.config, request.server, wal, request.options))?;
    let copy_error = match copy_decompressing(process.stdout(), &mut *file) {
        Ok(()) => None,
        Err(CopyError::Read(err)) => return Err(RestoreError::Ssh(process.transfer_error(&err))),
        Err(CopyError::Write(source)) => Some(RestoreError::Store {
            path: path.to_owned(),
            source,
        }),
        Err(CopyError::Decompress(err)) => Some(RestoreError::Decompress(err)),
    };
    // The status decides first: a failing command's output is no WAL, whatever it looks like.
    let exit = process.finish()?;
    if exit.status != 0 {
        return Ok(Fetched::RemoteFailed(exit));
    }
    if let Some(err) = copy_error {
        return Err(err);
    }
    file.sync_all().map_err(|source| RestoreError::Store {
        path: path.to_owned(),
        source,
    })?;
    Ok(Fetched::Delivered)
}

enum CopyError {
    /// Reading from the channel failed: the connection broke.
    Read(io::Error),
    /// Writing the local file failed.
    Write(io::Error),
    /// The data claims a compression but does not decompress.
    Decompress(CompressionError),
}

/// Copies `input` to `output`, decompressing it if it starts with a compression magic.
fn copy_decompressing(mut input: impl Read, output: &mut File) -> Result<(), CopyError> {
    let mut start = Vec::with_capacity(MAGIC_MAX_LENGTH);
    (&mut input)
        .take(MAGIC_MAX_LENGTH as u64)
        .read_to_end(&mut start)
        .map_err(CopyError::Read)?;
    let kind = identify_compression(&start, None);
    let mut writer = BufWriter::with_capacity(WRITE_BUFFER, output);
    let mut reader = ReadErrorTag {
        inner: start.as_slice().chain(input),
        failed: None,
    };
    let result = match kind {
        Some(kind) => decompress(kind, &mut reader, &mut writer)
            .map(drop)
            .map_err(CopyError::Decompress),
        None => io::copy(&mut reader, &mut writer).map(drop).map_err(CopyError::Write),
    };
    // A failure to read the channel surfaces through the copy; report it as such.
    if let Some(err) = reader.failed.take() {
        return Err(CopyError::Read(err));
    }
    result?;
    writer.flush().map_err(CopyError::Write)
}

/// Remembers a read error so that it is not mistaken for a write or codec error.
struct ReadErrorTag<R> {
    inner: R,
    failed: Option<io::Error>,
}

impl<R: Read> Read for ReadErrorTag<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|err| {
            if err.kind() != io::ErrorKind::Interrupted {
                self.failed = Some(io::Error::new(err.kind(), err.to_string()));
            }
        })
    }
}

/// `get-wal --peek N`: the names of up to `count` WAL files available from `wal` on, `wal`
/// first when it exists. A failing command yields what it printed (nothing, usually).
pub fn peek(
    connection: &SshConnection,
    request: &GetWalRequest<'_>,
    wal: &RemoteWord,
    count: u32,
) -> Result<Vec<RemoteWord>, RestoreError> {
    let options = GetWalOptions {
        peek: count,
        ..request.options
    };
    let exit = connection
        .start(&get_wal_command(request.config, request.server, wal, options))?
        .finish()?;
    Ok(String::from_utf8_lossy(&exit.stdout)
        .lines()
        .filter_map(|line| RemoteWord::new(ArgumentRole::WalName, line.trim()).ok())
        .collect())
}

/// Runs `barman get-wal --test SERVER dummy_wal_name`, as Barman's client does.
pub fn test_get_wal(
    connection: &SshConnection,
    config: Option<&RemoteWord>,
    server: &RemoteWord,
) -> Result<RemoteExit, SshError> {
    let dummy = RemoteWord::new(ArgumentRole::WalName, "dummy_wal_name").expect("a safe word");
    let options = GetWalOptions {
        test: true,
        ..GetWalOptions::default()
    };
    connection
        .start(&get_wal_command(config, server, &dummy, options))?
        .finish()
}

/// Removes `path` if it exists.
pub(crate) fn remove_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}
