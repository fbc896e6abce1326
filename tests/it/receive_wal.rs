//! `receive-wal` against a real PostgreSQL 15 cluster with the machine's pg_receivewal: slot
//! commands, streaming real segments into `streaming/` and stopping, `archive-wal` taking them
//! over, the refusals, `--reset`; `cron` starting the streaming archiver; `list-processes` and
//! `terminate-process`.
//!
//! Every receive-wal a test starts, directly or through cron, is stopped before the test ends,
//! and the test checks that its pg_receivewal is gone from the server's `pg_stat_replication`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use barman_core::locks::{LockFile, LockName};
use barman_tests::{built_binary, PgCluster, TestContext, PG_BIN_DIR};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// How long a condition the tests wait for may take.
const PATIENCE: Duration = Duration::from_secs(60);

/// A configuration with server `pg` streaming from `cluster` through slot `barman`, with
/// pg_receivewal taken from `client_bin`, plus `extra` lines in its section.
pub(crate) fn streaming_config(ctx: &TestContext, cluster: &PgCluster, client_bin: &str, extra: &str) -> PathBuf {
    ctx.write_barman_config(&format!(
        "conninfo = {conninfo}\nstreaming_conninfo = {streaming}\nbackup_method = postgres\n\
         streaming_archiver = on\nslot_name = barman\npath_prefix = {client_bin}\n{extra}",
        conninfo = cluster.conninfo(),
        streaming = cluster.streaming_conninfo(),
    ))
}

pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

pub(crate) fn run(ctx: &TestContext, config: &Path, args: &[&str]) -> Run {
    let output = ctx.barman().arg("-c").arg(config).args(args).output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: ctx.normalize(&String::from_utf8_lossy(&output.stdout)),
        stderr: ctx.normalize(&String::from_utf8_lossy(&output.stderr)),
    }
}

/// Waits for `condition`, failing the test with `what` after [`PATIENCE`].
pub(crate) fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The PID in the server's held receive-wal lock, if one runs.
pub(crate) fn receive_wal_pid(ctx: &TestContext) -> Option<u32> {
    LockFile::holder_pid(&LockFile::path_in(ctx.barman_home(), LockName::ReceiveWal("pg"))).unwrap()
}

/// Whether pg_receivewal streams from `cluster` through slot `barman`.
pub(crate) fn slot_active(cluster: &PgCluster) -> bool {
    cluster.sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'barman' AND active") == "1"
}

/// Waits until no pg_receivewal streams from `cluster` any more.
pub(crate) fn assert_receiver_gone(cluster: &PgCluster) {
    wait_for("pg_receivewal to disconnect", || {
        cluster.sql("SELECT count(*) FROM pg_stat_replication WHERE application_name = 'barman_receive_wal'") == "0"
    });
}

/// Stops a receive-wal that a test left running (a failed assertion, or cron's): SIGINT, then
/// SIGKILL. Its pg_receivewal gets SIGTERM when it dies.
pub(crate) struct ReceiverGuard<'a>(pub(crate) &'a TestContext);

impl Drop for ReceiverGuard<'_> {
    fn drop(&mut self) {
        for signal in [Signal::SIGINT, Signal::SIGKILL] {
            let Some(pid) = receive_wal_pid(self.0) else { return };
            let _ = kill(Pid::from_raw(pid as i32), signal);
            let deadline = Instant::now() + Duration::from_secs(10);
            while receive_wal_pid(self.0).is_some() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// `barman receive-wal pg` running in the background, its output collected in files.
pub(crate) struct Background {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Background {
    pub(crate) fn start(ctx: &TestContext, config: &Path) -> Background {
        let stdout = ctx.root().join("receive-wal.out");
        let stderr = ctx.root().join("receive-wal.err");
        let child = Command::new(built_binary("barman"))
            .env_clear()
            .env("PATH", ctx.path_env())
            .env("HOME", ctx.home())
            .env("LANG", "C")
            .current_dir(ctx.root())
            .arg("-c")
            .arg(config)
            .args(["receive-wal", "pg"])
            .stdin(Stdio::null())
            .stdout(fs::File::create(&stdout).unwrap())
            .stderr(fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        Background { child, stdout, stderr }
    }

    /// Waits for the process to end; its exit status and output.
    pub(crate) fn finish(mut self, ctx: &TestContext) -> Run {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "receive-wal did not end");
            std::thread::sleep(Duration::from_millis(50));
        };
        Run {
            code: status.code().unwrap_or(-1),
            stdout: ctx.normalize(&fs::read_to_string(&self.stdout).unwrap()),
            stderr: ctx.normalize(&fs::read_to_string(&self.stderr).unwrap()),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGINT);
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Names in `dir`, sorted.
pub(crate) fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|entries| entries.map(|e| e.unwrap().file_name().into_string().unwrap()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// Complete segments (not `.partial`) in the streaming directory.
pub(crate) fn streamed_segments(ctx: &TestContext) -> Vec<String> {
    listing(&ctx.barman_home().join("pg/streaming"))
        .into_iter()
        .filter(|name| name.len() == 24)
        .collect()
}

/// Writes a little and closes the current segment, `count` times.
pub(crate) fn switch_segments(cluster: &PgCluster, count: usize) {
    cluster.sql("CREATE TABLE IF NOT EXISTS filler (n int)");
    for _ in 0..count {
        cluster.sql("INSERT INTO filler VALUES (1); SELECT pg_switch_wal()");
    }
}

/// Streams `segments` new segments from `cluster` with a background receive-wal (creating the
/// slot), stops it with `terminate-process`, and returns the streamed segment names.
pub(crate) fn stream_and_stop(ctx: &TestContext, cluster: &PgCluster, config: &Path, segments: usize) -> Vec<String> {
    let _guard = ReceiverGuard(ctx);
    let receiver = Background::start(ctx, config);
    wait_for("receive-wal to stream", || slot_active(cluster));
    let pid = receive_wal_pid(ctx).expect("the receive-wal lock is held");
    switch_segments(cluster, segments);
    wait_for("the segments to arrive", || streamed_segments(ctx).len() >= segments);
    let stop = run(ctx, config, &["terminate-process", "pg", "receive-wal"]);
    assert_eq!(
        (stop.code, stop.stdout.as_str(), stop.stderr.as_str()),
        (0, format!("Stopped process receive-wal({pid})\n").as_str(), "")
    );
    let finished = receiver.finish(ctx);
    assert_eq!(
        (finished.code, finished.stderr.as_str()),
        (0, ""),
        "{}",
        finished.stdout
    );
    assert!(
        finished.stdout.ends_with("SIGINT received. Terminate gracefully.\n"),
        "{}",
        finished.stdout
    );
    assert_receiver_gone(cluster);
    streamed_segments(ctx)
}

#[test]
fn slot_commands_create_and_drop_the_configured_slot() {
    let ctx = TestContext::new();
    let cluster = PgCluster::start(&ctx);
    let config = streaming_config(&ctx, &cluster, PG_BIN_DIR, "");
    let create = run(&ctx, &config, &["receive-wal", "--create-slot", "pg"]);
    assert_eq!(
        (create.code, create.stdout.as_str(), create.stderr.as_str()),
        (
            0,
            "Creating physical replication slot 'barman' on server 'pg'\nReplication slot 'barman' created\n",
            ""
        )
    );
    assert_eq!(
        cluster.sql("SELECT slot_type, active FROM pg_replication_slots WHERE slot_name = 'barman'"),
        "physical|f"
    );
    let again = run(&ctx, &config, &["receive-wal", "--create-slot", "pg"]);
    assert_eq!(
        (again.code, again.stdout.as_str(), again.stderr.as_str()),
        (
            1,
            "Creating physical replication slot 'barman' on server 'pg'\n",
            "ERROR: Replication slot 'barman' already exists\nHINT: add --if-not-exists to accept an existing slot\n"
        )
    );
    let tolerated = run(
        &ctx,
        &config,
        &["receive-wal", "--create-slot", "--if-not-exists", "pg"],
    );
    assert_eq!(
        (tolerated.code, tolerated.stdout.as_str(), tolerated.stderr.as_str()),
        (
            0,
            "Creating physical replication slot 'barman' on server 'pg'\nReplication slot 'barman' already exists \
             and --if-not-exists was specified. Skipping creation\n",
            ""
        )
    );
    let drop = run(&ctx, &config, &["receive-wal", "--drop-slot", "pg"]);
    assert_eq!(
        (drop.code, drop.stdout.as_str(), drop.stderr.as_str()),
        (
            0,
            "Dropping physical replication slot 'barman' on server 'pg'\nReplication slot 'barman' dropped\n",
            ""
        )
    );
    assert_eq!(cluster.sql("SELECT count(*) FROM pg_replication_slots"), "0");
    let missing = run(&ctx, &config, &["receive-wal", "--drop-slot", "pg"]);
    assert_eq!(
        (missing.code, missing.stdout.as_str(), missing.stderr.as_str()),
        (
            1,
            "Dropping physical replication slot 'barman' on server 'pg'\n",
            "ERROR: Replication slot 'barman' does not exist\n"
        )
    );
}

#[test]
fn receive_wal_streams_segments_until_stopped_and_archive_wal_takes_them_over() {
    let ctx = TestContext::new();
    let cluster = PgCluster::start(&ctx);
    let config = streaming_config(&ctx, &cluster, PG_BIN_DIR, "create_slot = auto\n");
    let _guard = ReceiverGuard(&ctx);
    let receiver = Background::start(&ctx, &config);
    wait_for("receive-wal to stream", || slot_active(&cluster));
    let pid = receive_wal_pid(&ctx).expect("the receive-wal lock is held");

    let busy = run(&ctx, &config, &["receive-wal", "pg"]);
    assert_eq!(
        (busy.code, busy.stdout.as_str(), busy.stderr.as_str()),
        (
            1,
            "Starting receive-wal for server pg\n",
            "ERROR: Another receive-wal process is already running for server pg.\n"
        )
    );
    let reset = run(&ctx, &config, &["receive-wal", "--reset", "pg"]);
    assert_eq!(
        (reset.code, reset.stderr.as_str()),
        (
            1,
            "ERROR: Unable to reset the status of receive-wal for server pg. Process is still running\n\
             HINT: stop it first: 'barman terminate-process pg receive-wal'\n"
        )
    );

    switch_segments(&cluster, 3);
    wait_for("three streamed segments", || streamed_segments(&ctx).len() >= 3);
    let stop = run(&ctx, &config, &["receive-wal", "--stop", "pg"]);
    assert_eq!(
        (stop.code, stop.stdout.as_str(), stop.stderr.as_str()),
        (
            0,
            format!("Stopped process receive-wal({pid})\n").as_str(),
            "WARNING: --stop is deprecated and will be removed in a future release. Use 'barman terminate-process \
             pg receive-wal' instead.\n"
        )
    );
    let finished = receiver.finish(&ctx);
    assert_eq!((finished.code, finished.stderr.as_str()), (0, ""));
    let lines: Vec<&str> = finished.stdout.lines().collect();
    assert_eq!(
        lines[..5],
        [
            "Starting receive-wal for server pg",
            "Creating replication slot 'barman'",
            "Creating physical replication slot 'barman' on server 'pg'",
            "Replication slot 'barman' created",
            "pg: pg_receivewal: starting log streaming at 0/1000000 (timeline 1)",
        ],
        "{}",
        finished.stdout
    );
    assert!(lines.contains(&"pg: pg_receivewal: finished segment at 0/2000000 (timeline 1)"));
    assert_eq!(lines.last(), Some(&"SIGINT received. Terminate gracefully."));
    assert_receiver_gone(&cluster);
    assert_eq!(receive_wal_pid(&ctx), None);

    // Every complete segment is archived; the .partial one, where streaming resumes, stays.
    let streaming = ctx.barman_home().join("pg/streaming");
    let streamed = streamed_segments(&ctx);
    let partials: Vec<String> = listing(&streaming)
        .into_iter()
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert_eq!(partials.len(), 1, "{:?}", listing(&streaming));
    let contents: Vec<Vec<u8>> = streamed
        .iter()
        .map(|name| fs::read(streaming.join(name)).unwrap())
        .collect();
    let archive = run(&ctx, &config, &["archive-wal", "pg"]);
    assert_eq!(archive.code, 0, "{}", archive.stderr);
    assert_eq!(listing(&streaming), partials);
    for (name, content) in streamed.iter().zip(&contents) {
        let archived = ctx.barman_home().join("pg/wals").join(&name[..16]).join(name);
        assert_eq!(&fs::read(&archived).unwrap(), content, "{name}");
    }
}

#[test]
fn receive_wal_refusals_are_barman_s() {
    let ctx = TestContext::new();
    let cluster = PgCluster::start(&ctx);
    let config = streaming_config(&ctx, &cluster, PG_BIN_DIR, "");
    let missing_slot = run(&ctx, &config, &["receive-wal", "pg"]);
    assert_eq!(
        (
            missing_slot.code,
            missing_slot.stdout.as_str(),
            missing_slot.stderr.as_str()
        ),
        (
            1,
            "Starting receive-wal for server pg\n",
            "ERROR: ArchiverFailure:replication slot 'barman' doesn't exist. Please execute 'barman receive-wal \
             --create-slot pg'\nHINT: or set create_slot = auto so that receive-wal creates it\n"
        )
    );

    let held = LockFile::try_acquire(ctx.barman_home(), LockName::ReceiveWal("pg"))
        .unwrap()
        .unwrap();
    let busy = run(&ctx, &config, &["receive-wal", "pg"]);
    assert_eq!(
        (busy.code, busy.stderr.as_str()),
        (
            1,
            "ERROR: Another receive-wal process is already running for server pg.\n"
        )
    );
    drop(held);
    let stop = run(&ctx, &config, &["terminate-process", "pg", "archive-wal"]);
    assert_eq!(
        (stop.code, stop.stdout.as_str(), stop.stderr.as_str()),
        (
            1,
            "",
            "ERROR: Termination of archive-wal failed: no such process for server pg\n\
             HINT: 'barman list-processes pg' shows the running ones\n"
        )
    );

    let off = streaming_config(&ctx, &cluster, PG_BIN_DIR, "streaming_archiver = off\narchiver = on\n");
    let refused = run(&ctx, &off, &["receive-wal", "pg"]);
    assert_eq!(
        (refused.code, refused.stdout.as_str(), refused.stderr.as_str()),
        (
            1,
            "",
            "ERROR: Unable to start receive-wal process: streaming_archiver option set to 'off' in barman \
             configuration file\n"
        )
    );

    // Another client streaming from the slot.
    let config = streaming_config(&ctx, &cluster, PG_BIN_DIR, "");
    cluster.sql("SELECT pg_create_physical_replication_slot('barman')");
    let other_directory = ctx.root().join("other-client");
    fs::create_dir(&other_directory).unwrap();
    let mut other = Command::new(Path::new(PG_BIN_DIR).join("pg_receivewal"))
        .env_clear()
        .env("HOME", ctx.home())
        .arg(format!("--dbname={}", cluster.streaming_conninfo()))
        .args(["--slot=barman", "--no-loop", "--no-password"])
        .arg(format!("--directory={}", other_directory.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the other client to stream", || slot_active(&cluster));
    let in_use = run(&ctx, &config, &["receive-wal", "pg"]);
    let _ = kill(Pid::from_raw(other.id() as i32), Signal::SIGINT);
    other.wait().unwrap();
    assert_eq!(
        (in_use.code, in_use.stderr.as_str()),
        (
            1,
            "ERROR: ArchiverFailure:replication slot 'barman' is already in use\n\
             HINT: another client streams from slot 'barman': stop it, or give this server its own slot_name\n"
        )
    );

    // The streaming connection cannot replicate: the silent pre-flight checks fail.
    let no_replication = ctx.write_barman_config(&format!(
        "conninfo = {conninfo}\nstreaming_conninfo = {conninfo}\nbackup_method = postgres\n\
         streaming_archiver = on\nslot_name = barman\npath_prefix = {PG_BIN_DIR}\n",
        conninfo = cluster.conninfo()
    ));
    let preflight = run(&ctx, &no_replication, &["receive-wal", "pg"]);
    assert_eq!((preflight.code, preflight.stdout.as_str()), (1, ""));
    assert!(
        preflight.stderr.starts_with(
            "ERROR: Impossible to start WAL streaming. Check the log for more details, or run 'barman check pg'\n\
             HINT: PostgreSQL streaming (WAL streaming): cannot connect to PostgreSQL with"
        ),
        "{}",
        preflight.stderr
    );

    let old_tool = streaming_config(&ctx, &cluster, "/nonexistent", "create_slot = auto\n");
    let no_tool = Command::new(built_binary("barman"))
        .env_clear()
        .env("PATH", "/nonexistent")
        .env("HOME", ctx.home())
        .arg("-c")
        .arg(&old_tool)
        .args(["receive-wal", "pg"])
        .output()
        .unwrap();
    assert_eq!(no_tool.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no_tool.stderr)
        .starts_with("ERROR: ArchiverFailure:pg_receivewal not present in $PATH\nHINT: install the PostgreSQL client"));
}

#[test]
fn reset_aligns_the_streaming_directory_with_the_slot_or_the_current_wal() {
    let ctx = TestContext::new();
    let cluster = PgCluster::start(&ctx);
    let config = streaming_config(&ctx, &cluster, PG_BIN_DIR, "");
    let streaming = ctx.barman_home().join("pg/streaming");
    fs::create_dir_all(&streaming).unwrap();
    fs::write(streaming.join("000000010000000000000001"), "").unwrap();
    // A slot that never streamed: the position is the server's current WAL.
    cluster.sql("SELECT pg_create_physical_replication_slot('barman')");
    switch_segments(&cluster, 2);
    // Off the segment boundary, where PostgreSQL 15 names the previous segment.
    cluster.sql("INSERT INTO filler VALUES (2)");
    let current = cluster.sql("SELECT pg_walfile_name(pg_current_wal_lsn())");
    let reset = run(&ctx, &config, &["receive-wal", "--reset", "pg"]);
    assert_eq!(
        (reset.code, reset.stdout.as_str(), reset.stderr.as_str()),
        (
            0,
            format!(
                "Resetting receive-wal directory status\nCreating status file [TEMP]/barman/pg/streaming/{current}.partial\n"
            )
            .as_str(),
            ""
        )
    );
    let aligned = run(&ctx, &config, &["receive-wal", "--reset", "pg"]);
    assert_eq!(
        (aligned.code, aligned.stdout.as_str()),
        (0, "Nothing to do. Position of receive-wal is aligned.\n")
    );

    // A slot keeping older WAL: its restart_lsn wins over the current WAL, whose .partial file
    // (which Barman's name comparison takes for a position ahead of the server) is replaced.
    cluster.sql("SELECT pg_drop_replication_slot('barman')");
    cluster.sql("SELECT pg_create_physical_replication_slot('barman', true)");
    let restart = cluster.sql("SELECT pg_walfile_name(restart_lsn) FROM pg_replication_slots");
    switch_segments(&cluster, 2);
    cluster.sql("INSERT INTO filler VALUES (3)");
    let current = cluster.sql("SELECT pg_walfile_name(pg_current_wal_lsn())");
    for name in listing(&streaming) {
        fs::remove_file(streaming.join(name)).unwrap();
    }
    fs::write(streaming.join(format!("{current}.partial")), "").unwrap();
    let reset = run(&ctx, &config, &["receive-wal", "--reset", "pg"]);
    assert_eq!(
        (reset.code, reset.stdout.as_str(), reset.stderr.as_str()),
        (
            0,
            format!(
                "Resetting receive-wal directory status\n\
                 Removing status file [TEMP]/barman/pg/streaming/{current}.partial\n\
                 Creating status file [TEMP]/barman/pg/streaming/{restart}.partial\n"
            )
            .as_str(),
            ""
        )
    );
    assert_eq!(listing(&streaming), [format!("{restart}.partial")]);

    fs::write(streaming.join("000000010000000100000001.partial"), "").unwrap();
    let ahead = run(&ctx, &config, &["receive-wal", "--reset", "pg"]);
    assert_eq!(
        (ahead.code, ahead.stdout.as_str(), ahead.stderr.as_str()),
        (
            1,
            "",
            format!(
                "ERROR: The receive-wal position is ahead of PostgreSQL current WAL lsn \
                 (000000010000000100000001.partial > {current})\n\
                 HINT: the streaming directory holds WAL newer than the server's: check that streaming_conninfo \
                 reaches the right server\n"
            )
            .as_str()
        )
    );
}

#[test]
fn cron_starts_receive_wal_once_and_terminate_process_stops_it() {
    let ctx = TestContext::new();
    let cluster = PgCluster::start(&ctx);
    let config = streaming_config(&ctx, &cluster, PG_BIN_DIR, "create_slot = auto\n");
    let _guard = ReceiverGuard(&ctx);
    let first = run(&ctx, &config, &["cron"]);
    assert_eq!(
        (first.code, first.stdout.as_str(), first.stderr.as_str()),
        (
            0,
            "Starting WAL archiving for server pg\nStarting streaming archiver for server pg\n",
            ""
        )
    );
    wait_for("the receive-wal started by cron to stream", || slot_active(&cluster));
    wait_for("the archive-wal started by cron to end", || {
        !LockFile::is_busy(ctx.barman_home(), LockName::ArchiveWal("pg")).unwrap()
    });
    let pid = receive_wal_pid(&ctx).expect("the receive-wal lock is held");

    let second = run(&ctx, &config, &["cron"]);
    assert_eq!(
        (second.code, second.stdout.as_str(), second.stderr.as_str()),
        (0, "Starting WAL archiving for server pg\n", "")
    );
    assert_eq!(receive_wal_pid(&ctx), Some(pid));
    wait_for("the second archive-wal to end", || {
        !LockFile::is_busy(ctx.barman_home(), LockName::ArchiveWal("pg")).unwrap()
    });

    let listed = run(&ctx, &config, &["list-processes", "pg"]);
    assert_eq!(
        (listed.code, listed.stdout.as_str(), listed.stderr.as_str()),
        (
            0,
            format!("Active subprocesses for server pg:\n{pid} receive-wal\n").as_str(),
            ""
        )
    );
    let json = run(&ctx, &config, &["-f", "json", "list-processes", "pg"]);
    assert_eq!(
        json.stdout,
        format!("{{\"pg\":[{{\"name\":\"receive-wal\",\"pid\":{pid}}}]}}\n")
    );

    let stop = run(&ctx, &config, &["terminate-process", "pg", "receive-wal"]);
    assert_eq!(
        (stop.code, stop.stdout.as_str(), stop.stderr.as_str()),
        (0, format!("Stopped process receive-wal({pid})\n").as_str(), "")
    );
    assert_receiver_gone(&cluster);
    let none = run(&ctx, &config, &["list-processes", "pg"]);
    assert_eq!(none.stdout, "No active subprocesses found for server pg.\n");

    // With streaming switched off, cron stops a running receive-wal.
    let receiver = Background::start(&ctx, &config);
    wait_for("receive-wal to stream again", || slot_active(&cluster));
    let pid = receive_wal_pid(&ctx).expect("the receive-wal lock is held");
    let off = streaming_config(&ctx, &cluster, PG_BIN_DIR, "streaming_archiver = off\narchiver = on\n");
    let cron = run(&ctx, &off, &["cron"]);
    assert_eq!(
        (cron.code, cron.stdout.as_str()),
        (
            0,
            format!("Starting WAL archiving for server pg\nStopped process receive-wal({pid})\n").as_str()
        )
    );
    assert_eq!(receiver.finish(&ctx).code, 0);
    assert_receiver_gone(&cluster);
}
