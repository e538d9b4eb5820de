//! The Dapr control-plane services workflows need in self-hosted mode: placement (actor
//! placement) and scheduler (workflow timers and reminders). Their default ports collide with
//! everything (8080, 9090, 2379…), so each gets free loopback ports of its own.

use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::process::{ManagedProcess, StartError, answers_2xx, free_port, start_with_retries};
use crate::runtime::DaprRuntime;

const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The placement service, with an in-memory raft store.
#[derive(Debug)]
pub struct Placement {
    port: u16,
    _process: ManagedProcess,
    _dir: TempDir,
}

impl Placement {
    /// Starts placement and waits for its health endpoint.
    pub async fn start() -> anyhow::Result<Self> {
        let program = DaprRuntime::locate()?.binary("placement")?;
        start_with_retries("placement", || async {
            let dir = TempDir::with_prefix("it-placement-").map_err(anyhow::Error::from)?;
            let (port, healthz, raft) = (free_port()?, free_port()?, free_port()?);
            let mut command = Command::new(&program);
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
            let mut process =
                ManagedProcess::spawn("placement", command, &dir.path().join("placement.log"))?;
            let url = format!("http://127.0.0.1:{healthz}/healthz");
            process
                .wait_until_ready(START_TIMEOUT, || answers_2xx(&url))
                .await?;
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

/// The scheduler service, with its embedded etcd in a directory of its own.
#[derive(Debug)]
pub struct Scheduler {
    port: u16,
    _process: ManagedProcess,
    _dir: TempDir,
}

impl Scheduler {
    /// Starts scheduler and waits for its health endpoint.
    pub async fn start() -> anyhow::Result<Self> {
        let program = DaprRuntime::locate()?.binary("scheduler")?;
        start_with_retries("scheduler", || async {
            let dir = TempDir::with_prefix("it-scheduler-").map_err(anyhow::Error::from)?;
            let (port, healthz, etcd_client, etcd_peer) =
                (free_port()?, free_port()?, free_port()?, free_port()?);
            let mut command = Command::new(&program);
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
                &dir.path().join("etcd").to_string_lossy(),
                "--etcd-client-port",
                &etcd_client.to_string(),
                "--etcd-client-listen-address",
                "127.0.0.1",
                "--etcd-initial-cluster",
                &format!("dapr-scheduler-server-0=http://127.0.0.1:{etcd_peer}"),
                "--identity-directory-write",
                &dir.path().join("identity").to_string_lossy(),
                "--enable-metrics=false",
            ]);
            let mut process =
                ManagedProcess::spawn("scheduler", command, &dir.path().join("scheduler.log"))?;
            let url = format!("http://127.0.0.1:{healthz}/healthz");
            process
                .wait_until_ready(START_TIMEOUT, || answers_2xx(&url))
                .await?;
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
