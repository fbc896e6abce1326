//! Runs one command on a host through `barman_core::ssh`, the way the WAL clients connect:
//! `~/.ssh/config`, verified host key, key authentication, one exec channel. Standard input
//! is forwarded to the command and its output printed; the exit status is the command's.
//!
//! ```sh
//! cargo run --release -p barman-core --example ssh_exec -- [-p PORT] USER@HOST COMMAND...
//! ```
//!
//! `benches/wal-path.sh` uses it to measure the floor of the WAL path: connect,
//! authenticate and run `true`.

use std::io::{self, Write};
use std::process::ExitCode;

use barman_core::ssh::{Destination, LocalUser, SshConnection, SshError};

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let port = match args.first().map(String::as_str) {
        Some("-p") if args.len() > 1 => {
            let port = args[1].parse().ok();
            args.drain(..2);
            port
        }
        _ => None,
    };
    if args.len() < 2 {
        eprintln!("usage: ssh_exec [-p PORT] USER@HOST COMMAND...");
        return ExitCode::from(2);
    }
    let (user, host) = match args[0].split_once('@') {
        Some((user, host)) => (Some(user.to_owned()), host.to_owned()),
        None => (None, args[0].clone()),
    };
    let destination = Destination { host, port, user };
    match run(&destination, &args[1..].join(" ")) {
        Ok(status) => ExitCode::from(u8::try_from(status).unwrap_or(255)),
        Err(err) => {
            eprintln!("ERROR: {}", err.with_hint());
            ExitCode::from(255)
        }
    }
}

fn run(destination: &Destination, command: &str) -> Result<i32, SshError> {
    let connection = SshConnection::connect(&LocalUser::current()?, destination)?;
    let mut process = connection.start(command)?;
    // Large writes keep SSH packets full, as the WAL clients do.
    let copied = io::copy(
        &mut io::stdin().lock(),
        &mut io::BufWriter::with_capacity(256 * 1024, process.stdin()),
    );
    copied.map_err(|err| process.transfer_error(&err))?;
    let exit = process.finish()?;
    let mut stdout = io::stdout().lock();
    let written = stdout.write_all(&exit.stdout).and_then(|()| stdout.flush());
    written.map_err(|source| SshError::Local {
        context: "cannot write the command's output".to_owned(),
        source,
    })?;
    eprint!("{}", String::from_utf8_lossy(&exit.stderr));
    Ok(exit.status)
}
