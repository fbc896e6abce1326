//! The PostgreSQL-side clients, `barman-wal-archive` and `barman-wal-restore`, against a
//! real sshd: what PostgreSQL's archiver sees, what lands on the Barman host, and how every
//! SSH failure is reported (host key unknown or changed, wrong key, unsafe arguments).
//!
//! The `interop` tests run the clients against Barman 3.20.1's own server commands (and
//! Barman's client against ours); they are skipped when Barman is not installed.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use barman_tests::{python_barman_installed, BarmanHost, PgCluster, TestContext, LOOPBACK, PYTHON_BARMAN_BIN};

/// Segments PostgreSQL must archive through `barman-wal-archive` in the end-to-end test.
const SEGMENTS_TO_ARCHIVE: usize = 20;

/// Runs our `barman-wal-archive` with `extra` options: `server` and the WAL (or test
/// placeholder) `wal_path`.
fn archive(
    ctx: &TestContext,
    host: &BarmanHost,
    extra: &[&str],
    server: &str,
    wal_path: &Path,
) -> std::process::Output {
    ctx.wal_archive()
        .args(extra)
        .args(host.client_args())
        .arg(server)
        .arg(wal_path)
        .output()
        .unwrap()
}

fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A 16 MiB file with a recognisable, non-repeating content, named like a segment.
fn fake_segment(dir: &Path, name: &str, seed: u8) -> PathBuf {
    let path = dir.join(name);
    let content: Vec<u8> = (0..16 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ seed)
        .collect();
    fs::create_dir_all(dir).unwrap();
    fs::write(&path, content).unwrap();
    path
}

/// The OpenSSH fingerprint of a public key (`SHA256:...`).
fn fingerprint_of(public_key: &str, ctx: &TestContext) -> String {
    let path = ctx.write_file("fingerprint.pub", public_key);
    let output = Command::new("ssh-keygen").arg("-lf").arg(&path).output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    stdout_of(&output).split_whitespace().nth(1).unwrap().to_owned()
}

#[test]
fn unsafe_server_name_or_config_is_refused_before_connecting() {
    let ctx = TestContext::new();
    let wal = fake_segment(&ctx.root().join("pg_wal"), "000000010000000000000001", 1);
    // Port 1 on loopback: any connection attempt would fail with exit 3, not 2.
    for (server, config) in [("pg;touch /tmp/pwned", None), ("pg", Some("/etc/b.conf'; id; '"))] {
        let mut command = ctx.wal_archive();
        command.args(["-U", "barman", "--port", "1"]);
        if let Some(config) = config {
            command.args(["-c", config]);
        }
        let output = command.args([LOOPBACK, server]).arg(&wal).output().unwrap();
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.starts_with("ERROR: ") && stderr.contains("would be interpreted by the shell"),
            "{stderr}"
        );
    }
}

#[test]
fn unknown_host_key_is_refused_with_its_fingerprint() {
    let ctx = TestContext::new();
    let host = BarmanHost::ours(&ctx);
    // Forget every host key the harness recorded.
    fs::write(ctx.home().join(".ssh/known_hosts"), "").unwrap();
    let wal = fake_segment(&ctx.root().join("pg_wal"), "000000010000000000000001", 1);

    let output = archive(&ctx, &host, &[], "pg", &wal);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    let fingerprint = fingerprint_of(&host.sshd.host_public_key(), &ctx);
    let port = host.sshd.port();
    assert!(
        stderr.contains(&format!(
            "ERROR: the SSH host key of 127.0.0.1 port {port} is not known (ED25519 key fingerprint is {fingerprint})"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("ssh-keyscan -p {port} 127.0.0.1 >> ~/.ssh/known_hosts")),
        "{stderr}"
    );
    assert!(
        !host.sshd.log().contains("Accepted publickey"),
        "no authentication may happen with an unverified host"
    );
    assert!(!host.incoming(&ctx).join("000000010000000000000001").exists());
}

#[test]
fn changed_host_key_is_refused() {
    let ctx = TestContext::new();
    let host = BarmanHost::ours(&ctx);
    let known_hosts = ctx.home().join(".ssh/known_hosts");
    // Another key recorded for this host and port: what a man in the middle looks like.
    let other_key = ctx.root().join("other_host_key");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other_key)
        .status()
        .unwrap();
    assert!(status.success());
    let other_public = fs::read_to_string(other_key.with_extension("pub")).unwrap();
    let key: Vec<&str> = other_public.split_whitespace().take(2).collect();
    fs::write(
        &known_hosts,
        format!("[{LOOPBACK}]:{} {}\n", host.sshd.port(), key.join(" ")),
    )
    .unwrap();

    let output = archive(&ctx, &host, &["--test"], "pg", Path::new("DUMMY"));
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("has CHANGED") && stderr.contains(&known_hosts.display().to_string()),
        "{stderr}"
    );
    assert!(stderr.contains("man-in-the-middle"), "{stderr}");
    assert!(stdout_of(&output).is_empty());
}

#[test]
fn a_key_the_server_does_not_accept_is_an_authentication_failure() {
    let ctx = TestContext::new();
    let host = BarmanHost::ours(&ctx);
    // A home with its own, unknown key and the real known_hosts.
    let other_home = ctx.root().join("other-home");
    let ssh_dir = other_home.join(".ssh");
    fs::create_dir_all(&ssh_dir).unwrap();
    fs::copy(ctx.home().join(".ssh/known_hosts"), ssh_dir.join("known_hosts")).unwrap();
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(ssh_dir.join("id_ed25519"))
        .status()
        .unwrap();
    assert!(status.success());

    let output = ctx
        .wal_archive()
        .env("HOME", &other_home)
        .args(host.client_args())
        .args(["--test", "pg", "DUMMY"])
        .output()
        .unwrap();
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "ERROR: SSH authentication as '{}' on 127.0.0.1 port {} failed: no key was accepted; tried {} (rejected by the server)",
            host.sshd.user(),
            host.sshd.port(),
            ssh_dir.join("id_ed25519").display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("HINT: append this OS user's public key"), "{stderr}");
}

#[test]
fn connection_refused_is_an_ssh_problem() {
    let ctx = TestContext::new();
    let wal = fake_segment(&ctx.root().join("pg_wal"), "000000010000000000000001", 1);
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind((LOOPBACK, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = ctx
        .wal_archive()
        .args(["-U", "barman", "--port", &port.to_string(), LOOPBACK, "pg"])
        .arg(&wal)
        .output()
        .unwrap();
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!("ERROR: cannot connect to 127.0.0.1 port {port}")),
        "{stderr}"
    );
}

#[test]
fn wal_path_directory_is_a_local_error() {
    let ctx = TestContext::new();
    let output = ctx
        .wal_archive()
        .args(["-U", "barman", "--port", "1", LOOPBACK, "pg"])
        .arg(ctx.root())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr_of(&output),
        format!("ERROR: WAL_PATH cannot be a directory: {}\n", ctx.root().display())
    );
}

/// Waits until PostgreSQL reports `count` archived segments (or a failure), returning
/// `pg_stat_archiver`'s `archived_count` and `failed_count`.
fn wait_for_archived(cluster: &PgCluster, count: usize) -> (usize, usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let row = cluster.sql("SELECT archived_count, failed_count FROM pg_stat_archiver");
        let (archived, failed) = row.split_once('|').unwrap();
        let (archived, failed): (usize, usize) = (archived.parse().unwrap(), failed.parse().unwrap());
        if archived >= count || failed > 0 || Instant::now() > deadline {
            return (archived, failed);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// PostgreSQL archives with `archive_command`; returns the cluster and the names of the
/// segments it switched away from.
fn archive_segments_through_postgres(ctx: &TestContext, archive_command: &str) -> (PgCluster, Vec<String>) {
    let cluster = PgCluster::builder(ctx)
        .wal_level("replica")
        .archive_mode("on")
        .archive_command(archive_command)
        .start();
    cluster.sql("CREATE TABLE filler (id int, payload text)");
    let mut switched = Vec::new();
    for round in 0..SEGMENTS_TO_ARCHIVE {
        cluster.sql(&format!(
            "INSERT INTO filler SELECT g, repeat('x', 100) FROM generate_series(1, 1000) g; -- {round}"
        ));
        switched.push(cluster.sql("SELECT pg_walfile_name(pg_switch_wal())"));
    }
    let (archived, failed) = wait_for_archived(&cluster, SEGMENTS_TO_ARCHIVE);
    assert_eq!(
        failed,
        0,
        "archive_command failed\n--- PostgreSQL log\n{}",
        cluster.log()
    );
    assert!(
        archived >= SEGMENTS_TO_ARCHIVE,
        "only {archived} segments archived\n--- PostgreSQL log\n{}",
        cluster.log()
    );
    (cluster, switched)
}

/// Every switched segment is in `incoming/` with exactly the bytes PostgreSQL wrote (compared
/// with the archive_status `.done` copy still in pg_wal, or skipped when recycled).
fn assert_segments_identical(cluster: &PgCluster, incoming: &Path, segments: &[String]) {
    let pg_wal = cluster.data_dir().join("pg_wal");
    let mut compared = 0;
    for name in segments {
        let received = incoming.join(name);
        assert!(received.is_file(), "{name} missing from {}", incoming.display());
        let received = fs::read(&received).unwrap();
        assert_eq!(received.len(), 16 * 1024 * 1024, "{name} size");
        if let Ok(original) = fs::read(pg_wal.join(name)) {
            assert!(original == received, "{name} differs from PostgreSQL's copy");
            compared += 1;
        }
    }
    assert!(compared > 0, "PostgreSQL recycled every segment before the comparison");
}

/// `--test` prints the server's readiness line, then the empty line Barman's client adds.
fn assert_test_flag_reports_ready(ctx: &TestContext, host: &BarmanHost) {
    let output = archive(ctx, host, &["--test"], "pg", Path::new("DUMMY"));
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(stdout_of(&output), "Ready to accept WAL files for the server pg\n\n");
}

/// A server the Barman host does not know: its error and exit status reach the user, not a
/// broken pipe.
fn assert_unknown_server_error_is_shown(ctx: &TestContext, host: &BarmanHost) {
    let wal = fake_segment(&ctx.root().join("pg_wal"), "000000010000000000000001", 1);
    let output = archive(ctx, host, &[], "nosuchserver", &wal);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("ERROR: Unknown server 'nosuchserver'"), "{stderr}");
    assert!(
        stderr.ends_with("ERROR: Remote 'barman put-wal' command has failed! (exit status 1)\n"),
        "{stderr}"
    );
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
}

#[test]
fn postgres_archives_segments_through_barman_wal_archive() {
    let ctx = TestContext::new();
    let host = BarmanHost::ours(&ctx);
    let (cluster, segments) = archive_segments_through_postgres(&ctx, &host.wal_archive_command());
    assert_segments_identical(&cluster, &host.incoming(&ctx), &segments);
}

#[test]
fn test_flag_prints_ready() {
    let ctx = TestContext::new();
    assert_test_flag_reports_ready(&ctx, &BarmanHost::ours(&ctx));
}

#[test]
fn unknown_server_error_is_shown_with_the_remote_status() {
    let ctx = TestContext::new();
    let host = BarmanHost::ours(&ctx);
    assert_unknown_server_error_is_shown(&ctx, &host);
    assert!(stderr_contains_hint(&ctx, &host));
}

/// Our `barman` adds a HINT to its error; it reaches PostgreSQL's log too.
fn stderr_contains_hint(ctx: &TestContext, host: &BarmanHost) -> bool {
    let wal = fake_segment(&ctx.root().join("pg_wal"), "000000010000000000000002", 2);
    let output = archive(ctx, host, &[], "nosuchserver", &wal);
    stderr_of(&output).contains("HINT: 'barman list-servers' shows the configured servers")
}

#[test]
fn restore_round_trip_and_parallel_spool() {
    let ctx = TestContext::new();
    let host = BarmanHost::ours(&ctx);
    let (_cluster, segments) = archive_segments_through_postgres(&ctx, &host.wal_archive_command());
    assert_restore_round_trip(&ctx, &host, &segments);
    assert_parallel_restore_uses_the_spool(&ctx, &host, &segments);
}

mod interop {
    use super::*;

    /// A Barman host and its context, in drop order: the servers stop before the directory
    /// is removed.
    struct Setup {
        host: BarmanHost,
        ctx: TestContext,
    }

    /// The host runs Barman 3.20.1's `barman` (`python_server`) or ours; `None`, and the test
    /// is skipped, when Barman 3.20.1 is not installed.
    fn setup(python_server: bool) -> Option<Setup> {
        if !python_barman_installed() {
            return None;
        }
        let ctx = TestContext::new();
        let host = if python_server {
            BarmanHost::python(&ctx)
        } else {
            BarmanHost::ours(&ctx)
        };
        Some(Setup { host, ctx })
    }

    #[test]
    fn postgres_archives_through_our_client_into_python_barman() {
        let Some(setup) = setup(true) else {
            return;
        };
        let (ctx, host) = (&setup.ctx, &setup.host);
        let (cluster, segments) = archive_segments_through_postgres(ctx, &host.wal_archive_command());
        assert_segments_identical(&cluster, &host.incoming(ctx), &segments);
    }

    #[test]
    fn test_flag_against_python_barman() {
        let Some(setup) = setup(true) else {
            return;
        };
        assert_test_flag_reports_ready(&setup.ctx, &setup.host);
    }

    #[test]
    fn unknown_server_error_from_python_barman_is_shown() {
        let Some(setup) = setup(true) else {
            return;
        };
        assert_unknown_server_error_is_shown(&setup.ctx, &setup.host);
    }

    #[test]
    fn python_client_archives_real_segments_into_our_barman() {
        let Some(setup) = setup(false) else {
            return;
        };
        let (ctx, host) = (&setup.ctx, &setup.host);
        // Barman's client runs as the test user (its interpreter is not readable by the
        // PostgreSQL user), on segments PostgreSQL archived to a plain directory.
        let copies = ctx.root().join("copies");
        fs::create_dir(&copies).unwrap();
        fs::set_permissions(&copies, fs::Permissions::from_mode(0o777)).unwrap();
        let (_cluster, segments) = archive_segments_through_postgres(ctx, &format!("cp %p {}/%f", copies.display()));
        for (index, name) in segments.iter().take(4).enumerate() {
            let flags: &[&str] = if index % 2 == 0 { &[] } else { &["--md5"] };
            let wal = copies.join(name);
            let output = ctx
                .command(Path::new(PYTHON_BARMAN_BIN).join("barman-wal-archive"))
                .args(flags)
                .args(host.client_args())
                .arg("pg")
                .arg(&wal)
                .output()
                .unwrap();
            assert_eq!(output.status.code(), Some(0), "{flags:?}: {}", stderr_of(&output));
            assert!(
                fs::read(host.incoming(ctx).join(name)).unwrap() == fs::read(&wal).unwrap(),
                "{name}: content differs"
            );
        }
    }

    #[test]
    fn restore_round_trip_with_python_barman() {
        let Some(setup) = setup(true) else {
            return;
        };
        let (ctx, host) = (&setup.ctx, &setup.host);
        let (_cluster, segments) = archive_segments_through_postgres(ctx, &host.wal_archive_command());
        assert_restore_round_trip(ctx, host, &segments);
        assert_parallel_restore_uses_the_spool(ctx, host, &segments);
    }

    #[test]
    fn compressed_and_md5_archives_are_accepted_by_python_barman() {
        let Some(setup) = setup(true) else {
            return;
        };
        let (ctx, host) = (&setup.ctx, &setup.host);
        let pg_wal = ctx.root().join("pg_wal");
        for (index, flags) in [vec!["--md5"], vec!["-z"], vec!["--zstd", "--compression-level", "HIGH"]]
            .into_iter()
            .enumerate()
        {
            let name = format!("00000001000000000000000{}", index + 1);
            let wal = fake_segment(&pg_wal, &name, index as u8);
            let output = ctx
                .wal_archive()
                .args(&flags)
                .args(host.client_args())
                .arg("pg")
                .arg(&wal)
                .output()
                .unwrap();
            assert_eq!(output.status.code(), Some(0), "{flags:?}: {}", stderr_of(&output));
            let received = fs::read(host.incoming(ctx).join(&name)).unwrap();
            let original = fs::read(&wal).unwrap();
            if flags == ["--md5"] {
                assert!(received == original, "{name}: content differs");
            } else {
                let kind = barman_core::compression::identify_compression(&received, None).unwrap();
                let mut decompressed = Vec::new();
                barman_core::compression::decompress(kind, received.as_slice(), &mut decompressed).unwrap();
                assert!(decompressed == original, "{name}: decompressed content differs");
            }
        }
    }
}

/// Runs `barman-wal-restore` (ours) with `extra` options for `wal` into `dest`.
fn restore(ctx: &TestContext, host: &BarmanHost, extra: &[&str], wal: &str, dest: &Path) -> std::process::Output {
    ctx.wal_restore()
        .args(extra)
        .args(host.client_args())
        .args(["pg", wal])
        .arg(dest)
        .output()
        .unwrap()
}

/// Waits until `expected` files are spooled and no background prefetch for `spool` is
/// running any more (they stop by themselves once their files are fetched).
fn wait_for_spool(spool: &Path, expected: &[&String]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let complete = expected.iter().all(|name| spool.join(name.as_str()).is_file());
        if (complete && !prefetch_running(spool)) || Instant::now() > deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a `barman-wal-restore --prefetch-after ... --spool-dir <spool>` process is alive.
fn prefetch_running(spool: &Path) -> bool {
    let spool = spool.display().to_string();
    fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        let command_line = fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let words: Vec<String> = command_line
            .split(|&byte| byte == 0)
            .map(|word| String::from_utf8_lossy(word).into_owned())
            .collect();
        words.iter().any(|word| word == "--prefetch-after") && words.contains(&spool)
    })
}

#[test]
fn wal_dest_directory_is_refused_with_exit_3() {
    let ctx = TestContext::new();
    let output = ctx
        .wal_restore()
        .args([
            "-U",
            "barman",
            "--port",
            "1",
            LOOPBACK,
            "pg",
            "000000010000000000000001",
        ])
        .arg(ctx.root())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(
        stderr_of(&output),
        format!("ERROR: WAL_DEST cannot be a directory: {}\n", ctx.root().display())
    );
}

#[test]
fn restore_refuses_unsafe_wal_name_before_connecting() {
    let ctx = TestContext::new();
    let output = ctx
        .wal_restore()
        .args(["-U", "barman", "--port", "1", LOOPBACK, "pg", "0001'; id; '"])
        .arg(ctx.root().join("dest"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr_of(&output).contains("WAL_NAME '0001'; id; '' contains"),
        "{}",
        stderr_of(&output)
    );
}

/// Fetches every segment back and compares it with what the Barman host received; then the
/// error paths: a missing WAL, `--test`.
fn assert_restore_round_trip(ctx: &TestContext, host: &BarmanHost, segments: &[String]) {
    let restored_dir = ctx.root().join("restored");
    fs::create_dir_all(&restored_dir).unwrap();
    for name in segments.iter().take(3) {
        let dest = restored_dir.join("RECOVERYXLOG");
        let output = restore(ctx, host, &[], name, &dest);
        assert_eq!(output.status.code(), Some(0), "{name}: {}", stderr_of(&output));
        assert!(
            fs::read(&dest).unwrap() == fs::read(host.incoming(ctx).join(name)).unwrap(),
            "{name}: restored content differs"
        );
    }
    let leftovers: Vec<String> = fs::read_dir(&restored_dir)
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        leftovers,
        vec!["RECOVERYXLOG".to_owned()],
        "temporary files left behind"
    );

    let missing = restored_dir.join("missing");
    let output = restore(ctx, host, &[], "0000000100000000000000FE", &missing);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("ERROR: WAL file '0000000100000000000000FE' not found in server 'pg'"),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("ERROR: Remote 'barman get-wal' command has failed! (exit status 1)\n"),
        "{stderr}"
    );
    assert!(!missing.exists(), "a failed restore must leave no file at WAL_DEST");

    let output = restore(ctx, host, &["--test"], "IGNORED", &missing);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(stdout_of(&output), "Ready to retrieve WAL files from the server pg\n\n");
}

/// `-p 4`: the first request fetches directly and starts a prefetch of the next three; the
/// next request is served from the spool.
fn assert_parallel_restore_uses_the_spool(ctx: &TestContext, host: &BarmanHost, segments: &[String]) {
    let spool = ctx.root().join("spool");
    let spool_arg = spool.display().to_string();
    let options = ["-p", "4", "--spool-dir", spool_arg.as_str()];
    let dest = ctx.root().join("RECOVERYXLOG");
    let output = restore(ctx, host, &options, &segments[0], &dest);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let prefetched: Vec<&String> = segments[1..4].iter().collect();
    wait_for_spool(&spool, &prefetched);
    for name in &prefetched {
        assert!(spool.join(name.as_str()).is_file(), "{name} not prefetched");
    }
    for name in &prefetched {
        let output = restore(ctx, host, &options, name, &dest);
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        assert!(
            !spool.join(name.as_str()).exists(),
            "{name} should have been taken from the spool"
        );
        assert!(
            fs::read(&dest).unwrap() == fs::read(host.incoming(ctx).join(name.as_str())).unwrap(),
            "{name}: restored content differs"
        );
    }
    // Each request started a prefetch; let the last ones finish before the sshd goes away.
    wait_for_spool(&spool, &[]);
}

/// The whole WAL path, as the set-up guide describes it: PostgreSQL archives through
/// `barman-wal-archive`, `archive-wal` moves every segment into `wals/` and catalogues it once,
/// `barman-wal-restore` brings each back byte-identical, and a cluster restored from a base
/// backup replays the archive through `barman-wal-restore` as its `restore_command`.
#[test]
fn archived_wal_is_catalogued_restored_identical_and_replayed_by_recovery() {
    let ctx = TestContext::new();
    let host = BarmanHost::ours(&ctx);
    let (cluster, segments) = archive_segments_through_postgres(&ctx, &host.wal_archive_command());
    let sent: Vec<Vec<u8>> = segments
        .iter()
        .map(|name| fs::read(host.incoming(&ctx).join(name)).unwrap())
        .collect();

    // pg_basebackup waits until its last segment is archived (through barman-wal-archive);
    // rows written afterwards reach a restored cluster only by replaying the archive.
    let base_backup = cluster.base_backup(&ctx);
    cluster.sql("INSERT INTO filler SELECT g, 'after the backup' FROM generate_series(1, 500) g");
    let expected_rows = cluster.sql("SELECT count(*) FROM filler");
    cluster.sql("SELECT pg_switch_wal()");
    let wanted = segments.len() + 3;
    let (archived, failed) = wait_for_archived(&cluster, wanted);
    assert!(
        failed == 0 && archived >= wanted,
        "{archived} archived, {failed} failed\n{}",
        cluster.log()
    );

    let archive_wal = ctx
        .barman()
        .arg("-c")
        .arg(&host.config)
        .args(["archive-wal", "pg"])
        .output()
        .unwrap();
    assert_eq!(archive_wal.status.code(), Some(0), "{}", stderr_of(&archive_wal));
    let catalogue = fs::read_to_string(ctx.barman_home().join("pg/wals/pg-xlog.db")).unwrap();
    let restored_dir = ctx.root().join("restored");
    fs::create_dir_all(&restored_dir).unwrap();
    for (name, content) in segments.iter().zip(&sent) {
        let archived = ctx.barman_home().join("pg/wals").join(&name[..16]).join(name);
        assert!(
            fs::read(&archived).unwrap() == *content,
            "{name}: archived content differs"
        );
        let lines = catalogue
            .lines()
            .filter(|line| line.split('\t').next() == Some(name))
            .count();
        assert_eq!(lines, 1, "{name} catalogued {lines} times in\n{catalogue}");
        let dest = restored_dir.join(name);
        let output = restore(&ctx, &host, &[], name, &dest);
        assert_eq!(output.status.code(), Some(0), "{name}: {}", stderr_of(&output));
        assert!(fs::read(&dest).unwrap() == *content, "{name}: restored content differs");
    }

    let recovered = PgCluster::builder(&ctx)
        .setting("restore_command", &host.wal_restore_command())
        .setting("recovery_target_action", "promote")
        .start_from_base_backup(&base_backup);
    let deadline = Instant::now() + Duration::from_secs(60);
    while recovered.sql("SELECT pg_is_in_recovery()") == "t" {
        assert!(
            Instant::now() < deadline,
            "recovery did not finish\n--- log\n{}",
            recovered.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        recovered.sql("SELECT count(*) FROM filler"),
        expected_rows,
        "--- log\n{}",
        recovered.log()
    );
    assert!(recovered.log().contains("restored log file"), "{}", recovered.log());
}
