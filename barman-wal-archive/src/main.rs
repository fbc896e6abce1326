//! `barman-wal-archive`: PostgreSQL's `archive_command` client. Sends one WAL file to
//! `barman put-wal` on the Barman host over SSH, with Barman's options and exit codes:
//! the remote status is passed through, 2 means a local error, 3 an SSH connection problem.

use std::path::PathBuf;
use std::process::ExitCode;

use barman_core::compression::{CompressionKind, CompressionLevel};
use barman_core::protocol::ChecksumAlgorithm;
use barman_core::remote::archive::{prepare_wal, put_wal, test_put_wal, ArchiveError, PutWalRequest};
use barman_core::remote::command::{ArgumentRole, RemoteWord};
use barman_core::ssh::{Destination, LocalUser, RemoteExit, SshConnection, SshError};
use clap::Parser;

/// A local problem: bad argument, unreadable WAL, failed compression.
const EXIT_LOCAL_ERROR: u8 = 2;
/// The SSH connection could not be established or broke.
const EXIT_SSH_PROBLEM: u8 = 3;

/// This script will be used as an 'archive_command' based on the put-wal feature of
/// Barman. A ssh connection will be opened to the Barman host.
#[derive(Debug, Parser)]
#[command(name = "barman-wal-archive", version, disable_version_flag = true)]
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
    /// configuration file on the Barman server
    #[arg(short = 'c', long = "config", value_name = "CONFIG")]
    config: Option<String>,
    /// test both the connection and the configuration of the requested PostgreSQL server in
    /// Barman for WAL retrieval. With this option, the 'wal_name' mandatory argument is
    /// ignored.
    #[arg(short = 't', long = "test")]
    test: bool,
    /// Use MD5 as the hash algorithm to maintain compatibility between mismatched client
    /// and server versions.
    #[arg(long)]
    md5: bool,
    /// gzip-compress the WAL file before sending it
    #[arg(short = 'z', long = "gzip", overrides_with_all = COMPRESSION_FLAGS)]
    gzip: bool,
    /// bzip2-compress the WAL file before sending it
    #[arg(short = 'j', long = "bzip2", overrides_with_all = COMPRESSION_FLAGS)]
    bzip2: bool,
    /// xz-compress the WAL file before sending it
    #[arg(long, overrides_with_all = COMPRESSION_FLAGS)]
    xz: bool,
    /// snappy-compress the WAL file before sending it
    #[arg(long, overrides_with_all = COMPRESSION_FLAGS)]
    snappy: bool,
    /// zstd-compress the WAL file before sending it
    #[arg(long, overrides_with_all = COMPRESSION_FLAGS)]
    zstd: bool,
    /// lz4-compress the WAL file before sending it
    #[arg(long, overrides_with_all = COMPRESSION_FLAGS)]
    lz4: bool,
    /// A compression level for the specified compression algorithm
    #[arg(long = "compression-level", value_parser = parse_compression_level)]
    compression_level: Option<CompressionLevel>,
    /// Accepted for compatibility with Barman 3.20; every call archives exactly the WAL
    /// PostgreSQL asks for (no prefetching of following segments).
    #[arg(short = 'p', long = "parallel", default_value_t = 0)]
    parallel: u32,
    /// Accepted for compatibility with Barman 3.20 (used with --parallel only, which does
    /// not prefetch here).
    #[arg(long = "prefetch-cache-dir", value_name = "PREFETCH_CACHE_DIR")]
    prefetch_cache_dir: Option<PathBuf>,
    /// The host of the Barman server.
    #[arg(value_name = "BARMAN_HOST")]
    barman_host: String,
    /// The server name configured in Barman from which WALs are taken.
    #[arg(value_name = "SERVER_NAME")]
    server_name: String,
    /// The value of the '%p' keyword (according to 'archive_command').
    #[arg(value_name = "WAL_PATH")]
    wal_path: PathBuf,
}

const COMPRESSION_FLAGS: [&str; 6] = ["gzip", "bzip2", "xz", "snappy", "zstd", "lz4"];

impl Args {
    /// The compression flag given last (they override each other, as in Barman).
    fn compression(&self) -> Option<CompressionKind> {
        [
            (self.gzip, CompressionKind::Gzip),
            (self.bzip2, CompressionKind::Bzip2),
            (self.xz, CompressionKind::Xz),
            (self.snappy, CompressionKind::Snappy),
            (self.zstd, CompressionKind::Zstd),
            (self.lz4, CompressionKind::Lz4),
        ]
        .into_iter()
        .find_map(|(set, kind)| set.then_some(kind))
    }

    fn destination(&self) -> Destination {
        Destination {
            host: self.barman_host.clone(),
            port: self.port,
            user: Some(self.user.clone()),
        }
    }
}

/// Barman's `parse_compression_level`: `low`, `medium`, `high` (any case) or an integer.
fn parse_compression_level(text: &str) -> Result<CompressionLevel, String> {
    text.to_ascii_lowercase().parse().map_err(|err| format!("{err}"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    ExitCode::from(run(&args))
}

fn run(args: &Args) -> u8 {
    let server = match RemoteWord::new(ArgumentRole::ServerName, &args.server_name) {
        Ok(server) => server,
        Err(err) => return local_error(&err.to_string()),
    };
    let config = match args
        .config
        .as_deref()
        .map(|config| RemoteWord::new(ArgumentRole::Config, config))
    {
        Some(Err(err)) => return local_error(&err.to_string()),
        Some(Ok(config)) => Some(config),
        None => None,
    };
    if args.test {
        return match connect(args).and_then(|connection| test_put_wal(&connection, config.as_ref(), &server)) {
            Ok(exit) => print_test_output(&exit),
            Err(err) => ssh_error(&err),
        };
    }
    let request = PutWalRequest {
        config: config.as_ref(),
        server: &server,
        wal_path: &args.wal_path,
        checksum: if args.md5 {
            ChecksumAlgorithm::Md5
        } else {
            ChecksumAlgorithm::Sha256
        },
        compression: args
            .compression()
            .map(|kind| (kind, args.compression_level.unwrap_or_default())),
    };
    let outcome = prepare_wal(&request).and_then(|wal| {
        let connection = connect(args)?;
        put_wal(&connection, &request, &wal)
    });
    match outcome {
        Ok(exit) => report_remote_exit(&exit),
        Err(ArchiveError::Ssh(err)) => ssh_error(&err),
        Err(err) => local_error(&err.to_string()),
    }
}

fn connect(args: &Args) -> Result<SshConnection, SshError> {
    SshConnection::connect(&LocalUser::current()?, &args.destination())
}

/// `--test`: the remote output, then an empty line, as Barman prints it; the remote status.
fn print_test_output(exit: &RemoteExit) -> u8 {
    println!("{}", exit.output_text());
    exit.exit_code().unwrap_or(EXIT_LOCAL_ERROR)
}

/// Passes the remote status through; on failure shows what the server said.
fn report_remote_exit(exit: &RemoteExit) -> u8 {
    if exit.status == 0 {
        return 0;
    }
    let said = exit.stderr_text();
    if !said.is_empty() {
        eprintln!("{said}");
    }
    eprintln!(
        "ERROR: Remote 'barman put-wal' command has failed! (exit status {})",
        exit.status
    );
    exit.exit_code().unwrap_or(EXIT_LOCAL_ERROR)
}

fn local_error(message: &str) -> u8 {
    eprintln!("ERROR: {message}");
    EXIT_LOCAL_ERROR
}

fn ssh_error(err: &SshError) -> u8 {
    eprintln!("ERROR: {}", err.with_hint());
    if err.is_local() {
        EXIT_LOCAL_ERROR
    } else {
        EXIT_SSH_PROBLEM
    }
}
