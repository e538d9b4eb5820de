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

/// The TCP sockets bound to any of `ports` on this machine, one line each as `ss -tanp` shows
/// them (state, addresses, owning process when visible): for an error that says who holds a port.
/// Best effort: says so when `ss` (iproute2) cannot be run.
pub fn sockets_on(ports: &[u16]) -> String {
    let output = match std::process::Command::new("ss").args(["-Htanp"]).output() {
        Ok(output) if output.status.success() => output,
        Ok(output) => return format!("(ss -tanp failed: {})", output.status),
        Err(error) => return format!("(ss -tanp could not run: {error})"),
    };
    let held: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| {
            let local = line.split_whitespace().nth(3).unwrap_or_default();
            ports.iter().any(|port| local.ends_with(&format!(":{port}")))
        })
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    if held.is_empty() {
        "(no socket on them now)".to_owned()
    } else {
        held.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_on_names_a_listener_and_only_the_ports_asked_for() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = sockets_on(&[port]);
        assert!(
            seen.starts_with("LISTEN") && seen.contains(&format!("127.0.0.1:{port}")),
            "{seen}"
        );
        assert_eq!(seen.lines().count(), 1, "{seen}");
        drop(listener);
        assert_eq!(sockets_on(&[port]), "(no socket on them now)");
    }
}
