//! Child processes that live exactly as long as their handle, with their output kept in a log file.

use std::fs::File;
use std::future::Future;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};

/// How often a readiness probe is repeated while a process starts.
pub(crate) const PROBE_INTERVAL: Duration = Duration::from_millis(50);
/// How many lines of a process's log a failure report shows.
const LOG_TAIL_LINES: usize = 40;
/// How many times a start is retried with fresh ports when another process took one of them.
const PORT_RETRIES: usize = 5;

/// A running child process. Dropping it kills the process, also while a test panics; in that
/// case the tail of its log is printed first, so a failed test shows what the process said.
#[derive(Debug)]
pub struct ManagedProcess {
    name: String,
    child: Child,
    log_path: PathBuf,
    /// Leads a process group of its own: signals go to the whole group (its children too).
    own_group: bool,
}

impl ManagedProcess {
    /// Starts `command` with stdout and stderr appended to `log_path`.
    pub fn spawn(name: impl Into<String>, command: Command, log_path: &Path) -> anyhow::Result<Self> {
        Self::spawn_with(name, command, log_path, false)
    }

    /// Like [`ManagedProcess::spawn`], but the process leads a new process group, as `dapr run`
    /// starts an app: a terminal's Ctrl-C does not reach it directly, and stopping it (or
    /// dropping the handle) signals everything it started, e.g. the binary `go run` builds.
    pub fn spawn_in_own_group(name: impl Into<String>, command: Command, log_path: &Path) -> anyhow::Result<Self> {
        Self::spawn_with(name, command, log_path, true)
    }

    fn spawn_with(
        name: impl Into<String>,
        mut command: Command,
        log_path: &Path,
        own_group: bool,
    ) -> anyhow::Result<Self> {
        let name = name.into();
        let log = File::create(log_path).with_context(|| format!("creating {}", log_path.display()))?;
        if own_group {
            std::os::unix::process::CommandExt::process_group(&mut command, 0);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {name} ({:?})", command.get_program()))?;
        Ok(Self {
            name,
            child,
            log_path: log_path.to_owned(),
            own_group,
        })
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Where its output goes.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Its exit status, if it has exited.
    pub fn try_exit_status(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        Ok(self.child.try_wait()?)
    }

    /// Sends SIGTERM (to its whole group when it leads one) and waits up to `timeout` for it to
    /// exit, returning its exit status; a process that exited earlier returns that status at once.
    /// One still running after `timeout` is killed (SIGKILL), and that is an error.
    pub async fn terminate(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        if let Some(status) = self.child.try_wait()? {
            return Ok(status);
        }
        self.signal(libc::SIGTERM)?;
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if started.elapsed() > timeout {
                let _ = self.signal(libc::SIGKILL);
                let _ = self.child.wait();
                bail!(
                    "{} did not exit within {timeout:?} of SIGTERM and was killed; last lines of its log:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
    }

    /// Kills the process at once (SIGKILL, to its whole group when it leads one), as a crash
    /// would, and returns its exit status; a process that exited earlier returns that status.
    pub fn kill(&mut self) -> anyhow::Result<ExitStatus> {
        if let Some(status) = self.child.try_wait()? {
            return Ok(status);
        }
        self.signal(libc::SIGKILL)?;
        Ok(self.child.wait()?)
    }

    /// Sends `signal` to the process, or to its group when it leads one.
    fn signal(&self, signal: libc::c_int) -> anyhow::Result<()> {
        let pid = libc::pid_t::try_from(self.child.id())?;
        let target = if self.own_group { -pid } else { pid };
        // SAFETY: kill(2) takes plain integers; the pid is our own unreaped child (or its group).
        if unsafe { libc::kill(target, signal) } != 0 {
            let error = std::io::Error::last_os_error();
            // The process (group) is already gone: nothing left to signal.
            if error.raw_os_error() != Some(libc::ESRCH) {
                return Err(error).with_context(|| format!("signalling {}", self.name));
            }
        }
        Ok(())
    }

    /// The process's name in reports.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Everything the process has written so far.
    pub fn log(&self) -> String {
        read_log(&self.log_path)
    }

    /// The last lines of the log, for failure reports.
    pub fn log_tail(&self) -> String {
        log_tail_of(&self.log_path)
    }

    /// Waits until `probe` answers true, failing when the process exits or `timeout` passes.
    pub async fn wait_until_ready<F, Fut>(&mut self, timeout: Duration, mut probe: F) -> Result<(), StartError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| StartError::Failed(e.into()))? {
                let tail = self.log_tail();
                if tail.contains("address already in use") || tail.contains("Address already in use") {
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
        if self.own_group {
            // Its children too (also when it has exited itself): they are in its group, and
            // nothing else would stop them.
            let _ = self.signal(libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Everything in the log file at `path` (lossy; empty if unreadable).
fn read_log(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut file) = File::open(path) {
        // Logs are read whole: they are small for test runs, and a lossy read never fails.
        let mut bytes = Vec::new();
        let _ = file.seek(SeekFrom::Start(0)).and_then(|_| file.read_to_end(&mut bytes));
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    text
}

/// The last lines of the log file at `path`, also after its process is gone.
pub(crate) fn log_tail_of(path: &Path) -> String {
    let log = read_log(path);
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}

/// Why a process did not come up.
#[derive(Debug)]
pub enum StartError {
    /// Another process bound one of our ports first: try again with fresh ports.
    PortTaken,
    /// Anything else, with the process's own words.
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for StartError {
    fn from(error: anyhow::Error) -> Self {
        Self::Failed(error)
    }
}

/// Runs `start` (which picks its own free ports) until it succeeds, retrying only when a port was
/// taken by someone else in the meantime.
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
