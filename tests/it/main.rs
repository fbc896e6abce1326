//! Integration tests: the built binaries against real PostgreSQL clusters and a real
//! sshd, one module per area.

mod check;
mod config;
mod harness;
mod pg_connection;
mod pg_versions;
mod receive_wal;
mod status;
mod wal_clients;
mod wal_server;
