//! Free loopback ports.
//!
//! The kernel picks a free port for a socket bound to port 0; we release it at once and hand
//! the number to a child process. Two things can still go wrong, and both are handled:
//! the same test process asking twice before the child binds (prevented by remembering every
//! port handed out), and another process taking the port in between (the caller retries the
//! whole start with fresh ports, see [`crate::process::start_with_retries`]).

use std::collections::HashSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::{Mutex, OnceLock};

fn handed_out() -> &'static Mutex<HashSet<u16>> {
    static PORTS: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    PORTS.get_or_init(Default::default)
}

/// A loopback TCP port that was free a moment ago and that this process has not handed out before.
pub fn free_port() -> anyhow::Result<u16> {
    loop {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port();
        let mut ports = handed_out().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if ports.insert(port) {
            return Ok(port);
        }
    }
}
