//! Pure WAL knowledge: file names, segment arithmetic, log sequence numbers and the first page
//! header of a segment.
//!
//! Nothing here touches the archive layout or the catalogue; these are the rules every other
//! part of the WAL path (put-wal, archive-wal, get-wal, receive-wal, retention) relies on:
//!
//! * [`WalFileName`] parses the four kinds of files Barman archives (segments, `.partial`,
//!   `.backup` labels, timeline `.history`) and knows Barman's hash directory;
//! * [`SegmentName`] and [`SegmentSize`] do the arithmetic between names and [`Lsn`]s for any
//!   segment size PostgreSQL allows (1 MiB to 1 GiB);
//! * [`validate_segment_header`] goes beyond Barman and checks that a segment's content belongs
//!   to the server (system identifier, major version, segment size) and to its name (page
//!   address), so a foreign or misnamed file is refused before it reaches the archive.

mod lsn;
mod name;
mod page;
mod segment;
mod version;

pub use lsn::{Lsn, LsnParseError};
pub use name::{is_wal_file_name, WalFileKind, WalFileName, WalNameError};
pub use page::{
    read_segment_header, read_system_identifier, validate_segment_header, LongPageHeader, WalExpectations,
    WalHeaderError, LONG_PAGE_HEADER_LEN,
};
pub use segment::{InvalidSegmentSize, SegmentName, SegmentSize};
pub use version::{PgMajorVersion, PgMajorVersionParseError};
