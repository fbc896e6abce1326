//! `barman-wal-restore`: PostgreSQL's `restore_command` client. Fetches one WAL file from
//! `barman get-wal` on the Barman host over SSH and writes it to `WAL_DEST` atomically, with
//! Barman's options and exit codes: the remote status is passed through, 2 means an SSH
//! problem or a local error, 3 an unusable `WAL_DEST`.
//!
//! With `-p/--parallel N`, the following files are prefetched into the spool directory by a
//! background process started after each request, so that later requests only rename a
//! spooled file while the prefetch keeps ahead of PostgreSQL.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use barman_core::remote::command::{ArgumentRole, GetWalOptions, RemoteWord, TransferCompression};
use barman_core::remote::restore::{check_destination, fetch_wal, test_get_wal, Fetched, GetWalRequest, RestoreError};
use barman_core::remote::spool::Spool;
use barman_core::ssh::{Destination, LocalUser, RemoteExit, SshConnection, SshError};
use clap::Parser;

/// SSH problems and local errors (Barman maps ssh's 255 to this).
const EXIT_SSH_OR_LOCAL: u8 = 2;
/// `WAL_DEST` cannot be written.
const EXIT_BAD_DESTINATION: u8 = 3;

/// This script will be used as a 'restore_command' based on the get-wal feature of Barman.
/// A ssh connection will be opened to the Barman host.
#[derive(Debug, Parser)]
#[command(name = "barman-wal-restore", version, disable_version_flag = true)]
struct Args {
    /// show program's version number and exit
    #[arg(short = 'V', long = "version", action = clap::ArgAction::Version)]
    version: Option<bool>,
    /// The user used for the ssh connection to the Barman server.
    #[arg(short = 'U', long = "user", default_value = "barman")]
    user: String,
    /// The port used for the ssh connection to the Barman server.
    #[arg(long)]
    port: Option<u16>,
    /// Sleep for SECONDS after a failure of get-wal request.
    #[arg(short = 's', long = "sleep", value_name = "SECONDS", default_value_t = 0)]
    sleep: u64,
    /// Specifies the number of files to peek and transfer in parallel (0: disabled).
    #[arg(short = 'p', long = "parallel", value_name = "JOBS", default_value_t = 0)]
    parallel: u32,
    /// Specifies spool directory for WAL files.
    #[arg(long = "spool-dir", value_name = "SPOOL_DIR", default_value = "/var/tmp/walrestore")]
    spool_dir: PathBuf,
    /// retrieve also partial WAL files (.partial)
    #[arg(short = 'P', long = "partial")]
    partial: bool,
    /// Transfer the WAL files compressed with gzip (deprecated)
    #[arg(short = 'z', long = "gzip", group = "transfer")]
    gzip: bool,
    /// Transfer the WAL files compressed with bzip2 (deprecated)
    #[arg(short = 'j', long = "bzip2", group = "transfer")]
    bzip2: bool,
    /// Preserve compression during transfer, decompress once received
    #[arg(long = "keep-compression", group = "transfer")]
    keep_compression: bool,
    /// configuration file on the Barman server
    #[arg(short = 'c', long = "config", value_name = "CONFIG")]
    config: Option<String>,
    /// test both the connection and the configuration of the requested PostgreSQL server in
    /// Barman to make sure it is ready to receive WAL files. With this option, the
    /// 'wal_name' and 'wal_dest' mandatory arguments are ignored.
    #[arg(short = 't', long = "test")]
    test: bool,
    /// Internal: run as the background prefetch of the files following this one.
    #[arg(long = "prefetch-after", hide = true, value_name = "WAL_NAME")]
    prefetch_after: Option<String>,
    /// The host of the Barman server.
    #[arg(value_name = "BARMAN_HOST")]
    barman_host: String,
    /// The server name configured in Barman from which WALs are taken.
    #[arg(value_name = "SERVER_NAME")]
    server_name: String,
    /// The value of the '%f' keyword (according to 'restore_command').
    #[arg(value_name = "WAL_NAME")]
    wal_name: String,
    /// The value of the '%p' keyword (according to 'restore_command').
    #[arg(value_name = "WAL_DEST")]
    wal_dest: PathBuf,
}

impl Args {
    fn transfer_compression(&self) -> Option<TransferCompression> {
        if self.gzip {
            Some(TransferCompression::Gzip)
        } else if self.bzip2 {
            Some(TransferCompression::Bzip2)
        } else {
            None
        }
    }

    fn options(&self) -> GetWalOptions {
        GetWalOptions {
            compression: self.transfer_compression(),
            keep_compression: self.keep_compression,
            partial: self.partial,
            ..GetWalOptions::default()
        }
    }

    fn destination(&self) -> Destination {
        Destination {
            host: self.barman_host.clone(),
            port: self.port,
            user: Some(self.user.clone()),
        }
    }
}

/// The checked words of the remote command line.
struct RemoteWords {
    server: RemoteWord,
    config: Option<RemoteWord>,
    wal: RemoteWord,
}

impl RemoteWords {
    fn check(args: &Args, wal_name: &str) -> Result<RemoteWords, String> {
        let word = |role, value: &str| RemoteWord::new(role, value).map_err(|err| err.to_string());
        Ok(RemoteWords {
            server: word(ArgumentRole::ServerName, &args.server_name)?,
            config: args
                .config
                .as_deref()
                .map(|config| word(ArgumentRole::Config, config))
                .transpose()?,
            wal: word(ArgumentRole::WalName, wal_name)?,
        })
    }

    fn request(&self, args: &Args) -> GetWalRequest<'_> {
        GetWalRequest {
            config: self.config.as_ref(),
            server: &self.server,
            options: args.options(),
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(after) = &args.prefetch_after {
        return ExitCode::from(run_prefetch(&args, after));
    }
    ExitCode::from(run(&args))
}

fn run(args: &Args) -> u8 {
    // `--test` ignores WAL_NAME, as Barman does.
    let checked_name = if args.test { "dummy_wal_name" } else { &args.wal_name };
    let words = match RemoteWords::check(args, checked_name) {
        Ok(words) => words,
        Err(message) => return fail(args, &message, EXIT_SSH_OR_LOCAL),
    };
    if args.test {
        return match connect(args)
            .and_then(|connection| test_get_wal(&connection, words.config.as_ref(), &words.server))
        {
            Ok(exit) => print_test_output(&exit),
            Err(err) => ssh_failure(args, &err),
        };
    }
    if let Some(compression) = args.transfer_compression() {
        let name = match compression {
            TransferCompression::Gzip => "gzip",
            TransferCompression::Bzip2 => "bzip2",
        };
        println!(
            "WARNING: `{name}` option is deprecated and will be removed in future versions. For WAL \
             compression, please make sure to enable it directly on the Barman server via the \
             `compression` configuration option"
        );
    }
    if let Err(err) = check_destination(&args.wal_dest) {
        return restore_failure(args, &err);
    }
    if args.parallel > 0 {
        let spool = Spool::new(&args.spool_dir);
        if let Err(err) = spool.ensure_exists() {
            return restore_failure(args, &err);
        }
        match spool.take(words.wal.as_str(), &args.wal_dest) {
            Ok(true) => {
                start_background_prefetch(args);
                return 0;
            }
            Ok(false) => {}
            Err(err) => return restore_failure(args, &err),
        }
    }
    let fetched = connect(args)
        .map_err(RestoreError::Ssh)
        .and_then(|connection| fetch_wal(&connection, &words.request(args), &words.wal, &args.wal_dest));
    match fetched {
        Ok(Fetched::Delivered) => {
            if args.parallel > 1 {
                start_background_prefetch(args);
            }
            0
        }
        Ok(Fetched::RemoteFailed(exit)) => remote_failure(args, &exit),
        Err(err) => restore_failure(args, &err),
    }
}

/// Starts this program again, detached, to prefetch the files following `WAL_NAME`; the
/// request is answered without waiting for it.
fn start_background_prefetch(args: &Args) {
    if args.parallel < 2 {
        return;
    }
    let Ok(program) = std::env::current_exe() else {
        return;
    };
    let mut command = Command::new(program);
    command
        .args(["-U", &args.user, "-p", &args.parallel.to_string(), "--spool-dir"])
        .arg(&args.spool_dir)
        .args(["--prefetch-after", &args.wal_name]);
    if let Some(port) = args.port {
        command.args(["--port", &port.to_string()]);
    }
    if let Some(config) = &args.config {
        command.args(["-c", config]);
    }
    for (set, flag) in [
        (args.partial, "--partial"),
        (args.gzip, "--gzip"),
        (args.bzip2, "--bzip2"),
        (args.keep_compression, "--keep-compression"),
    ] {
        if set {
            command.arg(flag);
        }
    }
    command
        .args([&args.barman_host, &args.server_name, &args.wal_name])
        .arg(&args.wal_dest)
        // Its own process group, and no inherited output: PostgreSQL (or whoever reads this
        // command's output) must not wait for it.
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // A prefetch that cannot start only costs speed: the next request fetches directly.
    let _ = command.spawn();
}

/// The background prefetch: fetches up to `--parallel - 1` files following `after`.
fn run_prefetch(args: &Args, after: &str) -> u8 {
    let Ok(words) = RemoteWords::check(args, after) else {
        return EXIT_SSH_OR_LOCAL;
    };
    let spool = Spool::new(&args.spool_dir);
    let fetched = connect(args)
        .map_err(RestoreError::Ssh)
        .and_then(|connection| spool.prefetch(&connection, &words.request(args), &words.wal, args.parallel - 1));
    match fetched {
        Ok(_) => 0,
        Err(_) => EXIT_SSH_OR_LOCAL,
    }
}

fn connect(args: &Args) -> Result<SshConnection, SshError> {
    SshConnection::connect(&LocalUser::current()?, &args.destination())
}

/// `--test`: the remote output, then an empty line, as Barman prints it; the remote status.
fn print_test_output(exit: &RemoteExit) -> u8 {
    println!("{}", exit.output_text());
    exit.exit_code().unwrap_or(EXIT_SSH_OR_LOCAL)
}

fn remote_failure(args: &Args, exit: &RemoteExit) -> u8 {
    let said = exit.stderr_text();
    if !said.is_empty() {
        eprintln!("{said}");
    }
    fail(
        args,
        &format!(
            "Remote 'barman get-wal' command has failed! (exit status {})",
            exit.status
        ),
        exit.exit_code().unwrap_or(EXIT_SSH_OR_LOCAL),
    )
}

fn restore_failure(args: &Args, err: &RestoreError) -> u8 {
    match err {
        RestoreError::Ssh(err) => ssh_failure(args, err),
        RestoreError::DestinationIsDirectory(_) | RestoreError::DestinationUnwritable { .. } => {
            fail(args, &err.to_string(), EXIT_BAD_DESTINATION)
        }
        _ => fail(args, &err.to_string(), EXIT_SSH_OR_LOCAL),
    }
}

fn ssh_failure(args: &Args, err: &SshError) -> u8 {
    fail(args, &err.with_hint(), EXIT_SSH_OR_LOCAL)
}

/// Prints `ERROR: message`, sleeps `--sleep` seconds (so PostgreSQL does not retry in a
/// tight loop), and returns `status`.
fn fail(args: &Args, message: &str, status: u8) -> u8 {
    eprintln!("ERROR: {message}");
    if args.sleep > 0 {
        eprintln!("Sleeping for {} seconds.", args.sleep);
        std::thread::sleep(Duration::from_secs(args.sleep));
    }
    status
}
