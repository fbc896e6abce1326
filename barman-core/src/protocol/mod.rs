//! The wire protocols between Barman's WAL clients and the server.
//!
//! Today this is the put-wal stream (`barman-wal-archive` → `barman put-wal`): a tar stream with
//! the WAL and a `SHA256SUMS`/`MD5SUMS` member, compatible byte for byte with Barman on both
//! ends. The server side is split in two steps so that callers control durability and duplicate
//! policy:
//!
//! 1. [`receive_put_wal`] reads and verifies the stream into hidden temporary files;
//! 2. [`commit_received`] detects duplicates through an [`ExistingCopyLookup`] and gives the
//!    files their final names, fsyncing before it reports success.
//!
//! [`send_put_wal`] writes the client side of the same stream.

mod checksum;
mod commit;
mod receive;
mod send;

pub use checksum::{
    digest_of, format_checksum_line, parse_checksum_line, ChecksumAlgorithm, ChecksumHasher, ChecksumLine,
};
pub use commit::{commit_received, CommitError, CommitOutcome, ExistingCopy, ExistingCopyLookup, IncomingDirectory};
pub use receive::{
    receive_put_wal, PutWalError, PutWalFailure, PutWalOrigin, PutWalWarning, ReceivedBatch, ReceivedWal,
};
pub use send::{send_put_wal, PutWalSendError, SentWal};

#[cfg(test)]
mod tests;
