//! The Dapr control-plane services a self-hosted sidecar needs for actors and workflows.
//!
//! Both default to ports that collide (healthz 8080, metrics 9090, raft 8201, etcd 2379/2380):
//! every one of them is given a free loopback port here.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::bail;
use tempfile::TempDir;

use crate::http_probe::answers_2xx;
use crate::ports::{free_port, sockets_on};
use crate::process::{ManagedProcess, StartError, start_with_retries};
use crate::runtime::DaprRuntime;

const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How often, and how far apart, a start on fixed ports is tried again while a port is taken.
// A previous run's service on the same fixed ports may still be exiting, and on a loaded machine
// that took longer than 3 s once: wait up to 15 s before calling the port taken.
const FIXED_PORT_TRIES: u32 = 50;
const FIXED_PORT_PAUSE: Duration = Duration::from_millis(300);

/// The placement service (actor placement tables, used by workflows).
#[derive(Debug)]
pub struct Placement(ControlPlaneService);

impl Placement {
    /// Starts placement with an in-memory raft store and waits for its healthz endpoint.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(None).await
    }

    /// Starts placement with its gRPC API on loopback port `port` and its healthz endpoint on
    /// `healthz_port` (`dapr init` uses 50005 and 58080). Fails if either stays taken.
    pub async fn start_on(port: u16, healthz_port: u16) -> anyhow::Result<Self> {
        Self::start_with(Some((port, healthz_port))).await
    }

    async fn start_with(ports: Option<(u16, u16)>) -> anyhow::Result<Self> {
        ControlPlaneService::start("placement", ports, |_dir| {
            let raft = free_port()?;
            Ok(vec![
                "--initial-cluster".into(),
                format!("dapr-placement-0=127.0.0.1:{raft}"),
            ])
        })
        .await
        .map(Self)
    }

    /// `host:port` for daprd's `--placement-host-address`.
    pub fn address(&self) -> String {
        self.0.address()
    }
}

/// The scheduler service (workflow timers and reminders, jobs), with its embedded etcd kept in
/// a temporary directory of its own.
#[derive(Debug)]
pub struct Scheduler(ControlPlaneService);

impl Scheduler {
    /// Starts scheduler with a fresh embedded etcd and waits for its healthz endpoint.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(None).await
    }

    /// Starts scheduler with its gRPC API on loopback port `port` and its healthz endpoint on
    /// `healthz_port` (`dapr init` uses 50006 and 58081); its etcd takes free ports. Fails if
    /// either stays taken.
    pub async fn start_on(port: u16, healthz_port: u16) -> anyhow::Result<Self> {
        Self::start_with(Some((port, healthz_port))).await
    }

    async fn start_with(ports: Option<(u16, u16)>) -> anyhow::Result<Self> {
        ControlPlaneService::start("scheduler", ports, |dir| {
            let (etcd_client, etcd_peer) = (free_port()?, free_port()?);
            Ok(vec![
                "--etcd-data-dir".into(),
                dir.join("etcd").to_string_lossy().into_owned(),
                "--etcd-client-port".into(),
                etcd_client.to_string(),
                "--etcd-client-listen-address".into(),
                "127.0.0.1".into(),
                "--etcd-initial-cluster".into(),
                format!("dapr-scheduler-server-0=http://127.0.0.1:{etcd_peer}"),
                "--identity-directory-write".into(),
                dir.join("identity").to_string_lossy().into_owned(),
            ])
        })
        .await
        .map(Self)
    }

    /// `host:port` for daprd's `--scheduler-host-address`.
    pub fn address(&self) -> String {
        self.0.address()
    }
}

/// One control-plane process: its gRPC and healthz ports on loopback, metrics off, its own
/// working directory, ready when `/healthz` answers.
#[derive(Debug)]
struct ControlPlaneService {
    port: u16,
    _process: ManagedProcess,
    _dir: TempDir,
}

impl ControlPlaneService {
    /// Starts the runtime binary `name` with the common flags plus those `extra_args` returns
    /// for its working directory (which picks any further free ports it needs). Its gRPC and
    /// healthz ports are `ports` when given (a port taken for longer than 3 s is an error), else
    /// free ones (retried with fresh ports when another process takes one).
    async fn start(
        name: &'static str,
        ports: Option<(u16, u16)>,
        extra_args: impl Fn(&Path) -> anyhow::Result<Vec<String>>,
    ) -> anyhow::Result<Self> {
        let runtime = DaprRuntime::locate()?;
        let attempt = || async {
            let dir = TempDir::with_prefix(format!("harness-{name}-")).map_err(anyhow::Error::from)?;
            let (port, healthz) = match ports {
                Some(ports) => ports,
                None => (free_port()?, free_port()?),
            };
            let mut command = Command::new(runtime.binary(name));
            command
                .current_dir(dir.path())
                .args([
                    "--port",
                    &port.to_string(),
                    "--listen-address",
                    "127.0.0.1",
                    "--healthz-port",
                    &healthz.to_string(),
                    "--healthz-listen-address",
                    "127.0.0.1",
                    "--enable-metrics=false",
                ])
                .args(extra_args(dir.path())?);
            let mut process = ManagedProcess::spawn(name, command, &dir.path().join(format!("{name}.log")))?;
            let url = format!("http://127.0.0.1:{healthz}/healthz");
            process.wait_until_ready(START_TIMEOUT, || answers_2xx(&url)).await?;
            Ok::<_, StartError>(Self {
                port,
                _process: process,
                _dir: dir,
            })
        };
        let Some((port, healthz)) = ports else {
            return start_with_retries(name, attempt).await;
        };
        // `dapr init`'s health ports (58080, 58081) lie in Linux's ephemeral port range, so a
        // client connection of any process may hold one for a moment: such a port is tried again
        // for a while; one held by a listener stays taken and fails.
        let mut tries = 0;
        loop {
            match attempt().await {
                Ok(service) => return Ok(service),
                Err(StartError::PortTaken) if tries < FIXED_PORT_TRIES => {
                    tries += 1;
                    tokio::time::sleep(FIXED_PORT_PAUSE).await;
                }
                Err(StartError::PortTaken) => bail!(
                    "starting {name} on ports {port} (gRPC) and {healthz} (healthz): one of them stayed taken for {:?}; \
                     sockets on them:\n{}",
                    FIXED_PORT_PAUSE * FIXED_PORT_TRIES,
                    sockets_on(&[port, healthz])
                ),
                Err(StartError::Failed(error)) => return Err(error.context(format!("starting {name} on port {port}"))),
            }
        }
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}
