//! Archiving one WAL file through a remote `barman put-wal` (what `barman-wal-archive`
//! does for PostgreSQL's `archive_command`).
//!
//! The put-wal tar stream is written straight into the exec channel, so the WAL is read once
//! and never copied locally. With a client-side compression the WAL is first compressed into
//! a private temporary directory, under its own name, as Barman's client does.
//!
//! When the server refuses before reading (unknown or inactive server), writing fails
//! half-way; the remote exit status and standard error are still collected and returned, so
//! the caller reports what the server said rather than a broken pipe.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use crate::compression::{compress, CompressionError, CompressionKind, CompressionLevel};
use crate::protocol::{send_put_wal, ChecksumAlgorithm, PutWalSendError};
use crate::ssh::{RemoteExit, SshConnection, SshError};

use super::command::{put_wal_command, RemoteWord};

/// Buffer between the tar writer and the channel: large writes keep packets full.
const STREAM_BUFFER: usize = 256 * 1024;

/// What to archive, and how.
#[derive(Debug, Clone)]
pub struct PutWalRequest<'a> {
    /// `-c/--config` on the Barman host.
    pub config: Option<&'a RemoteWord>,
    /// `SERVER_NAME`.
    pub server: &'a RemoteWord,
    /// `WAL_PATH` (`%p`).
    pub wal_path: &'a Path,
    /// SHA256 by default, MD5 with `--md5`.
    pub checksum: ChecksumAlgorithm,
    /// Client-side compression, if asked for.
    pub compression: Option<(CompressionKind, CompressionLevel)>,
}

/// Why a WAL could not be handed to the remote command.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// `WAL_PATH` is a directory (Barman's wording).
    #[error("WAL_PATH cannot be a directory: {}", .0.display())]
    IsDirectory(PathBuf),
    /// `WAL_PATH` has no file name to send it under.
    #[error("WAL_PATH has no file name: {}", .0.display())]
    NoFileName(PathBuf),
    /// The local copy for client-side compression failed.
    #[error("cannot compress {} before sending it: {source}", path.display())]
    Compression {
        /// The WAL path.
        path: PathBuf,
        /// What failed.
        #[source]
        source: CompressionError,
    },
    /// A temporary file for the compressed copy could not be created.
    #[error("cannot create a temporary file for the compressed WAL: {0}")]
    TempFile(#[source] std::io::Error),
    /// The WAL could not be read while streaming it.
    #[error(transparent)]
    Read(PutWalSendError),
    /// The connection failed, or the command ended without reading the whole stream and
    /// still reported success.
    #[error(transparent)]
    Ssh(#[from] SshError),
}

/// Checks `WAL_PATH` as Barman does before anything runs remotely: it must not be a
/// directory.
pub fn check_wal_path(wal_path: &Path) -> Result<(), ArchiveError> {
    if wal_path.is_dir() {
        return Err(ArchiveError::IsDirectory(wal_path.to_owned()));
    }
    Ok(())
}

/// A WAL ready to be streamed: the original file, or its compressed copy.
pub struct PreparedWal {
    path: PathBuf,
    member_name: String,
    /// Keeps the compressed copy alive until it is sent.
    _temp_dir: Option<tempfile::TempDir>,
}

/// Compresses the WAL when the request asks for it; done before connecting, so the
/// connection never sits idle.
pub fn prepare_wal(request: &PutWalRequest<'_>) -> Result<PreparedWal, ArchiveError> {
    check_wal_path(request.wal_path)?;
    let member_name = request
        .wal_path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .ok_or_else(|| ArchiveError::NoFileName(request.wal_path.to_owned()))?;
    let Some((kind, level)) = request.compression else {
        return Ok(PreparedWal {
            path: request.wal_path.to_owned(),
            member_name,
            _temp_dir: None,
        });
    };
    let temp_dir = tempfile::Builder::new()
        .prefix("barman-wal-archive-")
        .tempdir()
        .map_err(ArchiveError::TempFile)?;
    let compressed_path = temp_dir.path().join(&member_name);
    let compression_failed = |source| ArchiveError::Compression {
        path: request.wal_path.to_owned(),
        source,
    };
    let io_failed = |source| {
        compression_failed(CompressionError::Stream {
            kind,
            direction: "compression",
            source,
        })
    };
    let input = File::open(request.wal_path).map_err(io_failed)?;
    let output = File::create(&compressed_path).map_err(io_failed)?;
    compress(kind, level, input, BufWriter::new(output)).map_err(compression_failed)?;
    Ok(PreparedWal {
        path: compressed_path,
        member_name,
        _temp_dir: Some(temp_dir),
    })
}

/// Streams `wal` to `barman put-wal` and returns how the command ended. A non-zero status
/// is returned, not raised: the caller reports it with the command's standard error.
pub fn put_wal(
    connection: &SshConnection,
    request: &PutWalRequest<'_>,
    wal: &PreparedWal,
) -> Result<RemoteExit, ArchiveError> {
    let mut process = connection.start(&put_wal_command(request.config, request.server, false))?;
    let sent = send_put_wal(
        &wal.path,
        &wal.member_name,
        request.checksum,
        BufWriter::with_capacity(STREAM_BUFFER, process.stdin()),
    );
    match sent {
        Ok(_) => Ok(process.finish()?),
        Err(PutWalSendError::Write(write_error)) => {
            // The server stopped reading: its status and message say why.
            let transfer_error = process.transfer_error(&write_error);
            let exit = process.finish()?;
            if exit.status == 0 {
                return Err(ArchiveError::Ssh(transfer_error));
            }
            Ok(exit)
        }
        // Dropping the channel without finishing the tar makes the server reject the stream.
        Err(other) => Err(ArchiveError::Read(other)),
    }
}

/// Runs `barman put-wal SERVER --test` and returns its output and status.
pub fn test_put_wal(
    connection: &SshConnection,
    config: Option<&RemoteWord>,
    server: &RemoteWord,
) -> Result<RemoteExit, SshError> {
    connection.start(&put_wal_command(config, server, true))?.finish()
}
