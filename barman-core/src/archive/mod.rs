//! A server's WAL archive on disk, and the server-side WAL commands that work on it.
//!
//! [`ArchiveLayout`] resolves the directories Barman uses for one server (`incoming/`,
//! `streaming/`, `wals/`, `errors/`, the catalogue and the lock directory) and where each WAL
//! file belongs in `wals/`. On top of it:
//!
//! * [`put_wal`]: the server side of `barman put-wal`: receive a stream into `incoming/`,
//!   refusing WAL of another cluster and recognising resent files;
//! * [`archive_wal`]: `barman archive-wal`: move `streaming/` and `incoming/` into `wals/`,
//!   compressing and cataloguing;
//! * [`rebuild_xlogdb`]: `barman rebuild-xlogdb`: rewrite the catalogue from `wals/`;
//! * [`get_wal`]: `barman get-wal`: find a WAL, list the ones that follow, stream it out;
//! * [`wait_for_archived_wal`]: `switch-wal --archive`: run archive-wal until a WAL arrives.
//!
//! Stored files may be compressed (by the archiver or by the client); [`content`] reads any of
//! them as the WAL they hold, which is what duplicates are compared on.

mod archiver;
pub mod content;
pub mod get_wal;
mod layout;
mod put_wal;
mod rebuild;
mod wait;

pub use archiver::{
    archive_wal, ArchiveEvent, ArchiveOutcome, ArchiveSettings, ArchiveSummary, ArchiveWalError, WalSource,
    GROUP_MAX_AGE, GROUP_MAX_FILES,
};
pub use layout::{ArchiveLayout, LayoutError};
pub use put_wal::{put_wal, PutWalReport, ServerPutWalError};
pub use rebuild::{rebuild_xlogdb, RebuildError, RebuildReport, SkippedFile};
pub use wait::{latest_archived_per_timeline, wait_for_archived_wal, AwaitedWal, WaitOutcome, WAIT_INTERVAL};
