//! PostgreSQL major versions besides the machine's 15, for the multi-version tier.
//!
//! `scripts/setup-pg-versions` installs server programs under `/opt/pg-versions/<major>/bin`
//! (or `$PG_VERSIONS_DIR`), and the client programs of the newest version under
//! `client-<major>/bin`. Tests ask for a version with [`pg_version_installed`], which says
//! clearly on the test output when the version is missing and the test skips itself.

use std::path::{Path, PathBuf};

use crate::postgres::PG_BIN_DIR;

/// The machine's own PostgreSQL (Debian's postgresql-15 package).
pub const SYSTEM_PG_MAJOR: u32 = 15;

/// Where `scripts/setup-pg-versions` installs, unless `PG_VERSIONS_DIR` says otherwise.
const DEFAULT_PG_VERSIONS_DIR: &str = "/opt/pg-versions";

fn versions_dir() -> PathBuf {
    std::env::var_os("PG_VERSIONS_DIR").map_or_else(|| PathBuf::from(DEFAULT_PG_VERSIONS_DIR), PathBuf::from)
}

/// The directory of the server programs of PostgreSQL `major`, if installed.
pub fn pg_server_bin_dir(major: u32) -> Option<PathBuf> {
    let bin = if major == SYSTEM_PG_MAJOR {
        PathBuf::from(PG_BIN_DIR)
    } else {
        versions_dir().join(major.to_string()).join("bin")
    };
    bin.join("postgres").is_file().then_some(bin)
}

/// The PostgreSQL majors whose server programs are installed, ascending.
pub fn installed_pg_versions() -> Vec<u32> {
    let mut majors: Vec<u32> = std::fs::read_dir(versions_dir())
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    majors.push(SYSTEM_PG_MAJOR);
    majors.sort_unstable();
    majors.dedup();
    majors.retain(|major| pg_server_bin_dir(*major).is_some());
    majors
}

/// Whether PostgreSQL `major` can be started; when not, prints that the calling test is
/// skipped and why.
pub fn pg_version_installed(major: u32) -> bool {
    let installed = pg_server_bin_dir(major).is_some();
    if !installed {
        eprintln!("skipped: PostgreSQL {major} not installed (scripts/setup-pg-versions)");
    }
    installed
}

/// A directory holding a `pg_receivewal` that works with PostgreSQL `server_major` (client
/// programs work with their own and older servers): the newest installed client programs,
/// else the machine's own when they are recent enough.
pub fn pg_client_bin_dir(server_major: u32) -> Option<PathBuf> {
    let mut clients: Vec<(u32, PathBuf)> = std::fs::read_dir(versions_dir())
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|entry| {
                    let major = entry.file_name().to_str()?.strip_prefix("client-")?.parse().ok()?;
                    Some((major, entry.path().join("bin")))
                })
                .collect()
        })
        .unwrap_or_default();
    clients.push((SYSTEM_PG_MAJOR, PathBuf::from(PG_BIN_DIR)));
    clients
        .into_iter()
        .filter(|(major, bin)| *major >= server_major && Path::new(bin).join("pg_receivewal").is_file())
        .max_by_key(|(major, _)| *major)
        .map(|(_, bin)| bin)
}
