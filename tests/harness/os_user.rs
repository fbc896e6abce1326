//! The OS users the harness deals with: the one running the tests, and the one that runs
//! PostgreSQL's server programs. `initdb`, `pg_ctl` and `postgres` refuse to run as root,
//! and CI runs as root: then they run as the unprivileged user `postgres` through
//! `runuser` (the user is created if the machine lacks it), and the files they use are
//! handed to that user. Otherwise they run as the current user.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use nix::unistd::{chown, geteuid, Gid, Uid, User};

use crate::files::{create_dir, write_file};

const UNPRIVILEGED_NAME: &str = "postgres";
/// `useradd`'s exit status when the name is taken (by a concurrent test process).
const USERADD_NAME_IN_USE: i32 = 9;

pub(crate) struct ServerUser {
    name: String,
    uid: Uid,
    gid: Gid,
    /// Set when the harness runs as root and must switch to `uid` for server programs.
    switch_from_root: bool,
}

impl ServerUser {
    pub(crate) fn get() -> &'static ServerUser {
        static SERVER_USER: OnceLock<ServerUser> = OnceLock::new();
        SERVER_USER.get_or_init(|| {
            if geteuid().is_root() {
                let user = unprivileged_user();
                ServerUser {
                    name: user.name,
                    uid: user.uid,
                    gid: user.gid,
                    switch_from_root: true,
                }
            } else {
                let user = current_user();
                ServerUser {
                    name: user.name,
                    uid: user.uid,
                    gid: user.gid,
                    switch_from_root: false,
                }
            }
        })
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Whether server programs run as another user than the tests.
    pub(crate) fn is_other_user(&self) -> bool {
        self.switch_from_root
    }

    /// A command running `program` as the server user with exactly `env` as its
    /// environment; the caller adds the arguments.
    pub(crate) fn command(&self, program: &Path, env: &[(&str, &OsStr)]) -> Command {
        if self.switch_from_root {
            // runuser keeps most of root's environment; `env -i` replaces it.
            let mut command = Command::new("runuser");
            command.args(["-u", UNPRIVILEGED_NAME, "--", "env", "-i"]);
            for (name, value) in env {
                let mut assignment = OsStr::new(name).to_os_string();
                assignment.push("=");
                assignment.push(value);
                command.arg(assignment);
            }
            command.arg(program);
            command
        } else {
            let mut command = Command::new(program);
            command.env_clear().envs(env.iter().copied());
            command
        }
    }

    /// Creates `path` (mode 0700) owned by the server user.
    pub(crate) fn create_dir(&self, path: &Path) {
        create_dir(path, 0o700);
        self.give(path);
    }

    /// Writes `contents` to `path` as a file the server user owns and may read.
    pub(crate) fn write_file(&self, path: &Path, contents: &str) {
        write_file(path, contents, 0o600);
        self.give(path);
    }

    /// Makes the server user the owner of `path`.
    pub(crate) fn give(&self, path: &Path) {
        chown(path, Some(self.uid), Some(self.gid)).unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
    }
}

/// The OS user running the tests.
pub(crate) fn current_user() -> User {
    User::from_uid(geteuid())
        .expect("read the passwd database")
        .expect("the current user to have a passwd entry")
}

fn unprivileged_user() -> User {
    if let Some(user) = lookup(UNPRIVILEGED_NAME) {
        return user;
    }
    let status = Command::new("useradd")
        .args(["--system", "--user-group", "--shell", "/usr/sbin/nologin"])
        .arg(UNPRIVILEGED_NAME)
        .status()
        .expect("run useradd");
    assert!(
        status.success() || status.code() == Some(USERADD_NAME_IN_USE),
        "useradd {UNPRIVILEGED_NAME} failed: {status}"
    );
    lookup(UNPRIVILEGED_NAME).unwrap_or_else(|| panic!("user {UNPRIVILEGED_NAME} missing right after useradd"))
}

fn lookup(name: &str) -> Option<User> {
    User::from_name(name).expect("read the passwd database")
}
