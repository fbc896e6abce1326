//! Validation of the long page header that opens every WAL segment.
//!
//! Barman archives any file named like a WAL. This module lets the archive go further and refuse
//! WAL that cannot belong to the server: from another cluster (system identifier), another major
//! version (page magic), a different segment size, or a file whose content does not match its
//! name (a recycled segment renamed by hand, a copy under the wrong name).
//!
//! The first page of a segment carries `XLogLongPageHeaderData`, little-endian on every platform
//! PostgreSQL supports in practice:
//!
//! | offset | size | field             |
//! |--------|------|-------------------|
//! | 0      | 2    | `xlp_magic`       |
//! | 2      | 2    | `xlp_info`        |
//! | 4      | 4    | `xlp_tli`         |
//! | 8      | 8    | `xlp_pageaddr`    |
//! | 16     | 4    | `xlp_rem_len`     |
//! | 20     | 4    | padding           |
//! | 24     | 8    | `xlp_sysid`       |
//! | 32     | 4    | `xlp_seg_size`    |
//! | 36     | 4    | `xlp_xlog_blcksz` |
//!
//! The page's timeline is deliberately *not* compared with the name: after a promotion the first
//! segment of the new timeline starts as a copy of the old timeline's segment, so its first page
//! legitimately carries the previous timeline ID.

use std::io::{self, Read};

use super::lsn::Lsn;
use super::segment::{SegmentName, SegmentSize};
use super::version::PgMajorVersion;

/// Bytes needed to parse the long page header.
pub const LONG_PAGE_HEADER_LEN: usize = 40;

/// `xlp_info` flag set on the first page of every segment.
const XLP_LONG_HEADER: u16 = 0x0002;

/// The decoded long page header of a WAL segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongPageHeader {
    /// `xlp_magic`: identifies the WAL format, hence the major version.
    pub magic: u16,
    /// `xlp_info` flag bits.
    pub info: u16,
    /// `xlp_tli`: timeline of the first record on the page.
    pub timeline: u32,
    /// `xlp_pageaddr`: LSN of the first byte of the page.
    pub page_address: Lsn,
    /// `xlp_rem_len`: bytes of a record continued from the previous page.
    pub remaining_length: u32,
    /// `xlp_sysid`: the cluster's system identifier from `pg_control`.
    pub system_identifier: u64,
    /// `xlp_seg_size`: the cluster's WAL segment size in bytes.
    pub segment_size: u32,
    /// `xlp_xlog_blcksz`: the WAL page size in bytes.
    pub block_size: u32,
}

impl LongPageHeader {
    /// Decodes the header from the first bytes of a segment; `None` if fewer than
    /// [`LONG_PAGE_HEADER_LEN`] bytes are given. Nothing is validated here.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; LONG_PAGE_HEADER_LEN] = bytes.get(..LONG_PAGE_HEADER_LEN)?.try_into().ok()?;
        let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        Some(LongPageHeader {
            magic: u16_at(0),
            info: u16_at(2),
            timeline: u32_at(4),
            page_address: Lsn(u64_at(8)),
            remaining_length: u32_at(16),
            system_identifier: u64_at(24),
            segment_size: u32_at(32),
            block_size: u32_at(36),
        })
    }

    /// Whether `xlp_info` has `XLP_LONG_HEADER`, i.e. this is the first page of a segment.
    pub fn is_long(&self) -> bool {
        self.info & XLP_LONG_HEADER != 0
    }

    /// The major version that writes this header's magic, if known.
    pub fn major_version(&self) -> Option<PgMajorVersion> {
        PgMajorVersion::from_wal_page_magic(self.magic)
    }
}

/// What the archive already knows about the server; every field is optional so that identity
/// can be learned from the first segment and enforced afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WalExpectations {
    /// The server's system identifier (`identity.json` `systemid`).
    pub system_identifier: Option<u64>,
    /// The server's WAL segment size.
    pub segment_size: Option<SegmentSize>,
    /// The server's major version (`identity.json` `version`).
    pub major_version: Option<PgMajorVersion>,
}

/// Why a segment's first page does not match its name or the server.
#[derive(Debug, thiserror::Error)]
pub enum WalHeaderError {
    /// Fewer bytes than a long page header.
    #[error("WAL file {segment} is too short for a WAL page header: {length} bytes, need {LONG_PAGE_HEADER_LEN}")]
    Truncated {
        /// The segment being checked.
        segment: SegmentName,
        /// Bytes available.
        length: usize,
    },
    /// The page magic belongs to no known PostgreSQL version: not WAL, or a too new server.
    #[error("WAL file {segment} has page magic 0x{magic:04X}, which no supported PostgreSQL version writes (known: 9.6 to {newest})", newest = PgMajorVersion::newest_known())]
    UnknownMagic {
        /// The segment being checked.
        segment: SegmentName,
        /// The magic found.
        magic: u16,
    },
    /// The page magic belongs to another major version than the server's.
    #[error("WAL file {segment} was written by PostgreSQL {found} (page magic 0x{magic:04X}) but the server runs PostgreSQL {expected}")]
    MajorVersionMismatch {
        /// The segment being checked.
        segment: SegmentName,
        /// The magic found.
        magic: u16,
        /// The version that writes the magic found.
        found: PgMajorVersion,
        /// The server's version.
        expected: PgMajorVersion,
    },
    /// The first page lacks `XLP_LONG_HEADER`, so it is not the start of a segment.
    #[error("WAL file {segment} does not start with a long page header (xlp_info 0x{info:04X})")]
    NotLongHeader {
        /// The segment being checked.
        segment: SegmentName,
        /// The `xlp_info` found.
        info: u16,
    },
    /// The header declares a segment size PostgreSQL never uses.
    #[error(
        "WAL file {segment} declares segment size {found} bytes, which is not a power of two between 1 MiB and 1 GiB"
    )]
    InvalidSegmentSize {
        /// The segment being checked.
        segment: SegmentName,
        /// The size found.
        found: u32,
    },
    /// The header's segment size differs from the server's.
    #[error("WAL file {segment} has segment size {found} bytes but the server uses {expected} bytes")]
    SegmentSizeMismatch {
        /// The segment being checked.
        segment: SegmentName,
        /// The size found.
        found: u32,
        /// The server's size.
        expected: u64,
    },
    /// The name's SEG number cannot exist with this segment size.
    #[error("WAL file name {segment} has a segment number out of range for segments of {size}")]
    SegmentOutOfRange {
        /// The segment being checked.
        segment: SegmentName,
        /// The segment size in force.
        size: SegmentSize,
    },
    /// The page address is not where the name says the segment starts.
    #[error(
        "WAL file {segment} starts at LSN {found} but its name says {expected}: the content belongs to another segment"
    )]
    PageAddressMismatch {
        /// The segment being checked.
        segment: SegmentName,
        /// `xlp_pageaddr` found.
        found: Lsn,
        /// Start LSN derived from the name.
        expected: Lsn,
    },
    /// The segment belongs to another database cluster.
    #[error("WAL file {segment} belongs to database system identifier {found}, but the server's is {expected}")]
    SystemIdentifierMismatch {
        /// The segment being checked.
        segment: SegmentName,
        /// `xlp_sysid` found.
        found: u64,
        /// The server's identifier.
        expected: u64,
    },
    /// Reading the first bytes failed.
    #[error("cannot read the page header of WAL file {segment}: {source}")]
    Read {
        /// The segment being checked.
        segment: SegmentName,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// Checks that `first_bytes` (at least the first [`LONG_PAGE_HEADER_LEN`] bytes of the file) is
/// the start of `segment` as written by the server described by `expected`, and returns the
/// decoded header.
///
/// Checks, in order: length, magic known, magic of the expected major version, long header,
/// segment size, page address equal to the segment's start LSN, system identifier.
pub fn validate_segment_header(
    segment: SegmentName,
    first_bytes: &[u8],
    expected: &WalExpectations,
) -> Result<LongPageHeader, WalHeaderError> {
    let header = LongPageHeader::parse(first_bytes).ok_or(WalHeaderError::Truncated {
        segment,
        length: first_bytes.len(),
    })?;
    check_magic(segment, &header, expected.major_version)?;
    if !header.is_long() {
        return Err(WalHeaderError::NotLongHeader {
            segment,
            info: header.info,
        });
    }
    let size = check_segment_size(segment, &header, expected.segment_size)?;
    let start = segment
        .start_lsn(size)
        .ok_or(WalHeaderError::SegmentOutOfRange { segment, size })?;
    if header.page_address != start {
        return Err(WalHeaderError::PageAddressMismatch {
            segment,
            found: header.page_address,
            expected: start,
        });
    }
    match expected.system_identifier {
        Some(sysid) if sysid != header.system_identifier => Err(WalHeaderError::SystemIdentifierMismatch {
            segment,
            found: header.system_identifier,
            expected: sysid,
        }),
        _ => Ok(header),
    }
}

/// Reads the first page header of `segment` from `reader` (positioned at the start of the file)
/// and validates it against `expected`. Only [`LONG_PAGE_HEADER_LEN`] bytes are read.
pub fn read_segment_header(
    segment: SegmentName,
    reader: impl Read,
    expected: &WalExpectations,
) -> Result<LongPageHeader, WalHeaderError> {
    let mut first_bytes = Vec::with_capacity(LONG_PAGE_HEADER_LEN);
    reader
        .take(LONG_PAGE_HEADER_LEN as u64)
        .read_to_end(&mut first_bytes)
        .map_err(|source| WalHeaderError::Read { segment, source })?;
    validate_segment_header(segment, &first_bytes, expected)
}

/// Learns the system identifier of the cluster that wrote `segment`, after checking that the
/// header is a plausible start of that segment (known magic, long header, valid size, page
/// address matching the name).
pub fn read_system_identifier(segment: SegmentName, reader: impl Read) -> Result<u64, WalHeaderError> {
    read_segment_header(segment, reader, &WalExpectations::default()).map(|header| header.system_identifier)
}

fn check_magic(
    segment: SegmentName,
    header: &LongPageHeader,
    expected: Option<PgMajorVersion>,
) -> Result<(), WalHeaderError> {
    match (header.major_version(), expected) {
        (Some(found), Some(expected)) if found != expected => Err(WalHeaderError::MajorVersionMismatch {
            segment,
            magic: header.magic,
            found,
            expected,
        }),
        (Some(_), _) => Ok(()),
        // A server newer than this table writes a magic we cannot attribute; magics only grow,
        // so accept a larger one rather than block archiving after an upgrade.
        (None, Some(expected)) if expected > PgMajorVersion::newest_known() && header.magic > newest_magic() => Ok(()),
        (None, _) => Err(WalHeaderError::UnknownMagic {
            segment,
            magic: header.magic,
        }),
    }
}

fn newest_magic() -> u16 {
    PgMajorVersion::newest_known()
        .wal_page_magic()
        .expect("the newest known version has a magic")
}

fn check_segment_size(
    segment: SegmentName,
    header: &LongPageHeader,
    expected: Option<SegmentSize>,
) -> Result<SegmentSize, WalHeaderError> {
    let found = SegmentSize::new(u64::from(header.segment_size)).map_err(|_| WalHeaderError::InvalidSegmentSize {
        segment,
        found: header.segment_size,
    })?;
    match expected {
        Some(expected) if expected != found => Err(WalHeaderError::SegmentSizeMismatch {
            segment,
            found: header.segment_size,
            expected: expected.bytes(),
        }),
        _ => Ok(found),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// First 8 KiB of segment 3 of a PostgreSQL 15 cluster with 16 MiB segments.
    const PG15_16MIB_SEG3: &[u8] = include_bytes!("../../tests/data/wal/pg15-16mib/000000010000000000000003");
    const PG15_16MIB_SYSID: u64 = 7712048203969751177;
    /// First 8 KiB of a recycled file: named segment 4 but still holding segment 1's content.
    const PG15_RECYCLED_SEG4: &[u8] =
        include_bytes!("../../tests/data/wal/pg15-16mib-recycled/000000010000000000000004");
    /// First 8 KiB of segment 8 of a PostgreSQL 15 cluster initialised with 1 MiB segments.
    const PG15_1MIB_SEG8: &[u8] = include_bytes!("../../tests/data/wal/pg15-1mib/000000010000000000000008");
    const PG15_1MIB_SYSID: u64 = 7712048206517282967;

    fn seg(name: &str) -> SegmentName {
        crate::wal::WalFileName::parse(name).unwrap().segment().unwrap()
    }

    fn pg15_server() -> WalExpectations {
        WalExpectations {
            system_identifier: Some(PG15_16MIB_SYSID),
            segment_size: Some(SegmentSize::DEFAULT),
            major_version: Some("15".parse().unwrap()),
        }
    }

    /// A long header as PostgreSQL writes it, for cases no real cluster here can produce.
    fn synthetic(magic: u16, page_address: Lsn, segment_size: u32) -> Vec<u8> {
        let mut bytes = vec![0u8; 64];
        bytes[0..2].copy_from_slice(&magic.to_le_bytes());
        bytes[2..4].copy_from_slice(&XLP_LONG_HEADER.to_le_bytes());
        bytes[4..8].copy_from_slice(&1u32.to_le_bytes());
        bytes[8..16].copy_from_slice(&page_address.0.to_le_bytes());
        bytes[24..32].copy_from_slice(&42u64.to_le_bytes());
        bytes[32..36].copy_from_slice(&segment_size.to_le_bytes());
        bytes[36..40].copy_from_slice(&8192u32.to_le_bytes());
        bytes
    }

    #[test]
    fn accepts_real_postgresql_15_segment() {
        let header = validate_segment_header(seg("000000010000000000000003"), PG15_16MIB_SEG3, &pg15_server()).unwrap();
        assert_eq!(header.magic, 0xD110);
        assert!(header.is_long());
        assert_eq!(header.timeline, 1);
        assert_eq!(header.page_address, "0/3000000".parse().unwrap());
        assert_eq!(header.system_identifier, PG15_16MIB_SYSID);
        assert_eq!(u64::from(header.segment_size), SegmentSize::DEFAULT.bytes());
        assert_eq!(header.block_size, 8192);
        assert_eq!(header.major_version(), Some("15".parse().unwrap()));
    }

    #[test]
    fn accepts_lower_case_name_and_learns_identity() {
        let segment = seg("00000001000000000000000a");
        let bytes = synthetic(0xD110, "0/A000000".parse().unwrap(), 16 << 20);
        assert!(validate_segment_header(segment, &bytes, &WalExpectations::default()).is_ok());
        assert_eq!(read_system_identifier(segment, &bytes[..]).unwrap(), 42);
        assert_eq!(
            read_system_identifier(seg("000000010000000000000003"), PG15_16MIB_SEG3).unwrap(),
            PG15_16MIB_SYSID
        );
    }

    #[test]
    fn rejects_recycled_segment_under_another_name() {
        let err =
            validate_segment_header(seg("000000010000000000000004"), PG15_RECYCLED_SEG4, &pg15_server()).unwrap_err();
        match &err {
            WalHeaderError::PageAddressMismatch { found, expected, .. } => {
                assert_eq!(*found, "0/1000000".parse().unwrap());
                assert_eq!(*expected, "0/4000000".parse().unwrap());
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            err.to_string(),
            "WAL file 000000010000000000000004 starts at LSN 0/1000000 but its name says \
             0/4000000: the content belongs to another segment"
        );
    }

    #[test]
    fn rejects_segment_of_another_cluster() {
        let expected = WalExpectations {
            system_identifier: Some(PG15_16MIB_SYSID),
            ..WalExpectations::default()
        };
        let err = validate_segment_header(seg("000000010000000000000008"), PG15_1MIB_SEG8, &expected).unwrap_err();
        assert!(matches!(
            err,
            WalHeaderError::SystemIdentifierMismatch {
                found: PG15_1MIB_SYSID,
                expected: PG15_16MIB_SYSID,
                ..
            }
        ));
        let message = err.to_string();
        assert!(message.contains(&PG15_1MIB_SYSID.to_string()), "{message}");
        assert!(message.contains(&PG15_16MIB_SYSID.to_string()), "{message}");
    }

    #[test]
    fn checks_segment_size() {
        let segment = seg("000000010000000000000008");
        let header = validate_segment_header(segment, PG15_1MIB_SEG8, &WalExpectations::default()).unwrap();
        assert_eq!(header.page_address, "0/800000".parse().unwrap());
        assert_eq!(header.system_identifier, PG15_1MIB_SYSID);

        let err = validate_segment_header(segment, PG15_1MIB_SEG8, &pg15_server()).unwrap_err();
        assert!(matches!(
            err,
            WalHeaderError::SegmentSizeMismatch {
                found: 1048576,
                expected: 16777216,
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "WAL file 000000010000000000000008 has segment size 1048576 bytes but the server \
             uses 16777216 bytes"
        );

        let bytes = synthetic(0xD110, Lsn(0), 3 << 20);
        let err =
            validate_segment_header(seg("000000010000000000000000"), &bytes, &WalExpectations::default()).unwrap_err();
        assert!(matches!(err, WalHeaderError::InvalidSegmentSize { found: 3145728, .. }));
    }

    #[test]
    fn rejects_other_major_version() {
        let expected = WalExpectations {
            major_version: Some("16".parse().unwrap()),
            ..WalExpectations::default()
        };
        let err = validate_segment_header(seg("000000010000000000000003"), PG15_16MIB_SEG3, &expected).unwrap_err();
        assert_eq!(
            err.to_string(),
            "WAL file 000000010000000000000003 was written by PostgreSQL 15 (page magic 0xD110) \
             but the server runs PostgreSQL 16"
        );
    }

    #[test]
    fn accepts_every_known_magic_for_its_version() {
        for &(magic, version) in PgMajorVersion::known_wal_page_magics() {
            let bytes = synthetic(magic, "0/5000000".parse().unwrap(), 16 << 20);
            let expected = WalExpectations {
                major_version: Some(version),
                ..WalExpectations::default()
            };
            let header = validate_segment_header(seg("000000010000000000000005"), &bytes, &expected).unwrap();
            assert_eq!(header.major_version(), Some(version));
        }
    }

    #[test]
    fn rejects_unknown_magic_unless_server_is_newer_than_the_table() {
        let segment = seg("000000010000000000000005");
        let future = synthetic(0xD120, "0/5000000".parse().unwrap(), 16 << 20);
        let err = validate_segment_header(segment, &future, &WalExpectations::default()).unwrap_err();
        assert!(matches!(err, WalHeaderError::UnknownMagic { magic: 0xD120, .. }));
        assert_eq!(
            err.to_string(),
            "WAL file 000000010000000000000005 has page magic 0xD120, which no supported \
             PostgreSQL version writes (known: 9.6 to 18)"
        );

        let pg19 = WalExpectations {
            major_version: Some("19".parse().unwrap()),
            ..WalExpectations::default()
        };
        assert!(validate_segment_header(segment, &future, &pg19).is_ok());
        let ancient = synthetic(0xD087, "0/5000000".parse().unwrap(), 16 << 20);
        assert!(matches!(
            validate_segment_header(segment, &ancient, &pg19),
            Err(WalHeaderError::UnknownMagic { magic: 0xD087, .. })
        ));

        let garbage = [0x5Au8; 64];
        assert!(matches!(
            validate_segment_header(segment, &garbage, &WalExpectations::default()),
            Err(WalHeaderError::UnknownMagic { magic: 0x5A5A, .. })
        ));
    }

    #[test]
    fn rejects_short_page_header() {
        let segment = seg("000000010000000000000003");
        let err = validate_segment_header(segment, &PG15_16MIB_SEG3[..39], &pg15_server()).unwrap_err();
        assert!(matches!(err, WalHeaderError::Truncated { length: 39, .. }));
        let err = read_segment_header(segment, &PG15_16MIB_SEG3[..10], &pg15_server()).unwrap_err();
        assert!(matches!(err, WalHeaderError::Truncated { length: 10, .. }));
    }

    #[test]
    fn rejects_page_without_long_header() {
        let mut bytes = PG15_16MIB_SEG3[..64].to_vec();
        bytes[2] &= !(XLP_LONG_HEADER as u8);
        let err = validate_segment_header(seg("000000010000000000000003"), &bytes, &pg15_server()).unwrap_err();
        assert!(matches!(err, WalHeaderError::NotLongHeader { info: 0x0004, .. }));
    }

    #[test]
    fn tolerates_previous_timeline_in_first_page_after_promotion() {
        // Timeline 2 begins with a copy of timeline 1's segment: same address, old TLI inside.
        let header = validate_segment_header(seg("000000020000000000000003"), PG15_16MIB_SEG3, &pg15_server()).unwrap();
        assert_eq!(header.timeline, 1);
    }

    #[test]
    fn rejects_name_out_of_range_for_segment_size() {
        let err =
            validate_segment_header(seg("000000010000000000000100"), PG15_16MIB_SEG3, &pg15_server()).unwrap_err();
        assert!(matches!(err, WalHeaderError::SegmentOutOfRange { .. }));
        assert_eq!(
            err.to_string(),
            "WAL file name 000000010000000000000100 has a segment number out of range for segments of 16777216 bytes"
        );
    }

    #[test]
    fn reports_read_errors() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let err = read_segment_header(seg("000000010000000000000003"), Failing, &pg15_server()).unwrap_err();
        assert!(matches!(err, WalHeaderError::Read { .. }));
        assert!(err.to_string().contains("disk on fire"));
    }
}
