//! `BarmanHost`: the Barman side of the set-up guide, reachable from PostgreSQL over SSH. An
//! [`Sshd`] whose sessions find a chosen `barman` first on `PATH` (ours, or Barman 3.20.1's
//! for interoperability tests), and a configuration file with one server, `pg`, that tests
//! rewrite as they need (the file's path is fixed, so an `archive_command` written before the
//! cluster starts stays valid).

use std::path::{Path, PathBuf};

use crate::binaries::binaries_dir;
use crate::context::TestContext;
use crate::sshd::Sshd;
use crate::LOOPBACK;

/// Where `scripts/setup-interop` installs Barman 3.20.1 for the optional interoperability tier.
pub const PYTHON_BARMAN_BIN: &str = "/opt/barman-venv/bin";

/// The `[pg]` section written until a test chooses its own: a server that archives with
/// `archive_command`, its PostgreSQL unreachable (nothing listens on port 1).
const DEFAULT_SERVER: &str = "description = \"WAL client tests\"\n\
                              conninfo = host=127.0.0.1 port=1 user=barman dbname=postgres\n\
                              backup_method = postgres\narchiver = on\n";

pub struct BarmanHost {
    pub sshd: Sshd,
    /// The configuration file (`-c`).
    pub config: PathBuf,
}

impl BarmanHost {
    /// Our `barman` (the context's PATH puts the built binaries after `bin/`).
    pub fn ours(ctx: &TestContext) -> BarmanHost {
        Self::with_remote_path(ctx, &[binaries_dir()])
    }

    /// Barman 3.20.1's `barman`.
    pub fn python(ctx: &TestContext) -> BarmanHost {
        Self::with_remote_path(ctx, &[PathBuf::from(PYTHON_BARMAN_BIN)])
    }

    fn with_remote_path(ctx: &TestContext, remote_path: &[PathBuf]) -> BarmanHost {
        let sshd = Sshd::start(ctx, remote_path);
        let host = BarmanHost {
            sshd,
            config: ctx.root().join("barman.conf"),
        };
        host.configure_server(ctx, DEFAULT_SERVER);
        host
    }

    /// Rewrites the configuration (see [`TestContext::write_barman_config`]) with `[pg]`
    /// holding `server_options`.
    pub fn configure_server(&self, ctx: &TestContext, server_options: &str) {
        let written = ctx.write_barman_config(server_options);
        assert_eq!(written, self.config);
    }

    /// The common arguments of both WAL clients: `-U USER --port PORT -c CONFIG 127.0.0.1`.
    pub fn client_args(&self) -> Vec<String> {
        vec![
            "-U".to_owned(),
            self.sshd.user().to_owned(),
            "--port".to_owned(),
            self.sshd.port().to_string(),
            "-c".to_owned(),
            self.config.display().to_string(),
            LOOPBACK.to_owned(),
        ]
    }

    /// The `archive_command` running our `barman-wal-archive` (found on PostgreSQL's PATH)
    /// towards this host, for server `pg`.
    pub fn wal_archive_command(&self) -> String {
        format!(
            "barman-wal-archive -U {} --port {} -c {} {LOOPBACK} pg %p",
            self.sshd.user(),
            self.sshd.port(),
            self.config.display()
        )
    }

    /// The `restore_command` running our `barman-wal-restore` from this host, for `pg`.
    pub fn wal_restore_command(&self) -> String {
        format!(
            "barman-wal-restore -U {} --port {} -c {} {LOOPBACK} pg %f %p",
            self.sshd.user(),
            self.sshd.port(),
            self.config.display()
        )
    }

    /// `pg`'s incoming directory (the default layout below `barman_home`).
    pub fn incoming(&self, ctx: &TestContext) -> PathBuf {
        ctx.barman_home().join("pg/incoming")
    }
}

/// Whether Barman 3.20.1 is installed for the interoperability tier; says why not otherwise.
pub fn python_barman_installed() -> bool {
    let installed = Path::new(PYTHON_BARMAN_BIN).join("barman").is_file();
    if !installed {
        eprintln!("skipped: Barman 3.20.1 not installed at /opt/barman-venv");
    }
    installed
}
