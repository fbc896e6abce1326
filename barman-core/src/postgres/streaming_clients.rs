//! The clients streaming WAL from a server (`pg_stat_replication`), as Barman's
//! `replication-status` lists them: hot standbys (they replay WAL) and WAL streamers such as
//! `pg_receivewal` (they do not), with their positions compared to the server's and the
//! synchronisation stage Barman derives from them.

use super::server::{timestamp, PostgresServer, QueryError, Timestamp, WalNames};
use crate::wal::Lsn;

/// Which clients to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientFilter {
    /// Every streaming client.
    All,
    /// Hot standbys only (`replay_lsn` set).
    HotStandby,
    /// WAL streamers only (`replay_lsn` unset).
    WalStreamer,
}

/// One row of `pg_stat_replication`, with its replication slot and the server's position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamingClient {
    /// The WAL sender's process ID.
    pub pid: Option<i32>,
    /// The role it connected as.
    pub usename: Option<String>,
    /// Its `application_name`.
    pub application_name: Option<String>,
    /// Its IP address; `None` over a Unix socket.
    pub client_addr: Option<String>,
    /// Its host name, when `log_hostname` is on.
    pub client_hostname: Option<String>,
    /// Its TCP port (`-1` over a Unix socket).
    pub client_port: Option<i32>,
    /// When it connected.
    pub backend_start: Option<Timestamp>,
    /// The `xmin` horizon it reports (with `hot_standby_feedback`).
    pub backend_xmin: Option<String>,
    /// `startup`, `catchup`, `streaming`, ...
    pub state: Option<String>,
    /// Last position sent.
    pub sent_lsn: Option<String>,
    /// Last position written by the client.
    pub write_lsn: Option<String>,
    /// Last position flushed by the client.
    pub flush_lsn: Option<String>,
    /// Last position replayed (standbys only).
    pub replay_lsn: Option<String>,
    /// Its priority as a synchronous standby (0: asynchronous).
    pub sync_priority: i32,
    /// `async`, `potential`, `sync` or `quorum`.
    pub sync_state: String,
    /// The physical replication slot it uses.
    pub slot_name: Option<String>,
    /// The server's position at the time of the query (the last received one on a standby).
    pub current_lsn: Option<String>,
}

/// The streaming clients of a server and its current position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationStatus {
    /// The server's WAL position (the last replayed one on a standby).
    pub server_lsn: Option<String>,
    /// The clients, synchronous ones first.
    pub clients: Vec<StreamingClient>,
}

impl StreamingClient {
    /// Whether it replays WAL (a hot standby) rather than only storing it.
    pub fn is_standby(&self) -> bool {
        self.replay_lsn.is_some()
    }

    /// How many bytes `lsn` is ahead of the server's position (negative: behind).
    pub fn lsn_diff(&self, lsn: Option<&str>) -> Option<i64> {
        let lsn: Lsn = lsn?.parse().ok()?;
        let current: Lsn = self.current_lsn.as_deref()?.parse().ok()?;
        Some(lsn.0 as i64 - current.0 as i64)
    }

    /// Barman's synchronisation stage: for standbys `5/5 Hot standby (max)` when replay caught
    /// up, `4/5 2-safe` when flush did, then for every client `3/N Remote write`,
    /// `2/N WAL Sent (min)` or `1/N 1-safe`.
    pub fn sync_stage(&self) -> String {
        let caught_up = |lsn: &Option<String>| self.lsn_diff(lsn.as_deref()) == Some(0);
        let levels = if self.is_standby() {
            if caught_up(&self.replay_lsn) {
                return "5/5 Hot standby (max)".into();
            }
            if caught_up(&self.flush_lsn) {
                return "4/5 2-safe".into();
            }
            5
        } else {
            3
        };
        if caught_up(&self.write_lsn) {
            format!("3/{levels} Remote write")
        } else if caught_up(&self.sent_lsn) {
            format!("2/{levels} WAL Sent (min)")
        } else {
            format!("1/{levels} 1-safe")
        }
    }
}

/// Asks the server for its streaming clients matching `filter`. The role needs Barman's
/// monitoring privileges to see them: check [`PostgresServer::monitoring_privileges`] first.
pub fn replication_status(server: &mut PostgresServer, filter: ClientFilter) -> Result<ReplicationStatus, QueryError> {
    let WalNames {
        current_lsn: current,
        last_replay_lsn: replayed,
        last_receive_lsn: received,
        position_column: column,
        ..
    } = server.wal_names();
    let server_lsn: Option<String> = server
        .client()
        .query_typed_one(
            &format!("SELECT (CASE WHEN pg_is_in_recovery() THEN {replayed}() ELSE {current}() END)::text"),
            &[],
        )?
        .get(0);
    let filter = match filter {
        ClientFilter::All => String::new(),
        ClientFilter::HotStandby => format!(" AND r.replay_{column} IS NOT NULL"),
        ClientFilter::WalStreamer => format!(" AND r.replay_{column} IS NULL"),
    };
    let query = format!(
        "SELECT r.pid, r.usename::text, r.application_name, host(r.client_addr), r.client_hostname, \
         r.client_port, to_char(r.backend_start, 'YYYY-MM-DD\"T\"HH24:MI:SS.USTZH:TZM'), \
         r.backend_xmin::text, r.state, r.sent_{column}::text, r.write_{column}::text, \
         r.flush_{column}::text, r.replay_{column}::text, r.sync_priority, r.sync_state, \
         rs.slot_name::text, \
         (CASE WHEN pg_is_in_recovery() THEN {received}() ELSE {current}() END)::text \
         FROM pg_stat_replication r \
         LEFT JOIN pg_replication_slots rs ON (r.pid = rs.active_pid) \
         WHERE (rs.slot_type IS NULL OR rs.slot_type = 'physical'){filter} \
         ORDER BY r.sync_state DESC, r.sync_priority"
    );
    let rows = server.client().query_typed(&query, &[])?;
    let clients = rows
        .iter()
        .map(|row| {
            Ok(StreamingClient {
                pid: row.try_get(0)?,
                usename: row.try_get(1)?,
                application_name: row.try_get(2)?,
                client_addr: row.try_get(3)?,
                client_hostname: row.try_get(4)?,
                client_port: row.try_get(5)?,
                backend_start: timestamp(row.try_get(6)?),
                backend_xmin: row.try_get(7)?,
                state: row.try_get(8)?,
                sent_lsn: row.try_get(9)?,
                write_lsn: row.try_get(10)?,
                flush_lsn: row.try_get(11)?,
                replay_lsn: row.try_get(12)?,
                sync_priority: row.try_get::<_, Option<i32>>(13)?.unwrap_or(0),
                sync_state: row.try_get::<_, Option<String>>(14)?.unwrap_or_default(),
                slot_name: row.try_get(15)?,
                current_lsn: row.try_get(16)?,
            })
        })
        .collect::<Result<_, postgres::Error>>()?;
    Ok(ReplicationStatus { server_lsn, clients })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(sent: &str, write: &str, flush: &str, replay: Option<&str>) -> StreamingClient {
        StreamingClient {
            pid: Some(1),
            usename: None,
            application_name: None,
            client_addr: None,
            client_hostname: None,
            client_port: None,
            backend_start: None,
            backend_xmin: None,
            state: None,
            sent_lsn: Some(sent.into()),
            write_lsn: Some(write.into()),
            flush_lsn: Some(flush.into()),
            replay_lsn: replay.map(Into::into),
            sync_priority: 0,
            sync_state: "async".into(),
            slot_name: None,
            current_lsn: Some("0/2000148".into()),
        }
    }

    #[test]
    fn sync_stages_follow_barman() {
        let streamer = client("0/2000148", "0/2000000", "0/2000000", None);
        assert_eq!(streamer.sync_stage(), "2/3 WAL Sent (min)");
        assert_eq!(streamer.lsn_diff(streamer.write_lsn.as_deref()), Some(-328));
        assert_eq!(
            client("0/2000148", "0/2000148", "0/0", None).sync_stage(),
            "3/3 Remote write"
        );
        assert_eq!(client("0/0", "0/0", "0/0", None).sync_stage(), "1/3 1-safe");
        let standby = client("0/2000148", "0/2000148", "0/2000148", Some("0/2000148"));
        assert_eq!(standby.sync_stage(), "5/5 Hot standby (max)");
        let lagging = client("0/2000148", "0/2000148", "0/2000148", Some("0/1000000"));
        assert_eq!(lagging.sync_stage(), "4/5 2-safe");
        assert!(lagging.is_standby() && !streamer.is_standby());
    }
}
