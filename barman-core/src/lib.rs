#![warn(missing_docs)]
//! Domain logic of a Barman-compatible backup and recovery manager for PostgreSQL.
//!
//! The library never prints and never exits: every operation returns a typed result and the
//! binaries (`barman`, `barman-wal-archive`, `barman-wal-restore`) decide how to render it.

pub mod archive;
pub mod backups_overview;
pub mod catalog;
pub mod check;
pub mod compression;
pub mod config;
mod durable;
pub mod file_error;
pub mod human;
pub mod identity;
pub mod locks;
pub mod postgres;
pub mod processes;
pub mod protocol;
pub mod receive_wal;
pub mod redact;
pub mod remote;
pub mod ssh;
pub mod wal;
pub mod xlogdb;
