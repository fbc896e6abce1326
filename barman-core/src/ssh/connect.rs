//! Opening an authenticated SSH connection: resolve the destination through the ssh
//! configuration, connect over TCP, handshake preferring host key types that can be
//! verified, verify the host key, authenticate.

use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use ssh2::{MethodType, Session};

use super::auth::authenticate;
use super::error::SshError;
use super::exec::RemoteProcess;
use super::known_hosts::KnownHosts;
use super::{Destination, LocalUser, ResolvedHost};

/// Without `ConnectTimeout`, an unreachable host fails after this long rather than holding
/// PostgreSQL's archiver for minutes.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Limit for each step of the handshake and authentication; transfers have none.
const SETUP_TIMEOUT_MS: u32 = 60_000;

/// Ciphers that run at memory speed with AES-NI come first; the rest of libssh2's list
/// follows so that any server still finds a common one.
const CIPHER_PREFERENCE: &str = "aes128-gcm@openssh.com,aes256-gcm@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,\
chacha20-poly1305@openssh.com";

/// An authenticated connection to one host, ready to run commands.
pub struct SshConnection {
    session: Session,
    /// A second handle on the session's socket, to wait for it in non-blocking writes.
    socket: Arc<TcpStream>,
    host: ResolvedHost,
}

impl SshConnection {
    /// Connects `local` to `destination` (its user, or `User` from the configuration, or
    /// the local user name).
    pub fn connect(local: &LocalUser, destination: &Destination) -> Result<SshConnection, SshError> {
        let host = local.resolve(destination)?;
        let user = host.user.clone().unwrap_or_else(|| local.name.clone());
        let stream = open_tcp(&host)?;
        let protocol_error = |stage: &'static str| {
            let host = &host;
            move |err: ssh2::Error| SshError::Protocol {
                host: host.hostname.clone(),
                port: host.port,
                stage,
                reason: err.message().to_owned(),
            }
        };
        let mut session = Session::new().map_err(protocol_error("session set-up"))?;
        session.set_timeout(SETUP_TIMEOUT_MS);
        let known_hosts = KnownHosts::read(
            &[
                host.user_known_hosts_files.clone(),
                host.global_known_hosts_files.clone(),
            ]
            .concat(),
        );
        session
            .method_pref(
                MethodType::HostKey,
                &known_hosts.algorithm_preference(&session, &host.hostname, host.port),
            )
            .map_err(protocol_error("session set-up"))?;
        for method in [MethodType::CryptCs, MethodType::CryptSc] {
            session
                .method_pref(method, CIPHER_PREFERENCE)
                .map_err(protocol_error("session set-up"))?;
        }
        let socket = Arc::new(stream.try_clone().map_err(|err| SshError::Connect {
            host: host.hostname.clone(),
            port: host.port,
            reason: format!("cannot duplicate the socket: {err}"),
        })?);
        session.set_tcp_stream(stream);
        session.handshake().map_err(protocol_error("handshake"))?;
        known_hosts.verify(&session, &host.hostname, host.port)?;
        authenticate(&session, &host, &user, &local.home)?;
        session.set_timeout(0);
        Ok(SshConnection { session, socket, host })
    }

    /// Starts `command` on a new exec channel.
    pub fn start(&self, command: &str) -> Result<RemoteProcess, SshError> {
        RemoteProcess::start(&self.session, &self.socket, &self.host, command)
    }

    /// The host actually connected to.
    pub fn host(&self) -> &ResolvedHost {
        &self.host
    }
}

fn open_tcp(host: &ResolvedHost) -> Result<TcpStream, SshError> {
    let failed = |reason: String| SshError::Connect {
        host: host.hostname.clone(),
        port: host.port,
        reason,
    };
    let timeout = host
        .connect_timeout_seconds
        .map_or(DEFAULT_CONNECT_TIMEOUT, Duration::from_secs);
    let addresses = (host.hostname.as_str(), host.port)
        .to_socket_addrs()
        .map_err(|err| failed(format!("cannot resolve the host name: {err}")))?;
    let mut last_error = None;
    for address in addresses {
        match TcpStream::connect_timeout(&address, timeout) {
            Ok(stream) => {
                // Requests are small and latency-bound; Nagle would delay them.
                stream
                    .set_nodelay(true)
                    .map_err(|err| failed(format!("cannot configure the socket: {err}")))?;
                return Ok(stream);
            }
            Err(err) => last_error = Some(format!("{address}: {err}")),
        }
    }
    Err(failed(
        last_error.unwrap_or_else(|| "the host name resolves to no address".to_owned()),
    ))
}
