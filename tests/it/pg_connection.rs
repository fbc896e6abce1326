//! Opening PostgreSQL sessions from Barman connection strings, against a real cluster: the
//! password comes from `.pgpass` as with libpq, and failures say what to fix.

use barman_core::postgres::replication::ReplicationConnection;
use barman_core::postgres::server::{BackupPrivileges, PostgresServer};
use barman_core::postgres::{connect, ClientEnvironment, PostgresError};
use barman_tests::{BarmanRole, PgCluster, TestContext};

fn client_environment(ctx: &TestContext) -> ClientEnvironment {
    ClientEnvironment {
        variables: Vec::new(),
        home: Some(ctx.home().to_path_buf()),
        os_user: "nobody".into(),
    }
}

fn current_user(client: &mut postgres::Client) -> String {
    client.query_one("SELECT current_user::text", &[]).unwrap().get(0)
}

#[test]
fn conninfo_and_uri_connect_with_the_pgpass_password() {
    let ctx = TestContext::new();
    let cluster = PgCluster::start(&ctx);
    let env = client_environment(&ctx);
    let mut client = connect(&cluster.conninfo(), &env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(current_user(&mut client), "barman");
    let uri = format!(
        "postgresql://streaming_barman@127.0.0.1:{}/postgres?application_name=barman_test",
        cluster.port()
    );
    let mut client = connect(&uri, &env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(current_user(&mut client), "streaming_barman");
}

#[test]
fn a_wrong_password_is_reported_with_the_redacted_dsn_and_a_hint() {
    let ctx = TestContext::new();
    let cluster = PgCluster::start(&ctx);
    let dsn = format!("{} password=wrong", cluster.conninfo());
    let error = match connect(&dsn, &client_environment(&ctx)) {
        Ok(_) => panic!("a wrong password must be refused"),
        Err(error) => error,
    };
    let PostgresError::Connect {
        dsn: shown,
        message,
        hint,
    } = &error
    else {
        panic!("{error}")
    };
    assert_eq!(shown, &format!("{} password=*REDACTED*", cluster.conninfo()));
    assert_eq!(message, "password authentication failed for user \"barman\"");
    assert_eq!(
        hint.as_deref(),
        Some(
            format!(
                "check the password of user 'barman' for 127.0.0.1:{} in ~/.pgpass (or in conninfo)",
                cluster.port()
            )
            .as_str()
        )
    );
}

#[test]
fn replication_connections_identify_the_system_and_manage_slots() {
    let ctx = TestContext::new();
    let cluster = PgCluster::builder(&ctx).max_replication_slots(2).start();
    let env = client_environment(&ctx);
    let mut replication =
        ReplicationConnection::connect(&cluster.streaming_conninfo(), &env).unwrap_or_else(|e| panic!("{e}"));
    let identity = replication.identify_system().unwrap();
    assert_eq!(
        identity.system_identifier,
        cluster.sql("SELECT system_identifier FROM pg_control_system()")
    );
    assert_eq!(identity.timeline, 1);
    assert!(identity.xlogpos.contains('/'), "{identity:?}");
    replication
        .simple_query("CREATE_REPLICATION_SLOT barman PHYSICAL")
        .unwrap();
    assert_eq!(cluster.sql("SELECT slot_name FROM pg_replication_slots"), "barman");
    let error = replication
        .simple_query("CREATE_REPLICATION_SLOT barman PHYSICAL")
        .unwrap_err();
    assert!(
        error
            .to_string()
            .ends_with("replication slot \"barman\" already exists"),
        "{error}"
    );
    replication.simple_query("DROP_REPLICATION_SLOT barman").unwrap();
    assert_eq!(cluster.sql("SELECT count(*) FROM pg_replication_slots"), "0");
}

#[test]
fn replication_connections_refuse_users_without_the_replication_attribute() {
    let ctx = TestContext::new();
    let cluster = PgCluster::start(&ctx);
    let error = match ReplicationConnection::connect(&cluster.conninfo(), &client_environment(&ctx)) {
        Ok(_) => panic!("the barman role has no REPLICATION attribute"),
        Err(error) => error,
    };
    assert!(
        error.to_string().contains("must be superuser or replication role")
            || error.to_string().contains("permission denied to start WAL sender"),
        "{error}"
    );
}

fn privileges(ctx: &TestContext, cluster: &PgCluster) -> BackupPrivileges {
    let client = connect(&cluster.conninfo(), &client_environment(ctx)).unwrap_or_else(|e| panic!("{e}"));
    PostgresServer::new(client).unwrap().backup_privileges().unwrap()
}

#[test]
fn the_seed_standard_user_has_every_backup_privilege_and_a_missing_grant_is_named() {
    let ctx = TestContext::new();
    let cluster = PgCluster::builder(&ctx).barman_role(BarmanRole::Standard).start();
    assert_eq!(
        privileges(&ctx, &cluster),
        BackupPrivileges {
            superuser: false,
            missing_grants: vec![]
        }
    );
    cluster.sql("REVOKE EXECUTE ON FUNCTION pg_switch_wal() FROM barman");
    cluster.sql("REVOKE pg_read_all_stats FROM barman");
    let found = privileges(&ctx, &cluster);
    assert!(!found.sufficient());
    assert_eq!(
        found.missing_grants,
        [
            "GRANT pg_read_all_settings TO barman",
            "GRANT pg_read_all_stats TO barman",
            "GRANT EXECUTE ON FUNCTION pg_switch_wal() TO barman",
        ]
    );
}

#[test]
fn a_superuser_needs_no_grant() {
    let ctx = TestContext::new();
    let cluster = PgCluster::builder(&ctx).barman_role(BarmanRole::Superuser).start();
    let found = privileges(&ctx, &cluster);
    assert!(found.superuser && found.sufficient());
    let client = connect(&cluster.conninfo(), &client_environment(&ctx)).unwrap();
    let mut server = PostgresServer::new(client).unwrap();
    assert_eq!(server.major_version(), "15");
    assert_eq!(server.setting("wal_level").unwrap().as_deref(), Some("replica"));
    assert_eq!(server.setting("no_such_setting").unwrap(), None);
    assert_eq!(
        server.system_identifier().unwrap(),
        cluster.sql("SELECT system_identifier FROM pg_control_system()")
    );
    assert!(!server.is_in_recovery().unwrap());
}
