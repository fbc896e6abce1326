//! Free TCP ports on the loopback address. The kernel picks an unused port when binding
//! to port 0; the listener is closed right away so a server can take it. Another process
//! may grab the port in between, so servers retry with a new port when binding fails.

use std::collections::BTreeSet;
use std::net::{TcpListener, TcpStream};
use std::sync::Mutex;
use std::time::Duration;

use crate::LOOPBACK;

/// A loopback port that is free now and was not handed out before in this process
/// (tests run in parallel threads and must not race each other for one port).
pub(crate) fn free_loopback_port() -> u16 {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    loop {
        let listener = TcpListener::bind((LOOPBACK, 0)).expect("bind a loopback port");
        let port = listener.local_addr().expect("local address").port();
        if HANDED_OUT.lock().expect("port registry").insert(port) {
            return port;
        }
    }
}

pub(crate) fn accepts_connections(port: u16) -> bool {
    let address = (std::net::Ipv4Addr::LOCALHOST, port).into();
    TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok()
}
