//! Checksums carried by the put-wal stream.
//!
//! The client appends a `SHA256SUMS` (or, with `--md5`, `MD5SUMS`) member in coreutils binary
//! format, one `<hexdigest> *<name>` line per file sent. The server parses it with Barman's
//! rules and compares it with digests computed while the data was being written.

use std::io::{self, Read, Write};

use md5::Md5;
use sha2::{Digest, Sha256};

/// Read size used when hashing or copying WAL data: large enough for throughput, small enough
/// to keep memory flat whatever the segment size.
pub(crate) const CHUNK_SIZE: usize = 64 * 1024;

/// A digest algorithm the put-wal stream can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumAlgorithm {
    /// MD5 (`barman-wal-archive --md5`).
    Md5,
    /// SHA-256, the default.
    Sha256,
}

impl ChecksumAlgorithm {
    /// Name of the checksum member carrying this algorithm: `MD5SUMS` or `SHA256SUMS`.
    pub fn sums_file_name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Md5 => "MD5SUMS",
            ChecksumAlgorithm::Sha256 => "SHA256SUMS",
        }
    }

    /// The algorithm whose checksum member is called `name`, if it is one.
    pub fn from_sums_file_name(name: &str) -> Option<Self> {
        [ChecksumAlgorithm::Md5, ChecksumAlgorithm::Sha256]
            .into_iter()
            .find(|algorithm| algorithm.sums_file_name() == name)
    }
}

/// An incremental digest of one algorithm; also a [`Write`] sink, so that any stream (for
/// example a decompressor's output) can be hashed without buffering it.
#[derive(Clone)]
pub enum ChecksumHasher {
    /// MD5 state.
    Md5(Md5),
    /// SHA-256 state.
    Sha256(Sha256),
}

impl ChecksumHasher {
    /// A fresh hasher for `algorithm`.
    pub fn new(algorithm: ChecksumAlgorithm) -> Self {
        match algorithm {
            ChecksumAlgorithm::Md5 => ChecksumHasher::Md5(Md5::new()),
            ChecksumAlgorithm::Sha256 => ChecksumHasher::Sha256(Sha256::new()),
        }
    }

    /// Feeds `bytes` into the digest.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            ChecksumHasher::Md5(state) => state.update(bytes),
            ChecksumHasher::Sha256(state) => state.update(bytes),
        }
    }

    /// The digest as lower-case hexadecimal, as `hashlib`'s `hexdigest()` prints it.
    pub fn finish(self) -> String {
        match self {
            ChecksumHasher::Md5(state) => format!("{:x}", state.finalize()),
            ChecksumHasher::Sha256(state) => format!("{:x}", state.finalize()),
        }
    }
}

impl Write for ChecksumHasher {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Hex digest of everything `reader` yields, read in bounded chunks.
pub fn digest_of(mut reader: impl Read, algorithm: ChecksumAlgorithm) -> io::Result<String> {
    let mut hasher = ChecksumHasher::new(algorithm);
    let mut chunk = vec![0u8; CHUNK_SIZE];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => return Ok(hasher.finish()),
            Ok(read) => hasher.update(&chunk[..read]),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}

/// One entry of a checksum member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksumLine {
    /// The digest as written by the client.
    pub digest: String,
    /// The file it applies to, leading `./` removed.
    pub name: String,
}

/// Parses one line of a checksum member with Barman's rules: trailing whitespace dropped, then
/// split at the first `" *"` or `"  "` (coreutils binary and text mode); `None` for a line
/// without either separator, which Barman reports as a bad line and skips.
pub fn parse_checksum_line(line: &str) -> Option<ChecksumLine> {
    let line = line.trim_end();
    let separator = line
        .as_bytes()
        .windows(2)
        .position(|pair| pair[0] == b' ' && (pair[1] == b'*' || pair[1] == b' '))?;
    let name = &line[separator + 2..];
    Some(ChecksumLine {
        digest: line[..separator].to_owned(),
        name: name.strip_prefix("./").unwrap_or(name).to_owned(),
    })
}

/// Formats the line the client writes for one file: `<hexdigest> *<name>\n`.
pub fn format_checksum_line(digest: &str, name: &str) -> String {
    format!("{digest} *{name}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_checksum_members() {
        assert_eq!(ChecksumAlgorithm::Sha256.sums_file_name(), "SHA256SUMS");
        assert_eq!(ChecksumAlgorithm::Md5.sums_file_name(), "MD5SUMS");
        assert_eq!(
            ChecksumAlgorithm::from_sums_file_name("MD5SUMS"),
            Some(ChecksumAlgorithm::Md5)
        );
        assert_eq!(
            ChecksumAlgorithm::from_sums_file_name("SHA256SUMS"),
            Some(ChecksumAlgorithm::Sha256)
        );
        assert_eq!(ChecksumAlgorithm::from_sums_file_name("sha256sums"), None);
    }

    #[test]
    fn digests_match_known_vectors() {
        assert_eq!(
            digest_of(&b"abc"[..], ChecksumAlgorithm::Sha256).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            digest_of(&b"abc"[..], ChecksumAlgorithm::Md5).unwrap(),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        let mut hasher = ChecksumHasher::new(ChecksumAlgorithm::Md5);
        hasher.write_all(b"a").unwrap();
        hasher.write_all(b"bc").unwrap();
        assert_eq!(hasher.finish(), "900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn digests_streams_longer_than_one_chunk() {
        let data = vec![7u8; CHUNK_SIZE * 2 + 13];
        let mut whole = ChecksumHasher::new(ChecksumAlgorithm::Sha256);
        whole.update(&data);
        assert_eq!(digest_of(&data[..], ChecksumAlgorithm::Sha256).unwrap(), whole.finish());
    }

    #[test]
    fn parses_lines_like_barman() {
        let line = |digest: &str, name: &str| {
            Some(ChecksumLine {
                digest: digest.into(),
                name: name.into(),
            })
        };
        assert_eq!(
            parse_checksum_line("abc *000000010000000000000002\n"),
            line("abc", "000000010000000000000002")
        );
        assert_eq!(
            parse_checksum_line("abc  ./000000010000000000000002"),
            line("abc", "000000010000000000000002")
        );
        assert_eq!(
            parse_checksum_line("abc *name with  spaces \r\n"),
            line("abc", "name with  spaces")
        );
        assert_eq!(parse_checksum_line(" *name"), line("", "name"));
        assert_eq!(parse_checksum_line("a b *c"), line("a b", "c"));
        assert_eq!(parse_checksum_line("abc"), None);
        assert_eq!(parse_checksum_line("abc *"), line("abc", ""));
        assert_eq!(parse_checksum_line("abc  \n"), None);
        assert_eq!(parse_checksum_line(""), None);
        assert_eq!(parse_checksum_line("abc name"), None);
    }

    #[test]
    fn formats_coreutils_binary_lines() {
        let line = format_checksum_line("abc", "000000010000000000000002");
        assert_eq!(line, "abc *000000010000000000000002\n");
        assert_eq!(parse_checksum_line(&line).unwrap().name, "000000010000000000000002");
    }
}
