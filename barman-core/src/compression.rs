//! WAL compression: the algorithms Barman knows, identification of compressed files by their
//! magic bytes, and streaming compression and decompression.
//!
//! Barman names ten compressions (`compression` option). Several share one on-disk format:
//! `gzip`, `pigz` and the deprecated `pygzip` all produce gzip files, `bzip2` and `pybzip2` bzip2
//! files. A file is identified by testing the magic of every compression in alphabetical order of
//! name and taking the first match, so a gzip file is reported as `gzip`, never `pigz`.
//!
//! Every format is compressed and decompressed in-process here, including `pigz` (its output is
//! plain gzip, which is what matters to readers). Only `custom` is left out: it runs
//! user-supplied shell filters, which belongs to whoever runs processes, not to this library.
//! Data is streamed from a [`Read`] to a [`Write`]; no whole segment is ever held in memory.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::str::FromStr;

/// A compression Barman can be configured with, in alphabetical order of name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CompressionKind {
    /// `bzip2`.
    Bzip2,
    /// `custom`: external filters configured by the user (deprecated in Barman 3.17).
    Custom,
    /// `gzip`.
    Gzip,
    /// `lz4` (frame format).
    Lz4,
    /// `pigz`: parallel gzip, same file format as gzip.
    Pigz,
    /// `pybzip2`: deprecated alias producing bzip2 files.
    Pybzip2,
    /// `pygzip`: deprecated alias producing gzip files.
    Pygzip,
    /// `snappy` (framing format).
    Snappy,
    /// `xz`.
    Xz,
    /// `zstd`.
    Zstd,
}

/// The on-disk formats behind the compression names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Bzip2,
    Gzip,
    Lz4,
    Snappy,
    Xz,
    Zstd,
}

/// Longest built-in magic (snappy's stream identifier).
pub const MAGIC_MAX_LENGTH: usize = 10;

const GZIP_MAGIC: &[u8] = b"\x1f\x8b\x08";
const BZIP2_MAGIC: &[u8] = b"BZh";
const XZ_MAGIC: &[u8] = b"\xfd7zXZ\x00";
const ZSTD_MAGIC: &[u8] = b"\x28\xb5\x2f\xfd";
const LZ4_MAGIC: &[u8] = b"\x04\x22\x4d\x18";
const SNAPPY_MAGIC: &[u8] = b"\xff\x06\x00\x00sNaPpY";

impl CompressionKind {
    /// Every compression, in the alphabetical order used for identification.
    pub const ALL: [CompressionKind; 10] = [
        CompressionKind::Bzip2,
        CompressionKind::Custom,
        CompressionKind::Gzip,
        CompressionKind::Lz4,
        CompressionKind::Pigz,
        CompressionKind::Pybzip2,
        CompressionKind::Pygzip,
        CompressionKind::Snappy,
        CompressionKind::Xz,
        CompressionKind::Zstd,
    ];

    /// The name used in the configuration and in `xlog.db`.
    pub fn name(self) -> &'static str {
        match self {
            CompressionKind::Bzip2 => "bzip2",
            CompressionKind::Custom => "custom",
            CompressionKind::Gzip => "gzip",
            CompressionKind::Lz4 => "lz4",
            CompressionKind::Pigz => "pigz",
            CompressionKind::Pybzip2 => "pybzip2",
            CompressionKind::Pygzip => "pygzip",
            CompressionKind::Snappy => "snappy",
            CompressionKind::Xz => "xz",
            CompressionKind::Zstd => "zstd",
        }
    }

    /// The magic bytes files of this compression start with; `None` for `custom`, whose magic
    /// comes from the configuration.
    pub fn magic(self) -> Option<&'static [u8]> {
        self.format().map(|format| match format {
            Format::Bzip2 => BZIP2_MAGIC,
            Format::Gzip => GZIP_MAGIC,
            Format::Lz4 => LZ4_MAGIC,
            Format::Snappy => SNAPPY_MAGIC,
            Format::Xz => XZ_MAGIC,
            Format::Zstd => ZSTD_MAGIC,
        })
    }

    fn format(self) -> Option<Format> {
        match self {
            CompressionKind::Bzip2 | CompressionKind::Pybzip2 => Some(Format::Bzip2),
            CompressionKind::Gzip | CompressionKind::Pigz | CompressionKind::Pygzip => Some(Format::Gzip),
            CompressionKind::Lz4 => Some(Format::Lz4),
            CompressionKind::Snappy => Some(Format::Snappy),
            CompressionKind::Xz => Some(Format::Xz),
            CompressionKind::Zstd => Some(Format::Zstd),
            CompressionKind::Custom => None,
        }
    }

    /// Whether [`compress`] and [`decompress`] support this compression (all but `custom`).
    pub fn is_in_process(self) -> bool {
        self.format().is_some()
    }
}

impl fmt::Display for CompressionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error for a compression name Barman does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown compression '{name}': expected one of bzip2, custom, gzip, lz4, pigz, pybzip2, pygzip, snappy, xz, zstd"
)]
pub struct UnknownCompression {
    /// The rejected name.
    pub name: String,
}

impl FromStr for CompressionKind {
    type Err = UnknownCompression;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        CompressionKind::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| UnknownCompression { name: name.to_owned() })
    }
}

/// Identifies the compression of a file from its first bytes, as Barman does: the first
/// compression in alphabetical order whose magic the bytes start with. `custom_magic` is the
/// configured `custom_compression_magic`, if any (an empty one matches nothing).
pub fn identify_compression(file_start: &[u8], custom_magic: Option<&[u8]>) -> Option<CompressionKind> {
    CompressionKind::ALL.into_iter().find(|kind| {
        let magic = match kind {
            CompressionKind::Custom => custom_magic,
            _ => kind.magic(),
        };
        magic.is_some_and(|magic| !magic.is_empty() && file_start.starts_with(magic))
    })
}

/// Reads the first bytes of the file at `path` and identifies its compression
/// (see [`identify_compression`]).
pub fn identify_file_compression(path: &Path, custom_magic: Option<&[u8]>) -> io::Result<Option<CompressionKind>> {
    let wanted = custom_magic.map_or(0, <[u8]>::len).max(MAGIC_MAX_LENGTH);
    let mut file_start = Vec::with_capacity(wanted);
    File::open(path)?.take(wanted as u64).read_to_end(&mut file_start)?;
    Ok(identify_compression(&file_start, custom_magic))
}

/// The `compression_level` option: a named level or a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CompressionLevel {
    /// `low`: fastest.
    Low,
    /// `medium`: Barman's default.
    #[default]
    Medium,
    /// `high`: smallest output.
    High,
    /// An explicit level, clamped to the algorithm's range when applied.
    Number(i32),
}

/// Error for a `compression_level` that is neither a name nor an integer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid compression level '{text}': expected low, medium, high or an integer")]
pub struct InvalidCompressionLevel {
    /// The rejected text.
    pub text: String,
}

impl FromStr for CompressionLevel {
    type Err = InvalidCompressionLevel;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "low" => Ok(CompressionLevel::Low),
            "medium" => Ok(CompressionLevel::Medium),
            "high" => Ok(CompressionLevel::High),
            _ => text
                .parse()
                .map(CompressionLevel::Number)
                .map_err(|_| InvalidCompressionLevel { text: text.to_owned() }),
        }
    }
}

impl fmt::Display for CompressionLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompressionLevel::Low => f.write_str("low"),
            CompressionLevel::Medium => f.write_str("medium"),
            CompressionLevel::High => f.write_str("high"),
            CompressionLevel::Number(level) => write!(f, "{level}"),
        }
    }
}

/// Barman's level table for one format: accepted range and the named levels.
struct LevelTable {
    min: i32,
    max: i32,
    low: i32,
    medium: i32,
    high: i32,
}

impl Format {
    /// Barman's levels per format; snappy has none.
    fn levels(self) -> Option<LevelTable> {
        let (min, max, low, medium, high) = match self {
            Format::Gzip => (1, 9, 1, 6, 9),
            Format::Bzip2 => (1, 9, 1, 5, 9),
            Format::Xz => (1, 9, 1, 3, 5),
            Format::Zstd => (-22, 22, 1, 4, 9),
            Format::Lz4 => (0, 16, 0, 6, 10),
            Format::Snappy => return None,
        };
        Some(LevelTable {
            min,
            max,
            low,
            medium,
            high,
        })
    }
}

impl CompressionLevel {
    /// The numeric level Barman would use for `kind`: named levels mapped per algorithm (gzip
    /// 1/6/9, bzip2 1/5/9, xz 1/3/5, zstd 1/4/9, lz4 0/6/10), numbers clamped to the
    /// algorithm's range (gzip, bzip2, xz 1..9; zstd -22..22; lz4 0..16). `None` for
    /// compressions without levels (snappy, custom).
    pub fn resolve(self, kind: CompressionKind) -> Option<i32> {
        let table = kind.format()?.levels()?;
        Some(match self {
            CompressionLevel::Low => table.low,
            CompressionLevel::Medium => table.medium,
            CompressionLevel::High => table.high,
            CompressionLevel::Number(level) => level.clamp(table.min, table.max),
        })
    }
}

/// Failure of [`compress`] or [`decompress`].
#[derive(Debug, thiserror::Error)]
pub enum CompressionError {
    /// The compression needs external filters (`custom`).
    #[error("compression '{kind}' uses external filters and cannot run in-process")]
    NotInProcess {
        /// The compression asked for.
        kind: CompressionKind,
    },
    /// Reading the input, writing the output or the codec itself failed.
    #[error("{kind} {direction} failed: {source}")]
    Stream {
        /// The compression in use.
        kind: CompressionKind,
        /// `compression` or `decompression`.
        direction: &'static str,
        /// The underlying error (corrupt input surfaces here as `InvalidData` or similar).
        #[source]
        source: io::Error,
    },
}

/// Compresses everything `input` yields into `output` and returns the number of uncompressed
/// bytes read. The level is resolved with [`CompressionLevel::resolve`]; lz4 output comes from
/// a single-speed encoder, so its level changes nothing.
pub fn compress<R: Read, W: Write>(
    kind: CompressionKind,
    level: CompressionLevel,
    input: R,
    output: W,
) -> Result<u64, CompressionError> {
    let format = kind.format().ok_or(CompressionError::NotInProcess { kind })?;
    // Only snappy lacks levels, and its encoder takes none; every other range is positive
    // except zstd's, which is passed through signed.
    let level = level.resolve(kind).unwrap_or_default();
    let positive_level = level.unsigned_abs();
    let result = match format {
        Format::Gzip => encode(
            input,
            flate2::write::GzEncoder::new(output, flate2::Compression::new(positive_level)),
        ),
        Format::Bzip2 => encode(
            input,
            bzip2::write::BzEncoder::new(output, bzip2::Compression::new(positive_level)),
        ),
        Format::Xz => encode(input, liblzma::write::XzEncoder::new(output, positive_level)),
        Format::Zstd => zstd::stream::write::Encoder::new(output, level).and_then(|encoder| encode(input, encoder)),
        Format::Lz4 => encode(input, lz4_flex::frame::FrameEncoder::new(output)),
        Format::Snappy => encode(input, snap::write::FrameEncoder::new(output)),
    };
    result.map_err(|source| CompressionError::Stream {
        kind,
        direction: "compression",
        source,
    })
}

/// Decompresses `input` into `output` and returns the number of uncompressed bytes written.
/// Concatenated streams (several gzip members, bzip2 streams, xz streams, zstd or lz4 frames)
/// are decompressed in sequence, as the command-line tools do.
pub fn decompress<R: Read, W: Write>(kind: CompressionKind, input: R, output: W) -> Result<u64, CompressionError> {
    let decoder = decompressing_reader(kind, input)?;
    decode(decoder, output).map_err(|source| CompressionError::Stream {
        kind,
        direction: "decompression",
        source,
    })
}

/// A reader yielding the decompressed content of `input`, for callers that need only part of
/// it (the first page of a WAL) or want to pull the data themselves. Concatenated streams are
/// read in sequence, as with [`decompress`]; read errors carry the codec's complaint.
pub fn decompressing_reader<'a, R: Read + 'a>(
    kind: CompressionKind,
    input: R,
) -> Result<Box<dyn Read + 'a>, CompressionError> {
    let format = kind.format().ok_or(CompressionError::NotInProcess { kind })?;
    Ok(match format {
        Format::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
        Format::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(input)),
        Format::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(input)),
        Format::Zstd => {
            Box::new(
                zstd::stream::read::Decoder::new(input).map_err(|source| CompressionError::Stream {
                    kind,
                    direction: "decompression",
                    source,
                })?,
            )
        }
        Format::Lz4 => Box::new(Lz4Frames::new(input)),
        Format::Snappy => Box::new(snap::read::FrameDecoder::new(input)),
    })
}

/// A compressing writer that must be told explicitly when the stream ends, so that its trailer
/// is written and errors are reported instead of being lost in `Drop`.
trait FinishStream: Write {
    fn finish_stream(self) -> io::Result<()>;
}

impl<W: Write> FinishStream for flate2::write::GzEncoder<W> {
    fn finish_stream(self) -> io::Result<()> {
        self.finish().map(drop)
    }
}

impl<W: Write> FinishStream for bzip2::write::BzEncoder<W> {
    fn finish_stream(self) -> io::Result<()> {
        self.finish().map(drop)
    }
}

impl<W: Write> FinishStream for liblzma::write::XzEncoder<W> {
    fn finish_stream(self) -> io::Result<()> {
        self.finish().map(drop)
    }
}

impl<W: Write> FinishStream for zstd::stream::write::Encoder<'_, W> {
    fn finish_stream(self) -> io::Result<()> {
        self.finish().map(drop)
    }
}

impl<W: Write> FinishStream for lz4_flex::frame::FrameEncoder<W> {
    fn finish_stream(self) -> io::Result<()> {
        self.finish().map(drop).map_err(io::Error::from)
    }
}

impl<W: Write> FinishStream for snap::write::FrameEncoder<W> {
    fn finish_stream(self) -> io::Result<()> {
        self.into_inner().map(drop).map_err(|err| err.into_error())
    }
}

fn encode(mut input: impl Read, mut encoder: impl FinishStream) -> io::Result<u64> {
    let read = io::copy(&mut input, &mut encoder)?;
    encoder.finish_stream()?;
    Ok(read)
}

/// Reads every lz4 frame of a stream. `lz4_flex` reports the end of each frame as end of input;
/// the stream really ends only when a read consumes no input at all.
struct Lz4Frames<R: Read> {
    decoder: lz4_flex::frame::FrameDecoder<CountingReader<R>>,
}

impl<R: Read> Lz4Frames<R> {
    fn new(input: R) -> Self {
        Lz4Frames {
            decoder: lz4_flex::frame::FrameDecoder::new(CountingReader {
                inner: input,
                consumed: 0,
            }),
        }
    }
}

impl<R: Read> Read for Lz4Frames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let consumed_before = self.decoder.get_ref().consumed;
            let read = self.decoder.read(buf)?;
            if read > 0 || buf.is_empty() || self.decoder.get_ref().consumed == consumed_before {
                return Ok(read);
            }
        }
    }
}

/// Counts the bytes read through it.
struct CountingReader<R> {
    inner: R,
    consumed: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.consumed += read as u64;
        Ok(read)
    }
}

fn decode(mut decoder: impl Read, mut output: impl Write) -> io::Result<u64> {
    let written = io::copy(&mut decoder, &mut output)?;
    output.flush()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    const SAMPLE_LEN: usize = 256 << 10;

    /// Data that compresses like WAL: a real page header, repetitive records, some noise.
    fn sample() -> Vec<u8> {
        let page = include_bytes!("../tests/data/wal/pg15-16mib/000000010000000000000003");
        let mut data = Vec::with_capacity(SAMPLE_LEN);
        let mut noise = 0x2545_F491_4F6C_DD1Du64;
        while data.len() < SAMPLE_LEN {
            data.extend_from_slice(page);
            for _ in 0..256 {
                noise ^= noise << 13;
                noise ^= noise >> 7;
                noise ^= noise << 17;
                data.extend_from_slice(&noise.to_le_bytes());
            }
        }
        data.truncate(SAMPLE_LEN);
        data
    }

    fn in_process_kinds() -> impl Iterator<Item = CompressionKind> {
        CompressionKind::ALL.into_iter().filter(|kind| kind.is_in_process())
    }

    fn compressed(kind: CompressionKind, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        assert_eq!(
            compress(kind, CompressionLevel::Medium, data, &mut out).unwrap(),
            data.len() as u64
        );
        out
    }

    fn decompressed(kind: CompressionKind, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let written = decompress(kind, data, &mut out).unwrap();
        assert_eq!(written, out.len() as u64);
        out
    }

    #[test]
    fn names_round_trip_and_are_sorted() {
        for kind in CompressionKind::ALL {
            assert_eq!(kind.name().parse::<CompressionKind>().unwrap(), kind);
            assert_eq!(kind.to_string(), kind.name());
        }
        let names: Vec<_> = CompressionKind::ALL.iter().map(|kind| kind.name()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        let err = "lzma".parse::<CompressionKind>().unwrap_err();
        assert_eq!(err.name, "lzma");
        assert!("GZIP".parse::<CompressionKind>().is_err());
    }

    #[test]
    fn identifies_by_first_alphabetical_match() {
        let cases: [(&[u8], CompressionKind); 6] = [
            (b"\x1f\x8b\x08\x00rest", CompressionKind::Gzip),
            (b"BZh91AY&SY", CompressionKind::Bzip2),
            (b"\xfd7zXZ\x00\x00\x04", CompressionKind::Xz),
            (b"\x28\xb5\x2f\xfd\x00", CompressionKind::Zstd),
            (b"\x04\x22\x4d\x18\x64", CompressionKind::Lz4),
            (b"\xff\x06\x00\x00sNaPpY\x00", CompressionKind::Snappy),
        ];
        for (start, kind) in cases {
            assert_eq!(identify_compression(start, None), Some(kind));
        }
        let wal = include_bytes!("../tests/data/wal/pg15-16mib/000000010000000000000003");
        assert_eq!(identify_compression(wal, None), None);
        assert_eq!(identify_compression(b"\x1f\x8b", None), None);
        assert_eq!(identify_compression(b"", None), None);
    }

    #[test]
    fn custom_magic_sorts_between_bzip2_and_gzip() {
        let gzip_start = b"\x1f\x8b\x08\x00";
        assert_eq!(
            identify_compression(gzip_start, Some(b"\x1f\x8b")),
            Some(CompressionKind::Custom)
        );
        assert_eq!(identify_compression(b"BZh9", Some(b"BZ")), Some(CompressionKind::Bzip2));
        assert_eq!(
            identify_compression(b"CUSTOM!", Some(b"CUST")),
            Some(CompressionKind::Custom)
        );
        assert_eq!(identify_compression(b"anything", Some(b"")), None);
        assert_eq!(CompressionKind::Custom.magic(), None);
    }

    #[test]
    fn identifies_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("000000010000000000000003");
        std::fs::write(&path, compressed(CompressionKind::Xz, b"hello")).unwrap();
        assert_eq!(
            identify_file_compression(&path, None).unwrap(),
            Some(CompressionKind::Xz)
        );
        std::fs::write(&path, b"0123456789abcdefCUSTOMMAGIC").unwrap();
        assert_eq!(identify_file_compression(&path, None).unwrap(), None);
        std::fs::write(&path, b"0123456789abcdefCUSTOM").unwrap();
        assert_eq!(
            identify_file_compression(&path, Some(b"0123456789abcdefCUSTOM")).unwrap(),
            Some(CompressionKind::Custom)
        );
        assert!(identify_file_compression(&dir.path().join("missing"), None).is_err());
    }

    #[test]
    fn resolves_levels_like_barman() {
        use CompressionKind::*;
        use CompressionLevel::*;
        let table = [
            (Gzip, [1, 6, 9]),
            (Pigz, [1, 6, 9]),
            (Pygzip, [1, 6, 9]),
            (Bzip2, [1, 5, 9]),
            (Pybzip2, [1, 5, 9]),
            (Xz, [1, 3, 5]),
            (Zstd, [1, 4, 9]),
            (Lz4, [0, 6, 10]),
        ];
        for (kind, [low, medium, high]) in table {
            assert_eq!(Low.resolve(kind), Some(low), "{kind}");
            assert_eq!(Medium.resolve(kind), Some(medium), "{kind}");
            assert_eq!(High.resolve(kind), Some(high), "{kind}");
        }
        assert_eq!(Number(0).resolve(Gzip), Some(1));
        assert_eq!(Number(42).resolve(Bzip2), Some(9));
        assert_eq!(Number(7).resolve(Xz), Some(7));
        assert_eq!(Number(-30).resolve(Zstd), Some(-22));
        assert_eq!(Number(30).resolve(Zstd), Some(22));
        assert_eq!(Number(-1).resolve(Lz4), Some(0));
        assert_eq!(Number(17).resolve(Lz4), Some(16));
        assert_eq!(High.resolve(Snappy), None);
        assert_eq!(High.resolve(Custom), None);
    }

    #[test]
    fn parses_and_displays_levels() {
        assert_eq!("low".parse(), Ok(CompressionLevel::Low));
        assert_eq!("medium".parse(), Ok(CompressionLevel::Medium));
        assert_eq!("high".parse(), Ok(CompressionLevel::High));
        assert_eq!("-5".parse(), Ok(CompressionLevel::Number(-5)));
        assert_eq!(CompressionLevel::default(), CompressionLevel::Medium);
        for text in ["low", "medium", "high", "3", "-5"] {
            assert_eq!(text.parse::<CompressionLevel>().unwrap().to_string(), text);
        }
        let err = "fast".parse::<CompressionLevel>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid compression level 'fast': expected low, medium, high or an integer"
        );
    }

    #[test]
    fn round_trips_every_in_process_compression_at_every_level() {
        let data = sample();
        let levels = [
            CompressionLevel::Low,
            CompressionLevel::Medium,
            CompressionLevel::High,
            CompressionLevel::Number(-100),
            CompressionLevel::Number(100),
        ];
        for kind in in_process_kinds() {
            for level in levels {
                let mut packed = Vec::new();
                compress(kind, level, &data[..], &mut packed).unwrap();
                assert!(packed.len() < data.len(), "{kind} {level} did not compress");
                let family = identify_compression(&packed, None).unwrap();
                assert_eq!(family.magic(), kind.magic(), "{kind}");
                assert_eq!(decompressed(kind, &packed), data, "{kind} {level}");
            }
        }
    }

    #[test]
    fn round_trips_empty_input() {
        for kind in in_process_kinds() {
            assert_eq!(decompressed(kind, &compressed(kind, b"")), b"", "{kind}");
        }
    }

    #[test]
    fn decompresses_concatenated_streams() {
        for kind in in_process_kinds().filter(|kind| *kind != CompressionKind::Snappy) {
            let mut joined = compressed(kind, b"");
            joined.extend(compressed(kind, b"first half, "));
            joined.extend(compressed(kind, b""));
            joined.extend(compressed(kind, b"second half"));
            assert_eq!(decompressed(kind, &joined), b"first half, second half", "{kind}");
        }
    }

    #[test]
    fn reports_corrupt_input() {
        let data = sample();
        for kind in in_process_kinds() {
            let mut packed = compressed(kind, &data);
            let middle = packed.len() / 2;
            packed.truncate(middle);
            let err = decompress(kind, &packed[..], io::sink()).unwrap_err();
            assert!(matches!(err, CompressionError::Stream { kind: k, direction: "decompression", .. } if k == kind));
            assert!(
                err.to_string().starts_with(&format!("{kind} decompression failed: ")),
                "{err}"
            );
        }
        assert!(decompress(CompressionKind::Gzip, &b"\x1f\x8b\x08garbage"[..], io::sink()).is_err());
    }

    #[test]
    fn refuses_custom_filters() {
        let err = compress(CompressionKind::Custom, CompressionLevel::Medium, &b"x"[..], io::sink()).unwrap_err();
        assert!(matches!(
            err,
            CompressionError::NotInProcess {
                kind: CompressionKind::Custom
            }
        ));
        let err = decompress(CompressionKind::Custom, &b"x"[..], io::sink()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "compression 'custom' uses external filters and cannot run in-process"
        );
        assert!(!CompressionKind::Custom.is_in_process());
    }

    /// Runs `tool args... file` and returns its standard output, or `None` if the tool is absent.
    fn run_tool(tool: &str, args: &[&str], input: &[u8]) -> Option<Vec<u8>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("input");
        std::fs::write(&path, input).unwrap();
        let output = Command::new(tool).args(args).arg(&path).output().ok()?;
        assert!(
            output.status.success(),
            "{tool} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Some(output.stdout)
    }

    #[test]
    fn interoperates_with_command_line_tools() {
        let data = sample();
        let tools = [
            (CompressionKind::Gzip, "gzip"),
            (CompressionKind::Bzip2, "bzip2"),
            (CompressionKind::Xz, "xz"),
            (CompressionKind::Zstd, "zstd"),
            (CompressionKind::Lz4, "lz4"),
        ];
        for (kind, tool) in tools {
            let Some(theirs) = run_tool(tool, &["-c", "-q"], &data) else {
                eprintln!("skipping {kind} interoperability: `{tool}` is not installed");
                continue;
            };
            assert_eq!(decompressed(kind, &theirs), data, "reading {tool} output");
            let ours = compressed(kind, &data);
            assert_eq!(
                run_tool(tool, &["-d", "-c", "-q"], &ours).unwrap(),
                data,
                "{tool} reading ours"
            );
        }
    }
}
