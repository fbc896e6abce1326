//! Reading a stored WAL file as the WAL it holds, whatever compression it was stored with.
//!
//! Files in `incoming/` may have been compressed by the client (`barman-wal-archive -z`) and
//! files in `wals/` by the archiver; both are recognised by their magic bytes, as Barman does.
//! Everything streams: nothing holds a whole segment in memory.

use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::Path;

use crate::compression::{decompressing_reader, identify_compression, CompressionKind, MAGIC_MAX_LENGTH};
use crate::protocol::{digest_of, ChecksumAlgorithm};

/// An open stored file: its compression and a reader positioned at its first byte.
pub struct StoredFile {
    /// The compression identified from the magic bytes; `None` for a plain file.
    pub compression: Option<CompressionKind>,
    /// The raw (possibly compressed) bytes, from the start.
    pub raw: Box<dyn Read>,
}

impl StoredFile {
    /// Opens `path` and identifies its compression.
    pub fn open(path: &Path) -> io::Result<Self> {
        Self::from_reader(File::open(path)?)
    }

    /// Identifies the compression of what `reader` yields, without losing the bytes read.
    pub fn from_reader(reader: impl Read + 'static) -> io::Result<Self> {
        let mut magic = Vec::with_capacity(MAGIC_MAX_LENGTH);
        let mut reader = reader;
        (&mut reader).take(MAGIC_MAX_LENGTH as u64).read_to_end(&mut magic)?;
        Ok(StoredFile {
            compression: identify_compression(&magic, None),
            raw: Box::new(Cursor::new(magic).chain(reader)),
        })
    }

    /// The WAL content: the raw bytes, decompressed when compressed.
    pub fn into_content(self) -> io::Result<Box<dyn Read>> {
        match self.compression {
            None => Ok(self.raw),
            Some(kind) => decompressing_reader(kind, self.raw).map_err(io::Error::other),
        }
    }
}

/// The SHA-256 (lower-case hex) of the WAL content of the file at `path`, after decompression.
pub fn content_digest(path: &Path) -> io::Result<String> {
    digest_of(StoredFile::open(path)?.into_content()?, ChecksumAlgorithm::Sha256)
}

/// Up to `length` first bytes of the WAL content of the file at `path`.
pub fn content_prefix(path: &Path, length: usize) -> io::Result<Vec<u8>> {
    let mut prefix = Vec::with_capacity(length);
    StoredFile::open(path)?
        .into_content()?
        .take(length as u64)
        .read_to_end(&mut prefix)?;
    Ok(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compression::{compress, CompressionLevel};

    const WAL: &[u8] = include_bytes!("../../tests/data/wal/pg15-16mib/000000010000000000000003");

    fn write_compressed(dir: &Path, kind: CompressionKind) -> std::path::PathBuf {
        let path = dir.join(kind.name());
        let mut compressed = Vec::new();
        compress(kind, CompressionLevel::Low, WAL, &mut compressed).unwrap();
        std::fs::write(&path, compressed).unwrap();
        path
    }

    #[test]
    fn plain_and_compressed_copies_have_the_same_content_digest() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, WAL).unwrap();
        let expected = digest_of(WAL, ChecksumAlgorithm::Sha256).unwrap();
        assert_eq!(content_digest(&plain).unwrap(), expected);
        for kind in [
            CompressionKind::Gzip,
            CompressionKind::Bzip2,
            CompressionKind::Zstd,
            CompressionKind::Xz,
        ] {
            let path = write_compressed(dir.path(), kind);
            assert_eq!(StoredFile::open(&path).unwrap().compression, Some(kind));
            assert_eq!(content_digest(&path).unwrap(), expected, "{kind}");
            assert_eq!(content_prefix(&path, 40).unwrap(), &WAL[..40], "{kind}");
        }
    }

    #[test]
    fn short_files_are_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny");
        std::fs::write(&path, b"abc").unwrap();
        let stored = StoredFile::open(&path).unwrap();
        assert_eq!(stored.compression, None);
        assert_eq!(content_prefix(&path, 40).unwrap(), b"abc");
    }

    #[test]
    fn corrupt_compressed_content_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.gz");
        std::fs::write(&path, b"\x1f\x8b\x08garbage that is not deflate").unwrap();
        assert!(content_digest(&path).is_err());
    }
}
