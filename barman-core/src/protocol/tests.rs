//! End-to-end tests of the put-wal stream: client writer → server reader → commit, streams made
//! by Python's `tarfile` the way Barman's client makes them, and every refusal path. Each refusal
//! also checks that nothing is left in `incoming/`, neither under the final name nor as a
//! temporary file.

use std::fs::{self, File, FileTimes};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;
use crate::wal::WalFileName;

const SEGMENT: &str = "000000010000000000000002";

/// A server's `incoming/` and `errors/` directories, plus a place for client-side files.
struct Server {
    root: tempfile::TempDir,
}

impl Server {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir(root.path().join("incoming")).unwrap();
        fs::create_dir(root.path().join("client")).unwrap();
        Server { root }
    }

    fn incoming(&self) -> PathBuf {
        self.root.path().join("incoming")
    }

    fn errors(&self) -> PathBuf {
        self.root.path().join("errors")
    }

    fn origin(&self) -> PutWalOrigin {
        PutWalOrigin::new("pg")
    }

    fn receive(&self, stream: &[u8]) -> Result<ReceivedBatch, PutWalError> {
        receive_put_wal(stream, &self.incoming(), &self.origin())
    }

    fn receive_err(&self, stream: &[u8]) -> PutWalError {
        let err = self.receive(stream).unwrap_err();
        self.assert_incoming_empty();
        err
    }

    fn commit(&self, batch: ReceivedBatch) -> Vec<CommitOutcome> {
        let incoming = self.incoming();
        commit_received(
            batch.files,
            &incoming,
            &self.errors(),
            &IncomingDirectory::new(&incoming),
        )
        .unwrap()
    }

    /// A WAL file on the client side with sub-second mtime.
    fn client_wal(&self, name: &str, content: &[u8]) -> PathBuf {
        let path = self.root.path().join("client").join(name);
        fs::write(&path, content).unwrap();
        let mtime = UNIX_EPOCH + Duration::new(1_795_597_737, 605_394_600);
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_times(FileTimes::new().set_modified(mtime))
            .unwrap();
        path
    }

    fn incoming_entries(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.incoming())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    fn assert_incoming_empty(&self) {
        assert_eq!(self.incoming_entries(), Vec::<String>::new());
    }
}

/// Deterministic, incompressible-looking content.
fn wal_content(len: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..len)
        .map(|_| {
            state ^= state << 7;
            state ^= state >> 9;
            state as u8
        })
        .collect()
}

fn sha256(bytes: &[u8]) -> String {
    digest_of(bytes, ChecksumAlgorithm::Sha256).unwrap()
}

fn client_stream(path: &Path, name: &str, algorithm: ChecksumAlgorithm) -> Vec<u8> {
    let mut stream = Vec::new();
    send_put_wal(path, name, algorithm, &mut stream).unwrap();
    stream
}

/// Builds arbitrary tar streams, including ones no honest client sends.
struct TarStream {
    builder: tar::Builder<Vec<u8>>,
}

impl TarStream {
    fn new() -> Self {
        TarStream {
            builder: tar::Builder::new(Vec::new()),
        }
    }

    fn header(name: &str, entry_type: tar::EntryType, size: u64) -> tar::Header {
        let mut header = tar::Header::new_ustar();
        // `set_path` refuses some names a hostile client could still send.
        header.as_ustar_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_entry_type(entry_type);
        header.set_size(size);
        header.set_mode(0o600);
        header.set_mtime(1_700_000_000);
        header.set_cksum();
        header
    }

    fn file(mut self, name: &str, content: &[u8]) -> Self {
        let header = Self::header(name, tar::EntryType::Regular, content.len() as u64);
        self.builder.append(&header, content).unwrap();
        self
    }

    fn sums(self, algorithm: ChecksumAlgorithm, lines: &str) -> Self {
        self.file(algorithm.sums_file_name(), lines.as_bytes())
    }

    fn special(mut self, name: &str, entry_type: tar::EntryType) -> Self {
        let mut header = Self::header(name, entry_type, 0);
        if entry_type == tar::EntryType::Symlink {
            header.set_link_name("/etc/passwd").unwrap();
            header.set_cksum();
        }
        self.builder.append(&header, io::empty()).unwrap();
        self
    }

    fn finish(self) -> Vec<u8> {
        self.builder.into_inner().unwrap()
    }
}

fn wal_and_sums(name: &str, content: &[u8]) -> Vec<u8> {
    TarStream::new()
        .file(name, content)
        .sums(ChecksumAlgorithm::Sha256, &format_checksum_line(&sha256(content), name))
        .finish()
}

#[test]
fn stream_round_trips_through_commit() {
    let server = Server::new();
    let content = wal_content(70_000);
    let path = server.client_wal(SEGMENT, &content);
    let stream = client_stream(&path, SEGMENT, ChecksumAlgorithm::Sha256);

    let batch = server.receive(&stream).unwrap();
    assert!(batch.warnings.is_empty());
    assert_eq!(batch.files.len(), 1);
    let file = &batch.files[0];
    assert_eq!(file.name().as_str(), SEGMENT);
    assert_eq!(file.size(), content.len() as u64);
    assert_eq!(file.algorithm(), ChecksumAlgorithm::Sha256);
    assert_eq!(file.checksum(), sha256(&content));
    assert_eq!(file.sha256(), sha256(&content));
    let temp_name = format!(".{}-{SEGMENT}", std::process::id());
    assert_eq!(file.temp_path(), server.incoming().join(&temp_name));
    assert_eq!(fs::read(file.temp_path()).unwrap(), content);
    // Received but not committed: only the hidden temporary name exists.
    assert_eq!(server.incoming_entries(), vec![temp_name]);
    let mtime = fs::metadata(file.temp_path()).unwrap().modified().unwrap();
    assert_eq!(mtime, UNIX_EPOCH + Duration::from_secs(1_795_597_737));

    let outcomes = server.commit(batch);
    let final_path = server.incoming().join(SEGMENT);
    assert_eq!(
        outcomes,
        vec![CommitOutcome::Stored {
            name: WalFileName::parse(SEGMENT).unwrap(),
            path: final_path.clone(),
        }]
    );
    assert_eq!(outcomes[0].message("pg"), None);
    assert_eq!(fs::read(&final_path).unwrap(), content);
    assert_eq!(server.incoming_entries(), vec![SEGMENT.to_owned()]);
}

#[test]
fn md5_stream_is_verified_with_md5() {
    let server = Server::new();
    let content = wal_content(1000);
    let path = server.client_wal("00000002.history", &content);
    let mut stream = Vec::new();
    let sent = send_put_wal(&path, "00000002.history", ChecksumAlgorithm::Md5, &mut stream).unwrap();
    assert_eq!(sent.checksum, digest_of(&content[..], ChecksumAlgorithm::Md5).unwrap());
    assert_eq!(sent.size, 1000);

    let batch = server.receive(&stream).unwrap();
    assert_eq!(batch.files[0].algorithm(), ChecksumAlgorithm::Md5);
    assert_eq!(batch.files[0].checksum(), sent.checksum);
    assert_eq!(batch.files[0].sha256(), sha256(&content));
}

#[test]
fn segment_larger_than_many_chunks_is_streamed_intact() {
    let server = Server::new();
    let content = wal_content((1 << 20) + 123);
    let path = server.client_wal(SEGMENT, &content);
    let batch = server
        .receive(&client_stream(&path, SEGMENT, ChecksumAlgorithm::Sha256))
        .unwrap();
    server.commit(batch);
    assert_eq!(
        sha256(&fs::read(server.incoming().join(SEGMENT)).unwrap()),
        sha256(&content)
    );
}

#[test]
fn dot_slash_prefixes_are_stripped() {
    let server = Server::new();
    let content = wal_content(512);
    let stream = TarStream::new()
        .file(&format!("./{SEGMENT}"), &content)
        .sums(
            ChecksumAlgorithm::Sha256,
            &format!("{}  ./{SEGMENT}\n", sha256(&content)),
        )
        .finish();
    let batch = server.receive(&stream).unwrap();
    assert_eq!(batch.files[0].name().as_str(), SEGMENT);
}

#[test]
fn upper_case_digest_is_accepted() {
    let server = Server::new();
    let content = wal_content(100);
    let stream = TarStream::new()
        .file(SEGMENT, &content)
        .sums(
            ChecksumAlgorithm::Sha256,
            &format_checksum_line(&sha256(&content).to_uppercase(), SEGMENT),
        )
        .finish();
    assert_eq!(server.receive(&stream).unwrap().files[0].checksum(), sha256(&content));
}

#[test]
fn bad_checksum_line_is_a_warning() {
    let server = Server::new();
    let content = wal_content(100);
    let lines = format!(
        "not a checksum line\n{}",
        format_checksum_line(&sha256(&content), SEGMENT)
    );
    let stream = TarStream::new()
        .file(SEGMENT, &content)
        .sums(ChecksumAlgorithm::Sha256, &lines)
        .finish();
    let batch = server.receive(&stream).unwrap();
    assert_eq!(batch.files.len(), 1);
    let warnings: Vec<String> = batch.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        vec!["Bad checksum line 'not a checksum line' found in put-wal for server 'pg'"]
    );
}

#[test]
fn corrupted_data_is_rejected() {
    let server = Server::new();
    let content = wal_content(4096);
    let path = server.client_wal(SEGMENT, &content);
    let mut stream = client_stream(&path, SEGMENT, ChecksumAlgorithm::Sha256);
    // The data of the first member starts right after its 512-byte header.
    stream[512 + 100] ^= 0xFF;
    let mut corrupted = content.clone();
    corrupted[100] ^= 0xFF;

    let err = server.receive_err(&stream);
    assert_eq!(
        err.to_string(),
        format!(
            "Bad file checksum '{}' (should be {}) for file '{SEGMENT}' in put-wal for server 'pg'",
            sha256(&corrupted),
            sha256(&content)
        )
    );
}

#[test]
fn wrong_checksum_is_rejected() {
    let server = Server::new();
    let wrong = "0".repeat(64);
    let stream = TarStream::new()
        .file(SEGMENT, b"content")
        .sums(ChecksumAlgorithm::Sha256, &format_checksum_line(&wrong, SEGMENT))
        .finish();
    let err = server.receive_err(&stream);
    assert!(matches!(&err.failure, PutWalFailure::BadChecksum { expected, .. } if *expected == wrong));
}

#[test]
fn missing_checksum_is_rejected() {
    let server = Server::new();
    let stream = TarStream::new().file(SEGMENT, b"content").finish();
    let err = server.receive_err(&stream);
    assert_eq!(
        err.to_string(),
        format!("Missing checksum for file '{SEGMENT}' in put-wal for server 'pg'")
    );

    // A checksum member that lists another file leaves this one unverified too.
    let other = "000000010000000000000003";
    let stream = TarStream::new()
        .file(SEGMENT, b"a")
        .file(other, b"b")
        .sums(ChecksumAlgorithm::Sha256, &format_checksum_line(&sha256(b"b"), other))
        .finish();
    assert!(matches!(server.receive_err(&stream).failure, PutWalFailure::MissingChecksum { name } if name == SEGMENT));
}

#[test]
fn checksum_without_file_is_rejected() {
    let server = Server::new();
    let stream = TarStream::new()
        .file(SEGMENT, b"content")
        .sums(
            ChecksumAlgorithm::Sha256,
            &format!(
                "{}{}",
                format_checksum_line(&sha256(b"content"), SEGMENT),
                format_checksum_line(&sha256(b"x"), "000000010000000000000009")
            ),
        )
        .finish();
    let err = server.receive_err(&stream);
    assert_eq!(
        err.to_string(),
        "Checksum without corresponding file '000000010000000000000009' in put-wal for server 'pg'"
    );
}

#[test]
fn truncated_streams_are_rejected() {
    let server = Server::new();
    let content = wal_content(10_000);
    let path = server.client_wal(SEGMENT, &content);
    let stream = client_stream(&path, SEGMENT, ChecksumAlgorithm::Sha256);

    // Cut inside the WAL data.
    let err = server.receive_err(&stream[..512 + 5000]);
    assert!(matches!(
        err.failure,
        PutWalFailure::TruncatedFile {
            expected: 10_000,
            received: 5000,
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        format!("Truncated stream: file '{SEGMENT}' ended after 5000 of 10000 bytes in put-wal for server 'pg'")
    );

    // Cut inside a header.
    let err = server.receive_err(&stream[..100]);
    assert!(matches!(err.failure, PutWalFailure::Tar(_)), "{err:?}");

    // Cut cleanly after the WAL member, before the checksum member.
    let data_blocks = content.len().div_ceil(512) * 512;
    let err = server.receive_err(&stream[..512 + data_blocks]);
    assert!(matches!(err.failure, PutWalFailure::MissingChecksum { .. }), "{err:?}");

    // Cut inside the checksum member.
    let err = server.receive_err(&stream[..512 + data_blocks + 512 + 10]);
    assert!(matches!(err.failure, PutWalFailure::TruncatedFile { .. }), "{err:?}");
}

#[test]
fn garbage_and_empty_streams_are_rejected() {
    let server = Server::new();
    let err = server.receive_err(&[b'x'; 2048]);
    assert!(matches!(err.failure, PutWalFailure::Tar(_)), "{err:?}");
    assert!(err.to_string().starts_with("Invalid tar stream ("), "{err}");

    let err = server.receive_err(b"");
    assert_eq!(err.to_string(), "No WAL file received in put-wal for server 'pg'");
    let err = server.receive_err(&TarStream::new().finish());
    assert!(matches!(err.failure, PutWalFailure::NoFiles));
}

#[test]
fn names_that_are_not_wal_files_are_rejected() {
    let server = Server::new();
    for name in [
        "postgresql.conf",
        ".1234-000000010000000000000002",
        "000000010000000000000002.tmp",
    ] {
        let err = server.receive_err(&wal_and_sums(name, b"x"));
        assert!(matches!(&err.failure, PutWalFailure::NotAWalFile { name: rejected } if rejected == name));
        assert!(
            err.to_string()
                .starts_with(&format!("Unsupported WAL file name '{name}' (expected ")),
            "{err}"
        );
    }
}

#[test]
fn names_with_a_directory_are_rejected() {
    let server = Server::new();
    let err = server.receive_err(&wal_and_sums(&format!("pg_wal/{SEGMENT}"), b"x"));
    assert_eq!(
        err.to_string(),
        format!("Unsupported filename 'pg_wal/{SEGMENT}' in put-wal for server 'pg'")
    );
    let err = server.receive_err(&wal_and_sums(&format!("../{SEGMENT}"), b"x"));
    assert!(matches!(err.failure, PutWalFailure::UnsupportedFilename { .. }));
}

#[test]
fn non_regular_members_are_rejected_with_ssh_host() {
    let server = Server::new();
    let origin = PutWalOrigin::new("pg").with_ssh_connection(Some("198.51.100.4 40000 198.51.100.1 22"));
    // A WAL written before the bad member must be cleaned up as well.
    let stream = TarStream::new()
        .file("000000010000000000000001", b"first")
        .special(SEGMENT, tar::EntryType::Symlink)
        .finish();
    let err = receive_put_wal(&stream[..], &server.incoming(), &origin).unwrap_err();
    server.assert_incoming_empty();
    assert_eq!(
        err.to_string(),
        format!(
            "Unsupported file type 'b'2'' for file '{SEGMENT}' in put-wal for server 'pg' (SSH host: 198.51.100.4)"
        )
    );

    let stream = TarStream::new().special("wals", tar::EntryType::Directory).finish();
    let err = server.receive_err(&stream);
    assert_eq!(
        err.to_string(),
        "Unsupported file type 'b'5'' for file 'wals' in put-wal for server 'pg'"
    );
}

#[test]
fn repeated_member_is_rejected() {
    let server = Server::new();
    let stream = TarStream::new().file(SEGMENT, b"one").file(SEGMENT, b"two").finish();
    let err = server.receive_err(&stream);
    assert_eq!(
        err.to_string(),
        format!("File '{SEGMENT}' sent more than once in put-wal for server 'pg'")
    );
}

#[test]
fn oversized_checksum_member_is_rejected() {
    let server = Server::new();
    let stream = TarStream::new()
        .file(SEGMENT, b"x")
        .file("SHA256SUMS", &vec![b' '; (1 << 20) + 1])
        .finish();
    let err = server.receive_err(&stream);
    assert!(
        matches!(err.failure, PutWalFailure::ChecksumFileTooLarge { .. }),
        "{err:?}"
    );
}

#[test]
fn uncommitted_batch_removes_its_temporary_files() {
    let server = Server::new();
    let batch = server.receive(&wal_and_sums(SEGMENT, b"abc")).unwrap();
    assert_eq!(server.incoming_entries().len(), 1);
    drop(batch);
    server.assert_incoming_empty();
}

#[test]
fn identical_duplicate_is_dropped() {
    let server = Server::new();
    fs::write(server.incoming().join(SEGMENT), b"same").unwrap();
    let batch = server.receive(&wal_and_sums(SEGMENT, b"same")).unwrap();
    let outcomes = server.commit(batch);
    assert_eq!(
        outcomes,
        vec![CommitOutcome::AlreadyArchived {
            name: WalFileName::parse(SEGMENT).unwrap(),
            existing: server.incoming().join(SEGMENT),
        }]
    );
    assert_eq!(
        outcomes[0].message("pg").unwrap(),
        format!(
            "Duplicate Files with Identical Checksums. File {SEGMENT} already exists on server pg, and the \
             checksums are identical. Skipping the file."
        )
    );
    assert_eq!(server.incoming_entries(), vec![SEGMENT.to_owned()]);
    assert_eq!(fs::read(server.incoming().join(SEGMENT)).unwrap(), b"same");
    assert!(!server.errors().exists());
}

#[test]
fn mismatching_duplicate_goes_to_errors() {
    let server = Server::new();
    fs::write(server.incoming().join(SEGMENT), b"old").unwrap();
    let batch = server.receive(&wal_and_sums(SEGMENT, b"new")).unwrap();
    let outcomes = server.commit(batch);
    let CommitOutcome::Duplicate {
        name,
        existing,
        existing_sha256,
        incoming_sha256,
        moved_to,
    } = &outcomes[0]
    else {
        panic!("unexpected {outcomes:?}");
    };
    assert_eq!(name.as_str(), SEGMENT);
    assert_eq!(*existing, server.incoming().join(SEGMENT));
    assert_eq!(*existing_sha256, sha256(b"old"));
    assert_eq!(*incoming_sha256, sha256(b"new"));
    assert_eq!(moved_to.parent().unwrap(), server.errors());
    let moved_name = moved_to.file_name().unwrap().to_str().unwrap();
    let stamp = moved_name
        .strip_prefix(&format!("{SEGMENT}."))
        .and_then(|rest| rest.strip_suffix(".duplicate"))
        .unwrap();
    assert!(
        chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ").is_ok(),
        "{stamp}"
    );
    assert_eq!(fs::read(moved_to).unwrap(), b"new");
    assert_eq!(fs::read(server.incoming().join(SEGMENT)).unwrap(), b"old");
    assert_eq!(server.incoming_entries(), vec![SEGMENT.to_owned()]);
    assert_eq!(
        outcomes[0].message("pg").unwrap(),
        format!(
            "\tError: Duplicate Files Detected with Mismatched Checksums. File {SEGMENT} already exists on server \
             pg with checksum {}, but the checksum of the incoming file is{}. The file has been moved to the \
             errors directory.",
            sha256(b"old"),
            sha256(b"new")
        )
    );
}

#[test]
fn lookup_can_consult_the_archive() {
    let server = Server::new();
    let archived = server.root.path().join("wals").join(SEGMENT);
    let archive_lookup = |name: &WalFileName| -> io::Result<Option<ExistingCopy>> {
        Ok((name.as_str() == SEGMENT).then(|| ExistingCopy {
            location: archived.clone(),
            sha256: sha256(b"archived"),
        }))
    };
    let batch = server.receive(&wal_and_sums(SEGMENT, b"archived")).unwrap();
    let outcomes = commit_received(batch.files, &server.incoming(), &server.errors(), &archive_lookup).unwrap();
    assert!(matches!(&outcomes[0], CommitOutcome::AlreadyArchived { existing, .. } if *existing == archived));
    server.assert_incoming_empty();

    let failing = |_: &WalFileName| -> io::Result<Option<ExistingCopy>> { Err(io::Error::other("archive offline")) };
    let batch = server.receive(&wal_and_sums(SEGMENT, b"x")).unwrap();
    let err = commit_received(batch.files, &server.incoming(), &server.errors(), &failing).unwrap_err();
    assert!(matches!(err, CommitError::Lookup { .. }));
    assert!(err.to_string().contains("archive offline"), "{err}");
    server.assert_incoming_empty();
}

#[test]
fn file_appearing_after_the_lookup_is_never_overwritten() {
    let server = Server::new();
    // A lookup that does not look in incoming/, while another put-wal already stored the name.
    let nowhere = |_: &WalFileName| -> io::Result<Option<ExistingCopy>> { Ok(None) };
    fs::write(server.incoming().join(SEGMENT), b"concurrent").unwrap();
    let batch = server.receive(&wal_and_sums(SEGMENT, b"mine")).unwrap();
    let outcomes = commit_received(batch.files, &server.incoming(), &server.errors(), &nowhere).unwrap();
    assert!(matches!(outcomes[0], CommitOutcome::Duplicate { .. }), "{outcomes:?}");
    assert_eq!(fs::read(server.incoming().join(SEGMENT)).unwrap(), b"concurrent");
    assert_eq!(server.incoming_entries(), vec![SEGMENT.to_owned()]);
}

#[test]
fn sender_refuses_unusable_names_and_directories() {
    let server = Server::new();
    let path = server.client_wal(SEGMENT, b"x");
    for name in ["", "a/b", "SHA256SUMS", "MD5SUMS", ".."] {
        let err = send_put_wal(&path, name, ChecksumAlgorithm::Sha256, io::sink()).unwrap_err();
        assert!(matches!(err, PutWalSendError::InvalidName { .. }), "{name}: {err:?}");
    }
    let dir = server.root.path().join("client");
    let err = send_put_wal(&dir, SEGMENT, ChecksumAlgorithm::Sha256, io::sink()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("WAL_PATH cannot be a directory: {}", dir.display())
    );
    let err = send_put_wal(&dir.join("missing"), SEGMENT, ChecksumAlgorithm::Sha256, io::sink()).unwrap_err();
    assert!(matches!(err, PutWalSendError::Read { .. }));
}

#[test]
fn sender_reports_broken_output() {
    struct BrokenPipe;
    impl Write for BrokenPipe {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let server = Server::new();
    let path = server.client_wal(SEGMENT, b"x");
    let err = send_put_wal(&path, SEGMENT, ChecksumAlgorithm::Sha256, BrokenPipe).unwrap_err();
    assert!(matches!(err, PutWalSendError::Write(_)), "{err:?}");
}

/// Runs a Python script, or returns `None` (after saying why) when python3 is not installed.
fn python(script: &str, args: &[&str], stdin: &[u8]) -> Option<Vec<u8>> {
    let child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(err) => {
            eprintln!("skipping: python3 is not available ({err})");
            return None;
        }
    };
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(output.stdout)
}

/// Writes a put-wal stream the way Barman's client does: a streaming PAX tar whose WAL member
/// gets its metadata from `stat` (so a PAX record carries the sub-second mtime), followed by a
/// checksum member in coreutils binary format.
const PYTHON_CLIENT: &str = r#"
import hashlib, io, sys, tarfile
path, arcname, algorithm, sums_name = sys.argv[1:5]
digest = hashlib.new(algorithm)
with open(path, "rb") as wal:
    for block in iter(lambda: wal.read(65536), b""):
        digest.update(block)
with tarfile.open(mode="w|", fileobj=sys.stdout.buffer, format=tarfile.PAX_FORMAT) as tar:
    info = tar.gettarinfo(path, arcname=arcname)
    with open(path, "rb") as wal:
        tar.addfile(info, wal)
    line = ("%s *%s\n" % (digest.hexdigest(), arcname)).encode()
    sums = tarfile.TarInfo(sums_name)
    sums.size = len(line)
    tar.addfile(sums, io.BytesIO(line))
"#;

#[test]
fn stream_from_pythons_tarfile_is_accepted() {
    let server = Server::new();
    let content = wal_content(100_000);
    let path = server.client_wal(SEGMENT, &content);
    let path_arg = path.to_str().unwrap();
    for (arcname, algorithm, sums_name) in [
        (SEGMENT.to_owned(), "sha256", "SHA256SUMS"),
        (format!("./{SEGMENT}"), "md5", "MD5SUMS"),
    ] {
        let Some(stream) = python(PYTHON_CLIENT, &[path_arg, &arcname, algorithm, sums_name], b"") else {
            return;
        };
        let batch = server.receive(&stream).unwrap();
        let file = &batch.files[0];
        assert_eq!(file.name().as_str(), SEGMENT);
        assert_eq!(file.sha256(), sha256(&content));
        // The PAX mtime record keeps sub-second precision.
        let mtime = fs::metadata(file.temp_path()).unwrap().modified().unwrap();
        let expected = UNIX_EPOCH + Duration::new(1_795_597_737, 605_394_600);
        let skew = mtime.duration_since(expected).unwrap_or_else(|err| err.duration());
        assert!(skew < Duration::from_micros(1), "{mtime:?}");
        server.commit(batch);
        assert_eq!(fs::read(server.incoming().join(SEGMENT)).unwrap(), content);
        fs::remove_file(server.incoming().join(SEGMENT)).unwrap();
    }
}

/// Reads a stream the way Barman's server does (`tarfile` in `r|` mode) and prints each member.
const PYTHON_SERVER: &str = r#"
import hashlib, sys, tarfile
with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as tar:
    for member in tar:
        data = tar.extractfile(member).read()
        print(member.name, member.size, member.isreg(), int(member.mtime), hashlib.sha256(data).hexdigest())
        if member.name.endswith("SUMS"):
            sys.stdout.write(data.decode())
"#;

#[test]
fn pythons_tarfile_reads_our_stream() {
    let server = Server::new();
    let content = wal_content(20_000);
    let path = server.client_wal(SEGMENT, &content);
    let stream = client_stream(&path, SEGMENT, ChecksumAlgorithm::Sha256);
    let Some(listing) = python(PYTHON_SERVER, &[], &stream) else {
        return;
    };
    let digest = sha256(&content);
    let sums_line = format_checksum_line(&digest, SEGMENT);
    let expected = format!(
        "{SEGMENT} 20000 True 1795597737 {digest}\nSHA256SUMS {} True 1795597737 {}\n{sums_line}",
        sums_line.len(),
        sha256(sums_line.as_bytes()),
    );
    assert_eq!(String::from_utf8(listing).unwrap(), expected);
}

#[test]
fn mtime_before_the_epoch_is_sent_as_zero() {
    let server = Server::new();
    let path = server.client_wal(SEGMENT, b"x");
    let before_epoch = UNIX_EPOCH - Duration::from_secs(10);
    File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_times(FileTimes::new().set_modified(before_epoch))
        .unwrap();
    let batch = server
        .receive(&client_stream(&path, SEGMENT, ChecksumAlgorithm::Sha256))
        .unwrap();
    let mtime: SystemTime = fs::metadata(batch.files[0].temp_path()).unwrap().modified().unwrap();
    assert_eq!(mtime, UNIX_EPOCH);
}

#[test]
fn missing_incoming_directory_is_created() {
    let server = Server::new();
    let incoming = server.root.path().join("new-server").join("incoming");
    let batch = receive_put_wal(&wal_and_sums(SEGMENT, b"x")[..], &incoming, &server.origin()).unwrap();
    assert_eq!(batch.files[0].temp_path().parent().unwrap(), incoming);
}
