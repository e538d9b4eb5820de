//! The Dapr control-plane services a self-hosted sidecar needs for actors and workflows.
//!
//! Both default to ports that collide (healthz 8080, metrics 9090, raft 8201, etcd 2379/2380):
//! every one of them is given a free loopback port here.

use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::http_probe::answers_2xx;
use crate::ports::free_port;
use crate::process::{ManagedProcess, StartError, start_with_retries};
use crate::runtime::DaprRuntime;

const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The placement service (actor placement tables, used by workflows).
#[derive(Debug)]
pub struct Placement {
    port: u16,
    _process: ManagedProcess,
    _dir: TempDir,
}

impl Placement {
    /// Starts placement with an in-memory raft store and waits for its healthz endpoint.
    pub async fn start() -> anyhow::Result<Self> {
        let runtime = DaprRuntime::locate()?;
        start_with_retries("placement", || async {
            let dir = TempDir::with_prefix("harness-placement-").map_err(anyhow::Error::from)?;
            let (port, healthz, raft) = (free_port()?, free_port()?, free_port()?);
            let mut command = Command::new(runtime.binary("placement"));
            command.current_dir(dir.path()).args([
                "--port",
                &port.to_string(),
                "--listen-address",
                "127.0.0.1",
                "--healthz-port",
                &healthz.to_string(),
                "--healthz-listen-address",
                "127.0.0.1",
                "--initial-cluster",
                &format!("dapr-placement-0=127.0.0.1:{raft}"),
                "--enable-metrics=false",
            ]);
            let mut process = ManagedProcess::spawn("placement", command, &dir.path().join("placement.log"))?;
            let url = format!("http://127.0.0.1:{healthz}/healthz");
            process.wait_until_ready(START_TIMEOUT, || answers_2xx(&url)).await?;
            Ok::<_, StartError>(Self {
                port,
                _process: process,
                _dir: dir,
            })
        })
        .await
    }

    /// `host:port` for daprd's `--placement-host-address`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// The scheduler service (workflow timers and reminders, jobs), with its embedded etcd kept in
/// a temporary directory of its own.
#[derive(Debug)]
pub struct Scheduler {
    port: u16,
    _process: ManagedProcess,
    _dir: TempDir,
}

impl Scheduler {
    /// Starts scheduler with a fresh embedded etcd and waits for its healthz endpoint.
    pub async fn start() -> anyhow::Result<Self> {
        let runtime = DaprRuntime::locate()?;
        start_with_retries("scheduler", || async {
            let dir = TempDir::with_prefix("harness-scheduler-").map_err(anyhow::Error::from)?;
            let (port, healthz, etcd_client, etcd_peer) = (free_port()?, free_port()?, free_port()?, free_port()?);
            let etcd_dir = dir.path().join("etcd");
            let identity_dir = dir.path().join("identity");
            let mut command = Command::new(runtime.binary("scheduler"));
            command.current_dir(dir.path()).args([
                "--port",
                &port.to_string(),
                "--listen-address",
                "127.0.0.1",
                "--healthz-port",
                &healthz.to_string(),
                "--healthz-listen-address",
                "127.0.0.1",
                "--etcd-data-dir",
                &etcd_dir.to_string_lossy(),
                "--etcd-client-port",
                &etcd_client.to_string(),
                "--etcd-client-listen-address",
                "127.0.0.1",
                "--etcd-initial-cluster",
                &format!("dapr-scheduler-server-0=http://127.0.0.1:{etcd_peer}"),
                "--identity-directory-write",
                &identity_dir.to_string_lossy(),
                "--enable-metrics=false",
            ]);
            let mut process = ManagedProcess::spawn("scheduler", command, &dir.path().join("scheduler.log"))?;
            let url = format!("http://127.0.0.1:{healthz}/healthz");
            process.wait_until_ready(START_TIMEOUT, || answers_2xx(&url)).await?;
            Ok::<_, StartError>(Self {
                port,
                _process: process,
                _dir: dir,
            })
        })
        .await
    }

    /// `host:port` for daprd's `--scheduler-host-address`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}
