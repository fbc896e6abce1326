//! `Sshd`: a throwaway OpenSSH server on a free port of 127.0.0.1, configured entirely
//! from files in the test's root directory. It accepts the context's client key for the
//! current OS user and gives sessions a chosen `PATH` (so the remote `barman` is the built
//! one) and the context's `HOME` (so the remote side finds the same `.pgpass` and never
//! reads the real user's shell start-up files). Killed when the handle is dropped.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::context::{TestContext, SYSTEM_PATH};
use crate::files::{create_dir, read_lossy, write_file};
use crate::os_user::current_user;
use crate::ports::{accepts_connections, free_loopback_port};
use crate::ssh_client::{ensure_client, generate_key, trust_host};
use crate::LOOPBACK;

const SSHD: &str = "/usr/sbin/sshd";
/// sshd's privilege separation directory; it refuses to start without it.
const PRIVSEP_DIR: &str = "/run/sshd";
/// Another process can take the chosen port before sshd binds it.
const START_ATTEMPTS: usize = 5;
const READY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Sshd {
    dir: PathBuf,
    port: u16,
    user: String,
    child: Child,
}

impl Sshd {
    /// Starts sshd. Remote sessions get `PATH` = `remote_path_prefix`, the context's
    /// `bin` directory, then the system directories.
    pub fn start(ctx: &TestContext, remote_path_prefix: &[PathBuf]) -> Sshd {
        static SERVER_NUMBER: AtomicUsize = AtomicUsize::new(1);
        let number = SERVER_NUMBER.fetch_add(1, Ordering::Relaxed);
        let dir = ctx.root().join(format!("sshd-{number}"));
        create_dir(&dir, 0o755);
        ensure_privsep_dir();

        write_file(&dir.join("authorized_keys"), &ensure_client(ctx), 0o600);
        let host_key = dir.join("ssh_host_ed25519_key");
        generate_key(&host_key, "barman test sshd");

        let session_env = session_environment(ctx, remote_path_prefix);
        for _ in 0..START_ATTEMPTS {
            let port = free_loopback_port();
            write_file(
                &dir.join("sshd_config"),
                &server_config(&dir, port, &session_env),
                0o644,
            );
            if let Some(child) = spawn_until_ready(&dir, port) {
                trust_host(ctx, port, &read_lossy(&host_key.with_extension("pub")));
                return Sshd {
                    dir,
                    port,
                    user: current_user().name,
                    child,
                };
            }
        }
        panic!(
            "sshd kept failing to bind a free port\n--- sshd log\n{}",
            read_lossy(&dir.join("sshd.log"))
        );
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The login user: the OS user running the tests.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// `user@127.0.0.1`.
    pub fn destination(&self) -> String {
        format!("{}@{LOOPBACK}", self.user)
    }

    /// An `ssh_command` value for a Barman server section reaching this sshd.
    pub fn ssh_command(&self) -> String {
        format!("ssh -p {} {}", self.port, self.destination())
    }

    /// The server's public host key, as in its `.pub` file (`ssh-ed25519 AAAA... comment`).
    pub fn host_public_key(&self) -> String {
        read_lossy(&self.dir.join("ssh_host_ed25519_key.pub"))
    }

    /// What sshd logged so far (it runs with `-e`: everything goes to this log).
    pub fn log(&self) -> String {
        read_lossy(&self.dir.join("sshd.log"))
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let pid = Pid::from_raw(self.child.id() as i32);
        if kill(pid, Signal::SIGTERM).is_err() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The `SetEnv` arguments for remote sessions: `PATH` = `remote_path_prefix`, the
/// context's `bin` directory, the system directories; `HOME` = the context's.
fn session_environment(ctx: &TestContext, remote_path_prefix: &[PathBuf]) -> String {
    let mut remote_path = remote_path_prefix.to_vec();
    remote_path.push(ctx.bin_dir().to_path_buf());
    remote_path.extend(std::env::split_paths(SYSTEM_PATH));
    let remote_path = std::env::join_paths(remote_path).expect("PATH entries without ':'");
    format!(
        "\"PATH={}\" \"HOME={}\" LANG=C",
        remote_path.to_string_lossy(),
        ctx.home().display()
    )
}

fn ensure_privsep_dir() {
    if !Path::new(PRIVSEP_DIR).is_dir() {
        std::fs::create_dir_all(PRIVSEP_DIR)
            .unwrap_or_else(|e| panic!("create {PRIVSEP_DIR}, which sshd needs (scripts/setup creates it): {e}"));
    }
}

fn server_config(dir: &Path, port: u16, session_env: &str) -> String {
    let dir = dir.display();
    format!(
        "# Written by the test harness.\n\
         ListenAddress {LOOPBACK}\n\
         Port {port}\n\
         HostKey {dir}/ssh_host_ed25519_key\n\
         AuthorizedKeysFile {dir}/authorized_keys\n\
         PidFile {dir}/sshd.pid\n\
         UsePAM no\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         PermitRootLogin prohibit-password\n\
         # The key files live in a temporary directory sshd would find too open.\n\
         StrictModes no\n\
         SetEnv {session_env}\n"
    )
}

/// Spawns sshd on `port` and waits until it accepts connections. Returns `None` when it
/// exited because the port was taken; panics on any other failure.
fn spawn_until_ready(dir: &Path, port: u16) -> Option<Child> {
    let log_path = dir.join("sshd.log");
    let log = File::create(&log_path).expect("create the sshd log");
    let mut child = Command::new(SSHD)
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(dir.join("sshd_config"))
        .env_clear()
        .env("PATH", SYSTEM_PATH)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn sshd");
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("poll sshd") {
            let log = read_lossy(&log_path);
            if log.contains("Address already in use") {
                return None;
            }
            panic!("sshd exited with {status}\n--- sshd log\n{log}");
        }
        if accepts_connections(port) {
            return Some(child);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "sshd did not accept connections on port {port} within {READY_TIMEOUT:?}\n--- sshd log\n{}",
                read_lossy(&log_path)
            );
        }
        sleep(Duration::from_millis(50));
    }
}
