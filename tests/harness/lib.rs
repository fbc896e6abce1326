//! Test harness for the integration tests: real processes in throwaway directories.
//!
//! Every test builds a [`TestContext`] (a temporary root with an isolated `HOME`, a
//! `barman_home` and helpers that run the built binaries with a clean environment), then
//! starts what it needs on loopback ports inside that root:
//!
//! * [`PgCluster`]: a PostgreSQL 15 cluster with the roles the Barman set-up guide asks
//!   for (`barman`, `streaming_barman`), their passwords in `$HOME/.pgpass`; or one of
//!   another major version installed by `scripts/setup-pg-versions` (see
//!   [`installed_pg_versions`]);
//! * [`Sshd`]: an OpenSSH server that accepts the context's client keys, with a
//!   configurable remote `PATH`, so `ssh`-based tools (barman-wal-archive, rsync) work as
//!   they would between two hosts. `ssh` on the context's `PATH` (also the PostgreSQL
//!   server's, for `archive_command`) connects with those keys.
//!
//! Everything a test starts is stopped when its handle is dropped, and the root directory
//! is removed with the context. Declare the context first so it outlives the servers.
//!
//! The built binaries are looked up next to the test executable: run
//! `cargo build --workspace --bins` before `cargo test`.

mod barman_host;
mod binaries;
mod context;
mod files;
mod os_user;
mod pg_versions;
mod ports;
mod postgres;
mod process;
mod roles;
mod ssh_client;
mod sshd;

pub use barman_host::{python_barman_installed, BarmanHost, PYTHON_BARMAN_BIN};
pub use binaries::{binaries_dir, built_binary};
pub use context::{BarmanRun, TestContext, SYSTEM_PATH};
pub use pg_versions::{
    installed_pg_versions, pg_client_bin_dir, pg_server_bin_dir, pg_version_installed, SYSTEM_PG_MAJOR,
};
pub use postgres::{PgCluster, PgClusterBuilder, PG_BIN_DIR};
pub use roles::{BarmanRole, BARMAN_PASSWORD, STREAMING_BARMAN_PASSWORD};
pub use sshd::Sshd;

/// The only address the harness listens on or connects to.
pub const LOOPBACK: &str = "127.0.0.1";
