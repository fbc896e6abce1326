//! One remote command on an exec channel: its standard input and output are streamed by
//! the caller, its standard error is collected, and [`RemoteProcess::finish`] returns the
//! exit status. Like `ssh`, the command line is handed to the remote user's shell as is.
//!
//! Writing standard input needs care: a command that exits without reading (a server
//! refusing the request) leaves the channel's send window closed forever, and a blocking
//! libssh2 write would wait for it forever. Input is therefore written in non-blocking
//! mode: whenever the window is closed, the command's output is collected and, once the
//! command has closed its output, writing stops with [`io::ErrorKind::BrokenPipe`].

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::sync::Arc;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use ssh2::{BlockDirections, Channel, Session};

use super::config::ResolvedHost;
use super::error::SshError;

/// Receive window of each channel: a whole 16 MiB segment can be in flight, so the server
/// never waits for window adjustments on a loopback or LAN link.
const CHANNEL_WINDOW: u32 = 16 * 1024 * 1024;
/// Largest packet the server may send (OpenSSH's session default).
const CHANNEL_PACKET: u32 = 32 * 1024;

/// How a remote command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteExit {
    /// The exit status.
    pub status: i32,
    /// Standard output the caller had not read.
    pub stdout: Vec<u8>,
    /// Standard error, in full.
    pub stderr: Vec<u8>,
}

impl RemoteExit {
    /// Standard error as text, lossily decoded, without the trailing newline.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).trim_end().to_owned()
    }

    /// Standard output followed by standard error, lossily decoded (what `ssh` shows when
    /// both go to one terminal).
    pub fn output_text(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&self.stderr));
        text
    }

    /// The status as a process exit code; `None` when it does not fit in one.
    pub fn exit_code(&self) -> Option<u8> {
        u8::try_from(self.status).ok()
    }
}

/// A command running on the remote host.
pub struct RemoteProcess {
    channel: Channel,
    session: Session,
    socket: Arc<TcpStream>,
    command: String,
    host: String,
    port: u16,
    /// Output collected while input was being written.
    early_stdout: Vec<u8>,
    early_stderr: Vec<u8>,
}

impl RemoteProcess {
    pub(crate) fn start(
        session: &Session,
        socket: &Arc<TcpStream>,
        host: &ResolvedHost,
        command: &str,
    ) -> Result<RemoteProcess, SshError> {
        let refused = |err: ssh2::Error| SshError::RemoteCommand {
            command: command.to_owned(),
            reason: format!("the server refused to start it: {}", err.message()),
        };
        let mut channel = session
            .channel_open("session", CHANNEL_WINDOW, CHANNEL_PACKET, None)
            .map_err(refused)?;
        channel.exec(command).map_err(refused)?;
        Ok(RemoteProcess {
            channel,
            session: session.clone(),
            socket: Arc::clone(socket),
            command: command.to_owned(),
            host: host.hostname.clone(),
            port: host.port,
            early_stdout: Vec::new(),
            early_stderr: Vec::new(),
        })
    }

    /// The command's standard input. Writes fail with [`io::ErrorKind::BrokenPipe`] once the
    /// command has closed its output without reading everything.
    pub fn stdin(&mut self) -> StdinWriter<'_> {
        self.session.set_blocking(false);
        StdinWriter { process: self }
    }

    /// The command's standard output.
    pub fn stdout(&mut self) -> &mut impl Read {
        &mut self.channel
    }

    /// Turns an I/O error met while streaming into the SSH error it stands for.
    pub fn transfer_error(&self, err: &io::Error) -> SshError {
        SshError::Protocol {
            host: self.host.clone(),
            port: self.port,
            stage: "data transfer",
            reason: err.to_string(),
        }
    }

    /// Closes standard input, collects what is left of standard output and all of standard
    /// error, and waits for the exit status.
    pub fn finish(mut self) -> Result<RemoteExit, SshError> {
        // The command may have exited without reading its input; its status tells.
        let _ = self.channel.send_eof();
        let mut stdout = std::mem::take(&mut self.early_stdout);
        self.channel
            .read_to_end(&mut stdout)
            .map_err(|err| self.transfer_error(&err))?;
        let mut stderr = std::mem::take(&mut self.early_stderr);
        self.channel
            .stderr()
            .read_to_end(&mut stderr)
            .map_err(|err| self.transfer_error(&err))?;
        self.channel.wait_close().map_err(|err| SshError::Protocol {
            host: self.host.clone(),
            port: self.port,
            stage: "command completion",
            reason: err.message().to_owned(),
        })?;
        if let Ok(signal) = self.channel.exit_signal() {
            if let Some(name) = signal.exit_signal {
                return Err(SshError::RemoteCommand {
                    command: self.command,
                    reason: format!(
                        "killed by signal {name}{}",
                        describe_stderr(&String::from_utf8_lossy(&stderr))
                    ),
                });
            }
        }
        let status = self.channel.exit_status().map_err(|err| SshError::RemoteCommand {
            command: self.command.clone(),
            reason: format!("no exit status: {}", err.message()),
        })?;
        Ok(RemoteExit { status, stdout, stderr })
    }
}

/// The standard input of a [`RemoteProcess`], written in non-blocking mode (see the module
/// documentation); the session is back in blocking mode when the writer is dropped.
pub struct StdinWriter<'a> {
    process: &'a mut RemoteProcess,
}

impl StdinWriter<'_> {
    /// Moves whatever output has arrived into the process's buffers, so that libssh2 can
    /// report the end of the command's output.
    fn collect_output(&mut self) -> io::Result<()> {
        let process = &mut *self.process;
        read_available(&mut process.channel, &mut process.early_stdout)?;
        read_available(&mut process.channel.stderr(), &mut process.early_stderr)
    }

    /// Waits until the socket is ready in the direction libssh2 is blocked on.
    fn wait_for_socket(&self) -> io::Result<()> {
        let flags = match self.process.session.block_directions() {
            BlockDirections::Inbound => PollFlags::POLLIN,
            BlockDirections::Outbound => PollFlags::POLLOUT,
            BlockDirections::Both | BlockDirections::None => PollFlags::POLLIN | PollFlags::POLLOUT,
        };
        let mut fds = [PollFd::new(self.process.socket.as_fd(), flags)];
        loop {
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => return Ok(()),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(errno) => return Err(io::Error::from(errno)),
            }
        }
    }
}

impl Write for StdinWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match self.process.channel.write(buf) {
                Ok(written) if written > 0 || buf.is_empty() => return Ok(written),
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                Err(err) => return Err(err),
            }
            self.collect_output()?;
            if self.process.channel.eof() {
                return Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "the remote command ended without reading all of its input",
                ));
            }
            self.wait_for_socket()?;
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        loop {
            match self.process.channel.flush() {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => self.wait_for_socket()?,
                other => return other,
            }
        }
    }
}

impl Drop for StdinWriter<'_> {
    fn drop(&mut self) {
        self.process.session.set_blocking(true);
    }
}

/// Appends to `collected` what `stream` has ready, without waiting (non-blocking session).
fn read_available(stream: &mut impl Read, collected: &mut Vec<u8>) -> io::Result<()> {
    let mut buffer = [0u8; 8192];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(read) => collected.extend_from_slice(&buffer[..read]),
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(err) => return Err(err),
        }
    }
}

fn describe_stderr(stderr: &str) -> String {
    let stderr = stderr.trim_end();
    if stderr.is_empty() {
        String::new()
    } else {
        format!("; it said: {stderr}")
    }
}
