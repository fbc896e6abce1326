//! `barman check` against real PostgreSQL 15 clusters: the seed's roles and settings pass, and
//! each way of getting them wrong yields Barman's FAILED line with a hint that says what to
//! change. Console, JSON and Nagios outputs are compared whole where they are stable.

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use barman_core::postgres::client_tools::{self, ClientTool};
use barman_tests::{
    pg_version_installed, BarmanHost, BarmanRole, BarmanRun, PgCluster, PgClusterBuilder, Sshd, TestContext, PG_BIN_DIR,
};

fn check(ctx: &TestContext, config: &Path, args: &[&str]) -> BarmanRun {
    let mut with_check = vec!["check"];
    with_check.extend_from_slice(args);
    ctx.run_barman(config, &with_check)
}

/// The seed's server: the `barman` and `streaming_barman` connections, pg_basebackup
/// backups, WAL shipped by `archive_command`; client tools from PostgreSQL 15's directory.
fn server_options(cluster: &PgCluster) -> String {
    format!(
        "conninfo = {}\nstreaming_conninfo = {}\nbackup_method = postgres\narchiver = on\npath_prefix = {PG_BIN_DIR}\n",
        cluster.conninfo(),
        cluster.streaming_conninfo()
    )
}

/// A cluster that archives (into nowhere: the WAL archive check is satisfied by the catalogue
/// [`catalogue_one_wal`] writes).
fn archiving_cluster(ctx: &TestContext) -> PgClusterBuilder<'_> {
    PgCluster::builder(ctx).archive_mode("on").archive_command("true")
}

/// One line in `pg`'s WAL catalogue: `WAL archive` passes without switching a WAL.
fn catalogue_one_wal(ctx: &TestContext) {
    let wals = ctx.barman_home().join("pg/wals");
    fs::create_dir_all(&wals).unwrap();
    fs::write(
        wals.join("pg-xlog.db"),
        "000000010000000000000001\t16777216\t1700000000.0\tNone\tNone\n",
    )
    .unwrap();
}

/// The output of `check pg` on a healthy server without backups, as a list of lines.
fn healthy() -> Vec<String> {
    [
        "Server pg:",
        "\tPostgreSQL: OK",
        "\tsuperuser or standard user with backup privileges: OK",
        "\tPostgreSQL streaming: OK",
        "\twal_level: OK",
        "\tdirectories: OK",
        "\tretention policy settings: OK",
        "\tbackup maximum age: OK (no last_backup_maximum_age provided)",
        "\tbackup minimum size: OK (0 B)",
        "\twal maximum age: OK (no last_wal_maximum_age provided)",
        "\twal size: OK (0 B)",
        "\tcompression settings: OK",
        "\tfailed backups: OK (there are 0 failed backups)",
        "\tminimum redundancy requirements: OK (have 0 non-incremental backups, expected at least 0)",
        "\tpg_basebackup: OK",
        "\tpg_basebackup compatible: OK",
        "\tpg_basebackup supports tablespaces mapping: OK",
        "\tsystemid coherence: OK (no system Id stored on disk)",
        "\tarchive_mode: OK",
        "\tarchive_command: OK",
        "\tcontinuous archiving: OK",
        "\tarchiver errors: OK",
    ]
    .map(String::from)
    .to_vec()
}

/// Replaces the line of check `name` (or removes it, with `None`).
fn set_line(lines: &mut Vec<String>, name: &str, line: Option<&str>) {
    let prefix = format!("\t{name}: ");
    let index = lines
        .iter()
        .position(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no '{name}' line in {lines:#?}"));
    match line {
        Some(line) => lines[index] = line.to_owned(),
        None => {
            lines.remove(index);
        }
    }
}

/// Inserts `line` after the line of check `name`.
fn insert_after(lines: &mut Vec<String>, name: &str, line: &str) {
    let prefix = format!("\t{name}: ");
    let index = lines.iter().position(|l| l.starts_with(&prefix)).unwrap();
    lines.insert(index + 1, line.to_owned());
}

fn text(lines: &[String]) -> String {
    lines.iter().map(|line| format!("{line}\n")).collect()
}

/// `150018` → `15.18`, the version as the checks print it.
fn server_version(cluster: &PgCluster) -> String {
    let num: u32 = cluster.sql("SHOW server_version_num").parse().unwrap();
    format!("{}.{}", num / 10_000, num % 100)
}

fn tool_version(tool: ClientTool) -> String {
    client_tools::find(tool, Some(PG_BIN_DIR), "").unwrap().version
}

#[test]
fn superuser_and_seed_standard_user_pass_every_check() {
    for role in [BarmanRole::Superuser, BarmanRole::Standard] {
        let ctx = TestContext::new();
        let cluster = archiving_cluster(&ctx).barman_role(role).start();
        let config = ctx.write_barman_config(&server_options(&cluster));
        catalogue_one_wal(&ctx);
        let run = check(&ctx, &config, &["pg"]);
        assert_eq!(run.stdout, text(&healthy()), "{role:?}\n{}", run.stderr);
        assert_eq!((run.stderr.as_str(), run.code), ("", Some(0)), "{role:?}");
        for directory in ["base", "errors", "incoming", "meta", "streaming", "wals"] {
            assert!(
                ctx.barman_home().join("pg").join(directory).is_dir(),
                "{directory} created"
            );
        }
    }
}

/// For each `(privilege, grants)` of `backup_functions` and of what every version needs
/// (`pg_switch_wal`, `pg_create_restore_point`, the monitoring roles): REVOKE the privilege
/// from the seed's standard role on a cluster of PostgreSQL `major`; `check` fails Barman's way
/// with exactly `grants` to run, and passes again once it is granted back.
fn assert_each_missing_grant_fails(major: u32, backup_functions: &[(&str, &str)]) {
    let every_version = [
        (
            "EXECUTE ON FUNCTION pg_switch_wal()",
            "GRANT EXECUTE ON FUNCTION pg_switch_wal() TO barman",
        ),
        (
            "EXECUTE ON FUNCTION pg_create_restore_point(text)",
            "GRANT EXECUTE ON FUNCTION pg_create_restore_point(text) TO barman",
        ),
        ("pg_read_all_settings", MONITORING_GRANTS),
        ("pg_read_all_stats", MONITORING_GRANTS),
    ];
    let ctx = TestContext::new();
    let cluster = archiving_cluster(&ctx).version(major).start();
    let config = ctx.write_barman_config(&server_options(&cluster));
    catalogue_one_wal(&ctx);
    assert_eq!(
        check(&ctx, &config, &["pg"]).stdout,
        text(&healthy()),
        "PostgreSQL {major}"
    );
    for (privilege, grants) in backup_functions.iter().chain(&every_version) {
        cluster.sql(&format!("REVOKE {privilege} FROM barman"));
        let run = check(&ctx, &config, &["pg"]);
        let mut expected = healthy();
        set_line(
            &mut expected,
            "superuser or standard user with backup privileges",
            Some(&format!(
                "\tno access to backup functions: FAILED (privileges for PostgreSQL backup functions are required \
                 (see documentation); as a superuser, run: {grants})"
            )),
        );
        assert_eq!(
            run.stdout,
            text(&expected),
            "{major}: REVOKE {privilege}\n{}",
            run.stderr
        );
        assert_eq!(run.code, Some(1), "{major}: REVOKE {privilege}");
        cluster.sql(&format!("GRANT {privilege} TO barman"));
    }
    assert_eq!(check(&ctx, &config, &["pg"]).code, Some(0), "every GRANT restored");
}

/// A missing role membership asks for both: Barman needs all settings and statistics readable.
const MONITORING_GRANTS: &str = "GRANT pg_read_all_settings TO barman; GRANT pg_read_all_stats TO barman";

#[test]
fn a_role_missing_any_grant_fails_with_the_grant_to_run() {
    assert_each_missing_grant_fails(
        15,
        &[
            (
                "EXECUTE ON FUNCTION pg_backup_start(text, boolean)",
                "GRANT EXECUTE ON FUNCTION pg_backup_start(text, boolean) TO barman",
            ),
            (
                "EXECUTE ON FUNCTION pg_backup_stop(boolean)",
                "GRANT EXECUTE ON FUNCTION pg_backup_stop(boolean) TO barman",
            ),
        ],
    );
}

/// PostgreSQL 14 names the backup functions differently; either `pg_stop_backup` will do.
#[test]
fn a_role_missing_any_grant_fails_with_the_grant_to_run_on_postgresql_14() {
    if !pg_version_installed(14) {
        return;
    }
    assert_each_missing_grant_fails(
        14,
        &[
            (
                "EXECUTE ON FUNCTION pg_start_backup(text, boolean, boolean)",
                "GRANT EXECUTE ON FUNCTION pg_start_backup(text, boolean, boolean) TO barman",
            ),
            (
                "EXECUTE ON FUNCTION pg_stop_backup(), pg_stop_backup(boolean, boolean)",
                "GRANT EXECUTE ON FUNCTION pg_stop_backup(boolean, boolean) TO barman",
            ),
        ],
    );
}

#[test]
fn wal_level_minimal_and_archive_mode_off_name_the_settings_to_change() {
    let ctx = TestContext::new();
    let cluster = PgCluster::builder(&ctx)
        .wal_level("minimal")
        .max_wal_senders(0)
        .archive_mode("off")
        .start();
    let config = ctx.write_barman_config(&server_options(&cluster));
    catalogue_one_wal(&ctx);
    let run = check(&ctx, &config, &["pg"]);
    let port = cluster.port();
    let mut expected = healthy();
    set_line(
        &mut expected,
        "PostgreSQL streaming",
        Some(&format!(
            "\tPostgreSQL streaming: FAILED (cannot connect to PostgreSQL with 'host=127.0.0.1 port={port} \
             user=streaming_barman dbname=postgres password=*REDACTED*': number of requested standby connections \
             exceeds max_wal_senders (currently 0); set max_wal_senders = 2 (or more) in postgresql.conf and restart \
             PostgreSQL)"
        )),
    );
    set_line(
        &mut expected,
        "wal_level",
        Some(
            "\twal_level: FAILED (please set it to a higher level than 'minimal'; set wal_level = replica in \
             postgresql.conf and restart PostgreSQL)",
        ),
    );
    set_line(
        &mut expected,
        "pg_basebackup compatible",
        Some(&basebackup_without_server_version()),
    );
    set_line(
        &mut expected,
        "archive_mode",
        Some(
            "\tarchive_mode: FAILED (please set it to 'on' or 'always'; set archive_mode = on in postgresql.conf and \
             restart PostgreSQL)",
        ),
    );
    set_line(&mut expected, "archive_command", Some(&archive_command_failure()));
    set_line(&mut expected, "continuous archiving", None);
    assert_eq!(run.stdout, text(&expected), "{}", run.stderr);
    assert_eq!(run.code, Some(1));
}

/// `pg_basebackup compatible` when the replication session could not tell the server's version.
fn basebackup_without_server_version() -> String {
    format!(
        "\tpg_basebackup compatible: FAILED (PostgreSQL version: None, pg_basebackup version: {}; the server's \
         version is unknown: fix the streaming connection first)",
        tool_version(ClientTool::PgBasebackup)
    )
}

fn archive_command_failure() -> String {
    "\tarchive_command: FAILED (please set it accordingly to documentation; set archive_command = \
     'barman-wal-archive BARMAN_HOST pg %p' in postgresql.conf (BARMAN_HOST: this host as PostgreSQL reaches it \
     over SSH; archive_mode must be on), then reload PostgreSQL)"
        .to_owned()
}

#[test]
fn an_empty_archive_command_then_a_failing_archiver() {
    let ctx = TestContext::new();
    let cluster = PgCluster::builder(&ctx).archive_mode("on").archive_command("").start();
    let config = ctx.write_barman_config(&server_options(&cluster));
    catalogue_one_wal(&ctx);
    let run = check(&ctx, &config, &["pg"]);
    let mut expected = healthy();
    set_line(&mut expected, "archive_command", Some(&archive_command_failure()));
    set_line(&mut expected, "continuous archiving", None);
    assert_eq!(run.stdout, text(&expected), "{}", run.stderr);
    assert_eq!(run.code, Some(1));

    cluster.sql("ALTER SYSTEM SET archive_command = 'false'");
    cluster.sql("SELECT pg_reload_conf()");
    cluster.sql("CREATE TABLE t AS SELECT 1 AS x");
    cluster.sql("SELECT pg_switch_wal()");
    let deadline = Instant::now() + Duration::from_secs(30);
    while cluster.sql("SELECT failed_count FROM pg_stat_archiver") == "0" {
        assert!(
            Instant::now() < deadline,
            "the archiver never failed\n{}",
            cluster.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let run = check(&ctx, &config, &["pg"]);
    assert_eq!(run.code, Some(1));
    let line = run
        .stdout
        .lines()
        .find(|line| line.starts_with("\tcontinuous archiving: "))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(
        line.starts_with("\tcontinuous archiving: FAILED (PostgreSQL's archiver failed ")
            && line.contains(", last on 00000001")
            && line.ends_with(
                "(no success yet): run archive_command 'false' as the postgres user to see why, and read \
                 PostgreSQL's log)"
            ),
        "{line}"
    );
}

#[test]
fn streaming_archiver_slot_and_client_tool_problems() {
    let ctx = TestContext::new();
    let cluster = archiving_cluster(&ctx).start();
    catalogue_one_wal(&ctx);
    let streaming = "streaming_archiver = on\nslot_name = barman\n";
    let config = ctx.write_barman_config(&format!("{}{streaming}", server_options(&cluster)));
    let version = server_version(&cluster);
    let lock = ctx.barman_home().join(".pg-receive-wal.lock");
    let receive_wal = format!(
        "\treceive-wal running: FAILED (See the Barman log file for more details; no receive-wal holds {}: 'barman \
         cron' starts it when streaming_archiver = on (or run 'barman receive-wal pg'))",
        ctx.normalize(&lock.display().to_string())
    );
    let mut expected = healthy();
    insert_after(
        &mut expected,
        "wal_level",
        "\treplication slot: FAILED (replication slot 'barman' doesn't exist. Please execute 'barman receive-wal \
         --create-slot pg'; or set create_slot = auto so that receive-wal creates it)",
    );
    insert_after(&mut expected, "systemid coherence", "\tpg_receivexlog: OK");
    insert_after(&mut expected, "pg_receivexlog", "\tpg_receivexlog compatible: OK");
    insert_after(&mut expected, "pg_receivexlog compatible", &receive_wal);
    let run = check(&ctx, &config, &["pg"]);
    assert_eq!(run.stdout, text(&expected), "{}", run.stderr);
    assert_eq!(run.code, Some(1));

    // No client tools anywhere: path_prefix is empty and PATH lacks them.
    let empty = ctx.root().join("empty");
    fs::create_dir_all(&empty).unwrap();
    let options = server_options(&cluster).replace(PG_BIN_DIR, &empty.display().to_string());
    let config = ctx.write_barman_config(&format!("{options}{streaming}"));
    let output = ctx
        .barman()
        .env("PATH", ctx.bin_dir())
        .arg("-c")
        .arg(&config)
        .args(["check", "pg"])
        .output()
        .unwrap();
    let stdout = ctx.normalize(&String::from_utf8_lossy(&output.stdout));
    let searched = format!("[TEMP]/empty:{}", ctx.normalize(&ctx.bin_dir().display().to_string()));
    let install = "install the PostgreSQL client tools (Debian/Ubuntu: 'apt-get install postgresql-client'; RHEL, \
                   Rocky, Alma: 'dnf install postgresql') or point path_prefix at their directory";
    for line in [
        format!("\tpg_basebackup: FAILED (pg_basebackup not found in path_prefix nor PATH ({searched}); {install})"),
        format!(
            "\tpg_basebackup compatible: FAILED (PostgreSQL version: {version}, pg_basebackup version: Unknown; \
             install pg_basebackup (see the pg_basebackup check))"
        ),
        "\tpg_basebackup supports tablespaces mapping: OK (pg_basebackup 9.4 or higher is required for tablespaces \
         support)"
            .to_owned(),
        format!("\tpg_receivexlog: FAILED (pg_receivewal not found in path_prefix nor PATH ({searched}); {install})"),
        format!(
            "\tpg_receivexlog compatible: FAILED (PostgreSQL version: {version}, pg_receivexlog version: None; \
             install pg_receivewal (see the pg_receivexlog check))"
        ),
    ] {
        assert!(stdout.contains(&format!("{line}\n")), "missing {line:?} in\n{stdout}");
    }

    // An old pg_receivewal first in path_prefix.
    let old = ctx.root().join("old-client");
    fs::create_dir_all(&old).unwrap();
    let fake = old.join("pg_receivewal");
    fs::write(&fake, "#!/bin/sh\necho 'pg_receivewal (PostgreSQL) 13.2'\n").unwrap();
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    let options = server_options(&cluster).replace(
        &format!("path_prefix = {PG_BIN_DIR}"),
        &format!("path_prefix = {}:{PG_BIN_DIR}", old.display()),
    );
    let config = ctx.write_barman_config(&format!("{options}{streaming}"));
    let run = check(&ctx, &config, &["pg"]);
    let major = version.split('.').next().unwrap();
    let line = format!(
        "\tpg_receivexlog compatible: FAILED (PostgreSQL version: {version}, pg_receivexlog version: 13.2; \
         [TEMP]/old-client/pg_receivewal is too old for the server: install pg_receivewal {major} or newer \
         (Debian/Ubuntu: 'apt-get install postgresql-client-{major}') and point path_prefix at its directory)\n"
    );
    assert!(run.stdout.contains(&line), "missing {line:?} in\n{}", run.stdout);

    // The slot exists but nothing streams from it.
    let config = ctx.write_barman_config(&format!("{}{streaming}", server_options(&cluster)));
    let slot_line = |run: &BarmanRun| {
        run.stdout
            .lines()
            .find(|line| line.starts_with("\treplication slot: "))
            .map(str::to_owned)
    };
    let start = "start it: 'barman cron' starts receive-wal when streaming_archiver = on (or run 'barman receive-wal \
                 pg')";
    cluster.sql("SELECT pg_create_physical_replication_slot('barman')");
    assert_eq!(
        slot_line(&check(&ctx, &config, &["pg"])).unwrap(),
        format!("\treplication slot: FAILED (slot 'barman' not initialised: is 'receive-wal' running?; {start})")
    );
    cluster.sql("SELECT pg_drop_replication_slot('barman')");
    cluster.sql("SELECT pg_create_physical_replication_slot('barman', true)");
    assert_eq!(
        slot_line(&check(&ctx, &config, &["pg"])).unwrap(),
        format!("\treplication slot: FAILED (slot 'barman' not active: is 'receive-wal' running?; {start})")
    );
    // WAL streaming through connections of its own: their checks carry a suffix.
    let config = ctx.write_barman_config(&format!(
        "{}{streaming}wal_conninfo = {} application_name=wal\n",
        server_options(&cluster),
        cluster.conninfo()
    ));
    let run = check(&ctx, &config, &["pg"]);
    let wal_lines = [
        "\thas monitoring privileges (WAL streaming): OK".to_owned(),
        "\tPostgreSQL streaming (WAL streaming): OK".to_owned(),
        "\twal_level (WAL streaming): OK".to_owned(),
        "\tsystemid coherence (WAL streaming): OK (no system Id stored on disk)".to_owned(),
        format!(
            "\treplication slot (WAL streaming): FAILED (slot 'barman' not active: is 'receive-wal' running?; {start})"
        ),
        "\tdirectories: OK".to_owned(),
    ];
    assert!(
        run.stdout
            .contains(&format!("\twal_level: OK\n{}\n", wal_lines.join("\n"))),
        "{}",
        run.stdout
    );
    // Without the streaming archiver the slot is only a warning.
    let config = ctx.write_barman_config(&format!("{}slot_name = barman\n", server_options(&cluster)));
    let run = check(&ctx, &config, &["pg"]);
    assert_eq!(
        slot_line(&run).unwrap(),
        "\treplication slot: OK (WARNING: slot 'barman' is initialised but not required by the current config)"
    );
    assert_eq!(run.code, Some(0), "{}", run.stdout);
}

/// The lines of a server whose PostgreSQL cannot be reached: no privileges, streaming,
/// wal_level or archiver lines, and pg_basebackup cannot be compared with the server.
fn unreachable(postgres_line: &str) -> String {
    let mut lines = healthy();
    set_line(&mut lines, "PostgreSQL", Some(postgres_line));
    for name in [
        "superuser or standard user with backup privileges",
        "PostgreSQL streaming",
        "wal_level",
        "pg_basebackup supports tablespaces mapping",
        "archive_mode",
        "archive_command",
        "continuous archiving",
    ] {
        set_line(&mut lines, name, None);
    }
    set_line(
        &mut lines,
        "pg_basebackup compatible",
        Some(&basebackup_without_server_version()),
    );
    set_line(
        &mut lines,
        "systemid coherence",
        Some("\tsystemid coherence: OK (no system Id available)"),
    );
    text(&lines)
}

#[test]
fn an_unreachable_server_and_a_wrong_password() {
    let ctx = TestContext::new();
    catalogue_one_wal(&ctx);
    let config = ctx.write_barman_config(&format!(
        "conninfo = host=127.0.0.1 port=1 user=barman dbname=postgres\n\
         streaming_conninfo = host=127.0.0.1 port=1 user=streaming_barman\nbackup_method = postgres\narchiver = on\n\
         path_prefix = {PG_BIN_DIR}\n"
    ));
    let run = check(&ctx, &config, &["pg"]);
    assert_eq!(
        run.stdout,
        unreachable(
            "\tPostgreSQL: FAILED (cannot connect to PostgreSQL with 'host=127.0.0.1 port=1 user=barman \
             dbname=postgres': error connecting to server: Connection refused (os error 111); is PostgreSQL running \
             and listening on 127.0.0.1:1? check listen_addresses and port)"
        )
    );
    assert_eq!(run.code, Some(1));

    let cluster = archiving_cluster(&ctx).start();
    let options = server_options(&cluster).replacen("dbname=postgres\n", "dbname=postgres password=wrong\n", 1);
    let config = ctx.write_barman_config(&options);
    let run = check(&ctx, &config, &["pg"]);
    let port = cluster.port();
    let postgres_line = format!(
        "\tPostgreSQL: FAILED (cannot connect to PostgreSQL with 'host=127.0.0.1 port={port} user=barman \
         dbname=postgres password=*REDACTED*': password authentication failed for user \"barman\"; check the \
         password of user 'barman' for 127.0.0.1:{port} in ~/.pgpass (or in conninfo))"
    );
    let mut expected = unreachable(&postgres_line);
    // The streaming connection works: its version is known.
    expected = expected.replace(
        &format!("{}\n", basebackup_without_server_version()),
        "\tpg_basebackup compatible: OK\n",
    );
    expected = expected.replace(
        "\tsystemid coherence: OK (no system Id available)",
        "\tsystemid coherence: OK (no system Id stored on disk)",
    );
    assert_eq!(run.stdout, expected);
    assert_eq!(run.code, Some(1));
}

#[test]
fn a_changed_system_identifier_is_reported() {
    let ctx = TestContext::new();
    let cluster = archiving_cluster(&ctx).start();
    let config = ctx.write_barman_config(&server_options(&cluster));
    catalogue_one_wal(&ctx);
    let system_id = cluster.sql("SELECT system_identifier FROM pg_control_system()");
    let identity = ctx.barman_home().join("pg/identity.json");
    fs::write(
        &identity,
        format!("{{\"systemid\": \"{system_id}\", \"version\": \"15\"}}"),
    )
    .unwrap();
    let mut expected = healthy();
    set_line(&mut expected, "systemid coherence", Some("\tsystemid coherence: OK"));
    assert_eq!(check(&ctx, &config, &["pg"]).stdout, text(&expected));

    fs::write(
        &identity,
        "{\"systemid\": \"7000000000000000001\", \"version\": \"15\"}",
    )
    .unwrap();
    let run = check(&ctx, &config, &["pg"]);
    set_line(
        &mut expected,
        "systemid coherence",
        Some(&format!(
            "\tsystemid coherence: FAILED (the system Id of the connected PostgreSQL server changed, stored in \
             \"[TEMP]/barman/pg/identity.json\"; the archive belongs to system 7000000000000000001, the server is \
             system {system_id}: if conninfo is right and this is a new cluster, configure it as a new Barman server \
             (or move this server's directories away first))"
        )),
    );
    assert_eq!(run.stdout, text(&expected));
    assert_eq!(run.code, Some(1));
}

/// The set-up document followed step by step: the standard `barman` role and
/// `streaming_barman`, their passwords in `.pgpass`, `max_wal_senders` and
/// `max_replication_slots` at 2, the client tools from `postgresql-client` on `PATH`, WAL
/// archived by `barman-wal-archive` over SSH. `check` proves WAL shipping itself (it switches a
/// WAL and archives it) and is all OK; then Nagios and JSON, and a broken `archive_command`.
#[test]
fn a_server_set_up_as_the_seed_describes_is_all_ok() {
    let ctx = TestContext::new();
    let host = BarmanHost::ours(&ctx);
    let cluster = PgCluster::builder(&ctx)
        .wal_level("replica")
        .archive_mode("on")
        .archive_command(&host.wal_archive_command())
        .max_wal_senders(2)
        .max_replication_slots(2)
        .start();
    host.configure_server(
        &ctx,
        &format!(
            "description = \"Main PostgreSQL server\"\nconninfo = {} application_name=myapp\n\
             streaming_conninfo = {}\nbackup_method = postgres\narchiver = on\n",
            cluster.conninfo(),
            cluster.streaming_conninfo()
        ),
    );
    let run = check(&ctx, &host.config, &["pg"]);
    let mut expected = healthy();
    set_line(&mut expected, "systemid coherence", Some("\tsystemid coherence: OK"));
    assert_eq!(
        run.stdout,
        text(&expected),
        "{}\n--- PostgreSQL log\n{}",
        run.stderr,
        cluster.log()
    );
    assert_eq!((run.stderr.as_str(), run.code), ("", Some(0)));
    let catalogue = fs::read_to_string(ctx.barman_home().join("pg/wals/pg-xlog.db")).unwrap();
    assert!(catalogue.starts_with("00000001"), "{catalogue}");

    let nagios = check(&ctx, &host.config, &["--nagios", "pg"]);
    assert_eq!(
        (nagios.stdout.as_str(), nagios.stderr.as_str(), nagios.code),
        (
            "BARMAN OK - Ready to serve the Espresso backup for pg|pg=0B pg_wals=0B\n",
            "",
            Some(0)
        )
    );

    let json = ctx.run_barman(&host.config, &["-f", "json", "check", "pg"]);
    assert_eq!(json.code, Some(0));
    let document: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let checks = document["pg"].as_object().unwrap();
    let keys: Vec<&str> = checks.keys().map(String::as_str).collect();
    let mut expected_keys = vec![
        "archive_command",
        "archive_mode",
        "archiver_errors",
        "backup_maximum_age",
        "backup_minimum_size",
        "compression_settings",
        "continuous_archiving",
        "directories",
        "failed_backups",
        "minimum_redundancy_requirements",
        "pg_basebackup",
        "pg_basebackup_compatible",
        "pg_basebackup_supports_tablespaces_mapping",
        "postgresql",
        "postgresql_streaming",
        "retention_policy_settings",
        "superuser_or_standard_user_with_backup_privileges",
        "systemid_coherence",
        "wal_level",
        "wal_maximum_age",
        "wal_size",
    ];
    expected_keys.sort();
    assert_eq!(keys, expected_keys);
    assert_eq!(checks["wal_size"], serde_json::json!({"hint": "0 B", "status": "OK"}));
    assert_eq!(checks["wal_level"], serde_json::json!({"hint": "", "status": "OK"}));
    assert!(checks.values().all(|check| check["status"] == "OK"), "{document}");

    cluster.sql("ALTER SYSTEM SET archive_command = ''");
    cluster.sql("SELECT pg_reload_conf()");
    let nagios = check(&ctx, &host.config, &["--nagios", "pg"]);
    assert_eq!(
        nagios.stdout,
        format!(
            "BARMAN CRITICAL - server pg has issues * pg FAILED: archive_command|pg=0B pg_wals=0B\npg.{}\n",
            archive_command_failure().trim_start()
        )
    );
    assert_eq!((nagios.stderr.as_str(), nagios.code), ("", Some(2)));
}

#[test]
fn the_whole_check_is_bounded_by_check_timeout() {
    let ctx = TestContext::new();
    catalogue_one_wal(&ctx);
    // Accepts connections (the kernel completes them) and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let config = ctx.write_barman_config(&format!(
        "conninfo = host=127.0.0.1 port={port} user=barman dbname=postgres\nbackup_method = postgres\n\
         archiver = on\ncheck_timeout = 60\n"
    ));
    let started = Instant::now();
    let run = check(&ctx, &config, &["--check-timeout", "1", "pg"]);
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert_eq!(
        run.stdout,
        "Server pg:\n\tcheck timeout: FAILED (barman check command timed out; it ran for 1 second while checking \
         'PostgreSQL': fix what is slow to answer, or raise check_timeout (or pass --check-timeout))\n"
    );
    assert_eq!(run.code, Some(1));
    drop(silent);
}

#[test]
fn inactive_servers_never_fail_and_disabled_ones_say_why() {
    let ctx = TestContext::new();
    let config = ctx.write_config(&format!(
        "[barman]\nbarman_home = {}\nbarman_user = {}\n\n\
         [off]\nactive = false\nconninfo = host=127.0.0.1 port=1 user=barman dbname=postgres\narchiver = on\n\n\
         [broken]\nconninfo = host=127.0.0.1 port=1 user=barman dbname=postgres\nbackup_method = rsync\narchiver = on\n",
        ctx.barman_home().display(),
        nix::unistd::User::from_uid(nix::unistd::geteuid()).unwrap().unwrap().name,
    ));
    for server in ["off", "broken"] {
        let wals = ctx.barman_home().join(server).join("wals");
        fs::create_dir_all(&wals).unwrap();
        fs::write(
            wals.join(format!("{server}-xlog.db")),
            "000000010000000000000001 1 1.0\n",
        )
        .unwrap();
    }
    let off = check(&ctx, &config, &["off"]);
    assert_eq!(
        off.stdout,
        "Server off (inactive):\n\tdirectories: OK\n\tretention policy settings: OK\n\tbackup maximum age: OK (no \
         last_backup_maximum_age provided)\n\tbackup minimum size: OK (0 B)\n\twal maximum age: OK (no \
         last_wal_maximum_age provided)\n\twal size: OK (0 B)\n\tcompression settings: OK\n\tfailed backups: OK \
         (there are 0 failed backups)\n\tminimum redundancy requirements: OK (have 0 non-incremental backups, \
         expected at least 0)\n\tsystemid coherence: OK (no system Id available)\n\tarchiver errors: OK\n"
    );
    assert_eq!(off.code, Some(0));
    // A failure on an inactive server is ignored.
    fs::write(ctx.barman_home().join("off/errors/x.unknown"), "").unwrap();
    let nagios = check(&ctx, &config, &["--nagios", "off"]);
    assert_eq!(
        (nagios.stdout.as_str(), nagios.code),
        ("BARMAN OK - No server configured * IGNORING: off\n", Some(0))
    );
    assert_eq!(check(&ctx, &config, &["off"]).code, Some(0));

    let broken = check(&ctx, &config, &["broken"]);
    assert_eq!(
        broken.stdout,
        "Server broken (WARNING: disabled):\n\tPostgreSQL: FAILED (cannot connect to PostgreSQL with \
         'host=127.0.0.1 port=1 user=barman dbname=postgres': error connecting to server: Connection refused (os \
         error 111); is PostgreSQL running and listening on 127.0.0.1:1? check listen_addresses and port)\n\
         \tretention policy settings: OK\n\tbackup maximum age: OK (no last_backup_maximum_age provided)\n\tbackup \
         minimum size: OK (0 B)\n\twal maximum age: OK (no last_wal_maximum_age provided)\n\twal size: OK (0 B)\n\
         \tcompression settings: OK\n\tfailed backups: OK (there are 0 failed backups)\n\tminimum redundancy \
         requirements: OK (have 0 non-incremental backups, expected at least 0)\n\tconfiguration: FAILED (the \
         server is disabled until the configuration problems below are fixed)\n\t\tMissing or invalid ssh_command \
         in barman configuration for server broken\n\tsystemid coherence: OK (no system Id available)\n\tarchiver \
         errors: OK\n"
    );
    assert_eq!(broken.code, Some(1));

    let all = check(&ctx, &config, &["--nagios", "all"]);
    assert_eq!(
        all.stdout,
        "BARMAN CRITICAL - 2 server out of 2 have issues * broken FAILED: PostgreSQL, configuration * off FAILED: \
         archiver errors|broken=0B broken_wals=0B off=0B off_wals=0B\n\
         broken.PostgreSQL: FAILED (cannot connect to PostgreSQL with 'host=127.0.0.1 port=1 user=barman \
         dbname=postgres': error connecting to server: Connection refused (os error 111); is PostgreSQL running and \
         listening on 127.0.0.1:1? check listen_addresses and port)\n\
         broken.configuration: FAILED (the server is disabled until the configuration problems below are fixed)\n\
         off.archiver errors: FAILED (unknown: 1; inspect the files in '[TEMP]/barman/off/errors' ('duplicates' \
         differ from the archived WAL of the same name, 'unknown' are not WAL files), then move them out of it)\n"
    );
    assert_eq!(all.code, Some(2));
    let unknown = check(&ctx, &config, &["--nagios", "nosuch"]);
    assert_eq!(
        (unknown.stdout.as_str(), unknown.stderr.as_str(), unknown.code),
        ("BARMAN CRITICAL - Global configuration errors\n", "", Some(2))
    );
}

/// A `meta/<ID>-backup.info` as Barman 3.20 writes it (the fields the checks read).
fn backup_info(ctx: &TestContext, id: &str, status: &str, begin_wal: &str, end_time: &str, size: u64) {
    let meta = ctx.barman_home().join("pg/meta");
    fs::create_dir_all(&meta).unwrap();
    fs::write(
        meta.join(format!("{id}-backup.info")),
        format!(
            "backup_label=None\nbegin_offset=40\nbegin_time={end_time}\nbegin_wal={begin_wal}\nend_time={end_time}\n\
             end_wal={begin_wal}\nmode=postgres\nparent_backup_id=None\nserver_name=pg\nsize={size}\n\
             status={status}\ntimeline=1\nversion=150018\n"
        ),
    )
    .unwrap();
}

/// A catalogue of two backups, `20240101T000000` (DONE, 3 MiB, WAL 2) and `20240102T000000`
/// (FAILED, WAL 4), with `xlogdb` as the WAL catalogue.
fn catalogue_two_backups(ctx: &TestContext, xlogdb: &str) {
    backup_info(
        ctx,
        "20240101T000000",
        "DONE",
        "000000010000000000000002",
        "2024-01-01 00:01:00+00:00",
        3 << 20,
    );
    backup_info(
        ctx,
        "20240102T000000",
        "FAILED",
        "000000010000000000000004",
        "2024-01-02 00:01:00+00:00",
        0,
    );
    let wals = ctx.barman_home().join("pg/wals");
    fs::create_dir_all(&wals).unwrap();
    fs::write(wals.join("pg-xlog.db"), xlogdb).unwrap();
}

#[test]
fn backup_and_wal_catalogue_checks_and_their_nagios_perfdata() {
    let ctx = TestContext::new();
    let options = "active = false\nconninfo = host=127.0.0.1 port=1 user=barman dbname=postgres\narchiver = on\n";
    catalogue_two_backups(
        &ctx,
        "000000010000000000000001\t100\t1704067200.0\tNone\tNone\n\
         000000010000000000000002\t1000\t1704067260.0\tNone\tNone\n\
         000000010000000000000002.00000028.backup\t338\t1704067261.0\tNone\tNone\n\
         000000010000000000000003\t2000\t1704067320.0\tgzip\tNone\n\
         00000002.history\t42\t1704067330.0\tNone\tNone\n\
         000000020000000000000004\t4000\t1704067340.0\tNone\tNone\n",
    );
    let config = ctx.write_barman_config(options);
    let run = check(&ctx, &config, &["pg"]);
    assert_eq!(
        run.stdout,
        "Server pg (inactive):\n\tdirectories: OK\n\tretention policy settings: OK\n\tbackup maximum age: OK (no \
         last_backup_maximum_age provided)\n\tbackup minimum size: OK (3.0 MiB)\n\twal maximum age: OK (no \
         last_wal_maximum_age provided)\n\twal size: OK (2.0 KiB)\n\tcompression settings: OK\n\tfailed backups: \
         FAILED (there are 1 failed backups; 20240102T000000: see why with 'barman show-backup pg <ID>', then \
         remove each with 'barman delete pg <ID>')\n\tminimum redundancy requirements: OK (have 1 non-incremental \
         backups, expected at least 0)\n\tsystemid coherence: OK (no system Id available)\n\tarchiver errors: OK\n"
    );
    assert_eq!(run.code, Some(0), "inactive");

    let config = ctx.write_barman_config(&format!(
        "{options}last_backup_maximum_age = 1 day\nlast_backup_minimum_size = 4Mi\nlast_wal_maximum_age = 1 hour\n\
         minimum_redundancy = 2\nretention_policy = FOREVER\n"
    ));
    let run = check(&ctx, &config, &["pg"]);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines[2],
        "\tretention policy settings: FAILED (see log; retention_policy must be 'REDUNDANCY n' or 'RECOVERY WINDOW \
         OF n DAYS|WEEKS|MONTHS')"
    );
    assert!(
        lines[3].starts_with("\tbackup maximum age: FAILED (interval provided: 1 day, latest backup age: ")
            && lines[3]
                .ends_with("; take a backup with 'barman backup pg', and schedule backups at least every 1 day)"),
        "{}",
        lines[3]
    );
    assert_eq!(
        lines[4],
        "\tbackup minimum size: FAILED (last backup size 3.0 MiB < 4.0 MiB minimum; check that the last backup \
         copied everything ('barman show-backup'), or lower last_backup_minimum_size)"
    );
    assert!(
        lines[5].starts_with("\twal maximum age: FAILED (interval provided: 1 hour, latest wal age: ")
            && lines[5].contains("days"),
        "{}",
        lines[5]
    );
    assert_eq!(
        lines[9],
        "\tminimum redundancy requirements: FAILED (have 1 non-incremental backups, expected at least 2; take 1 \
         more full backup(s) with 'barman backup pg')"
    );
    let nagios = check(&ctx, &config, &["--nagios", "pg"]);
    assert_eq!(
        (nagios.stdout.as_str(), nagios.code),
        ("BARMAN OK - No server configured * IGNORING: pg\n", Some(0))
    );
    // Active, the same catalogue fails the server; perfdata carries both sizes.
    let config =
        ctx.write_barman_config(&options.replace("active = false\n", "backup_method = rsync\nssh_command = false\n"));
    let nagios = check(&ctx, &config, &["--nagios", "pg"]);
    assert!(
        nagios.stdout.starts_with(
            "BARMAN CRITICAL - server pg has issues * pg FAILED: PostgreSQL, failed backups, ssh|pg=3145728B pg_wals=2000B\n"
        ),
        "{}",
        nagios.stdout
    );
    assert_eq!(nagios.code, Some(2));
}

#[test]
fn queues_directories_and_archiver_errors() {
    let ctx = TestContext::new();
    catalogue_one_wal(&ctx);
    let incoming = ctx.barman_home().join("pg/incoming");
    let streaming = ctx.barman_home().join("pg/streaming");
    let errors = ctx.barman_home().join("pg/errors");
    for directory in [&incoming, &streaming, &errors] {
        fs::create_dir_all(directory).unwrap();
    }
    for name in [
        "000000010000000000000002",
        "000000010000000000000003",
        ".hidden",
        "x.tmp",
    ] {
        fs::write(incoming.join(name), "").unwrap();
        fs::write(streaming.join(name), "").unwrap();
    }
    fs::write(streaming.join("000000010000000000000004.partial"), "").unwrap();
    for name in [
        "a.20240101T000000Z.duplicate",
        "b.20240101T000000Z.duplicate",
        "c.20240101T000000Z.unknown",
    ] {
        fs::write(errors.join(name), "").unwrap();
    }
    let config = ctx.write_barman_config(
        "active = false\narchiver = off\nstreaming_archiver = off\nmax_incoming_wals_queue = 1\n\
         basebackups_directory = %(backup_directory)s/new/base\n",
    );
    let run = check(&ctx, &config, &["pg"]);
    assert_eq!(
        run.stdout,
        "Server pg (inactive):\n\
         \tempty incoming directory: FAILED ('[TEMP]/barman/pg/incoming' must be empty when archiver=off; set \
         archiver = on so that 'barman archive-wal pg' takes these files in, or move them away if they do not belong \
         to this server)\n\
         \tempty streaming directory: FAILED ('[TEMP]/barman/pg/streaming' must be empty when \
         streaming_archiver=off; set streaming_archiver = on so that 'barman archive-wal pg' takes these files in, \
         or move them away if they do not belong to this server)\n\
         \tdirectories: OK\n\tretention policy settings: OK\n\tbackup maximum age: OK (no last_backup_maximum_age \
         provided)\n\tbackup minimum size: OK (0 B)\n\twal maximum age: OK (no last_wal_maximum_age provided)\n\
         \twal size: OK (0 B)\n\tcompression settings: OK\n\tfailed backups: OK (there are 0 failed backups)\n\
         \tminimum redundancy requirements: OK (have 0 non-incremental backups, expected at least 0)\n\
         \tsystemid coherence: OK (no system Id available)\n\
         \tarchiver errors: FAILED (duplicates: 2, unknown: 1; inspect the files in '[TEMP]/barman/pg/errors' \
         ('duplicates' differ from the archived WAL of the same name, 'unknown' are not WAL files), then move them \
         out of it)\n"
    );
    assert!(
        ctx.barman_home().join("pg/new/base").is_dir(),
        "directories are created"
    );

    let config = ctx
        .write_barman_config("active = false\narchiver = on\nstreaming_archiver = on\nmax_incoming_wals_queue = 1\n");
    let run = check(&ctx, &config, &["pg"]);
    let queue = |label: &str| {
        format!(
            "\t{label} WALs directory: FAILED (there are too many WALs in queue: 2, max 1; 'barman cron' must run \
             every minute to archive them (or run 'barman archive-wal pg'); raise max_incoming_wals_queue if the \
             queue is expected to be that long)\n"
        )
    };
    assert!(
        run.stdout.starts_with(&format!(
            "Server pg (inactive):\n{}{}\tdirectories: OK\n",
            queue("incoming"),
            queue("streaming")
        )),
        "{}",
        run.stdout
    );
}

#[test]
fn rsync_servers_check_their_ssh_command() {
    let ctx = TestContext::new();
    let sshd = Sshd::start(&ctx, &[]);
    catalogue_one_wal(&ctx);
    let unreachable_postgres = "conninfo = host=127.0.0.1 port=1 user=barman dbname=postgres\nbackup_method = rsync\n\
                                archiver = on\nbackup_options = concurrent_backup\n";
    let config = ctx.write_barman_config(&format!("{unreachable_postgres}ssh_command = {}\n", sshd.ssh_command()));
    let run = check(&ctx, &config, &["pg"]);
    assert!(
        run.stdout.contains("\n\tssh: OK (PostgreSQL server)\n"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("ssh output clean"), "{}", run.stdout);

    let config = ctx.write_barman_config(&format!(
        "{unreachable_postgres}ssh_command = ssh -p 1 nobody@127.0.0.1\n"
    ));
    let run = check(&ctx, &config, &["pg"]);
    let shown = "ssh -p 1 nobody@127.0.0.1 -o BatchMode=yes -o StrictHostKeyChecking=no";
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("\tssh: "))
        .unwrap()
        .to_owned();
    assert!(
        line.starts_with(&format!(
            "\tssh: FAILED (Connection failed using '{shown}' return code 255; ssh said: "
        )) && line.ends_with(&format!(
            "run '{shown} true' as the barman user and fix what it reports (key in the remote user's \
                 ~/.ssh/authorized_keys, host name, port))"
        )),
        "{line}"
    );

    let config = ctx.write_barman_config(&format!("{unreachable_postgres}ssh_command = echo banner;\n"));
    let run = check(&ctx, &config, &["pg"]);
    assert!(
        run.stdout.contains(
            "\n\tssh: OK (PostgreSQL server)\n\tssh output clean: FAILED (the configured ssh_command must not add \
             anything to the remote command output; "
        ),
        "{}",
        run.stdout
    );
}

/// The same checks under Barman 3.20.1 and ours, on one server in one state: the same lines in
/// the same order with the same statuses, Barman's hints kept word for word (ours only adds
/// advice after them), the same exit codes; the same Nagios summary and perfdata; the same JSON
/// keys and statuses. Skipped when Barman is not installed.
mod interop {
    use super::*;
    use barman_tests::{python_barman_installed, PYTHON_BARMAN_BIN};

    /// Ours is Barman's line, possibly with advice after Barman's hint (or a hint where Barman
    /// has none).
    fn agrees(barman: &str, ours: &str) -> bool {
        barman == ours
            || barman
                .strip_suffix(')')
                .is_some_and(|open| ours.starts_with(&format!("{open}; ")))
            || ours.starts_with(&format!("{barman} ("))
    }

    fn run(ctx: &TestContext, program: &Path, config: &Path, args: &[&str]) -> (Vec<String>, Option<i32>) {
        let output = ctx.command(program).arg("-c").arg(config).args(args).output().unwrap();
        let lines = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(String::from)
            .collect();
        (lines, output.status.code())
    }

    fn assert_agree(ctx: &TestContext, config: &Path, args: &[&str]) {
        let barman = Path::new(PYTHON_BARMAN_BIN).join("barman");
        let (theirs, their_code) = run(ctx, &barman, config, args);
        let (ours, our_code) = run(ctx, &barman_tests::built_binary("barman"), config, args);
        assert_eq!(
            theirs.len(),
            ours.len(),
            "{args:?}\n--- Barman\n{theirs:#?}\n--- ours\n{ours:#?}"
        );
        for (their_line, our_line) in theirs.iter().zip(&ours) {
            assert!(
                agrees(their_line, our_line),
                "{args:?}\nBarman: {their_line}\nours:   {our_line}"
            );
        }
        assert_eq!(their_code, our_code, "{args:?}");
    }

    #[test]
    fn check_agrees_with_barman_3_20() {
        if !python_barman_installed() {
            return;
        }
        let ctx = TestContext::new();
        let cluster = archiving_cluster(&ctx).start();
        let config = ctx.write_barman_config(&format!(
            // (Not last_backup_maximum_age: the backup's age in seconds changes between the runs.)
            "{}streaming_archiver = on\nslot_name = barman\nlast_backup_minimum_size = 1Mi\nminimum_redundancy = 2\n",
            server_options(&cluster)
        ));
        catalogue_two_backups(
            &ctx,
            "000000010000000000000002\t1000\t1704067260.0\tNone\tNone\n\
             000000010000000000000003\t2000\t1704067320.0\tgzip\tNone\n\
             000000020000000000000004\t4000\t1704067340.0\tNone\tNone\n",
        );
        let errors = ctx.barman_home().join("pg/errors");
        fs::create_dir_all(&errors).unwrap();
        fs::write(errors.join("000000010000000000000003.20240101T000000Z.duplicate"), "").unwrap();
        for args in [
            ["check", "pg"].as_slice(),
            &["check", "--nagios", "pg"],
            &["-f", "json", "check", "pg"],
        ] {
            if args[0] == "-f" {
                let barman = Path::new(PYTHON_BARMAN_BIN).join("barman");
                let (theirs, _) = run(&ctx, &barman, &config, args);
                let (ours, _) = run(&ctx, &barman_tests::built_binary("barman"), &config, args);
                let theirs: serde_json::Value = serde_json::from_str(&theirs.join("\n")).unwrap();
                let ours: serde_json::Value = serde_json::from_str(&ours.join("\n")).unwrap();
                let (theirs, ours) = (theirs["pg"].as_object().unwrap(), ours["pg"].as_object().unwrap());
                assert_eq!(theirs.keys().collect::<Vec<_>>(), ours.keys().collect::<Vec<_>>());
                for (key, their_check) in theirs {
                    assert_eq!(their_check["status"], ours[key]["status"], "{key}");
                    let (their_hint, our_hint) = (
                        their_check["hint"].as_str().unwrap(),
                        ours[key]["hint"].as_str().unwrap(),
                    );
                    assert!(
                        their_hint == our_hint
                            || our_hint.starts_with(&format!("{their_hint}; "))
                            || their_hint.is_empty(),
                        "{key}: {their_hint:?} / {our_hint:?}"
                    );
                }
            } else {
                assert_agree(&ctx, &config, args);
            }
        }
        // WAL streaming through a connection of its own.
        let config = ctx.write_barman_config(&format!(
            "{}streaming_archiver = on\nslot_name = barman\nwal_conninfo = {} application_name=wal\n",
            server_options(&cluster),
            cluster.conninfo()
        ));
        assert_agree(&ctx, &config, &["check", "pg"]);
        // Nothing archived yet: both switch a WAL, wait a third of check_timeout, and fail.
        fs::remove_file(ctx.barman_home().join("pg/wals/pg-xlog.db")).unwrap();
        let config = ctx.write_barman_config(&format!("{}check_timeout = 3\n", server_options(&cluster)));
        assert_agree(&ctx, &config, &["check", "pg"]);
    }
}

/// The guide's streaming set-up (WAL streamed by receive-wal through slot `barman`, created on
/// first start; no `archive_command`): with receive-wal running, `check` proves streaming by
/// switching a WAL and archiving what receive-wal wrote, and is all OK.
#[test]
fn a_streaming_server_with_receive_wal_running_is_all_ok() {
    use crate::receive_wal::{assert_receiver_gone, run, slot_active, wait_for, Background, ReceiverGuard};

    let ctx = TestContext::new();
    let cluster = PgCluster::builder(&ctx)
        .max_wal_senders(2)
        .max_replication_slots(2)
        .start();
    let config = ctx.write_barman_config(&format!(
        "conninfo = {}\nstreaming_conninfo = {}\nbackup_method = postgres\narchiver = off\n\
         streaming_archiver = on\nslot_name = barman\ncreate_slot = auto\npath_prefix = {PG_BIN_DIR}\n",
        cluster.conninfo(),
        cluster.streaming_conninfo()
    ));
    let _guard = ReceiverGuard(&ctx);
    let receiver = Background::start(&ctx, &config);
    wait_for("receive-wal to stream", || slot_active(&cluster));

    let run_check = check(&ctx, &config, &["pg"]);
    let mut expected = healthy();
    insert_after(&mut expected, "wal_level", "\treplication slot: OK");
    for name in ["archive_mode", "archive_command", "continuous archiving"] {
        set_line(&mut expected, name, None);
    }
    insert_after(&mut expected, "systemid coherence", "\tpg_receivexlog: OK");
    insert_after(&mut expected, "pg_receivexlog", "\tpg_receivexlog compatible: OK");
    insert_after(&mut expected, "pg_receivexlog compatible", "\treceive-wal running: OK");
    assert_eq!(run_check.stdout, text(&expected), "{}", run_check.stderr);
    assert_eq!(run_check.code, Some(0));
    let catalogue = fs::read_to_string(ctx.barman_home().join("pg/wals/pg-xlog.db")).unwrap();
    assert!(
        catalogue.starts_with("00000001"),
        "the switched WAL was streamed and archived: {catalogue}"
    );

    let stop = run(&ctx, &config, &["terminate-process", "pg", "receive-wal"]);
    assert_eq!(stop.code, 0, "{}", stop.stderr);
    assert_eq!(receiver.finish(&ctx).code, 0);
    assert_receiver_gone(&cluster);
}
