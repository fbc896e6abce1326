//! The PostgreSQL-side WAL clients' work, over an [`crate::ssh::SshConnection`] to the
//! Barman host: the remote command lines ([`command`]), archiving through `barman put-wal`
//! ([`archive`]) and restoring through `barman get-wal` ([`restore`]), with the spool of
//! files prefetched for `--parallel` ([`spool`]).

pub mod archive;
pub mod command;
pub mod restore;
pub mod spool;
