//! Tests of the test harness itself: the servers it starts behave like the hosts of the
//! Barman set-up guide (roles, GRANTs, passwords, replication, ssh keys), and everything
//! is gone when the handles are dropped.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use barman_tests::{
    binaries_dir, built_binary, BarmanRole, PgCluster, Sshd, TestContext, LOOPBACK, PG_BIN_DIR, SYSTEM_PATH,
};

fn psql(ctx: &TestContext, conninfo: &str, query: &str) -> assert_cmd::Command {
    let mut psql = ctx.command(PathBuf::from(PG_BIN_DIR).join("psql"));
    psql.args(["-X", "-A", "-t", "-d", conninfo, "-c", query]);
    psql
}

/// Runs `query`, which must fail, and returns psql's standard error.
fn psql_error(ctx: &TestContext, conninfo: &str, query: &str) -> String {
    let output = psql(ctx, conninfo, query).assert().failure().get_output().clone();
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn context_commands_see_only_path_home_and_lang() {
    let ctx = TestContext::new();
    let output = ctx.command("env").assert().success().get_output().stdout.clone();
    let path = format!("[TEMP]/bin:{}:{SYSTEM_PATH}", binaries_dir().to_string_lossy());
    assert_eq!(
        ctx.normalize(&String::from_utf8_lossy(&output)),
        format!("HOME=[TEMP]/home\nLANG=C\nPATH={path}\n")
    );
}

#[test]
fn write_config_puts_the_file_in_the_temporary_root() {
    let ctx = TestContext::new();
    let config = ctx.write_config("[barman]\nbarman_home = /srv\n");
    assert_eq!(ctx.normalize(&config.to_string_lossy()), "[TEMP]/barman.conf");
    assert_eq!(
        std::fs::read_to_string(config).unwrap(),
        "[barman]\nbarman_home = /srv\n"
    );
}

#[test]
#[should_panic(expected = "run `cargo build --workspace --bins` first")]
fn a_missing_binary_names_the_build_command() {
    built_binary("no-such-binary");
}

#[test]
fn cluster_answers_queries() {
    let ctx = TestContext::new();
    let pg = PgCluster::start(&ctx);
    assert_eq!(pg.sql("SELECT 1"), "1");
}

#[test]
fn builder_settings_reach_the_server() {
    let ctx = TestContext::new();
    let pg = PgCluster::builder(&ctx)
        .wal_level("logical")
        .archive_mode("on")
        .archive_command("/bin/true %p")
        .max_wal_senders(3)
        .max_replication_slots(4)
        .setting("cluster_name", "it's quoted")
        .start();
    let settings = pg.sql(
        "SELECT string_agg(name || '=' || setting, ',' ORDER BY name) FROM pg_settings \
         WHERE name IN ('archive_command', 'archive_mode', 'cluster_name', \
         'listen_addresses', 'max_replication_slots', 'max_wal_senders', 'wal_level')",
    );
    assert_eq!(
        settings,
        "archive_command=/bin/true %p,archive_mode=on,cluster_name=it's quoted,\
         listen_addresses=127.0.0.1,max_replication_slots=4,max_wal_senders=3,wal_level=logical"
    );
}

#[test]
fn standard_barman_role_has_exactly_the_guides_grants() {
    let ctx = TestContext::new();
    let pg = PgCluster::start(&ctx);
    assert_eq!(
        pg.sql("SELECT rolsuper, rolreplication FROM pg_roles WHERE rolname = 'barman'"),
        "f|f"
    );
    for function in [
        "pg_backup_start(text, boolean)",
        "pg_backup_stop(boolean)",
        "pg_switch_wal()",
        "pg_create_restore_point(text)",
    ] {
        assert_eq!(
            pg.sql(&format!(
                "SELECT has_function_privilege('barman', '{function}', 'execute')"
            )),
            "t",
            "{function}"
        );
    }
    let granted_functions = pg.sql(
        "SELECT string_agg(p.oid::regprocedure::text, ' ' ORDER BY p.oid::regprocedure::text) \
         FROM pg_proc p, aclexplode(p.proacl) acl WHERE acl.grantee = 'barman'::regrole",
    );
    assert_eq!(
        granted_functions,
        "pg_backup_start(text,boolean) pg_backup_stop(boolean) \
         pg_create_restore_point(text) pg_switch_wal()"
    );
    let memberships = pg.sql(
        "SELECT string_agg(r.rolname, ' ' ORDER BY r.rolname) FROM pg_auth_members m \
         JOIN pg_roles r ON r.oid = m.roleid WHERE m.member = 'barman'::regrole",
    );
    assert_eq!(memberships, "pg_read_all_settings pg_read_all_stats");
    assert_eq!(
        pg.sql("SELECT pg_has_role('barman', 'pg_read_all_settings', 'member')"),
        "t"
    );
}

#[test]
fn superuser_barman_role_is_a_superuser() {
    let ctx = TestContext::new();
    let pg = PgCluster::builder(&ctx).barman_role(BarmanRole::Superuser).start();
    psql(
        &ctx,
        &pg.conninfo(),
        "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
    )
    .assert()
    .success()
    .stdout("t\n");
}

#[test]
fn barman_logs_in_over_loopback_with_the_pgpass_password() {
    let ctx = TestContext::new();
    let pg = PgCluster::start(&ctx);
    let pgpass = std::fs::metadata(ctx.home().join(".pgpass")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&pgpass.permissions()) & 0o777,
        0o600
    );
    psql(&ctx, &pg.conninfo(), "SELECT current_user, inet_server_addr()")
        .assert()
        .success()
        .stdout("barman|127.0.0.1\n");
}

#[test]
fn a_wrong_password_is_refused() {
    let ctx = TestContext::new();
    let pg = PgCluster::start(&ctx);
    let conninfo = format!("{} password=not-the-password", pg.conninfo());
    let stderr = psql_error(&ctx, &conninfo, "SELECT 1");
    assert!(
        stderr.contains("password authentication failed for user \"barman\""),
        "{stderr}"
    );
}

#[test]
fn streaming_barman_opens_a_replication_connection() {
    let ctx = TestContext::new();
    let pg = PgCluster::start(&ctx);
    let system_id = pg.sql("SELECT system_identifier FROM pg_control_system()");
    let replication = format!("{} replication=1", pg.streaming_conninfo());
    let output = psql(&ctx, &replication, "IDENTIFY_SYSTEM")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let identify = String::from_utf8_lossy(&output);
    assert!(identify.starts_with(&format!("{system_id}|1|")), "{identify}");
}

#[test]
fn standard_barman_may_not_open_a_replication_connection() {
    let ctx = TestContext::new();
    let pg = PgCluster::start(&ctx);
    let replication = format!("{} replication=1", pg.conninfo());
    let stderr = psql_error(&ctx, &replication, "IDENTIFY_SYSTEM");
    assert!(
        stderr.contains("must be superuser or replication role to start walsender"),
        "{stderr}"
    );
}

#[test]
fn a_stopped_cluster_refuses_connections() {
    let ctx = TestContext::new();
    let mut pg = PgCluster::start(&ctx);
    pg.stop();
    let stderr = psql_error(&ctx, &pg.conninfo(), "SELECT 1");
    assert!(stderr.contains("Connection refused"), "{stderr}");
}

fn ssh(ctx: &TestContext, sshd: &Sshd, remote_command: &str) -> assert_cmd::Command {
    let mut ssh = ctx.command("ssh");
    ssh.args(["-o", "BatchMode=yes", "-p", &sshd.port().to_string()])
        .arg(sshd.destination())
        .arg(remote_command);
    ssh
}

#[test]
fn sshd_accepts_the_context_key() {
    let ctx = TestContext::new();
    let sshd = Sshd::start(&ctx, &[]);
    ssh(&ctx, &sshd, "true").assert().success().stdout("").stderr("");
}

#[test]
fn sshd_refuses_an_unknown_key() {
    let ctx = TestContext::new();
    let sshd = Sshd::start(&ctx, &[]);
    let unknown_key = ctx.root().join("unknown_key");
    ctx.command("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&unknown_key)
        .assert()
        .success();
    let known_hosts = ctx.home().join(".ssh/known_hosts");
    let output = ctx
        .command("/usr/bin/ssh")
        .args(["-F", "/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
        .arg("-i")
        .arg(&unknown_key)
        .args(["-p", &sshd.port().to_string()])
        .arg(sshd.destination())
        .arg("true")
        .assert()
        .code(255)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Permission denied (publickey)"), "{stderr}");
}

#[test]
fn remote_sessions_get_the_path_prefix_and_the_context_home() {
    let ctx = TestContext::new();
    let remote_bin = ctx.root().join("remote-bin");
    let greeting = ctx.write_file("remote-bin/greet", "#!/bin/sh\necho hello from remote-bin\n");
    std::fs::set_permissions(&greeting, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let sshd = Sshd::start(&ctx, &[remote_bin]);
    let output = ssh(&ctx, &sshd, "greet; echo \"$PATH\"; echo \"$HOME\"")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(
        ctx.normalize(&String::from_utf8_lossy(&output)),
        format!("hello from remote-bin\n[TEMP]/remote-bin:[TEMP]/bin:{SYSTEM_PATH}\n[TEMP]/home\n")
    );
}

#[test]
fn the_ssh_command_for_barman_logs_in() {
    let ctx = TestContext::new();
    let sshd = Sshd::start(&ctx, &[]);
    ctx.command("sh")
        .args(["-c", &format!("{} 'echo logged in as $(id -un)'", sshd.ssh_command())])
        .assert()
        .success()
        .stdout(format!("logged in as {}\n", sshd.user()));
    assert!(sshd.ssh_command().contains(LOOPBACK));
}

#[test]
fn a_dropped_sshd_refuses_connections() {
    let ctx = TestContext::new();
    let sshd = Sshd::start(&ctx, &[]);
    let port = sshd.port().to_string();
    let destination = sshd.destination();
    drop(sshd);
    let output = ctx
        .command("ssh")
        .args(["-p", &port, &destination, "true"])
        .assert()
        .code(255)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Connection refused"), "{stderr}");
}

#[test]
fn postgres_archive_command_reaches_sshd() {
    let ctx = TestContext::new();
    let sshd = Sshd::start(&ctx, &[]);
    let archive = ctx.root().join("archive");
    std::fs::create_dir(&archive).unwrap();
    let pg = PgCluster::builder(&ctx)
        .archive_mode("on")
        .archive_command(&format!("{} 'cat > {}/%f' < %p", sshd.ssh_command(), archive.display()))
        .start();
    let segment = pg.sql("SELECT pg_walfile_name(pg_switch_wal())");
    let archived = archive.join(&segment);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pg
        .sql("SELECT last_archived_wal IS NOT NULL FROM pg_stat_archiver")
        .eq("t")
    {
        assert!(Instant::now() < deadline, "{segment} was not archived\n{}", pg.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(std::fs::metadata(archived).unwrap().len(), 16 * 1024 * 1024);
}
