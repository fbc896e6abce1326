//! `TestContext`: the per-test sandbox. It owns a temporary root directory (removed on
//! drop) holding an isolated `HOME`, a `barman_home` and a `bin` directory put first on
//! `PATH`, and builds commands that run with a clean, reproducible environment instead of
//! whatever the developer's shell exported.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;

use crate::binaries::{binaries_dir, built_binary};
use crate::files::{create_dir, set_mode, write_file};
use crate::os_user::current_user;

/// The system directories on `PATH` for every command the harness runs.
pub const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A hung command must fail its test rather than stall the whole run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// What one `barman` run printed (root directory shown as `[TEMP]`) and its exit status.
pub struct BarmanRun {
    pub stdout: String,
    pub stderr: String,
    /// `None` when a signal ended it.
    pub code: Option<i32>,
}

pub struct TestContext {
    root: TempDir,
    home: PathBuf,
    barman_home: PathBuf,
    bin_dir: PathBuf,
}

impl Default for TestContext {
    fn default() -> Self {
        Self::new()
    }
}

impl TestContext {
    pub fn new() -> Self {
        let root = tempfile::Builder::new()
            .prefix("barman-test-")
            .tempdir()
            .expect("create the test's temporary directory");
        // PostgreSQL runs as an unprivileged user when the tests run as root; it must be
        // able to reach its cluster directory inside this root.
        set_mode(root.path(), 0o755);
        let home = root.path().join("home");
        let barman_home = root.path().join("barman");
        let bin_dir = root.path().join("bin");
        create_dir(&home, 0o755);
        create_dir(&barman_home, 0o755);
        create_dir(&bin_dir, 0o755);
        TestContext {
            root,
            home,
            barman_home,
            bin_dir,
        }
    }

    /// The temporary root directory; everything the test creates lives below it.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// The `HOME` of every command run through the context (`.pgpass`, `.ssh/`).
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// A directory meant for the `barman_home` option.
    pub fn barman_home(&self) -> &Path {
        &self.barman_home
    }

    /// The first directory on the context's `PATH` (holds the `ssh` wrapper).
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// `PATH` for commands run through the context: the context's `bin` directory, the
    /// built binaries, then the system directories.
    pub fn path_env(&self) -> OsString {
        let mut entries = vec![self.bin_dir.clone(), binaries_dir()];
        entries.extend(std::env::split_paths(SYSTEM_PATH));
        std::env::join_paths(entries).expect("PATH entries without ':'")
    }

    /// Writes a file at `relative` below the root (creating directories) and returns its
    /// path.
    pub fn write_file(&self, relative: impl AsRef<Path>, contents: &str) -> PathBuf {
        let path = self.root().join(relative);
        write_file(&path, contents, 0o644);
        path
    }

    /// Writes the main Barman configuration file and returns its path (pass it with `-c`).
    pub fn write_config(&self, contents: &str) -> PathBuf {
        self.write_file("barman.conf", contents)
    }

    /// Writes a Barman configuration with one server, `pg`, and returns its path: the
    /// `[barman]` section (this context's `barman_home`, the current user as `barman_user`, a
    /// DEBUG log in the root) and `[pg]` with `server_options`.
    pub fn write_barman_config(&self, server_options: &str) -> PathBuf {
        self.write_config(&format!(
            "[barman]\nbarman_home = {home}\nbarman_user = {user}\nlog_file = {root}/barman.log\n\
             log_level = DEBUG\n\n[pg]\n{server_options}",
            home = self.barman_home.display(),
            user = current_user().name,
            root = self.root().display(),
        ))
    }

    /// Runs `program` (a path, or a name looked up on the context's `PATH`) from the root
    /// directory with only `PATH`, `HOME` and `LANG=C` set.
    pub fn command(&self, program: impl AsRef<OsStr>) -> assert_cmd::Command {
        let mut command = assert_cmd::Command::new(program);
        command
            .env_clear()
            .env("PATH", self.path_env())
            .env("HOME", &self.home)
            .env("LANG", "C")
            .current_dir(self.root())
            .timeout(COMMAND_TIMEOUT);
        command
    }

    /// The built `barman` binary.
    pub fn barman(&self) -> assert_cmd::Command {
        self.command(built_binary("barman"))
    }

    /// Runs the built `barman` with `-c config` and `args`, to its end; its output with the
    /// root directory shown as `[TEMP]`.
    pub fn run_barman(&self, config: &Path, args: &[&str]) -> BarmanRun {
        let output = self
            .barman()
            .arg("-c")
            .arg(config)
            .args(args)
            .output()
            .expect("run barman");
        BarmanRun {
            stdout: self.normalize(&String::from_utf8_lossy(&output.stdout)),
            stderr: self.normalize(&String::from_utf8_lossy(&output.stderr)),
            code: output.status.code(),
        }
    }

    /// The built `barman-wal-archive` binary.
    pub fn wal_archive(&self) -> assert_cmd::Command {
        self.command(built_binary("barman-wal-archive"))
    }

    /// The built `barman-wal-restore` binary.
    pub fn wal_restore(&self) -> assert_cmd::Command {
        self.command(built_binary("barman-wal-restore"))
    }

    /// `text` with the temporary root replaced by `[TEMP]`, for whole-output assertions.
    pub fn normalize(&self, text: &str) -> String {
        let as_created = self.root().to_string_lossy().into_owned();
        let resolved = self
            .root()
            .canonicalize()
            .map(|path| path.to_string_lossy().into_owned())
            .unwrap_or_else(|_| as_created.clone());
        // The longer spelling first, so neither leaves a fragment of the other behind.
        let (longer, shorter) = if resolved.len() >= as_created.len() {
            (resolved, as_created)
        } else {
            (as_created, resolved)
        };
        text.replace(&longer, "[TEMP]").replace(&shorter, "[TEMP]")
    }
}
