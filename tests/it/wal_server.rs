//! The server side of WAL archiving through the built `barman`: `put-wal` receiving streams,
//! `archive-wal` moving them into the archive, `rebuild-xlogdb`, `cron` and `get-wal`.
//!
//! Streams are produced with the library's client writer from real segments of throwaway
//! PostgreSQL clusters and from the small fixtures of `barman-core/tests/data/wal/`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use barman_core::protocol::{send_put_wal, ChecksumAlgorithm};
use barman_core::wal::{read_system_identifier, WalFileName};
use barman_tests::{built_binary, PgCluster, TestContext};

/// A segment of a PostgreSQL 15 cluster with 16 MiB segments (first page only).
const FIXTURE_SEGMENT: &str = "000000010000000000000003";

fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../barman-core/tests/data/wal/pg15-16mib")
        .join(FIXTURE_SEGMENT)
}

fn fixture_system_identifier() -> u64 {
    let name = WalFileName::parse(FIXTURE_SEGMENT).unwrap();
    read_system_identifier(name.segment().unwrap(), fs::File::open(fixture_path()).unwrap()).unwrap()
}

/// The OS user the tests run as: configurations name it as `barman_user` so no switch happens.
fn current_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .unwrap()
        .name
}

/// A configuration with one active server `pg` (file archiver on), plus `extra` lines in its
/// section, and an inactive server `old`.
fn write_config(ctx: &TestContext, extra: &str) -> PathBuf {
    ctx.write_config(&format!(
        "[barman]\nbarman_home = {home}\nbarman_user = {user}\nlog_file = {home}/barman.log\n\
         [pg]\ndescription = Main\nconninfo = host=127.0.0.1 port=1 user=barman dbname=postgres\n\
         backup_method = postgres\narchiver = on\n{extra}\
         [old]\nconninfo = host=127.0.0.1 port=1\nbackup_method = postgres\narchiver = on\nactive = false\n",
        home = ctx.barman_home().display(),
        user = current_user(),
    ))
}

fn server_dir(ctx: &TestContext) -> PathBuf {
    ctx.barman_home().join("pg")
}

/// Names in `dir`, sorted; empty when it does not exist.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The put-wal stream `barman-wal-archive` would send for `path`, as `name`.
fn stream_of(path: &Path, name: &str) -> Vec<u8> {
    let mut stream = Vec::new();
    send_put_wal(path, name, ChecksumAlgorithm::Sha256, &mut stream).unwrap();
    stream
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(ctx: &TestContext, config: &Path, args: &[&str], stdin: Vec<u8>) -> Run {
    let output = ctx
        .barman()
        .arg("-c")
        .arg(config)
        .args(args)
        .write_stdin(stdin)
        .output()
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: ctx.normalize(&String::from_utf8_lossy(&output.stdout)),
        stderr: ctx.normalize(&String::from_utf8_lossy(&output.stderr)),
    }
}

fn put_wal(ctx: &TestContext, config: &Path, stream: Vec<u8>) -> Run {
    run(ctx, config, &["put-wal", "pg"], stream)
}

/// Produces `count` complete WAL segments on `cluster` and copies them to `dir`; returns the
/// copies in WAL order.
fn real_segments(cluster: &PgCluster, dir: &Path, count: usize) -> Vec<PathBuf> {
    cluster.sql("CREATE TABLE IF NOT EXISTS filler (n int)");
    for _ in 0..count {
        cluster.sql("INSERT INTO filler VALUES (1); SELECT pg_switch_wal()");
    }
    let current = cluster.sql("SELECT pg_walfile_name(pg_current_wal_lsn())");
    let pg_wal = cluster.data_dir().join("pg_wal");
    fs::create_dir_all(dir).unwrap();
    // Segments named after the current one are recycled files with old content.
    let completed: Vec<String> = listing(&pg_wal)
        .into_iter()
        .filter(|name| name.len() == 24 && name.as_str() < current.as_str())
        .collect();
    assert!(completed.len() >= count, "only {completed:?} before {current}");
    completed[completed.len() - count..]
        .iter()
        .map(|name| {
            let copy = dir.join(name);
            fs::copy(pg_wal.join(name), &copy).unwrap();
            copy
        })
        .collect()
}

fn cluster_system_identifier(cluster: &PgCluster) -> u64 {
    cluster
        .sql("SELECT system_identifier FROM pg_control_system()")
        .parse()
        .unwrap()
}

/// Rewrites the name of the first member of a tar stream (and its header checksum).
fn rename_first_member(stream: &mut [u8], name: &str) {
    stream[..100].fill(0);
    stream[..name.len()].copy_from_slice(name.as_bytes());
    stream[148..156].fill(b' ');
    let sum: u32 = stream[..512].iter().map(|&byte| u32::from(byte)).sum();
    stream[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

#[test]
fn put_wal_test_mode_does_not_read_the_stream() {
    let ctx = TestContext::new();
    let config = write_config(&ctx, "");
    for flag in ["--test", "-t"] {
        let result = run(&ctx, &config, &["put-wal", flag, "pg"], Vec::new());
        assert_eq!(result.stdout, "Ready to accept WAL files for the server pg\n");
        assert_eq!((result.code, result.stderr.as_str()), (0, ""));
    }
    assert!(!server_dir(&ctx).join("incoming").exists());
}

#[test]
fn put_wal_stores_the_segment_and_learns_the_server_identity() {
    let ctx = TestContext::new();
    let config = write_config(&ctx, "");
    let result = put_wal(&ctx, &config, stream_of(&fixture_path(), FIXTURE_SEGMENT));
    assert_eq!(
        (result.code, result.stdout.as_str(), result.stderr.as_str()),
        (0, "", "")
    );
    let incoming = server_dir(&ctx).join("incoming");
    assert_eq!(listing(&incoming), [FIXTURE_SEGMENT]);
    assert_eq!(
        fs::read(incoming.join(FIXTURE_SEGMENT)).unwrap(),
        fs::read(fixture_path()).unwrap()
    );
    assert_eq!(
        fs::read_to_string(server_dir(&ctx).join("identity.json")).unwrap(),
        format!(
            "{{\n    \"systemid\": \"{}\",\n    \"version\": \"15\"\n}}\n",
            fixture_system_identifier()
        )
    );
}

#[test]
fn put_wal_refuses_wal_of_another_cluster() {
    let ctx = TestContext::new();
    let first = PgCluster::start(&ctx);
    let second = PgCluster::start(&ctx);
    let config = write_config(&ctx, "");
    let ours = real_segments(&first, &ctx.root().join("first"), 1).remove(0);
    let theirs = real_segments(&second, &ctx.root().join("second"), 1).remove(0);
    let our_name = ours.file_name().unwrap().to_str().unwrap().to_owned();
    let their_name = theirs.file_name().unwrap().to_str().unwrap().to_owned();

    let accepted = put_wal(&ctx, &config, stream_of(&ours, &our_name));
    assert_eq!((accepted.code, accepted.stderr.as_str()), (0, ""));
    let identity = fs::read_to_string(server_dir(&ctx).join("identity.json")).unwrap();
    assert!(identity.contains(&format!("\"systemid\": \"{}\"", cluster_system_identifier(&first))));

    // Same segment number on purpose: only the content tells the clusters apart.
    let incoming = server_dir(&ctx).join("incoming");
    fs::remove_file(incoming.join(&our_name)).unwrap();
    let refused = put_wal(&ctx, &config, stream_of(&theirs, &their_name));
    assert_eq!(refused.code, 1);
    assert_eq!(refused.stdout, "");
    assert_eq!(
        refused.stderr,
        format!(
            "ERROR: WAL file {their_name} belongs to database system identifier {}, but the server's is {} in \
             put-wal for server 'pg'\nHINT: this WAL comes from another PostgreSQL cluster; check archive_command \
             on that host, or remove [TEMP]/barman/pg/identity.json if the server was re-initialised\n",
            cluster_system_identifier(&second),
            cluster_system_identifier(&first),
        )
    );
    assert_eq!(listing(&incoming), Vec::<String>::new());
}

#[test]
fn put_wal_recognises_files_it_already_has() {
    let ctx = TestContext::new();
    let config = write_config(&ctx, "");
    let stream = stream_of(&fixture_path(), FIXTURE_SEGMENT);
    assert_eq!(put_wal(&ctx, &config, stream.clone()).code, 0);

    // The same file again, while it waits in incoming/.
    let again = put_wal(&ctx, &config, stream.clone());
    let identical = format!(
        "Duplicate Files with Identical Checksums. File {FIXTURE_SEGMENT} already exists on server pg, and the \
         checksums are identical. Skipping the file.\n"
    );
    assert_eq!(
        (again.code, again.stdout.as_str(), again.stderr.as_str()),
        (0, identical.as_str(), "")
    );

    // The same WAL again after the archiver stored it compressed.
    let incoming = server_dir(&ctx).join("incoming");
    let hash_dir = server_dir(&ctx).join("wals/0000000100000000");
    fs::create_dir_all(&hash_dir).unwrap();
    let mut compressed = Vec::new();
    barman_core::compression::compress(
        barman_core::compression::CompressionKind::Gzip,
        Default::default(),
        fs::File::open(fixture_path()).unwrap(),
        &mut compressed,
    )
    .unwrap();
    fs::write(hash_dir.join(FIXTURE_SEGMENT), compressed).unwrap();
    fs::remove_file(incoming.join(FIXTURE_SEGMENT)).unwrap();
    let archived = put_wal(&ctx, &config, stream.clone());
    assert_eq!((archived.code, archived.stdout.as_str()), (0, identical.as_str()));
    assert_eq!(listing(&incoming), Vec::<String>::new());

    // Different content under the same name goes to errors/, and PostgreSQL is told it is done.
    let mut altered = fs::read(fixture_path()).unwrap();
    *altered.last_mut().unwrap() ^= 0xFF;
    let altered_path = ctx.root().join(FIXTURE_SEGMENT);
    fs::write(&altered_path, &altered).unwrap();
    let different = put_wal(&ctx, &config, stream_of(&altered_path, FIXTURE_SEGMENT));
    let sha256 = |bytes: &[u8]| barman_core::protocol::digest_of(bytes, ChecksumAlgorithm::Sha256).unwrap();
    assert_eq!(different.code, 0);
    assert_eq!(different.stderr, "");
    assert_eq!(
        different.stdout,
        format!(
            "\tError: Duplicate Files Detected with Mismatched Checksums. File {FIXTURE_SEGMENT} already exists on \
             server pg with checksum {}, but the checksum of the incoming file is{}. The file has been moved to the \
             errors directory.\n",
            sha256(&fs::read(fixture_path()).unwrap()),
            sha256(&altered)
        )
    );
    let errors = listing(&server_dir(&ctx).join("errors"));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with(&format!("{FIXTURE_SEGMENT}.")) && errors[0].ends_with("Z.duplicate"),
        "{errors:?}"
    );
    assert_eq!(
        fs::read(server_dir(&ctx).join("errors").join(&errors[0])).unwrap(),
        altered
    );
}

#[test]
fn put_wal_refuses_broken_streams_and_leaves_nothing_behind() {
    let ctx = TestContext::new();
    let config = write_config(&ctx, "");
    let incoming = server_dir(&ctx).join("incoming");
    let stream = stream_of(&fixture_path(), FIXTURE_SEGMENT);

    let mut corrupted = stream.clone();
    corrupted[512 + 4000] ^= 0xFF;
    let result = put_wal(&ctx, &config, corrupted);
    assert_eq!((result.code, result.stdout.as_str()), (1, ""));
    assert!(
        result.stderr.starts_with("ERROR: Bad file checksum '")
            && result
                .stderr
                .ends_with(&format!("for file '{FIXTURE_SEGMENT}' in put-wal for server 'pg'\n")),
        "{}",
        result.stderr
    );

    let truncated = stream[..512 + 3000].to_vec();
    let result = put_wal(&ctx, &config, truncated);
    assert_eq!(result.code, 1);
    assert_eq!(
        result.stderr,
        format!(
            "ERROR: Truncated stream: file '{FIXTURE_SEGMENT}' ended after 3000 of 8192 bytes in put-wal for \
             server 'pg'\n"
        )
    );

    let result = put_wal(&ctx, &config, stream_of(&fixture_path(), "notawal"));
    assert_eq!(result.code, 1);
    assert_eq!(
        result.stderr,
        "ERROR: Unsupported WAL file name 'notawal' (expected a 24 hex digit segment, optionally with .partial or \
         .<offset>.backup, or <timeline>.history) in put-wal for server 'pg'\n"
    );

    let mut nested = stream.clone();
    rename_first_member(&mut nested, "a/000000010000000000000003");
    let result = run(&ctx, &config, &["put-wal", "pg"], nested);
    assert_eq!(
        (result.code, result.stderr.as_str()),
        (
            1,
            "ERROR: Unsupported filename 'a/000000010000000000000003' in put-wal for server 'pg'\n"
        )
    );

    let result = put_wal(&ctx, &config, b"this is not a tar stream".to_vec());
    assert_eq!(result.code, 1);
    assert!(result.stderr.starts_with("ERROR: "), "{}", result.stderr);

    assert_eq!(listing(&incoming), Vec::<String>::new());
    assert!(!server_dir(&ctx).join("identity.json").exists());
}

#[test]
fn put_wal_names_the_ssh_client_in_errors() {
    let ctx = TestContext::new();
    let config = write_config(&ctx, "");
    let output = ctx
        .barman()
        .arg("-c")
        .arg(&config)
        .args(["put-wal", "pg"])
        .env("SSH_CONNECTION", "127.0.0.9 50000 127.0.0.1 22")
        .write_stdin(stream_of(&fixture_path(), "notawal"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).ends_with(" in put-wal for server 'pg' (SSH host: 127.0.0.9)\n"));
}

#[test]
fn put_wal_refuses_unknown_inactive_and_disabled_servers() {
    let ctx = TestContext::new();
    let config = write_config(&ctx, "");
    let stream = stream_of(&fixture_path(), FIXTURE_SEGMENT);
    let unknown = run(&ctx, &config, &["put-wal", "nope"], stream.clone());
    assert_eq!(
        (unknown.code, unknown.stderr.as_str()),
        (
            1,
            "ERROR: Unknown server 'nope'\nHINT: 'barman list-servers' shows the configured servers\n"
        )
    );
    let inactive = run(&ctx, &config, &["put-wal", "old"], stream.clone());
    assert_eq!(
        (inactive.code, inactive.stderr.as_str()),
        (1, "ERROR: Inactive server: old\n")
    );
    let all = run(&ctx, &config, &["put-wal", "all"], stream.clone());
    assert_eq!(
        (all.code, all.stderr.as_str()),
        (1, "ERROR: You cannot use 'all' in a single server context\n")
    );

    let broken = ctx.write_config(&format!(
        "[barman]\nbarman_home = {}\nbarman_user = {}\n[pg]\nbackup_method = postgres\narchiver = on\n",
        ctx.barman_home().display(),
        current_user()
    ));
    let disabled = run(&ctx, &broken, &["put-wal", "pg"], stream);
    assert_eq!(disabled.code, 1);
    assert_eq!(
        disabled.stderr,
        "ERROR: PostgreSQL connection: Missing 'conninfo' parameter for server 'pg'\n"
    );
    assert!(!server_dir(&ctx).join("incoming").exists());
}

#[test]
fn put_wal_killed_mid_stream_leaves_no_file_and_a_retry_works() {
    let ctx = TestContext::new();
    let config = write_config(&ctx, "");
    // A full-size segment: the fixture's first page, then zeroes.
    let mut segment = fs::read(fixture_path()).unwrap();
    segment.resize(16 << 20, 0);
    let segment_path = ctx.root().join(FIXTURE_SEGMENT);
    fs::write(&segment_path, &segment).unwrap();
    let stream = stream_of(&segment_path, FIXTURE_SEGMENT);
    let incoming = server_dir(&ctx).join("incoming");

    let mut child = Command::new(built_binary("barman"))
        .env_clear()
        .env("PATH", ctx.path_env())
        .env("HOME", ctx.home())
        .arg("-c")
        .arg(&config)
        .args(["put-wal", "pg"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&stream[..stream.len() / 2]).unwrap();
    stdin.flush().unwrap();
    let temp_name = format!(".{}-{FIXTURE_SEGMENT}", child.id());
    let deadline = Instant::now() + Duration::from_secs(30);
    while !incoming.join(&temp_name).exists() {
        assert!(Instant::now() < deadline, "put-wal never started writing");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    drop(stdin);
    assert!(!incoming.join(FIXTURE_SEGMENT).exists());
    assert!(!server_dir(&ctx).join("identity.json").exists());

    let retry = put_wal(&ctx, &config, stream);
    assert_eq!((retry.code, retry.stderr.as_str()), (0, ""));
    assert_eq!(fs::read(incoming.join(FIXTURE_SEGMENT)).unwrap(), segment);
}

/// Sends each of `segments` through put-wal, as PostgreSQL's archive_command would.
fn put_all(ctx: &TestContext, config: &Path, segments: &[PathBuf]) {
    for segment in segments {
        let name = segment.file_name().unwrap().to_str().unwrap();
        let result = put_wal(ctx, config, stream_of(segment, name));
        assert_eq!((result.code, result.stderr.as_str()), (0, ""), "{name}");
    }
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut content = Vec::new();
    barman_core::compression::decompress(
        barman_core::compression::CompressionKind::Gzip,
        fs::File::open(path).unwrap(),
        &mut content,
    )
    .unwrap();
    content
}

fn name_of(path: &Path) -> String {
    path.file_name().unwrap().to_str().unwrap().to_owned()
}

#[test]
fn archive_wal_compresses_real_segments_into_the_archive_and_catalogues_each_once() {
    let ctx = TestContext::new();
    let cluster = PgCluster::start(&ctx);
    let config = write_config(&ctx, "compression = gzip\n");
    let segments = real_segments(&cluster, &ctx.root().join("segments"), 21);
    put_all(&ctx, &config, &segments);
    let history = ctx.write_file("00000002.history", "1\t0/3000000\tno recovery target\n");
    put_all(&ctx, &config, std::slice::from_ref(&history));

    let result = run(&ctx, &config, &["archive-wal", "pg"], Vec::new());
    let mut names: Vec<String> = segments.iter().map(|s| name_of(s)).collect();
    names.push("00000002.history".into());
    let expected: String = std::iter::once("Processing xlog segments from file archival for pg\n".to_owned())
        .chain(names.iter().map(|name| format!("\t{name}\n")))
        .collect();
    assert_eq!(
        (result.code, result.stdout.as_str(), result.stderr.as_str()),
        (0, expected.as_str(), "")
    );

    let wals = server_dir(&ctx).join("wals");
    for segment in &segments {
        let name = name_of(segment);
        let archived = wals.join(&name[..16]).join(&name);
        assert_eq!(gunzip(&archived), fs::read(segment).unwrap(), "{name}");
    }
    assert_eq!(gunzip(&wals.join("00000002.history")), fs::read(&history).unwrap());
    assert_eq!(listing(&server_dir(&ctx).join("incoming")), Vec::<String>::new());

    let catalogue = fs::read_to_string(wals.join("pg-xlog.db")).unwrap();
    let lines: Vec<Vec<&str>> = catalogue.lines().map(|line| line.split('\t').collect()).collect();
    assert_eq!(lines.iter().map(|columns| columns[0]).collect::<Vec<_>>(), names);
    for columns in &lines {
        let stored = if columns[0].ends_with(".history") {
            wals.join(columns[0])
        } else {
            wals.join(&columns[0][..16]).join(columns[0])
        };
        assert_eq!(columns.len(), 5, "{columns:?}");
        assert_eq!(columns[1], fs::metadata(&stored).unwrap().len().to_string());
        assert!(columns[2].parse::<f64>().unwrap() > 1e9, "{columns:?}");
        assert_eq!(columns[3..], ["gzip", "None"]);
    }

    // Every archived segment comes back byte-identical, decompressed, through get-wal.
    for segment in &segments {
        let name = name_of(segment);
        let output = ctx
            .barman()
            .arg("-c")
            .arg(&config)
            .args(["get-wal", "pg", &name])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{name}");
        assert!(output.stdout == fs::read(segment).unwrap(), "{name} differs");
    }
    let first = name_of(&segments[0]);
    let peek = run(&ctx, &config, &["get-wal", "--peek", "5", "pg", &first], Vec::new());
    let following: String = names[..5].iter().map(|name| format!("{name}\n")).collect();
    assert_eq!(
        (peek.code, peek.stdout.as_str(), peek.stderr.as_str()),
        (0, following.as_str(), "")
    );
    let last = name_of(segments.last().unwrap());
    let peek = run(&ctx, &config, &["get-wal", "-p", "5", "pg", &last], Vec::new());
    assert_eq!(peek.stdout, format!("{last}\n"), "the walk stops at the first gap");

    // Barman's own rebuild finds the same files; ours must agree with what archive-wal wrote.
    fs::remove_file(wals.join("pg-xlog.db")).unwrap();
    let rebuilt = run(&ctx, &config, &["rebuild-xlogdb", "pg"], Vec::new());
    assert_eq!(
        (rebuilt.code, rebuilt.stdout.as_str(), rebuilt.stderr.as_str()),
        (
            0,
            "Rebuilding xlogdb for server pg\nDone rebuilding xlogdb for server pg (history: 1, backup_labels: 0, \
             wal_file: 21)\n",
            ""
        )
    );
    let mut sorted = catalogue.lines().collect::<Vec<_>>();
    sorted.sort();
    assert_eq!(
        fs::read_to_string(wals.join("pg-xlog.db")).unwrap(),
        sorted.join("\n") + "\n"
    );
}

#[test]
fn archive_wal_moves_unknown_entries_to_errors() {
    let ctx = TestContext::new();
    let config = write_config(&ctx, "");
    let incoming = server_dir(&ctx).join("incoming");
    fs::create_dir_all(incoming.join("a-directory")).unwrap();
    fs::write(incoming.join("notes.txt"), "x").unwrap();
    fs::write(incoming.join("000000010000000000000003.tmp"), "x").unwrap();
    fs::copy(fixture_path(), incoming.join(FIXTURE_SEGMENT)).unwrap();
    let result = run(&ctx, &config, &["archive-wal", "pg"], Vec::new());
    assert_eq!(
        (result.code, result.stdout.as_str(), result.stderr.as_str()),
        (
            0,
            "Processing xlog segments from file archival for pg (batch size: 1)\n\t000000010000000000000003\nSome \
             unknown objects have been found while processing xlog segments for pg. Objects moved to errors \
             directory:\n\ta-directory\n\tnotes.txt\n",
            ""
        )
    );
    let errors = listing(&server_dir(&ctx).join("errors"));
    assert_eq!(errors.len(), 2);
    assert!(
        errors[0].starts_with("a-directory.") && errors[0].ends_with("Z.unknown"),
        "{errors:?}"
    );
    assert!(
        errors[1].starts_with("notes.txt.") && errors[1].ends_with("Z.unknown"),
        "{errors:?}"
    );
    assert_eq!(listing(&incoming), ["000000010000000000000003.tmp"]);
    assert_eq!(
        fs::read(server_dir(&ctx).join("wals/0000000100000000").join(FIXTURE_SEGMENT)).unwrap(),
        fs::read(fixture_path()).unwrap()
    );
}

#[test]
fn archive_wal_skips_a_busy_or_inactive_server() {
    let ctx = TestContext::new();
    let config = write_config(&ctx, "");
    let held =
        barman_core::locks::LockFile::try_acquire(ctx.barman_home(), barman_core::locks::LockName::ArchiveWal("pg"))
            .unwrap()
            .unwrap();
    let busy = run(&ctx, &config, &["archive-wal", "pg"], Vec::new());
    assert_eq!(
        (busy.code, busy.stdout.as_str(), busy.stderr.as_str()),
        (
            0,
            "Another archive-wal process is already running on server pg. Skipping to the next server\n",
            ""
        )
    );
    drop(held);
    let inactive = run(&ctx, &config, &["archive-wal", "old"], Vec::new());
    assert_eq!(
        (inactive.code, inactive.stdout.as_str(), inactive.stderr.as_str()),
        (0, "Skipping inactive server 'old'\n", "")
    );
    let unknown = run(&ctx, &config, &["rebuild-xlogdb", "pg", "nope"], Vec::new());
    assert_eq!(unknown.code, 1);
    assert_eq!(
        unknown.stdout,
        "Rebuilding xlogdb for server pg\nDone rebuilding xlogdb for server pg (history: 0, backup_labels: 0, \
         wal_file: 0)\n"
    );
    assert_eq!(
        unknown.stderr,
        "ERROR: Unknown server 'nope'\nHINT: 'barman list-servers' shows the configured servers\n"
    );
}

#[test]
fn cron_starts_archive_wal_for_active_servers() {
    use barman_core::locks::{LockFile, LockName};
    let ctx = TestContext::new();
    let config = ctx.write_config(&format!(
        "[barman]\nbarman_home = {}\nbarman_user = {}\n\
         [pg]\nconninfo = host=127.0.0.1 port=1\nbackup_method = postgres\narchiver = on\n\
         [broken]\nbackup_method = postgres\narchiver = on\n\
         [old]\nconninfo = host=127.0.0.1 port=1\nbackup_method = postgres\narchiver = on\nactive = false\n",
        ctx.barman_home().display(),
        current_user()
    ));
    let incoming = server_dir(&ctx).join("incoming");
    fs::create_dir_all(&incoming).unwrap();
    fs::copy(fixture_path(), incoming.join(FIXTURE_SEGMENT)).unwrap();

    let result = run(&ctx, &config, &["cron"], Vec::new());
    assert_eq!(
        (result.code, result.stdout.as_str(), result.stderr.as_str()),
        (
            0,
            "Skipping temporarily disabled server 'broken'\nStarting WAL archiving for server pg\n",
            ""
        )
    );
    let archived = server_dir(&ctx).join("wals/0000000100000000").join(FIXTURE_SEGMENT);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !archived.exists() || LockFile::is_busy(ctx.barman_home(), LockName::ArchiveWal("pg")).unwrap() {
        assert!(
            Instant::now() < deadline,
            "the archive-wal started by cron did not finish"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        fs::read_to_string(server_dir(&ctx).join("wals/pg-xlog.db"))
            .unwrap()
            .lines()
            .count(),
        1
    );

    let archiving = LockFile::try_acquire(ctx.barman_home(), LockName::ArchiveWal("pg"))
        .unwrap()
        .unwrap();
    let busy = run(&ctx, &config, &["cron"], Vec::new());
    assert!(busy
        .stdout
        .ends_with("Another archive-wal process is already running on server pg. Skipping to the next server\n"));
    drop(archiving);
    let _cron = LockFile::try_acquire(ctx.barman_home(), LockName::Cron("pg"))
        .unwrap()
        .unwrap();
    let busy = run(&ctx, &config, &["cron"], Vec::new());
    assert!(busy
        .stdout
        .ends_with("Another cron process is already running on server pg. Skipping to the next server\n"));
}

#[test]
fn get_wal_reports_missing_and_invalid_names_and_unusable_outputs() {
    let ctx = TestContext::new();
    let config = write_config(&ctx, "");
    let incoming = server_dir(&ctx).join("incoming");
    fs::create_dir_all(&incoming).unwrap();
    fs::copy(fixture_path(), incoming.join(FIXTURE_SEGMENT)).unwrap();

    let ready = run(
        &ctx,
        &config,
        &["get-wal", "--test", "pg", "dummy_wal_name"],
        Vec::new(),
    );
    assert_eq!(
        (ready.code, ready.stdout.as_str(), ready.stderr.as_str()),
        (0, "Ready to retrieve WAL files from the server pg\n", "")
    );
    let inactive = run(&ctx, &config, &["get-wal", "-t", "old", "dummy_wal_name"], Vec::new());
    assert_eq!(inactive.stdout, "Ready to retrieve WAL files from the server old\n");

    let missing = run(
        &ctx,
        &config,
        &["get-wal", "pg", "000000010000000000000009"],
        Vec::new(),
    );
    assert_eq!(
        (missing.code, missing.stdout.as_str(), missing.stderr.as_str()),
        (
            1,
            "",
            "ERROR: WAL file '000000010000000000000009' not found in server 'pg'\n"
        )
    );
    let invalid = run(&ctx, &config, &["get-wal", "pg", "nope"], Vec::new());
    assert_eq!(
        (invalid.code, invalid.stdout.as_str(), invalid.stderr.as_str()),
        (3, "", "ERROR: 'nope' is not a valid wal file name\n")
    );
    let both = run(
        &ctx,
        &config,
        &["get-wal", "-z", "--keep-compression", "pg", FIXTURE_SEGMENT],
        Vec::new(),
    );
    assert_eq!(
        (both.code, both.stderr.as_str()),
        (
            1,
            "ERROR: argument `gzip` not allowed with argument `keep-compression`\n"
        )
    );

    // From incoming/ (not archived yet), gzip-compressed on request.
    let output = ctx
        .barman()
        .arg("-c")
        .arg(&config)
        .args(["get-wal", "-z", "pg", FIXTURE_SEGMENT])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let compressed = ctx.root().join("compressed");
    fs::write(&compressed, &output.stdout).unwrap();
    assert_eq!(gunzip(&compressed), fs::read(fixture_path()).unwrap());

    let into = ctx.root().join("restore");
    fs::create_dir_all(&into).unwrap();
    let sent = run(
        &ctx,
        &config,
        &["get-wal", "-o", into.to_str().unwrap(), "pg", FIXTURE_SEGMENT],
        Vec::new(),
    );
    assert_eq!(
        (sent.code, sent.stdout.as_str()),
        (
            0,
            "Sending WAL '000000010000000000000003' for server 'pg' into '[TEMP]/restore/000000010000000000000003' \
             file\n"
        )
    );
    assert_eq!(
        fs::read(into.join(FIXTURE_SEGMENT)).unwrap(),
        fs::read(fixture_path()).unwrap()
    );
    let unusable = run(
        &ctx,
        &config,
        &["get-wal", "-o", "/nonexistent", "pg", FIXTURE_SEGMENT],
        Vec::new(),
    );
    assert_eq!(
        (unusable.code, unusable.stderr.as_str()),
        (
            3,
            "ERROR: Unable to open '/nonexistent/000000010000000000000003' file: No such file or directory (os \
             error 2)\n"
        )
    );
    let absent = run(
        &ctx,
        &config,
        &[
            "get-wal",
            "-o",
            into.to_str().unwrap(),
            "pg",
            "000000010000000000000009",
        ],
        Vec::new(),
    );
    assert_eq!(absent.code, 1);
    assert_eq!(listing(&into), [FIXTURE_SEGMENT], "no empty file is left behind");
}

/// Where `scripts/setup-interop` installs Barman 3.20.1 for the optional interoperability tier.
const PYTHON_BARMAN: &str = "/opt/barman-venv/bin/barman";

/// Optional tier: Barman 3.20.1 and this implementation archive the same queue alike (console,
/// catalogue lines but for the compressed sizes), and each reads the other's archive.
#[test]
fn archives_interoperate_with_python_barman_when_installed() {
    if !Path::new(PYTHON_BARMAN).exists() {
        eprintln!("skipped: Barman 3.20.1 not installed at {PYTHON_BARMAN} (scripts/setup-interop installs it)");
        return;
    }
    let ctx = TestContext::new();
    let names = [
        "000000010000000000000003",
        "000000010000000000000004",
        "00000002.history",
    ];
    // A modification time with a fraction, as Python prints it in xlog.db.
    let mtime = std::time::UNIX_EPOCH + Duration::new(1_795_597_737, 605_394_600);
    let queue = |home: &str| {
        let config = ctx.write_file(
            format!("{home}.conf"),
            &format!(
                "[barman]\nbarman_home = {root}/{home}\nbarman_user = {user}\n[pg]\nconninfo = host=127.0.0.1 \
                 port=1\nbackup_method = postgres\narchiver = on\ncompression = gzip\n",
                root = ctx.root().display(),
                user = current_user()
            ),
        );
        let incoming = ctx.root().join(home).join("pg/incoming");
        fs::create_dir_all(&incoming).unwrap();
        for name in names {
            let path = incoming.join(name);
            fs::copy(fixture_path(), &path).unwrap();
            fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(mtime)
                .unwrap();
        }
        config
    };
    let ours_config = queue("ours");
    let theirs_config = queue("theirs");
    let python = |config: &Path, args: &[&str]| {
        let output = ctx
            .command(PYTHON_BARMAN)
            .arg("-c")
            .arg(config)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    };

    let ours = run(&ctx, &ours_config, &["archive-wal", "pg"], Vec::new());
    let theirs = String::from_utf8(python(&theirs_config, &["archive-wal", "pg"])).unwrap();
    assert_eq!(ours.stdout, theirs);
    let catalogue = |home: &str| -> Vec<String> {
        fs::read_to_string(ctx.root().join(home).join("pg/wals/pg-xlog.db"))
            .unwrap()
            .lines()
            .map(|line| {
                let mut columns: Vec<&str> = line.split('\t').collect();
                columns.remove(1); // the compressed size depends on the gzip implementation
                columns.join("\t")
            })
            .collect()
    };
    assert_eq!(catalogue("ours"), catalogue("theirs"));
    assert_eq!(
        catalogue("ours")[0],
        "000000010000000000000003\t1795597737.6053946\tgzip\tNone"
    );

    for name in names {
        let from_theirs = ctx
            .barman()
            .arg("-c")
            .arg(&theirs_config)
            .args(["get-wal", "pg", name])
            .output()
            .unwrap();
        assert!(
            from_theirs.stdout == fs::read(fixture_path()).unwrap(),
            "our get-wal of Barman's {name}"
        );
        let from_ours = python(&ours_config, &["get-wal", "pg", name]);
        assert!(
            from_ours == fs::read(fixture_path()).unwrap(),
            "Barman's get-wal of our {name}"
        );
    }
    let ours = run(&ctx, &theirs_config, &["rebuild-xlogdb", "pg"], Vec::new());
    let theirs = String::from_utf8(python(&ours_config, &["rebuild-xlogdb", "pg"])).unwrap();
    assert_eq!(ours.stdout, theirs);
}
