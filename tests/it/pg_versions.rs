//! The version-dependent parts against real clusters of PostgreSQL 13, 14, 16, 17 and 18
//! (installed by `scripts/setup-pg-versions`; a missing version is reported as skipped):
//! backup privileges with the function names of each version, replication connections and
//! slot commands, and `receive-wal` streaming from servers older and newer than the machine's
//! PostgreSQL 15 with a pg_receivewal at least as new as the server.

use barman_core::postgres::replication::{ReplicationConnection, SlotError};
use barman_core::postgres::server::{BackupPrivileges, PostgresServer};
use barman_core::postgres::{connect, ClientEnvironment};
use barman_tests::{pg_client_bin_dir, pg_version_installed, BarmanRole, PgCluster, TestContext};

use crate::receive_wal::{listing, stream_and_stop, streaming_config};

/// The versions of this tier: every supported major but the machine's own.
const OTHER_MAJORS: [u32; 5] = [13, 14, 16, 17, 18];

fn client_environment(ctx: &TestContext) -> ClientEnvironment {
    ClientEnvironment {
        variables: Vec::new(),
        home: Some(ctx.home().to_path_buf()),
        os_user: "nobody".into(),
    }
}

fn privileges(ctx: &TestContext, cluster: &PgCluster) -> BackupPrivileges {
    let client = connect(&cluster.conninfo(), &client_environment(ctx)).unwrap_or_else(|e| panic!("{e}"));
    PostgresServer::new(client).unwrap().backup_privileges().unwrap()
}

#[test]
fn the_seed_grants_of_each_version_are_enough_and_a_missing_one_is_named() {
    for major in OTHER_MAJORS {
        if !pg_version_installed(major) {
            continue;
        }
        let ctx = TestContext::new();
        let cluster = PgCluster::builder(&ctx)
            .version(major)
            .barman_role(BarmanRole::Standard)
            .start();
        assert_eq!(
            privileges(&ctx, &cluster),
            BackupPrivileges {
                superuser: false,
                missing_grants: vec![]
            },
            "PostgreSQL {major}"
        );
        let (start, stop) = if major <= 14 {
            (
                "pg_start_backup(text, boolean, boolean)",
                "pg_stop_backup(boolean, boolean)",
            )
        } else {
            ("pg_backup_start(text, boolean)", "pg_backup_stop(boolean)")
        };
        cluster.sql(&format!("REVOKE EXECUTE ON FUNCTION {start} FROM barman"));
        assert_eq!(
            privileges(&ctx, &cluster).missing_grants,
            [format!("GRANT EXECUTE ON FUNCTION {start} TO barman")],
            "PostgreSQL {major}"
        );
        // Up to 14 either signature of pg_stop_backup is enough; without both it is named.
        cluster.sql(&format!("REVOKE EXECUTE ON FUNCTION {stop} FROM barman"));
        let missing = privileges(&ctx, &cluster).missing_grants;
        if major <= 14 {
            assert_eq!(missing.len(), 1, "PostgreSQL {major}: {missing:?}");
            cluster.sql("REVOKE EXECUTE ON FUNCTION pg_stop_backup() FROM barman");
            assert_eq!(
                privileges(&ctx, &cluster).missing_grants[1],
                format!("GRANT EXECUTE ON FUNCTION {stop} TO barman"),
                "PostgreSQL {major}"
            );
        } else {
            assert_eq!(missing[1], format!("GRANT EXECUTE ON FUNCTION {stop} TO barman"));
        }
    }
}

#[test]
fn replication_connections_identify_the_system_and_manage_slots_on_each_version() {
    for major in OTHER_MAJORS {
        if !pg_version_installed(major) {
            continue;
        }
        let ctx = TestContext::new();
        let cluster = PgCluster::builder(&ctx).version(major).start();
        let mut replication = ReplicationConnection::connect(&cluster.streaming_conninfo(), &client_environment(&ctx))
            .unwrap_or_else(|e| panic!("PostgreSQL {major}: {e}"));
        let identity = replication.identify_system().unwrap();
        assert_eq!(
            identity.system_identifier,
            cluster.sql("SELECT system_identifier FROM pg_control_system()"),
            "PostgreSQL {major}"
        );
        assert_eq!(identity.timeline, 1);
        assert_eq!(
            cluster.sql("SELECT current_setting('server_version_num')::int / 10000"),
            major.to_string()
        );
        replication.create_physical_slot("barman").unwrap();
        assert_eq!(
            cluster.sql("SELECT slot_name, slot_type FROM pg_replication_slots"),
            "barman|physical",
            "PostgreSQL {major}"
        );
        assert!(matches!(
            replication.create_physical_slot("barman"),
            Err(SlotError::AlreadyExists(_))
        ));
        replication.drop_slot("barman").unwrap();
        assert!(matches!(
            replication.drop_slot("barman"),
            Err(SlotError::DoesNotExist(_))
        ));
        assert_eq!(cluster.sql("SELECT count(*) FROM pg_replication_slots"), "0");
    }
}

/// Streams three segments from PostgreSQL `major` with receive-wal, stops it, and checks they
/// are the server's own.
fn receive_wal_streams_from(major: u32) {
    if !pg_version_installed(major) {
        return;
    }
    let Some(client_bin) = pg_client_bin_dir(major) else {
        eprintln!("skipped: no pg_receivewal of PostgreSQL {major} or newer installed (scripts/setup-pg-versions)");
        return;
    };
    let ctx = TestContext::new();
    let cluster = PgCluster::builder(&ctx).version(major).start();
    let config = streaming_config(
        &ctx,
        &cluster,
        &client_bin.display().to_string(),
        "create_slot = auto\n",
    );
    let streamed = stream_and_stop(&ctx, &cluster, &config, 3);
    assert!(streamed.len() >= 3, "PostgreSQL {major}: {streamed:?}");
    let pg_wal = listing(&cluster.data_dir().join("pg_wal"));
    for name in &streamed {
        assert!(
            pg_wal.contains(name),
            "PostgreSQL {major}: {name} is not the server's ({pg_wal:?})"
        );
        let ours = std::fs::read(ctx.barman_home().join("pg/streaming").join(name)).unwrap();
        let server = std::fs::read(cluster.data_dir().join("pg_wal").join(name)).unwrap();
        assert!(ours == server, "PostgreSQL {major}: {name} differs from the server's");
    }
}

#[test]
fn receive_wal_streams_from_postgresql_14() {
    receive_wal_streams_from(14);
}

#[test]
fn receive_wal_streams_from_postgresql_17() {
    receive_wal_streams_from(17);
}
