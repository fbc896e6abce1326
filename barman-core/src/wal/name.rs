//! WAL file names as Barman recognises them.
//!
//! Barman accepts four shapes, with hexadecimal digits in either case (one anchored regular
//! expression in Barman; hand-written here):
//!
//! | kind         | shape                                        | example                                    |
//! |--------------|----------------------------------------------|--------------------------------------------|
//! | segment      | TLI(8) LOG(8) SEG(8)                         | `000000010000000000000002`                 |
//! | backup label | segment `.` OFFSET(8) `.backup`              | `000000010000000000000002.00000028.backup` |
//! | partial      | segment `.partial`                           | `000000010000000000000006.partial`         |
//! | history      | TLI(8) `.history`                            | `00000002.history`                         |
//!
//! The original spelling is preserved (archived files keep the name they arrived with); only
//! the hash directory is normalised to upper case, as Barman does.

use std::fmt;
use std::str::FromStr;

use super::lsn::parse_hex_u32;
use super::segment::SegmentName;

const SEGMENT_NAME_LEN: usize = 24;
const TIMELINE_LEN: usize = 8;
const PARTIAL_SUFFIX: &str = ".partial";
const BACKUP_SUFFIX: &str = ".backup";
const HISTORY_SUFFIX: &str = ".history";

/// What a WAL file name denotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WalFileKind {
    /// A complete WAL segment.
    Segment,
    /// A segment still being written (pg_receivewal, end of archive recovery).
    Partial,
    /// A backup history file; `offset` is the backup start position inside the segment.
    BackupLabel {
        /// Offset of the backup start LSN inside the segment.
        offset: u32,
    },
    /// A timeline history file.
    History,
}

/// A parsed WAL file name, keeping the original spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WalFileName {
    text: String,
    kind: WalFileKind,
    timeline: u32,
    /// Log and segment numbers; absent for history files.
    position: Option<(u32, u32)>,
}

/// Error for a string that is not a WAL file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{name}' is not a valid wal file name")]
pub struct WalNameError {
    /// The rejected name.
    pub name: String,
}

impl WalFileName {
    /// Parses a bare file name (no directory part).
    pub fn parse(name: &str) -> Result<Self, WalNameError> {
        parse_name(name).ok_or_else(|| WalNameError { name: name.to_owned() })
    }

    /// The name exactly as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Which of the four shapes this is.
    pub fn kind(&self) -> WalFileKind {
        self.kind
    }

    /// Timeline ID (first 8 hex digits).
    pub fn timeline(&self) -> u32 {
        self.timeline
    }

    /// The segment this file belongs to; `None` for history files.
    pub fn segment(&self) -> Option<SegmentName> {
        self.position
            .map(|(log, seg)| SegmentName::new(self.timeline, log, seg))
    }

    /// Barman's hash directory under `wals/`: the first 16 characters upper-cased; `None` for
    /// history files, which live at the top of `wals/`.
    pub fn hash_dir(&self) -> Option<String> {
        self.position.map(|_| self.text[..16].to_ascii_uppercase())
    }
}

impl fmt::Display for WalFileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for WalFileName {
    type Err = WalNameError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::parse(name)
    }
}

impl AsRef<str> for WalFileName {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

/// Whether `name` is any of the four WAL file name shapes (Barman's `is_any_xlog_file`).
pub fn is_wal_file_name(name: &str) -> bool {
    parse_name(name).is_some()
}

fn parse_name(name: &str) -> Option<WalFileName> {
    parse_history(name).or_else(|| parse_segment_based(name))
}

fn parse_history(name: &str) -> Option<WalFileName> {
    let timeline = name.strip_suffix(HISTORY_SUFFIX)?;
    if timeline.len() != TIMELINE_LEN {
        return None;
    }
    Some(WalFileName {
        text: name.to_owned(),
        kind: WalFileKind::History,
        timeline: parse_hex_u32(timeline)?,
        position: None,
    })
}

fn parse_segment_based(name: &str) -> Option<WalFileName> {
    let segment = name.get(..SEGMENT_NAME_LEN)?;
    // Checked first so that slicing the three 8-digit fields below stays on ASCII boundaries.
    if !segment.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let suffix = &name[SEGMENT_NAME_LEN..];
    let kind = match suffix {
        "" => WalFileKind::Segment,
        PARTIAL_SUFFIX => WalFileKind::Partial,
        _ => WalFileKind::BackupLabel {
            offset: parse_backup_offset(suffix)?,
        },
    };
    Some(WalFileName {
        text: name.to_owned(),
        kind,
        timeline: parse_hex_u32(&segment[..8])?,
        position: Some((parse_hex_u32(&segment[8..16])?, parse_hex_u32(&segment[16..])?)),
    })
}

/// Parses `.OOOOOOOO.backup` into the offset.
fn parse_backup_offset(suffix: &str) -> Option<u32> {
    let offset = suffix.strip_prefix('.')?.strip_suffix(BACKUP_SUFFIX)?;
    if offset.len() != 8 {
        return None;
    }
    parse_hex_u32(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_kind() {
        let seg = WalFileName::parse("000000010000000000000002").unwrap();
        assert_eq!(seg.kind(), WalFileKind::Segment);
        assert_eq!(seg.segment(), Some(SegmentName::new(1, 0, 2)));
        assert_eq!(seg.hash_dir().as_deref(), Some("0000000100000000"));

        let backup = WalFileName::parse("000000010000000000000002.00000028.backup").unwrap();
        assert_eq!(backup.kind(), WalFileKind::BackupLabel { offset: 0x28 });
        assert_eq!(backup.segment(), Some(SegmentName::new(1, 0, 2)));
        assert_eq!(backup.hash_dir().as_deref(), Some("0000000100000000"));

        let partial = WalFileName::parse("000000010000000000000006.partial").unwrap();
        assert_eq!(partial.kind(), WalFileKind::Partial);
        assert_eq!(partial.segment(), Some(SegmentName::new(1, 0, 6)));

        let history = WalFileName::parse("0000000A.history").unwrap();
        assert_eq!(history.kind(), WalFileKind::History);
        assert_eq!(history.timeline(), 10);
        assert_eq!(history.segment(), None);
        assert_eq!(history.hash_dir(), None);
    }

    #[test]
    fn keeps_spelling_but_upper_cases_hash_dir() {
        let name = WalFileName::parse("0000000a0000000b000000fe").unwrap();
        assert_eq!(name.as_str(), "0000000a0000000b000000fe");
        assert_eq!(name.to_string(), "0000000a0000000b000000fe");
        assert_eq!(name.hash_dir().as_deref(), Some("0000000A0000000B"));
        assert_eq!(name.segment(), Some(SegmentName::new(0xA, 0xB, 0xFE)));
        let backup = WalFileName::parse("0000000a0000000b000000fe.0000abcd.backup").unwrap();
        assert_eq!(backup.kind(), WalFileKind::BackupLabel { offset: 0xABCD });
        assert!(is_wal_file_name("0000000a.history"));
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "00000001",
            "00000001000000000000000",
            "0000000100000000000000021",
            "00000001000000000000000G",
            "000000010000000000000002.partia",
            "000000010000000000000002.partial2",
            "000000010000000000000002.0000028.backup",
            "000000010000000000000002.000000028.backup",
            "000000010000000000000002.0000002g.backup",
            "000000010000000000000002.00000028.backupx",
            "000000010000000000000002.00000028",
            "0000001.history",
            "000000001.history",
            "0000000g.history",
            "00000001.History",
            "00000001.history\n",
            "/000000010000000000000002",
            "./000000010000000000000002",
            "000000010000000000000002/",
            "+0000001000000000000000002",
            "00000001000000000000000é",
            "0000000é0000000000000002",
            "ééééééééééééééééééééééééé",
            "SHA256SUMS",
            ".12-000000010000000000000002",
            "000000010000000000000002.tmp",
        ] {
            assert!(!is_wal_file_name(bad), "{bad:?} accepted");
            assert_eq!(WalFileName::parse(bad).unwrap_err().name, bad);
        }
    }

    #[test]
    fn error_message_matches_barman() {
        assert_eq!(
            WalFileName::parse("nope").unwrap_err().to_string(),
            "'nope' is not a valid wal file name"
        );
    }

    #[test]
    fn parses_through_from_str() {
        let name: WalFileName = "00000002.history".parse().unwrap();
        assert_eq!(name.timeline(), 2);
    }
}
