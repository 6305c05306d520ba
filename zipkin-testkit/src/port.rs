//! Loopback ports for the servers a test starts.

use std::collections::BTreeSet;
use std::sync::Mutex;

/// A loopback port free now and never handed out before in this process (two servers of one
/// test binary never get the same port even if the first has not bound it yet).
pub fn free_port() -> u16 {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("no free loopback port: {e}"));
        if GIVEN.lock().unwrap_or_else(|p| p.into_inner()).insert(port) {
            return port;
        }
    }
}
