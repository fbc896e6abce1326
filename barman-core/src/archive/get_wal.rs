//! `barman get-wal`: find a WAL file wherever the server holds it, list the ones that follow
//! (`--peek`), and stream it out, decompressed or recompressed as asked.
//!
//! The search order is Barman's: the archive, `incoming/`, `streaming/`; with `--partial` then
//! `streaming/<W>.partial`, `streaming/<W>` again (pg_receivewal may have just completed it),
//! the archive's and incoming's `<W>.partial`; and the archive once more (the archiver may
//! have moved the file meanwhile). A file is opened once and streamed from that descriptor, so
//! a file moved away while being sent is still sent whole, and nothing holds a whole segment
//! in memory. Plain copies go through the kernel (`copy_file_range`/`splice`).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::ArchiveLayout;
use crate::compression::{
    compress, decompressing_reader, identify_compression, CompressionError, CompressionKind, CompressionLevel,
    MAGIC_MAX_LENGTH,
};
use crate::wal::{WalFileKind, WalFileName};

/// Segments per log number when the segment size is unknown, as Barman's name generator.
const MAX_SEGMENTS_PER_LOG: u32 = 0x7FFFF;

/// How a WAL is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SendOptions {
    /// Compress the output (`-z` gzip, `-j` bzip2); `None`: plain WAL.
    pub compression: Option<CompressionKind>,
    /// Level for [`Self::compression`].
    pub compression_level: CompressionLevel,
    /// Send the stored bytes as they are (`--keep-compression`).
    pub keep_compression: bool,
    /// Also look for `.partial` files (`-P`).
    pub partial: bool,
}

/// Why a WAL could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum GetWalError {
    /// No location holds the file.
    #[error("WAL file not found")]
    NotFound,
    /// A stored file could not be read.
    #[error("cannot read '{}': {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Decompressing or recompressing failed (corrupt stored file, closed output).
    #[error("Error decompressing WAL: {0}")]
    Compression(#[from] CompressionError),
    /// Writing the output failed.
    #[error("cannot write the WAL: {0}")]
    Write(#[source] io::Error),
}

/// Where `name` may be, in Barman's search order.
pub fn possible_paths(layout: &ArchiveLayout, name: &WalFileName, partial: bool) -> Vec<PathBuf> {
    let archived = layout.archived_path(name);
    let incoming = layout.incoming.join(name.as_str());
    let streaming = layout.streaming.join(name.as_str());
    let mut paths = vec![archived.clone(), incoming.clone(), streaming.clone()];
    if partial {
        paths.extend([
            with_partial_suffix(&streaming),
            streaming,
            with_partial_suffix(&archived),
            with_partial_suffix(&incoming),
        ]);
    }
    paths.push(archived);
    paths
}

fn with_partial_suffix(path: &Path) -> PathBuf {
    let mut text = path.as_os_str().to_owned();
    text.push(".partial");
    PathBuf::from(text)
}

/// Up to `count` names, starting with `name`, of WAL the server holds (partial files aside),
/// following Barman's walk: consecutive segment numbers; at a missing one whose number is a
/// power of two (a possible end of a log for some segment size) the walk continues at the
/// next log, otherwise it stops. A name that is not a segment lists only itself.
pub fn peek(layout: &ArchiveLayout, name: &WalFileName, count: u64) -> Vec<String> {
    let exists = |candidate: &WalFileName| {
        possible_paths(layout, candidate, false)
            .iter()
            .any(|path| path.exists())
    };
    let mut found = Vec::new();
    let Some(start) = name.segment().filter(|_| name.kind() == WalFileKind::Segment) else {
        if count > 0 && exists(name) {
            found.push(name.to_string());
        }
        return found;
    };
    let (timeline, mut log, mut seg) = (start.timeline, start.log, start.seg);
    while (found.len() as u64) < count {
        let candidate = WalFileName::parse(&format!("{timeline:08X}{log:08X}{seg:08X}")).expect("a segment name");
        if exists(&candidate) {
            found.push(candidate.to_string());
            seg += 1;
            if seg > MAX_SEGMENTS_PER_LOG {
                (log, seg) = (log + 1, 0);
            }
            continue;
        }
        if !seg.is_power_of_two() {
            break;
        }
        let Some(next_log) = log.checked_add(1) else { break };
        (log, seg) = (next_log, 0);
    }
    found
}

/// Streams `name` to `output` as `options` ask; returns the file it was read from.
pub fn send_wal<W: Write>(
    layout: &ArchiveLayout,
    name: &WalFileName,
    options: &SendOptions,
    output: &mut W,
) -> Result<PathBuf, GetWalError> {
    for path in possible_paths(layout, name, options.partial) {
        let file = match File::open(&path) {
            Ok(file) => file,
            // Not there, or moved on by the archiver since: try the next place.
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(GetWalError::Read { path, source }),
        };
        send_file(file, &path, options, output)?;
        return Ok(path);
    }
    Err(GetWalError::NotFound)
}

fn send_file<W: Write>(mut file: File, path: &Path, options: &SendOptions, output: &mut W) -> Result<(), GetWalError> {
    let read_failed = |source| GetWalError::Read {
        path: path.to_owned(),
        source,
    };
    // pg_receivewal's partial files are never compressed: send them as they are.
    let is_partial = path.extension().is_some_and(|extension| extension == "partial");
    let stored = if is_partial {
        None
    } else {
        let mut magic = Vec::with_capacity(MAGIC_MAX_LENGTH);
        (&mut file)
            .take(MAGIC_MAX_LENGTH as u64)
            .read_to_end(&mut magic)
            .map_err(read_failed)?;
        file.seek(SeekFrom::Start(0)).map_err(read_failed)?;
        identify_compression(&magic, None)
    };
    if is_partial || options.keep_compression || stored == options.compression {
        io::copy(&mut file, output).map_err(GetWalError::Write)?;
        return output.flush().map_err(GetWalError::Write);
    }
    let content: Box<dyn Read> = match stored {
        Some(kind) => decompressing_reader(kind, file)?,
        None => Box::new(file),
    };
    match options.compression {
        Some(kind) => {
            compress(kind, options.compression_level, content, &mut *output)?;
        }
        None => copy_content(content, output, stored)?,
    }
    output.flush().map_err(GetWalError::Write)
}

/// Copies decompressed content, telling the decoder's errors (a corrupt stored file) from the
/// output's (a closed pipe).
fn copy_content<W: Write>(
    mut content: Box<dyn Read>,
    output: &mut W,
    stored: Option<CompressionKind>,
) -> Result<(), GetWalError> {
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let read = match content.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(read) => read,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(GetWalError::Compression(CompressionError::Stream {
                    kind: stored.expect("plain files are copied without decoding"),
                    direction: "decompression",
                    source,
                }))
            }
        };
        output.write_all(&chunk[..read]).map_err(GetWalError::Write)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compression::decompress;
    use std::fs;

    const WAL: &[u8] = include_bytes!("../../tests/data/wal/pg15-16mib/000000010000000000000003");

    fn name(text: &str) -> WalFileName {
        WalFileName::parse(text).unwrap()
    }

    fn put(dir: &Path, file_name: &str, content: &[u8]) {
        fs::create_dir_all(dir).unwrap();
        fs::write(dir.join(file_name), content).unwrap();
    }

    fn gzip(content: &[u8]) -> Vec<u8> {
        let mut compressed = Vec::new();
        compress(CompressionKind::Gzip, CompressionLevel::Low, content, &mut compressed).unwrap();
        compressed
    }

    fn send(layout: &ArchiveLayout, wal: &str, options: SendOptions) -> Result<(PathBuf, Vec<u8>), GetWalError> {
        let mut output = Vec::new();
        send_wal(layout, &name(wal), &options, &mut output).map(|path| (path, output))
    }

    #[test]
    fn searches_barman_locations_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let layout = ArchiveLayout::for_tests(dir.path());
        let paths = possible_paths(&layout, &name("000000010000000000000003"), true);
        let relative: Vec<String> = paths
            .iter()
            .map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string())
            .collect();
        assert_eq!(
            relative,
            [
                "pg/wals/0000000100000000/000000010000000000000003",
                "pg/incoming/000000010000000000000003",
                "pg/streaming/000000010000000000000003",
                "pg/streaming/000000010000000000000003.partial",
                "pg/streaming/000000010000000000000003",
                "pg/wals/0000000100000000/000000010000000000000003.partial",
                "pg/incoming/000000010000000000000003.partial",
                "pg/wals/0000000100000000/000000010000000000000003",
            ]
        );
        assert_eq!(
            possible_paths(&layout, &name("000000010000000000000003"), false).len(),
            4
        );
    }

    #[test]
    fn sends_plain_decompressed_recompressed_or_as_stored() {
        let dir = tempfile::tempdir().unwrap();
        let layout = ArchiveLayout::for_tests(dir.path());
        let stored = gzip(WAL);
        put(
            &layout.wals.join("0000000100000000"),
            "000000010000000000000003",
            &stored,
        );
        let (path, plain) = send(&layout, "000000010000000000000003", SendOptions::default()).unwrap();
        assert_eq!(plain, WAL);
        assert!(path.starts_with(&layout.wals));
        let kept = SendOptions {
            keep_compression: true,
            ..SendOptions::default()
        };
        assert_eq!(send(&layout, "000000010000000000000003", kept).unwrap().1, stored);
        let same = SendOptions {
            compression: Some(CompressionKind::Gzip),
            ..SendOptions::default()
        };
        assert_eq!(send(&layout, "000000010000000000000003", same).unwrap().1, stored);
        let bzip2 = SendOptions {
            compression: Some(CompressionKind::Bzip2),
            ..SendOptions::default()
        };
        let recompressed = send(&layout, "000000010000000000000003", bzip2).unwrap().1;
        let mut restored = Vec::new();
        decompress(CompressionKind::Bzip2, &recompressed[..], &mut restored).unwrap();
        assert_eq!(restored, WAL);
    }

    #[test]
    fn partial_files_only_on_request_and_never_decompressed() {
        let dir = tempfile::tempdir().unwrap();
        let layout = ArchiveLayout::for_tests(dir.path());
        let content = gzip(b"looks compressed");
        put(&layout.streaming, "000000010000000000000004.partial", &content);
        assert!(matches!(
            send(&layout, "000000010000000000000004", SendOptions::default()),
            Err(GetWalError::NotFound)
        ));
        let partial = SendOptions {
            partial: true,
            ..SendOptions::default()
        };
        assert_eq!(send(&layout, "000000010000000000000004", partial).unwrap().1, content);
    }

    #[test]
    fn corrupt_stored_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let layout = ArchiveLayout::for_tests(dir.path());
        put(
            &layout.incoming,
            "000000010000000000000005",
            b"\x1f\x8b\x08 not really gzip",
        );
        let err = send(&layout, "000000010000000000000005", SendOptions::default()).unwrap_err();
        assert!(matches!(err, GetWalError::Compression(_)), "{err}");
    }

    #[test]
    fn peek_walks_segments_and_jumps_logs_at_powers_of_two() {
        let dir = tempfile::tempdir().unwrap();
        let layout = ArchiveLayout::for_tests(dir.path());
        let archive = layout.wals.join("0000000100000000");
        for seg in ["02", "03", "04"] {
            put(&archive, &format!("0000000100000000000000{seg}"), b"x");
        }
        put(&layout.incoming, "000000010000000000000005", b"x");
        put(&layout.streaming, "000000010000000000000006.partial", b"x");
        assert_eq!(
            peek(&layout, &name("000000010000000000000002"), 10),
            [
                "000000010000000000000002",
                "000000010000000000000003",
                "000000010000000000000004",
                "000000010000000000000005",
            ]
        );
        assert_eq!(peek(&layout, &name("000000010000000000000002"), 2).len(), 2);
        // 000000010000000000000008 is missing and 8 is a power of two: try the next log.
        put(&layout.wals.join("0000000100000001"), "000000010000000100000000", b"x");
        put(&archive, "000000010000000000000007", b"x");
        assert_eq!(
            peek(&layout, &name("000000010000000000000007"), 5),
            ["000000010000000000000007", "000000010000000100000000"]
        );
        assert_eq!(
            peek(&layout, &name("000000010000000000000009"), 5),
            Vec::<String>::new()
        );
        put(&layout.wals, "00000002.history", b"x");
        assert_eq!(peek(&layout, &name("00000002.history"), 5), ["00000002.history"]);
    }
}
