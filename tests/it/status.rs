//! The live commands against real PostgreSQL 15 clusters: `show-servers`' live keys, `status`,
//! `diagnose`'s status, `switch-wal` (privileges, standbys, `--archive` through
//! barman-wal-archive over SSH) and `replication-status` with a real `pg_receivewal` and a
//! real hot standby; what each says when the server cannot be reached; and the
//! version-dependent parts on the other PostgreSQL versions of the multi-version tier.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use barman_core::postgres::client_tools::{self, ClientTool};
use barman_tests::{
    pg_client_bin_dir, pg_version_installed, python_barman_installed, BarmanHost, PgCluster, TestContext, LOOPBACK,
    PG_BIN_DIR, PYTHON_BARMAN_BIN,
};

/// What a command printed and its exit status.
struct Run {
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

fn barman(ctx: &TestContext, config: &Path, args: &[&str]) -> Run {
    let output = ctx.barman().arg("-c").arg(config).args(args).output().unwrap();
    Run {
        stdout: ctx.normalize(&String::from_utf8_lossy(&output.stdout)),
        stderr: ctx.normalize(&String::from_utf8_lossy(&output.stderr)),
        code: output.status.code(),
    }
}

/// The seed's server with pg_basebackup backups, file archiving and streaming archiving (for the
/// pg_receivewal keys), client tools from PostgreSQL 15's directory.
fn server_options(cluster: &PgCluster) -> String {
    format!(
        "description = \"Main PostgreSQL server\"\nconninfo = {}\nstreaming_conninfo = {}\n\
         backup_method = postgres\narchiver = on\nstreaming_archiver = on\nslot_name = barman\n\
         path_prefix = {PG_BIN_DIR}\n",
        cluster.conninfo(),
        cluster.streaming_conninfo()
    )
}

/// `show-servers`' `\tkey: value` lines as a map.
fn shown(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix('\t')?.split_once(": "))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// Whether `line` matches `template`, where each `{}` stands for any text.
fn matches(line: &str, template: &str) -> bool {
    let mut parts = template.split("{}");
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = line.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (index, part) in parts.iter().enumerate() {
        if index + 1 == parts.len() {
            return rest.ends_with(part) && rest.len() >= part.len();
        }
        match rest.find(part) {
            Some(found) => rest = &rest[found + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// Asserts that `text` has one line per template, each matching.
fn assert_lines(text: &str, templates: &[&str]) {
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), templates.len(), "{text}");
    for (line, template) in lines.iter().zip(templates) {
        assert!(
            matches(line, template),
            "'{line}' does not match '{template}' in:\n{text}"
        );
    }
}

fn installed_version(tool: ClientTool) -> String {
    client_tools::find(tool, Some(PG_BIN_DIR), "").unwrap().version
}

fn server_version(cluster: &PgCluster) -> String {
    cluster
        .sql("SHOW server_version")
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// The live keys of the seed's server, standard `barman` role, no slot yet: every key Barman
/// prints for this configuration, with the values that do not move.
fn expected_live_keys(ctx: &TestContext, cluster: &PgCluster) -> BTreeMap<&'static str, String> {
    let data = ctx.normalize(&cluster.data_dir().display().to_string());
    let system_id = cluster.sql("SELECT system_identifier FROM pg_control_system()");
    let basebackup = installed_version(ClientTool::PgBasebackup);
    let receivewal = installed_version(ClientTool::PgReceivewal);
    [
        ("archive_command", "true".to_owned()),
        ("archive_mode", "on".into()),
        ("archive_timeout", "0".into()),
        ("checkpoint_timeout", "300".into()),
        ("config_file", format!("{data}/postgresql.conf")),
        ("connection_error", "None".into()),
        ("data_checksums", "off".into()),
        ("data_directory", data.clone()),
        ("failed_count", "0".into()),
        ("has_backup_privileges", "True".into()),
        ("has_monitoring_privileges", "True".into()),
        ("hba_file", format!("{data}/pg_hba.conf")),
        ("hot_standby", "on".into()),
        ("ident_file", format!("{data}/pg_ident.conf")),
        ("included_files", format!("['{data}/harness.conf']")),
        ("is_in_recovery", "False".into()),
        ("is_superuser", "False".into()),
        ("last_failed_time", "None".into()),
        ("last_failed_wal", "None".into()),
        ("max_replication_slots", "2".into()),
        ("max_wal_senders", "2".into()),
        ("pg_basebackup_bwlimit", "True".into()),
        ("pg_basebackup_compatible", "True".into()),
        ("pg_basebackup_installed", "True".into()),
        ("pg_basebackup_path", format!("{PG_BIN_DIR}/pg_basebackup")),
        ("pg_basebackup_tbls_mapping", "True".into()),
        ("pg_basebackup_version", basebackup),
        ("pg_receivexlog_compatible", "True".into()),
        ("pg_receivexlog_installed", "True".into()),
        ("pg_receivexlog_path", format!("{PG_BIN_DIR}/pg_receivewal")),
        ("pg_receivexlog_supports_slots", "True".into()),
        ("pg_receivexlog_synchronous", "False".into()),
        ("pg_receivexlog_version", receivewal),
        ("postgres_systemid", system_id.clone()),
        ("replication_slot", "None".into()),
        ("replication_slot_support", "True".into()),
        ("server_txt_version", server_version(cluster)),
        ("streaming", "True".into()),
        ("streaming_supported", "True".into()),
        ("streaming_systemid", system_id),
        ("synchronous_standby_names", "['']".into()),
        ("timeline", "1".into()),
        ("version_supported", "True".into()),
        ("wal_compression", "off".into()),
        ("wal_keep_size", "0".into()),
        ("wal_level", "replica".into()),
        ("xlog_segment_size", "16777216".into()),
    ]
    .into_iter()
    .collect()
}

/// Live keys whose values move with time or activity: only their presence is asserted.
const MOVING_KEYS: &[&str] = &[
    "archived_count",
    "current_archived_wals_per_second",
    "current_lsn",
    "current_size",
    "current_xlog",
    "is_archiving",
    "last_archived_time",
    "last_archived_wal",
    "stats_reset",
    "xlogpos",
];

fn archiving_cluster(ctx: &TestContext) -> PgCluster {
    PgCluster::builder(ctx)
        .archive_mode("on")
        .archive_command("true")
        .max_wal_senders(2)
        .max_replication_slots(2)
        .start()
}

#[test]
fn show_servers_reports_the_live_status_of_a_real_cluster() {
    let ctx = TestContext::new();
    let cluster = archiving_cluster(&ctx);
    let config = ctx.write_barman_config(&server_options(&cluster));
    let run = barman(&ctx, &config, &["show-servers", "pg"]);
    assert_eq!((run.stderr.as_str(), run.code), ("", Some(0)));
    let keys = shown(&run.stdout);
    let expected = expected_live_keys(&ctx, &cluster);
    for (key, value) in &expected {
        assert_eq!(keys.get(*key), Some(value), "{key} in:\n{}", run.stdout);
    }
    for key in MOVING_KEYS {
        assert!(keys.contains_key(*key), "{key} in:\n{}", run.stdout);
    }
    assert!(keys["current_size"].parse::<u64>().unwrap() > 1_000_000);
    assert!(matches(&keys["current_xlog"], "000000010000000000000{}"));
    assert_eq!(keys["last_backup_maximum_age"], "None");

    // A superuser, and the slot once it exists.
    cluster.sql("ALTER ROLE barman SUPERUSER");
    cluster.sql("SELECT pg_create_physical_replication_slot('barman')");
    let keys = shown(&barman(&ctx, &config, &["show-servers", "pg"]).stdout);
    assert_eq!(keys["is_superuser"], "True");
    assert_eq!(
        keys["replication_slot"],
        "Record(slot_name='barman', active=False, restart_lsn=None)"
    );

    // JSON: Barman's types (integers, booleans, lists; decimals and times as text).
    let run = barman(&ctx, &config, &["-f", "json", "show-servers", "pg"]);
    let document: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let pg = &document["pg"];
    assert_eq!(pg["is_superuser"], true);
    assert_eq!(pg["xlog_segment_size"], 16_777_216);
    assert_eq!(pg["timeline"], 1);
    assert_eq!(pg["synchronous_standby_names"], serde_json::json!([""]));
    assert!(pg["current_size"].is_string() && pg["stats_reset"].is_string());
    assert_eq!(pg["connection_error"], serde_json::Value::Null);

    // diagnose: the same keys, decimals as numbers, times in ISO 8601.
    let run = barman(&ctx, &config, &["diagnose"]);
    let document: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let status = &document["servers"]["pg"]["status"];
    assert_eq!(status["postgres_systemid"], pg["postgres_systemid"]);
    assert!(status["current_size"].is_f64());
    assert_eq!(status["replication_slot"], serde_json::json!(["barman", false, null]));
    assert!(matches(status["stats_reset"].as_str().unwrap(), "{}-{}-{}T{}:{}:{}"));
}

/// A `backup.info` in `meta/` for a DONE full backup that ended `hours_ago` hours ago.
fn write_backup(ctx: &TestContext, backup_id: &str, hours_ago: i64) {
    let meta = ctx.barman_home().join("pg/meta");
    fs::create_dir_all(&meta).unwrap();
    let end = python_time_hours_ago(hours_ago);
    fs::write(
        meta.join(format!("{backup_id}-backup.info")),
        format!("backup_id={backup_id}\nstatus=DONE\nmode=postgres\nend_time={end}\nsize=1024\n"),
    )
    .unwrap();
}

/// The time `hours` ago, as Barman writes `end_time` in `backup.info`.
fn python_time_hours_ago(hours: i64) -> String {
    let output = Command::new("date")
        .args(["-u", "-d", &format!("{hours} hours ago"), "+%Y-%m-%d %H:%M:%S+00:00"])
        .output()
        .unwrap();
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Waits until PostgreSQL's archiver has archived at least one WAL file.
fn wait_for_archiver(cluster: &PgCluster) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while cluster.sql("SELECT archived_count FROM pg_stat_archiver") == "0" {
        assert!(Instant::now() < deadline, "the archiver archived nothing");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn status_shows_postgresql_the_archiver_and_the_backups() {
    let ctx = TestContext::new();
    let cluster = archiving_cluster(&ctx);
    let config = ctx.write_barman_config(&format!(
        "{}retention_policy = REDUNDANCY 2\nminimum_redundancy = 2\nlast_backup_maximum_age = 1 day\n",
        server_options(&cluster)
    ));
    cluster.sql("SELECT pg_switch_wal()");
    wait_for_archiver(&cluster);
    write_backup(&ctx, "20240101T000000", 30);
    write_backup(&ctx, "20240102T000000", 2);
    let run = barman(&ctx, &config, &["status", "pg"]);
    let version = server_version(&cluster);
    let data = ctx.normalize(&cluster.data_dir().display().to_string());
    assert_lines(
        &run.stdout,
        &[
            "Server pg:",
            "\tDescription: Main PostgreSQL server",
            "\tActive: True",
            "\tDisabled: False",
            "\tActive configuration model: None",
            &format!("\tPostgreSQL version: {version}"),
            "\tCluster state: in production",
            "\tCurrent data size: {} MiB",
            &format!("\tPostgreSQL Data directory: {data}"),
            "\tCurrent WAL segment: 00000001000000000000000{}",
            "\tPostgreSQL 'archive_command' setting: true",
            "\tLast archived WAL: 000000010000000000000001, at {} {} {}:{}:{} 20{}",
            "\tFailures of WAL archiver: 0",
            "\tServer WAL archiving rate: {}.{}/hour",
            "\tPassive node: False",
            "\tRetention policies: enforced (mode: auto, retention: REDUNDANCY 2, WAL retention: MAIN)",
            "\tNo. of available backups: 2",
            "\tFirst available backup: 20240101T000000",
            "\tLast available backup: 20240102T000000",
            "\tMinimum redundancy requirements: satisfied (2/2)",
        ],
    );
    assert_eq!((run.stderr.as_str(), run.code), ("", Some(0)));

    let run = barman(&ctx, &config, &["-f", "json", "status", "pg"]);
    let document: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        document["pg"]["pg_version"],
        serde_json::json!({"description": "PostgreSQL version", "message": version})
    );
    assert_eq!(document["pg"]["backups_number"]["message"], "2");

    let keys = shown(&barman(&ctx, &config, &["show-servers", "pg"]).stdout);
    assert!(
        matches(&keys["last_backup_maximum_age"], "1 day (latest backup: 2 hours{} )"),
        "{}",
        keys["last_backup_maximum_age"]
    );
    fs::remove_file(ctx.barman_home().join("pg/meta/20240102T000000-backup.info")).unwrap();
    let keys = shown(&barman(&ctx, &config, &["show-servers", "pg"]).stdout);
    assert!(
        matches(
            &keys["last_backup_maximum_age"],
            "1 day (WARNING! latest backup is 1 day, 6 hours{} old)"
        ),
        "{}",
        keys["last_backup_maximum_age"]
    );
    let run = barman(&ctx, &config, &["status", "pg"]);
    assert!(
        run.stdout.contains("\tMinimum redundancy requirements: FAILED (1/2)\n"),
        "{}",
        run.stdout
    );
}

fn current_wal(cluster: &PgCluster) -> String {
    cluster.sql("SELECT pg_walfile_name(pg_current_wal_insert_lsn())")
}

#[test]
fn switch_wal_closes_the_current_wal_once_and_force_needs_checkpoint_rights() {
    let ctx = TestContext::new();
    let cluster = archiving_cluster(&ctx);
    let config = ctx.write_barman_config(&server_options(&cluster));
    cluster.sql("CREATE TABLE t AS SELECT 1");
    // Runs switch-wal with `args` and checks that it closed the segment being written.
    let closes = |args: &[&str]| {
        let wal = current_wal(&cluster);
        let run = barman(&ctx, &config, args);
        assert_eq!(
            (run.stdout.as_str(), run.stderr.as_str(), run.code),
            (
                format!("The WAL file {wal} has been closed on server 'pg'\n").as_str(),
                "",
                Some(0)
            )
        );
    };
    closes(&["switch-wal", "pg"]);
    let run = barman(&ctx, &config, &["switch-wal", "pg"]);
    assert_eq!(
        (run.stdout.as_str(), run.code),
        ("No switch required for server 'pg'\n", Some(0))
    );

    let run = barman(&ctx, &config, &["switch-wal", "--force", "pg"]);
    assert_eq!(
        (run.stdout.as_str(), run.stderr.as_str(), run.code),
        (
            "",
            "ERROR: Barman switch-wal --force requires superuser rights or the 'pg_checkpoint' role\n\
             HINT: on PostgreSQL 15 or later run 'GRANT pg_checkpoint TO barman', or connect as a superuser\n",
            Some(1)
        )
    );

    // The checkpoint writes WAL, so the forced switch always closes a file.
    cluster.sql("GRANT pg_checkpoint TO barman");
    closes(&["switch-wal", "--force", "pg"]);
    cluster.sql("REVOKE pg_checkpoint FROM barman");
    cluster.sql("ALTER ROLE barman SUPERUSER");
    closes(&["switch-wal", "--force", "all"]);

    // Without the backup privileges nothing is switched, and the missing GRANTs are named.
    cluster.sql("ALTER ROLE barman NOSUPERUSER");
    cluster.sql("REVOKE EXECUTE ON FUNCTION pg_switch_wal() FROM barman");
    let run = barman(&ctx, &config, &["switch-wal", "pg"]);
    assert_eq!(
        (run.stdout.as_str(), run.stderr.as_str(), run.code),
        (
            "",
            "ERROR: Postgres user 'barman' is missing required privileges (see \"Pre-requisites\" section in the \
             Barman documentation)\nHINT: run GRANT EXECUTE ON FUNCTION pg_switch_wal() TO barman\n",
            Some(1)
        )
    );
}

#[test]
fn switch_wal_archive_waits_for_barman_wal_archive_to_deliver_the_wal() {
    let ctx = TestContext::new();
    let host = BarmanHost::ours(&ctx);
    let cluster = PgCluster::builder(&ctx)
        .archive_mode("on")
        .archive_command(&host.wal_archive_command())
        .start();
    host.configure_server(
        &ctx,
        &format!(
            "conninfo = {}\nbackup_method = postgres\narchiver = on\n",
            cluster.conninfo()
        ),
    );
    cluster.sql("CREATE TABLE t AS SELECT 1");
    let wal = current_wal(&cluster);
    let run = barman(
        &ctx,
        &host.config,
        &["switch-wal", "--archive", "--archive-timeout", "60", "pg"],
    );
    assert_eq!(
        (run.stdout.as_str(), run.stderr.as_str(), run.code),
        (
            format!(
                "The WAL file {wal} has been closed on server 'pg'\n\
                 Waiting for the WAL file {wal} from server 'pg' (max: 60 seconds)\n"
            )
            .as_str(),
            "",
            Some(0)
        ),
        "{}",
        cluster.log()
    );
    let archived = ctx.barman_home().join(format!("pg/wals/{}/{wal}", &wal[..16]));
    assert!(archived.is_file(), "{}", archived.display());
    let catalogue = fs::read_to_string(ctx.barman_home().join("pg/wals/pg-xlog.db")).unwrap();
    assert!(catalogue.starts_with(&format!("{wal}\t")), "{catalogue}");

    // Nothing to close: any new WAL would do, and none comes (an info, not an error).
    let run = barman(
        &ctx,
        &host.config,
        &["switch-wal", "--archive", "--archive-timeout", "1", "pg"],
    );
    assert_eq!(
        (run.stdout.as_str(), run.code),
        (
            "No switch required for server 'pg'\n\
             Waiting for a WAL file from server 'pg' to be archived (max: 1 seconds)\n\
             A WAL file has not been received in 1 seconds\n",
            Some(0)
        )
    );

    // A WAL that never arrives is an error with a hint.
    cluster.sql("ALTER SYSTEM SET archive_command = 'false'");
    cluster.sql("SELECT pg_reload_conf()");
    cluster.sql("CREATE TABLE u AS SELECT 1");
    let wal = current_wal(&cluster);
    let run = barman(
        &ctx,
        &host.config,
        &["switch-wal", "--archive", "--archive-timeout", "1", "pg"],
    );
    assert_eq!(run.code, Some(1));
    assert_eq!(
        run.stderr,
        format!(
            "ERROR: The WAL file {wal} has not been received in 1 seconds\n\
             HINT: check that archive_command delivers WAL files to barman (see 'barman check pg' and PostgreSQL's \
             pg_stat_archiver), or raise --archive-timeout\n"
        )
    );
}

/// A `pg_receivewal` streaming from the cluster as `streaming_barman`, stopped on drop.
struct Receiver {
    child: Child,
}

impl Receiver {
    fn start(ctx: &TestContext, cluster: &PgCluster, slot: &str) -> Receiver {
        let directory = ctx.root().join("receivewal");
        fs::create_dir_all(&directory).unwrap();
        let child = Command::new(Path::new(PG_BIN_DIR).join("pg_receivewal"))
            .env_clear()
            .env("PGPASSFILE", ctx.home().join(".pgpass"))
            .arg("-d")
            .arg(format!(
                "host={LOOPBACK} port={} user=streaming_barman application_name=barman_receive_wal",
                cluster.port()
            ))
            .arg("-D")
            .arg(&directory)
            .args(["-S", slot, "-n", "-s", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let receiver = Receiver { child };
        let deadline = Instant::now() + Duration::from_secs(30);
        while cluster.sql("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") != "1" {
            assert!(Instant::now() < deadline, "pg_receivewal did not attach");
            std::thread::sleep(Duration::from_millis(100));
        }
        receiver
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn replication_status_lists_a_real_pg_receivewal_and_a_hot_standby() {
    let ctx = TestContext::new();
    let cluster = archiving_cluster(&ctx);
    let config = ctx.write_barman_config(&server_options(&cluster));
    let run = barman(&ctx, &config, &["replication-status", "pg"]);
    assert_lines(
        &run.stdout,
        &[
            "Status of streaming clients for server 'pg':",
            "  Current LSN on master: 0/{}",
            "  No streaming clients attached",
        ],
    );
    let run = barman(
        &ctx,
        &config,
        &["replication-status", "--minimal", "--target", "wal-streamer", "pg"],
    );
    assert_lines(
        &run.stdout,
        &[
            "Wal streamers for master 'pg' (LSN @ 0/{}):",
            "  No WAL streamers attached",
        ],
    );

    cluster.sql("SELECT pg_create_physical_replication_slot('barman')");
    let receiver = Receiver::start(&ctx, &cluster, "barman");
    let run = barman(&ctx, &config, &["replication-status", "pg"]);
    assert_lines(
        &run.stdout,
        &[
            "Status of streaming clients for server 'pg':",
            "  Current LSN on master: 0/{}",
            "  Number of streaming clients: 1",
            "",
            "  1. Async WAL streamer",
            "     Application name: barman_receive_wal",
            "     Sync stage      : {}/3 {}",
            "     Communication   : TCP/IP",
            "     IP Address      : 127.0.0.1 / Port: {} / Host: -",
            "     User name       : streaming_barman",
            "     Current state   : streaming (async)",
            "     Replication slot: barman",
            "     WAL sender PID  : {}",
            "     Started at      : 20{}-{}-{} {}:{}:{}",
            "     Sent LSN   : 0/{} (diff: {})",
            "     Write LSN  : 0/{} (diff: {})",
            "     Flush LSN  : 0/{} (diff: {})",
        ],
    );
    let run = barman(&ctx, &config, &["replication-status", "--minimal", "pg"]);
    assert_lines(
        &run.stdout,
        &[
            "Streaming clients for master 'pg' (LSN @ 0/{}):",
            "  1. W) streaming_barman@127.0.0.1 S:0/{} W:0/{} P:0 AN:barman_receive_wal",
        ],
    );
    let run = barman(
        &ctx,
        &config,
        &["-f", "json", "replication-status", "--target", "wal-streamer", "pg"],
    );
    let document: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let streamer = &document["pg"]["wal_streamers"][0];
    assert_eq!(streamer["name"], "Async WAL streamer");
    assert_eq!(streamer["replication_slot"], "barman");
    assert!(streamer["sent_lsn_diff_bytes"].is_i64(), "{streamer}");
    let run = barman(&ctx, &config, &["replication-status", "--target", "hot-standby", "pg"]);
    assert_lines(
        &run.stdout,
        &[
            "Status of hot standby servers for server 'pg':",
            "  Current LSN on master: 0/{}",
            "  No hot standby servers attached",
        ],
    );
    drop(receiver);

    // A hot standby streaming from the primary: listed as a standby, and switch-wal leaves it alone.
    let base = cluster.base_backup(&ctx);
    fs::write(base.join("standby.signal"), "").unwrap();
    let mut standby = PgCluster::builder(&ctx)
        .setting("primary_conninfo", &cluster.admin_conninfo())
        .start_from_base_backup(&base);
    let deadline = Instant::now() + Duration::from_secs(30);
    while cluster.sql("SELECT count(*) FROM pg_stat_replication WHERE replay_lsn IS NOT NULL") != "1" {
        assert!(Instant::now() < deadline, "the standby did not attach");
        std::thread::sleep(Duration::from_millis(100));
    }
    let run = barman(
        &ctx,
        &config,
        &["replication-status", "--minimal", "--target", "hot-standby", "pg"],
    );
    assert_lines(
        &run.stdout,
        &[
            "Hot standby servers for master 'pg' (LSN @ 0/{}):",
            "  1. A) postgres@socket S:0/{} F:0/{} R:0/{} P:0 AN:{}",
        ],
    );
    let standby_config = ctx.write_barman_config(&format!(
        "conninfo = host={LOOPBACK} port={} user=barman dbname=postgres\nbackup_method = postgres\narchiver = on\n",
        standby.port()
    ));
    let run = barman(&ctx, &standby_config, &["switch-wal", "pg"]);
    assert_eq!(
        (run.stdout.as_str(), run.stderr.as_str(), run.code),
        ("No switch performed because server 'pg' is a standby.\n", "", Some(0))
    );
    let keys = shown(&barman(&ctx, &standby_config, &["show-servers", "pg"]).stdout);
    assert_eq!(keys["is_in_recovery"], "True");
    assert_eq!(keys["current_xlog"], "None");
    let run = barman(&ctx, &standby_config, &["status", "pg"]);
    assert!(
        run.stdout.contains("\tCluster state: in archive recovery\n"),
        "{}",
        run.stdout
    );
    standby.stop();
}

#[test]
fn an_unreachable_server_has_barmans_keys_as_none_and_clear_errors() {
    let ctx = TestContext::new();
    let dsn = format!("host={LOOPBACK} port=1 user=barman dbname=postgres");
    let config = ctx.write_barman_config(&format!(
        "conninfo = {dsn}\nstreaming_conninfo = {dsn}\nbackup_method = postgres\narchiver = on\n\
         path_prefix = {PG_BIN_DIR}\n"
    ));
    let warning = format!(
        "WARNING: server 'pg' (conninfo): cannot connect to PostgreSQL with '{dsn}': error connecting to server: \
         Connection refused (os error 111)\nHINT: is PostgreSQL running and listening on 127.0.0.1:1? check \
         listen_addresses and port\n"
    );
    let run = barman(&ctx, &config, &["show-servers", "pg"]);
    assert_eq!((run.stderr.as_str(), run.code), (warning.as_str(), Some(0)));
    let keys = shown(&run.stdout);
    for key in [
        "archive_command",
        "archive_mode",
        "current_xlog",
        "data_directory",
        "is_in_recovery",
        "is_superuser",
        "pg_basebackup_compatible",
        "postgres_systemid",
        "replication_slot",
        "replication_slot_support",
        "server_txt_version",
        "streaming",
        "streaming_supported",
        "streaming_systemid",
        "synchronous_standby_names",
        "timeline",
        "version_supported",
        "xlogpos",
    ] {
        assert_eq!(keys[key], "None", "{key}");
    }
    assert_eq!(
        keys["connection_error"],
        "connection to server at \"127.0.0.1\", port 1 failed: Connection refused"
    );
    assert!(!keys.contains_key("wal_level") && !keys.contains_key("archived_count"));

    let run = barman(&ctx, &config, &["status", "pg"]);
    assert!(
        run.stdout
            .contains("\tPostgreSQL version: FAILED trying to get PostgreSQL version\n\tPassive node: False\n"),
        "{}",
        run.stdout
    );
    assert_eq!((run.stderr.as_str(), run.code), (warning.as_str(), Some(0)));

    let hint = format!(
        "HINT: cannot connect to PostgreSQL with '{dsn}': error connecting to server: Connection refused (os error \
         111); is PostgreSQL running and listening on 127.0.0.1:1? check listen_addresses and port\n"
    );
    let run = barman(&ctx, &config, &["switch-wal", "--force", "pg"]);
    assert_eq!(
        (run.stdout.as_str(), run.stderr, run.code),
        (
            "",
            format!("ERROR: Unable to perform pg_switch_wal for server 'pg'.\n{hint}"),
            Some(1)
        )
    );
    let run = barman(&ctx, &config, &["replication-status", "pg"]);
    assert_eq!(
        (run.stdout.as_str(), run.stderr, run.code),
        ("", format!("ERROR: Unable to connect to server pg\n{hint}"), Some(1))
    );

    // A passive node has no PostgreSQL to ask.
    let passive = ctx.write_barman_config("primary_ssh_command = ssh barman@primary\n");
    let run = barman(&ctx, &passive, &["switch-wal", "pg"]);
    assert_eq!(
        (run.stderr.as_str(), run.code),
        (
            "ERROR: Unable to perform pg_switch_wal for server 'pg'.\nHINT: 'pg' is a passive node \
             (primary_ssh_command is set) with no PostgreSQL connection; run switch-wal on the primary Barman server\n",
            Some(1)
        )
    );
    let run = barman(&ctx, &passive, &["replication-status", "pg"]);
    assert_eq!(
        (run.stdout.as_str(), run.code),
        ("Skipping passive server 'pg'\n", Some(0))
    );
    let keys = shown(&barman(&ctx, &passive, &["show-servers", "pg"]).stdout);
    assert!(
        !keys.contains_key("server_txt_version"),
        "no live keys for a passive node"
    );
}

/// Optional tier: Barman 3.20.1 reports the same live keys for the same cluster (those that
/// move with time or activity left out), on the console and in `diagnose`.
#[test]
fn live_keys_match_python_barman_when_installed() {
    if !python_barman_installed() {
        return;
    }
    let ctx = TestContext::new();
    let cluster = archiving_cluster(&ctx);
    cluster.sql("SELECT pg_create_physical_replication_slot('barman')");
    let config = ctx.write_barman_config(&server_options(&cluster));
    let python = Path::new(PYTHON_BARMAN_BIN).join("barman");
    let theirs = |args: &[&str]| {
        let output = ctx.command(&python).arg("-c").arg(&config).args(args).output().unwrap();
        ctx.normalize(&String::from_utf8_lossy(&output.stdout))
    };
    let ours = shown(&barman(&ctx, &config, &["show-servers", "pg"]).stdout);
    let barmans = shown(&theirs(&["show-servers", "pg"]));
    let expected = expected_live_keys(&ctx, &cluster);
    let comparable = |key: &String| expected.contains_key(key.as_str()) && !MOVING_KEYS.contains(&key.as_str());
    let ours_live: BTreeMap<_, _> = ours.iter().filter(|(k, _)| comparable(k)).collect();
    let barmans_live: BTreeMap<_, _> = barmans.iter().filter(|(k, _)| comparable(k)).collect();
    assert_eq!(ours_live, barmans_live);
    let live_keys = |keys: &BTreeMap<String, String>| -> Vec<String> {
        keys.keys()
            .filter(|k| expected.contains_key(k.as_str()) || MOVING_KEYS.contains(&k.as_str()))
            .cloned()
            .collect()
    };
    assert_eq!(live_keys(&ours), live_keys(&barmans), "the same keys are present");

    let status = |text: &str| {
        let document: serde_json::Value = serde_json::from_str(text).unwrap();
        let mut status = document["servers"]["pg"]["status"].as_object().unwrap().clone();
        status.retain(|key, _| !MOVING_KEYS.contains(&key.as_str()));
        status
    };
    assert_eq!(
        status(&barman(&ctx, &config, &["diagnose"]).stdout),
        status(&theirs(&["diagnose"]))
    );
}

/// The version-dependent parts on PostgreSQL 13, 14, 16, 17 and 18 (those installed by
/// `scripts/setup-pg-versions`; a missing one is reported as skipped): the live keys of each
/// version, the current WAL named as before 17 at a segment boundary, `--force` and
/// `pg_checkpoint` (15 and later), and `pg_stat_replication`.
#[test]
fn live_commands_work_on_each_postgresql_version() {
    for major in [13, 14, 16, 17, 18] {
        if !pg_version_installed(major) {
            continue;
        }
        let Some(client_bin) = pg_client_bin_dir(major) else {
            eprintln!("skipped: no client programs of PostgreSQL {major} or newer (scripts/setup-pg-versions)");
            continue;
        };
        let ctx = TestContext::new();
        let cluster = PgCluster::builder(&ctx)
            .version(major)
            .archive_mode("on")
            .archive_command("true")
            .start();
        let config = ctx.write_barman_config(&format!(
            "conninfo = {}\nstreaming_conninfo = {}\nbackup_method = postgres\narchiver = on\npath_prefix = {}\n",
            cluster.conninfo(),
            cluster.streaming_conninfo(),
            client_bin.display()
        ));
        let context = format!("PostgreSQL {major}");
        let run = barman(&ctx, &config, &["show-servers", "pg"]);
        assert_eq!((run.stderr.as_str(), run.code), ("", Some(0)), "{context}");
        let keys = shown(&run.stdout);
        let system_id = cluster.sql("SELECT system_identifier FROM pg_control_system()");
        for (key, value) in [
            ("server_txt_version", server_version(&cluster)),
            ("is_superuser", "False".into()),
            ("has_backup_privileges", "True".into()),
            ("has_monitoring_privileges", "True".into()),
            ("wal_keep_size", "0".into()),
            ("xlog_segment_size", "16777216".into()),
            ("postgres_systemid", system_id.clone()),
            ("streaming_systemid", system_id),
            ("version_supported", "True".into()),
            ("pg_basebackup_compatible", "True".into()),
            ("archive_mode", "on".into()),
        ] {
            assert_eq!(keys.get(key), Some(&value), "{context}: {key}");
        }

        // After a switch the current WAL is the one just closed, on every version.
        cluster.sql("CREATE TABLE t AS SELECT 1");
        let run = barman(&ctx, &config, &["switch-wal", "pg"]);
        let closed = run
            .stdout
            .strip_prefix("The WAL file ")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("{context}: {}{}", run.stdout, run.stderr))
            .to_owned();
        let keys = shown(&barman(&ctx, &config, &["show-servers", "pg"]).stdout);
        assert_eq!(keys["current_xlog"], closed, "{context}");

        let run = barman(&ctx, &config, &["switch-wal", "--force", "pg"]);
        assert_eq!(run.code, Some(1), "{context}");
        assert!(
            run.stderr.starts_with(
                "ERROR: Barman switch-wal --force requires superuser rights or the 'pg_checkpoint' role\n"
            ),
            "{context}: {}",
            run.stderr
        );
        if major >= 15 {
            cluster.sql("GRANT pg_checkpoint TO barman");
        } else {
            cluster.sql("ALTER ROLE barman SUPERUSER");
        }
        let run = barman(&ctx, &config, &["switch-wal", "--force", "pg"]);
        assert!(
            run.code == Some(0) && run.stdout.starts_with("The WAL file "),
            "{context}: {}{}",
            run.stdout,
            run.stderr
        );

        let run = barman(&ctx, &config, &["replication-status", "pg"]);
        assert!(
            run.stdout.ends_with("  No streaming clients attached\n") && run.code == Some(0),
            "{context}: {}{}",
            run.stdout,
            run.stderr
        );
    }
}
