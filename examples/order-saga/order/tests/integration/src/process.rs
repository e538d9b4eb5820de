//! Child processes that live exactly as long as their handle, free loopback ports, and readiness
//! probes. No fixed sleeps: every start polls the process's own health endpoint.

use std::collections::HashSet;
use std::fs::File;
use std::future::Future;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};

/// How often a readiness probe is repeated.
pub(crate) const PROBE_INTERVAL: Duration = Duration::from_millis(50);
/// How many lines of a process's log a failure report shows.
const LOG_TAIL_LINES: usize = 60;
/// How many times a start is retried with fresh ports when another process took one of them.
const PORT_RETRIES: usize = 5;

/// A loopback TCP port that was free a moment ago and that this test process has not handed out
/// before (so parallel tests never pick the same one). Another process may still take it before
/// the child binds it: starts detect that ([`StartError::PortTaken`]) and retry with fresh ports.
pub fn free_port() -> anyhow::Result<u16> {
    static HANDED_OUT: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    loop {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        let mut handed_out = HANDED_OUT
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if handed_out.insert(port) {
            return Ok(port);
        }
    }
}

/// A running child process whose output goes to a log file. Dropping it kills the process; when
/// that happens because a test panicked, the tail of its log is printed first, so the failure
/// shows what the process said.
#[derive(Debug)]
pub struct ManagedProcess {
    name: String,
    child: Child,
    log_path: PathBuf,
}

impl ManagedProcess {
    /// Starts `command` with stdout and stderr written to `log_path`.
    pub fn spawn(
        name: impl Into<String>,
        mut command: Command,
        log_path: &Path,
    ) -> anyhow::Result<Self> {
        let name = name.into();
        let log =
            File::create(log_path).with_context(|| format!("creating {}", log_path.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| {
                format!(
                    "starting {name} ({})",
                    command.get_program().to_string_lossy()
                )
            })?;
        Ok(Self {
            name,
            child,
            log_path: log_path.to_owned(),
        })
    }

    /// Everything the process has written so far.
    pub fn log(&self) -> String {
        std::fs::read(&self.log_path)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    }

    /// The last lines of the log, for failure reports.
    pub fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }

    /// Waits until `probe` answers true; fails when the process exits first or `timeout` passes.
    pub async fn wait_until_ready<F, Fut>(
        &mut self,
        timeout: Duration,
        mut probe: F,
    ) -> Result<(), StartError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let started = Instant::now();
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .map_err(|error| StartError::Failed(error.into()))?
            {
                let tail = self.log_tail();
                if tail.to_lowercase().contains("address already in use") {
                    return Err(StartError::PortTaken);
                }
                return Err(StartError::Failed(anyhow!(
                    "{} exited during start-up ({status}); last lines of its log:\n{tail}",
                    self.name
                )));
            }
            if probe().await {
                return Ok(());
            }
            if started.elapsed() > timeout {
                return Err(StartError::Failed(anyhow!(
                    "{} was not ready after {timeout:?}; last lines of its log:\n{}",
                    self.name,
                    self.log_tail()
                )));
            }
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
    }
}

impl Drop for ManagedProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "----- {} (log {}) -----\n{}\n-----",
                self.name,
                self.log_path.display(),
                self.log_tail()
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Why a process did not come up.
#[derive(Debug)]
pub enum StartError {
    /// Another process bound one of the chosen ports first: try again with fresh ports.
    PortTaken,
    /// Anything else, with the process's own words.
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for StartError {
    fn from(error: anyhow::Error) -> Self {
        Self::Failed(error)
    }
}

/// Runs `start` (which picks its own free ports) until it succeeds, retrying only when a port
/// was taken by another process in the meantime.
pub async fn start_with_retries<T, F, Fut>(what: &str, mut start: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StartError>>,
{
    for _ in 0..PORT_RETRIES {
        match start().await {
            Ok(started) => return Ok(started),
            Err(StartError::PortTaken) => continue,
            Err(StartError::Failed(error)) => return Err(error.context(format!("starting {what}"))),
        }
    }
    bail!("starting {what}: a port was taken by another process {PORT_RETRIES} times in a row")
}

/// The client readiness probes use: short timeouts, so a hung endpoint cannot stall a start.
pub(crate) fn probe_client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("a reqwest client with a timeout builds")
    })
}

/// True when `url` answers `GET` with a 2xx status.
pub(crate) async fn answers_2xx(url: &str) -> bool {
    matches!(probe_client().get(url).send().await, Ok(response) if response.status().is_success())
}
