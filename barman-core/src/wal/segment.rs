//! WAL segment identity and arithmetic.
//!
//! PostgreSQL splits the log into files ("segments") of a fixed, cluster-wide power-of-two size
//! between 1 MiB and 1 GiB (16 MiB by default). A segment is named `TTTTTTTTLLLLLLLLSSSSSSSS`:
//! timeline, "log" (the high 32 bits of the LSN) and the segment number inside that log. One log
//! spans 2^32 bytes, so it holds `2^32 / size` segments (256 for 16 MiB, SEG `00`..`FF`). Barman
//! computes the same bound as `0xFFFFFFFF // size`, the highest SEG value, and walks SEG up to
//! and including it.

use std::fmt;

use super::lsn::Lsn;

/// Bytes covered by one "log" (one value of the middle 8 hex digits of a segment name).
const LOG_SPAN: u64 = 1 << 32;

/// A valid WAL segment size: a power of two from 1 MiB to 1 GiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SegmentSize(u32);

impl SegmentSize {
    /// The smallest size PostgreSQL accepts (`initdb --wal-segsize=1`).
    pub const MIN: SegmentSize = SegmentSize(1 << 20);
    /// The largest size PostgreSQL accepts (`initdb --wal-segsize=1024`).
    pub const MAX: SegmentSize = SegmentSize(1 << 30);
    /// PostgreSQL's default, and Barman's default `xlog_segment_size`.
    pub const DEFAULT: SegmentSize = SegmentSize(16 << 20);

    /// Accepts `bytes` only if PostgreSQL would: a power of two within [`Self::MIN`, `Self::MAX`].
    pub fn new(bytes: u64) -> Result<Self, InvalidSegmentSize> {
        if bytes.is_power_of_two() && bytes >= u64::from(Self::MIN.0) && bytes <= u64::from(Self::MAX.0) {
            Ok(SegmentSize(bytes as u32))
        } else {
            Err(InvalidSegmentSize { bytes })
        }
    }

    /// The size in bytes.
    pub fn bytes(self) -> u64 {
        u64::from(self.0)
    }

    /// Number of segments in one log (PostgreSQL's `XLogSegmentsPerXLogId`): 256 for 16 MiB.
    pub fn segments_per_log(self) -> u32 {
        (LOG_SPAN / self.bytes()) as u32
    }

    /// Offset of `lsn` inside the segment that contains it.
    pub fn offset_of(self, lsn: Lsn) -> u32 {
        (lsn.0 & (self.bytes() - 1)) as u32
    }
}

impl Default for SegmentSize {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Display for SegmentSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes", self.0)
    }
}

/// Error for a segment size PostgreSQL would never use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid WAL segment size {bytes}: must be a power of two between 1 MiB and 1 GiB")]
pub struct InvalidSegmentSize {
    /// The rejected size in bytes.
    pub bytes: u64,
}

/// The identity of one WAL segment: timeline, log and segment number within the log.
///
/// Displayed in PostgreSQL's canonical upper-case form `%08X%08X%08X`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegmentName {
    /// Timeline ID (first 8 hex digits).
    pub timeline: u32,
    /// High 32 bits of the LSNs in this segment (middle 8 hex digits).
    pub log: u32,
    /// Segment number inside the log (last 8 hex digits).
    pub seg: u32,
}

impl SegmentName {
    /// Builds a segment name from its three parts.
    pub fn new(timeline: u32, log: u32, seg: u32) -> Self {
        SegmentName { timeline, log, seg }
    }

    /// The segment of `timeline` that contains the byte at `lsn` (PostgreSQL `XLByteToSeg`).
    pub fn containing(timeline: u32, lsn: Lsn, size: SegmentSize) -> Self {
        Self::from_segment_number_unchecked(timeline, lsn.0 / size.bytes(), size)
    }

    /// The segment holding the record that *ends* at `lsn` (PostgreSQL `XLByteToPrevSeg`): an
    /// LSN exactly on a segment boundary belongs to the previous segment. This is the rule
    /// PostgreSQL before 17 used for `pg_walfile_name()`, and the one Barman keeps. `None`
    /// only for LSN 0, which ends no record.
    pub fn containing_end_of(timeline: u32, lsn: Lsn, size: SegmentSize) -> Option<Self> {
        let last_byte = lsn.0.checked_sub(1)?;
        Some(Self::containing(timeline, Lsn(last_byte), size))
    }

    /// Builds the name of absolute segment number `segno` (`lsn / size`) on `timeline`.
    fn from_segment_number_unchecked(timeline: u32, segno: u64, size: SegmentSize) -> Self {
        let per_log = u64::from(size.segments_per_log());
        SegmentName {
            timeline,
            log: (segno / per_log) as u32,
            seg: (segno % per_log) as u32,
        }
    }

    /// Whether the SEG part is in range for `size` (e.g. at most `FF` for 16 MiB).
    pub fn fits(self, size: SegmentSize) -> bool {
        self.seg < size.segments_per_log()
    }

    /// Absolute segment number (`start LSN / size`), or `None` if SEG is out of range for `size`.
    pub fn segment_number(self, size: SegmentSize) -> Option<u64> {
        self.fits(size)
            .then(|| u64::from(self.log) * u64::from(size.segments_per_log()) + u64::from(self.seg))
    }

    /// LSN of the first byte of this segment, or `None` if SEG is out of range for `size`.
    pub fn start_lsn(self, size: SegmentSize) -> Option<Lsn> {
        self.segment_number(size).map(|segno| Lsn(segno * size.bytes()))
    }

    /// LSN of `offset` bytes into this segment, or `None` if SEG or `offset` is out of range.
    pub fn lsn_at(self, offset: u32, size: SegmentSize) -> Option<Lsn> {
        if u64::from(offset) >= size.bytes() {
            return None;
        }
        self.start_lsn(size).map(|start| Lsn(start.0 + u64::from(offset)))
    }

    /// The following segment on the same timeline, or `None` past the end of the LSN space or
    /// if SEG is out of range for `size`.
    pub fn next(self, size: SegmentSize) -> Option<Self> {
        let segno = self.segment_number(size)?.checked_add(1)?;
        (segno < u64::MAX / size.bytes() + 1).then(|| Self::from_segment_number_unchecked(self.timeline, segno, size))
    }

    /// The preceding segment on the same timeline, or `None` before the first segment or if
    /// SEG is out of range for `size`.
    pub fn previous(self, size: SegmentSize) -> Option<Self> {
        let segno = self.segment_number(size)?.checked_sub(1)?;
        Some(Self::from_segment_number_unchecked(self.timeline, segno, size))
    }

    /// Barman's hash directory under `wals/`: `%08X%08X` of timeline and log.
    pub fn hash_dir(self) -> String {
        format!("{:08X}{:08X}", self.timeline, self.log)
    }
}

impl fmt::Display for SegmentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08X}{:08X}{:08X}", self.timeline, self.log, self.seg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size_mib(mib: u64) -> SegmentSize {
        SegmentSize::new(mib << 20).unwrap()
    }

    #[test]
    fn accepts_only_postgresql_segment_sizes() {
        for mib in [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024] {
            assert_eq!(size_mib(mib).bytes(), mib << 20);
        }
        for bad in [0, 1, 512 << 10, (16 << 20) + 1, 3 << 20, 2 << 30, u64::MAX] {
            assert_eq!(SegmentSize::new(bad).unwrap_err().bytes, bad);
        }
        assert_eq!(SegmentSize::default(), size_mib(16));
    }

    #[test]
    fn segments_per_log_matches_postgresql_and_barman_bound() {
        for mib in [1u64, 16, 64, 1024] {
            let size = size_mib(mib);
            let per_log = u64::from(size.segments_per_log());
            assert_eq!(per_log, (1u64 << 32) / (mib << 20));
            // Barman's `0xFFFFFFFF // size` is the highest SEG value.
            assert_eq!(per_log - 1, 0xFFFF_FFFF / (mib << 20));
        }
        assert_eq!(SegmentSize::DEFAULT.segments_per_log(), 256);
    }

    #[test]
    fn maps_lsn_to_segment_and_offset() {
        let size = SegmentSize::DEFAULT;
        let lsn: Lsn = "0/2000028".parse().unwrap();
        let seg = SegmentName::containing(1, lsn, size);
        assert_eq!(seg.to_string(), "000000010000000000000002");
        assert_eq!(size.offset_of(lsn), 0x28);
        assert_eq!(seg.lsn_at(0x28, size), Some(lsn));

        let lsn: Lsn = "1/2C3D5B58".parse().unwrap();
        let seg = SegmentName::containing(1, lsn, size);
        assert_eq!(seg.to_string(), "00000001000000010000002C");
        assert_eq!(size.offset_of(lsn), 0x3D_5B58);

        let one_mib = size_mib(1);
        let seg = SegmentName::containing(3, "A/12345678".parse().unwrap(), one_mib);
        assert_eq!(seg.to_string(), "000000030000000A00000123");
        assert_eq!(one_mib.offset_of("A/12345678".parse().unwrap()), 0x45678);

        let one_gib = size_mib(1024);
        let seg = SegmentName::containing(1, "5/C0000001".parse().unwrap(), one_gib);
        assert_eq!(seg.to_string(), "000000010000000500000003");
    }

    #[test]
    fn boundary_lsn_ends_in_previous_segment() {
        let size = SegmentSize::DEFAULT;
        let boundary: Lsn = "0/3000000".parse().unwrap();
        assert_eq!(
            SegmentName::containing(1, boundary, size).to_string(),
            "000000010000000000000003"
        );
        assert_eq!(
            SegmentName::containing_end_of(1, boundary, size).unwrap().to_string(),
            "000000010000000000000002"
        );
        assert_eq!(SegmentName::containing_end_of(1, Lsn(0), size), None);
    }

    #[test]
    fn next_and_previous_cross_log_boundaries() {
        let size = SegmentSize::DEFAULT;
        let last_of_log = SegmentName::new(1, 0, 0xFF);
        let first_of_next = SegmentName::new(1, 1, 0);
        assert_eq!(last_of_log.next(size), Some(first_of_next));
        assert_eq!(first_of_next.previous(size), Some(last_of_log));
        assert_eq!(SegmentName::new(1, 0, 0).previous(size), None);
        assert_eq!(SegmentName::new(1, 0xFFFF_FFFF, 0xFF).next(size), None);

        let gib = size_mib(1024);
        assert_eq!(SegmentName::new(2, 7, 3).next(gib), Some(SegmentName::new(2, 8, 0)));
    }

    #[test]
    fn out_of_range_seg_has_no_arithmetic() {
        let size = SegmentSize::DEFAULT;
        let bogus = SegmentName::new(1, 0, 0x100);
        assert!(!bogus.fits(size));
        assert_eq!(bogus.start_lsn(size), None);
        assert_eq!(bogus.next(size), None);
        assert_eq!(bogus.previous(size), None);
        // The same SEG is fine with 1 MiB segments (4096 per log).
        assert_eq!(bogus.start_lsn(size_mib(1)), Some("0/10000000".parse().unwrap()));
    }

    #[test]
    fn start_lsn_round_trips() {
        for mib in [1u64, 16, 1024] {
            let size = size_mib(mib);
            for lsn in ["0/0", "0/FFFFFFFF", "1/0", "FFFFFFFF/FFFFFFFF", "12/34567890"] {
                let lsn: Lsn = lsn.parse().unwrap();
                let seg = SegmentName::containing(1, lsn, size);
                let start = seg.start_lsn(size).unwrap();
                assert_eq!(start.0 + u64::from(size.offset_of(lsn)), lsn.0);
            }
        }
    }

    #[test]
    fn lsn_at_rejects_offsets_outside_the_segment() {
        let seg = SegmentName::new(1, 0, 2);
        assert_eq!(seg.lsn_at(16 << 20, SegmentSize::DEFAULT), None);
    }

    #[test]
    fn hash_dir_is_upper_case_timeline_and_log() {
        assert_eq!(SegmentName::new(0xAB, 0xCD, 1).hash_dir(), "000000AB000000CD");
    }
}
