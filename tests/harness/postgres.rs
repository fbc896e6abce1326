//! `PgCluster`: a throwaway PostgreSQL cluster inside the test's root directory: the machine's
//! PostgreSQL 15, or another major version that `scripts/setup-pg-versions` installed
//! ([`PgClusterBuilder::version`]; `psql` and `pg_basebackup` stay the machine's 15).
//!
//! It listens on a free port of 127.0.0.1 (TCP needs a password; see `pg_hba.conf` below)
//! and on a Unix socket in its own directory, where the admin role `postgres` connects
//! without one to set the cluster up. Settings Barman cares about (`wal_level`,
//! `archive_mode`, `archive_command`, ...) are chosen through the builder. The server is
//! always stopped: by [`PgCluster::stop`] or when the handle is dropped.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::context::TestContext;
use crate::files::{append_file, read_lossy};
use crate::os_user::ServerUser;
use crate::pg_versions::{pg_server_bin_dir, SYSTEM_PG_MAJOR};
use crate::ports::free_loopback_port;
use crate::process::run_checked;
use crate::roles::{add_pgpass_entries, create_seed_roles, BarmanRole};
use crate::ssh_client::configure_server_home;
use crate::LOOPBACK;

/// Where Debian's postgresql-15 package installs the server and client programs.
pub const PG_BIN_DIR: &str = "/usr/lib/postgresql/15/bin";

/// The bootstrap superuser, reachable only through the Unix socket.
const ADMIN_ROLE: &str = "postgres";

/// Another process can take the chosen port before the server binds it.
const START_ATTEMPTS: usize = 5;

/// Seconds `pg_ctl` waits for start-up and shutdown.
const PG_CTL_WAIT_SECONDS: &str = "60";

const PG_HBA: &str = "\
# Written by the test harness. The admin role sets the cluster up through the socket;
# every other client connects over 127.0.0.1 with a password, as a Barman host would.
local   all          postgres                  trust
local   replication  postgres                  trust
host    all          all        127.0.0.1/32   scram-sha-256
host    replication  all        127.0.0.1/32   scram-sha-256
";

/// Chooses the settings of a cluster before it starts.
pub struct PgClusterBuilder<'a> {
    ctx: &'a TestContext,
    settings: Vec<(String, String)>,
    barman_role: BarmanRole,
    major: u32,
}

impl PgClusterBuilder<'_> {
    pub fn wal_level(self, level: &str) -> Self {
        self.setting("wal_level", level)
    }

    /// `on`, `off` or `always`.
    pub fn archive_mode(self, mode: &str) -> Self {
        self.setting("archive_mode", mode)
    }

    pub fn archive_command(self, command: &str) -> Self {
        self.setting("archive_command", command)
    }

    pub fn max_wal_senders(self, count: u32) -> Self {
        self.setting("max_wal_senders", &count.to_string())
    }

    pub fn max_replication_slots(self, count: u32) -> Self {
        self.setting("max_replication_slots", &count.to_string())
    }

    /// Any `postgresql.conf` setting; a later call for the same name wins.
    pub fn setting(mut self, name: &str, value: &str) -> Self {
        self.settings.retain(|(existing, _)| existing != name);
        self.settings.push((name.to_owned(), value.to_owned()));
        self
    }

    /// PostgreSQL `major` (15, the machine's, by default) from the versions
    /// `scripts/setup-pg-versions` installs; check [`crate::pg_version_installed`] first.
    pub fn version(mut self, major: u32) -> Self {
        self.major = major;
        self
    }

    /// Superuser or standard `barman` role (standard by default).
    pub fn barman_role(mut self, role: BarmanRole) -> Self {
        self.barman_role = role;
        self
    }

    /// Creates the cluster, starts it, creates the roles and adds them to `.pgpass`.
    pub fn start(self) -> PgCluster {
        let mut cluster = self.new_cluster();
        cluster.init();
        ServerUser::get().write_file(&cluster.data_dir.join("pg_hba.conf"), PG_HBA);
        append_file(
            &cluster.data_dir.join("postgresql.conf"),
            "include 'harness.conf'\n",
            0o600,
        );
        cluster.start_on_free_port(&self.settings);
        create_seed_roles(&cluster, self.barman_role);
        add_pgpass_entries(self.ctx.home(), cluster.port);
        cluster
    }
}

impl PgClusterBuilder<'_> {
    /// Starts a cluster from `base_backup` (a directory [`PgCluster::base_backup`] made, moved
    /// into place) in archive recovery (`recovery.signal`), with the builder's settings
    /// (`restore_command`, recovery targets, ...). Roles and `.pgpass` entries are those of
    /// the backed-up cluster.
    pub fn start_from_base_backup(self, base_backup: &Path) -> PgCluster {
        let mut cluster = self.new_cluster();
        std::fs::rename(base_backup, &cluster.data_dir).expect("move the base backup into place");
        ServerUser::get().write_file(&cluster.data_dir.join("recovery.signal"), "");
        cluster.start_on_free_port(&self.settings);
        add_pgpass_entries(self.ctx.home(), cluster.port);
        cluster
    }

    /// A stopped cluster's directories: data directory not created yet, server home with
    /// its ssh configuration.
    fn new_cluster(&self) -> PgCluster {
        static CLUSTER_NUMBER: AtomicUsize = AtomicUsize::new(1);
        let number = CLUSTER_NUMBER.fetch_add(1, Ordering::Relaxed);
        let dir = self.ctx.root().join(format!("postgres-{number}"));
        let server_user = ServerUser::get();
        server_user.create_dir(&dir);
        server_user.create_dir(&dir.join("socket"));
        server_user.create_dir(&dir.join("home"));
        configure_server_home(self.ctx, &dir.join("home"));
        PgCluster {
            major: self.major,
            bin_dir: pg_server_bin_dir(self.major)
                .unwrap_or_else(|| panic!("PostgreSQL {} not installed (scripts/setup-pg-versions)", self.major)),
            data_dir: dir.join("data"),
            socket_dir: dir.join("socket"),
            log_path: dir.join("postgres.log"),
            server_home: dir.join("home"),
            path_env: self.ctx.path_env(),
            port: 0,
            postmaster_pid: None,
        }
    }
}

pub struct PgCluster {
    /// The major version.
    major: u32,
    /// The server programs (initdb, pg_ctl, postgres).
    bin_dir: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    log_path: PathBuf,
    /// `HOME` of the server processes (and so of `archive_command`).
    server_home: PathBuf,
    /// `PATH` of the server processes: the context's, so `archive_command` finds the
    /// built binaries.
    path_env: OsString,
    port: u16,
    /// Set while the server runs.
    postmaster_pid: Option<Pid>,
}

impl PgCluster {
    pub fn builder(ctx: &TestContext) -> PgClusterBuilder<'_> {
        PgClusterBuilder {
            ctx,
            // Durability is pointless for a cluster that lives for one test.
            settings: vec![("fsync".to_owned(), "off".to_owned())],
            barman_role: BarmanRole::default(),
            major: SYSTEM_PG_MAJOR,
        }
    }

    /// A cluster with PostgreSQL's default settings and a standard `barman` role.
    pub fn start(ctx: &TestContext) -> PgCluster {
        Self::builder(ctx).start()
    }

    /// The major version (`15`).
    pub fn major(&self) -> u32 {
        self.major
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// What the server wrote to its log so far.
    pub fn log(&self) -> String {
        read_lossy(&self.log_path)
    }

    /// `conninfo` for Barman: the `barman` role over 127.0.0.1 (password from `.pgpass`).
    pub fn conninfo(&self) -> String {
        format!("host={LOOPBACK} port={} user=barman dbname=postgres", self.port)
    }

    /// `streaming_conninfo` for Barman: the `streaming_barman` role over 127.0.0.1.
    pub fn streaming_conninfo(&self) -> String {
        format!(
            "host={LOOPBACK} port={} user=streaming_barman dbname=postgres",
            self.port
        )
    }

    /// `conninfo` of the admin role through the Unix socket (no password).
    pub fn admin_conninfo(&self) -> String {
        format!(
            "host={} port={} user={ADMIN_ROLE} dbname=postgres",
            self.socket_dir.display(),
            self.port
        )
    }

    /// Runs `query` as the admin role and returns its unaligned, tuples-only output
    /// without the trailing newline; panics if psql fails.
    pub fn sql(&self, query: &str) -> String {
        let output = run_checked(
            Command::new(Path::new(PG_BIN_DIR).join("psql"))
                .env_clear()
                .env("LANG", "C")
                .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
                .arg(self.admin_conninfo())
                .args(["-c", query]),
        );
        String::from_utf8_lossy(&output.stdout)
            .trim_end_matches('\n')
            .to_owned()
    }

    /// Takes a base backup with `pg_basebackup` (fast checkpoint, no WAL: recovery must get it
    /// from `restore_command`) into a new directory below `ctx`'s root and returns it.
    pub fn base_backup(&self, ctx: &TestContext) -> PathBuf {
        static BACKUP_NUMBER: AtomicUsize = AtomicUsize::new(1);
        let target = ctx
            .root()
            .join(format!("base-backup-{}", BACKUP_NUMBER.fetch_add(1, Ordering::Relaxed)));
        // The server user writes it; the test's root belongs to the test user.
        ServerUser::get().create_dir(&target);
        let mut basebackup = self.server_command(&Path::new(PG_BIN_DIR).join("pg_basebackup"));
        basebackup
            .arg("-d")
            .arg(self.admin_conninfo())
            .arg("-D")
            .arg(&target)
            .args(["-X", "none", "-c", "fast", "--no-sync"]);
        run_checked(&mut basebackup);
        target
    }

    /// Stops the server (`fast`, then `immediate`, then SIGKILL); does nothing if it is
    /// not running.
    pub fn stop(&mut self) {
        let Some(pid) = self.postmaster_pid.take() else {
            return;
        };
        for mode in ["fast", "immediate"] {
            let stopped = self
                .pg_ctl()
                .args(["stop", "-s", "-w", "-t", PG_CTL_WAIT_SECONDS, "-m", mode])
                .status()
                .is_ok_and(|status| status.success());
            if stopped {
                return;
            }
        }
        // The data directory may be gone already; the postmaster must not outlive the
        // test either way.
        let _ = kill(pid, Signal::SIGKILL);
    }

    fn init(&self) {
        let mut initdb = self.server_command(&self.bin_dir.join("initdb"));
        initdb.arg("-D").arg(&self.data_dir).args([
            "--username",
            ADMIN_ROLE,
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        run_checked(&mut initdb);
    }

    fn start_on_free_port(&mut self, settings: &[(String, String)]) {
        for _ in 0..START_ATTEMPTS {
            self.port = free_loopback_port();
            self.write_settings(settings);
            let started = self
                .pg_ctl()
                .arg("-l")
                .arg(&self.log_path)
                .args(["start", "-s", "-w", "-t", PG_CTL_WAIT_SECONDS])
                .status()
                .expect("run pg_ctl start");
            if started.success() {
                self.postmaster_pid = Some(self.read_postmaster_pid());
                return;
            }
            if !self.log().contains("Address already in use") {
                break;
            }
        }
        panic!(
            "PostgreSQL did not start in {}\n--- server log\n{}",
            self.data_dir.display(),
            self.log()
        );
    }

    /// Writes `harness.conf` (included by `postgresql.conf`). The network settings come
    /// last so no test setting can make the cluster listen beyond loopback.
    fn write_settings(&self, settings: &[(String, String)]) {
        let network = [
            ("listen_addresses", LOOPBACK.to_owned()),
            ("port", self.port.to_string()),
            ("unix_socket_directories", self.socket_dir.display().to_string()),
        ];
        let conf: String = settings
            .iter()
            .map(|(name, value)| setting_line(name, value))
            .chain(network.iter().map(|(name, value)| setting_line(name, value)))
            .collect();
        ServerUser::get().write_file(&self.data_dir.join("harness.conf"), &conf);
    }

    fn read_postmaster_pid(&self) -> Pid {
        let pid_file = read_lossy(&self.data_dir.join("postmaster.pid"));
        let pid = pid_file
            .lines()
            .next()
            .and_then(|line| line.trim().parse().ok())
            .unwrap_or_else(|| panic!("no PID in postmaster.pid: {pid_file:?}"));
        Pid::from_raw(pid)
    }

    fn pg_ctl(&self) -> Command {
        let mut pg_ctl = self.server_command(&self.bin_dir.join("pg_ctl"));
        pg_ctl.arg("-D").arg(&self.data_dir);
        pg_ctl
    }

    fn server_command(&self, program: &Path) -> Command {
        ServerUser::get().command(
            program,
            &[
                ("PATH", self.path_env.as_os_str()),
                ("HOME", self.server_home.as_os_str()),
                ("LANG", OsStr::new("C")),
            ],
        )
    }
}

/// One `postgresql.conf` line; quoting every value is valid for every setting type.
fn setting_line(name: &str, value: &str) -> String {
    format!("{name} = '{}'\n", value.replace('\'', "''"))
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.stop();
    }
}
