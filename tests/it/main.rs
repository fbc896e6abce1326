//! Integration tests: the built binaries against real PostgreSQL clusters and a real
//! sshd, one module per area.

mod config;
mod harness;
mod wal_server;
