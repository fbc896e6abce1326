//! The PostgreSQL roles of the Barman set-up guide and the client-side password file.
//!
//! `barman` is either a superuser or a standard user with exactly the guide's GRANTs for
//! the cluster's PostgreSQL version, so tests can prove Barman works without superuser rights;
//! `streaming_barman` has REPLICATION for pg_basebackup/pg_receivewal. Both log in with a
//! password over 127.0.0.1, which the context's `.pgpass` supplies, as the guide advises.

use std::path::Path;

use crate::files::append_file;
use crate::postgres::PgCluster;
use crate::LOOPBACK;

pub const BARMAN_PASSWORD: &str = "barman-secret";
pub const STREAMING_BARMAN_PASSWORD: &str = "streaming-barman-secret";

/// How much the `barman` role may do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BarmanRole {
    /// `createuser -s -P barman`.
    Superuser,
    /// `createuser -P barman` plus the guide's GRANTs (PostgreSQL 15 function signatures).
    #[default]
    Standard,
}

/// The GRANTs the set-up guide lists for a non-superuser `barman` on PostgreSQL 15 and later.
const STANDARD_BARMAN_GRANTS: &str = "\
GRANT EXECUTE ON FUNCTION pg_backup_start(text, boolean) to barman;
GRANT EXECUTE ON FUNCTION pg_backup_stop(boolean) to barman;
GRANT EXECUTE ON FUNCTION pg_switch_wal() to barman;
GRANT EXECUTE ON FUNCTION pg_create_restore_point(text) to barman;
GRANT pg_read_all_settings TO barman;
GRANT pg_read_all_stats TO barman;
";

/// The guide's GRANTs for PostgreSQL 14 and earlier, where the backup functions have their old
/// names and signatures.
const STANDARD_BARMAN_GRANTS_PG14: &str = "\
GRANT EXECUTE ON FUNCTION pg_start_backup(text, boolean, boolean) to barman;
GRANT EXECUTE ON FUNCTION pg_stop_backup() to barman;
GRANT EXECUTE ON FUNCTION pg_stop_backup(boolean, boolean) to barman;
GRANT EXECUTE ON FUNCTION pg_switch_wal() to barman;
GRANT EXECUTE ON FUNCTION pg_create_restore_point(text) to barman;
GRANT pg_read_all_settings TO barman;
GRANT pg_read_all_stats TO barman;
";

pub(crate) fn create_seed_roles(cluster: &PgCluster, barman: BarmanRole) {
    let barman_sql = match barman {
        BarmanRole::Superuser => {
            format!("CREATE ROLE barman LOGIN SUPERUSER PASSWORD '{BARMAN_PASSWORD}';")
        }
        BarmanRole::Standard => {
            let grants = if cluster.major() <= 14 {
                STANDARD_BARMAN_GRANTS_PG14
            } else {
                STANDARD_BARMAN_GRANTS
            };
            format!("CREATE ROLE barman LOGIN PASSWORD '{BARMAN_PASSWORD}';\n{grants}")
        }
    };
    cluster.sql(&barman_sql);
    cluster.sql(&format!(
        "CREATE ROLE streaming_barman LOGIN REPLICATION PASSWORD '{STREAMING_BARMAN_PASSWORD}';"
    ));
}

/// Adds both roles' passwords for the cluster on `port` to `home`/.pgpass (mode 0600,
/// or libpq ignores it). `*` as database also covers replication connections.
pub(crate) fn add_pgpass_entries(home: &Path, port: u16) {
    let entries = format!(
        "{LOOPBACK}:{port}:*:barman:{BARMAN_PASSWORD}\n\
         {LOOPBACK}:{port}:*:streaming_barman:{STREAMING_BARMAN_PASSWORD}\n"
    );
    append_file(&home.join(".pgpass"), &entries, 0o600);
}
