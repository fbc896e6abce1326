//! Physical replication connections (`replication=1` in libpq terms), for the replication
//! commands Barman sends: `IDENTIFY_SYSTEM`, `CREATE_REPLICATION_SLOT ... PHYSICAL`,
//! `DROP_REPLICATION_SLOT`, `SHOW ...`. Slot commands report the expected refusals (the slot
//! exists, does not exist, is in use, no slot is free) as [`SlotError`]s, told apart by SQLSTATE.
//!
//! The `postgres` crate cannot open such a session (the `replication` start-up parameter is not
//! exposed), so this module speaks the few protocol messages needed, with the message codecs
//! and SCRAM implementation of `postgres-protocol`: start-up with `replication=true`,
//! authentication (trust, cleartext, MD5, SCRAM-SHA-256), then simple queries whose rows come
//! back as text. TLS is not negotiated (the same `sslmode` rule as regular connections applies).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::{md5_hash, sasl};
use postgres_protocol::message::{backend, frontend};

use super::conninfo::ConnInfo;
use super::{effective_conninfo, ClientEnvironment, PostgresError};
use crate::redact::redact_passwords;

/// How long a replication connection may take to open when `connect_timeout` is not set.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The transport: TCP or a Unix-domain socket.
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
        }
    }
}

/// An open physical replication session.
pub struct ReplicationConnection {
    stream: Stream,
    buffer: BytesMut,
    dsn: String,
}

/// The rows of a simple query, every value as text (`None` for NULL), with the column names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextRows {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows of values.
    pub rows: Vec<Vec<Option<String>>>,
}

/// SQLSTATEs of the slot commands' expected failures.
const SQLSTATE_DUPLICATE_OBJECT: &str = "42710";
const SQLSTATE_UNDEFINED_OBJECT: &str = "42704";
const SQLSTATE_OBJECT_IN_USE: &str = "55006";
const SQLSTATE_CONFIGURATION_LIMIT_EXCEEDED: &str = "53400";

/// Why a replication slot could not be created or dropped.
#[derive(Debug, thiserror::Error)]
pub enum SlotError {
    /// Creating: a slot of that name exists.
    #[error("replication slot \"{0}\" already exists")]
    AlreadyExists(String),
    /// Dropping: there is no such slot.
    #[error("replication slot \"{0}\" does not exist")]
    DoesNotExist(String),
    /// Dropping: a client streams from it.
    #[error("replication slot \"{0}\" is active")]
    InUse(String),
    /// Creating: `max_replication_slots` are all taken (the server's message).
    #[error("{0}")]
    AllInUse(String),
    /// Any other refusal (the server's message).
    #[error("{0}")]
    Refused(String),
    /// The connection failed.
    #[error(transparent)]
    Connection(#[from] PostgresError),
}

/// The answer to `IDENTIFY_SYSTEM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemIdentity {
    /// The cluster's system identifier.
    pub system_identifier: String,
    /// The current timeline.
    pub timeline: u32,
    /// The current WAL flush location, `X/Y`.
    pub xlogpos: String,
}

impl ReplicationConnection {
    /// Opens a physical replication session for `dsn` (a `streaming_conninfo`).
    pub fn connect(dsn: &str, env: &ClientEnvironment) -> Result<Self, PostgresError> {
        let (info, passfile_note) = effective_conninfo(dsn, env)?;
        let shown = redact_passwords(&info.to_string()).into_owned();
        let fail = |message: String| {
            let hint = super::connection_hint(&message, &info, env).or_else(|| passfile_note.clone());
            PostgresError::Connect {
                dsn: shown.clone(),
                message,
                hint,
            }
        };
        let stream = open_stream(&info).map_err(|e| fail(e.to_string()))?;
        let mut connection = ReplicationConnection {
            stream,
            buffer: BytesMut::new(),
            dsn: shown.clone(),
        };
        let user = info.user(&env.os_user).to_string();
        let application_name = info.get("application_name").unwrap_or("barman").to_string();
        let parameters = [
            ("user", user.as_str()),
            ("database", "replication"),
            ("replication", "true"),
            ("application_name", application_name.as_str()),
            ("client_encoding", "UTF8"),
        ];
        connection
            .authenticate(&parameters, info.get("password"), &user)
            .map_err(fail)?;
        Ok(connection)
    }

    /// Runs `IDENTIFY_SYSTEM`.
    pub fn identify_system(&mut self) -> Result<SystemIdentity, PostgresError> {
        let result = self.simple_query("IDENTIFY_SYSTEM")?;
        let row = result
            .rows
            .first()
            .ok_or_else(|| self.protocol_error("IDENTIFY_SYSTEM returned no row"))?;
        let column = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
        Ok(SystemIdentity {
            system_identifier: column(0),
            timeline: column(1)
                .parse()
                .map_err(|_| self.protocol_error("IDENTIFY_SYSTEM returned a bad timeline"))?,
            xlogpos: column(2),
        })
    }

    /// Runs one replication command or `SHOW`, returning its rows as text.
    pub fn simple_query(&mut self, query: &str) -> Result<TextRows, PostgresError> {
        self.query_with_sqlstate(query)?
            .map_err(|(_, message)| PostgresError::Connect {
                dsn: self.dsn.clone(),
                message,
                hint: None,
            })
    }

    /// `CREATE_REPLICATION_SLOT <name> PHYSICAL`. The name goes unquoted, as the replication
    /// grammar wants it: Barman's `slot_name` option only allows lower-case letters, digits and
    /// underscores.
    pub fn create_physical_slot(&mut self, name: &str) -> Result<(), SlotError> {
        self.slot_command(&format!("CREATE_REPLICATION_SLOT {name} PHYSICAL"), name)
    }

    /// `DROP_REPLICATION_SLOT <name>`.
    pub fn drop_slot(&mut self, name: &str) -> Result<(), SlotError> {
        self.slot_command(&format!("DROP_REPLICATION_SLOT {name}"), name)
    }

    fn slot_command(&mut self, command: &str, name: &str) -> Result<(), SlotError> {
        match self.query_with_sqlstate(command)? {
            Ok(_) => Ok(()),
            Err((sqlstate, message)) => Err(match sqlstate.as_str() {
                SQLSTATE_DUPLICATE_OBJECT => SlotError::AlreadyExists(name.to_owned()),
                SQLSTATE_UNDEFINED_OBJECT => SlotError::DoesNotExist(name.to_owned()),
                SQLSTATE_OBJECT_IN_USE => SlotError::InUse(name.to_owned()),
                SQLSTATE_CONFIGURATION_LIMIT_EXCEEDED => SlotError::AllInUse(message),
                _ => SlotError::Refused(message),
            }),
        }
    }

    /// Runs a simple query: the rows, or the server's error as `(SQLSTATE, message)`; the outer
    /// error is a failure of the connection itself.
    fn query_with_sqlstate(&mut self, query: &str) -> Result<Result<TextRows, (String, String)>, PostgresError> {
        let mut out = BytesMut::new();
        frontend::query(query, &mut out).map_err(|e| self.io_error(e))?;
        self.stream.write_all(&out).map_err(|e| self.io_error(e))?;
        let mut result = TextRows {
            columns: Vec::new(),
            rows: Vec::new(),
        };
        let mut error = None;
        loop {
            match self.receive().map_err(|e| self.io_error(e))? {
                backend::Message::RowDescription(body) => {
                    result.columns = body
                        .fields()
                        .map(|f| Ok(f.name().to_string()))
                        .collect()
                        .map_err(|e| self.io_error(e))?;
                }
                backend::Message::DataRow(body) => {
                    let buffer = body.buffer();
                    let row = body
                        .ranges()
                        .map(|range| Ok(range.map(|r| String::from_utf8_lossy(&buffer[r]).into_owned())))
                        .collect()
                        .map_err(|e| self.io_error(e))?;
                    result.rows.push(row);
                }
                backend::Message::ErrorResponse(body) => {
                    error = Some((error_field(&body, b'C').unwrap_or_default(), error_message(&body)));
                }
                backend::Message::ReadyForQuery(_) => break,
                _ => {}
            }
        }
        Ok(match error {
            Some(failure) => Err(failure),
            None => Ok(result),
        })
    }

    fn authenticate(&mut self, parameters: &[(&str, &str)], password: Option<&str>, user: &str) -> Result<(), String> {
        let mut out = BytesMut::new();
        frontend::startup_message(parameters.iter().copied(), &mut out).map_err(|e| e.to_string())?;
        self.stream.write_all(&out).map_err(|e| e.to_string())?;
        let missing_password = || "password missing: no password in conninfo nor in the password file".to_string();
        let mut scram: Option<sasl::ScramSha256> = None;
        loop {
            match self.receive().map_err(|e| e.to_string())? {
                backend::Message::AuthenticationOk => {}
                backend::Message::AuthenticationCleartextPassword => {
                    let password = password.ok_or_else(missing_password)?;
                    self.send(|buf| frontend::password_message(password.as_bytes(), buf))?;
                }
                backend::Message::AuthenticationMd5Password(body) => {
                    let password = password.ok_or_else(missing_password)?;
                    let hashed = md5_hash(user.as_bytes(), password.as_bytes(), body.salt());
                    self.send(|buf| frontend::password_message(hashed.as_bytes(), buf))?;
                }
                backend::Message::AuthenticationSasl(body) => {
                    let offers_scram = body
                        .mechanisms()
                        .any(|m| Ok(m == sasl::SCRAM_SHA_256))
                        .map_err(|e| e.to_string())?;
                    if !offers_scram {
                        return Err("the server offers no SASL mechanism this client supports".into());
                    }
                    let password = password.ok_or_else(missing_password)?;
                    let state = sasl::ScramSha256::new(password.as_bytes(), sasl::ChannelBinding::unsupported());
                    self.send(|buf| frontend::sasl_initial_response(sasl::SCRAM_SHA_256, state.message(), buf))?;
                    scram = Some(state);
                }
                backend::Message::AuthenticationSaslContinue(body) => {
                    let state = scram.as_mut().ok_or("unexpected SASL message")?;
                    state.update(body.data()).map_err(|e| e.to_string())?;
                    let message = state.message().to_vec();
                    self.send(|buf| frontend::sasl_response(&message, buf))?;
                }
                backend::Message::AuthenticationSaslFinal(body) => {
                    let state = scram.as_mut().ok_or("unexpected SASL message")?;
                    state.finish(body.data()).map_err(|e| e.to_string())?;
                }
                backend::Message::ErrorResponse(body) => return Err(error_message(&body)),
                backend::Message::ReadyForQuery(_) => return Ok(()),
                _ => {}
            }
        }
    }

    fn send(&mut self, encode: impl FnOnce(&mut BytesMut) -> io::Result<()>) -> Result<(), String> {
        let mut out = BytesMut::new();
        encode(&mut out).map_err(|e| e.to_string())?;
        self.stream.write_all(&out).map_err(|e| e.to_string())
    }

    /// The next complete backend message, reading more bytes as needed.
    fn receive(&mut self) -> io::Result<backend::Message> {
        loop {
            if let Some(message) = backend::Message::parse(&mut self.buffer)? {
                return Ok(message);
            }
            let mut chunk = [0u8; 8192];
            let read = self.stream.read(&mut chunk)?;
            if read == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                ));
            }
            self.buffer.extend_from_slice(&chunk[..read]);
        }
    }

    fn io_error(&self, error: io::Error) -> PostgresError {
        PostgresError::Connect {
            dsn: self.dsn.clone(),
            message: error.to_string(),
            hint: None,
        }
    }

    fn protocol_error(&self, message: &str) -> PostgresError {
        PostgresError::Connect {
            dsn: self.dsn.clone(),
            message: message.to_string(),
            hint: None,
        }
    }
}

impl Drop for ReplicationConnection {
    fn drop(&mut self) {
        let mut out = BytesMut::new();
        frontend::terminate(&mut out);
        let _ = self.stream.write_all(&out);
    }
}

/// Connects to the first host of `info` that accepts (TCP, or the socket in a directory).
fn open_stream(info: &ConnInfo) -> io::Result<Stream> {
    let timeout = info
        .get("connect_timeout")
        .and_then(|t| t.parse::<u64>().ok())
        .filter(|t| *t > 0)
        .map_or(DEFAULT_CONNECT_TIMEOUT, |t| Duration::from_secs(t.max(2)));
    let port = info.port();
    let mut last_error = io::Error::new(io::ErrorKind::NotFound, "no host to connect to");
    for host in info.host().split(',') {
        let attempt = if host.starts_with('/') {
            UnixStream::connect(format!("{host}/.s.PGSQL.{port}")).map(Stream::Unix)
        } else {
            connect_tcp(host, port, timeout).map(Stream::Tcp)
        };
        match attempt {
            Ok(stream) => return Ok(stream),
            Err(error) => last_error = io::Error::new(error.kind(), format!("{host}:{port}: {error}")),
        }
    }
    Err(last_error)
}

fn connect_tcp(host: &str, port: u16, timeout: Duration) -> io::Result<TcpStream> {
    use std::net::ToSocketAddrs;
    let mut last_error = io::Error::new(io::ErrorKind::NotFound, format!("cannot resolve host '{host}'"));
    for address in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&address, timeout) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(error) => last_error = error,
        }
    }
    Err(last_error)
}

/// The `M` (message) field of an error response.
fn error_message(body: &backend::ErrorResponseBody) -> String {
    error_field(body, b'M').unwrap_or_else(|| "the server reported an error".into())
}

/// One field of an error response (`C`: SQLSTATE, `M`: message).
fn error_field(body: &backend::ErrorResponseBody, field_type: u8) -> Option<String> {
    let mut fields = body.fields();
    while let Ok(Some(field)) = fields.next() {
        if field.type_() == field_type {
            return Some(String::from_utf8_lossy(field.value_bytes()).into_owned());
        }
    }
    None
}
