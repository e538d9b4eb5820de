//! The generated service as a process of its own (so its memory can be read from `/proc`),
//! configured the way `dapr run -f .` configures it, killed when dropped.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use dapr_harness::Daprd;

/// How often readiness is polled.
const PROBE_INTERVAL: Duration = Duration::from_millis(50);

/// Resident memory of a process, in KiB, from `/proc/PID/status`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss_kib: u64,
    /// `VmHWM`: the highest resident size since the process started.
    pub hwm_kib: u64,
}

/// The running service. Dropping it kills it.
#[derive(Debug)]
pub struct ServiceProcess {
    child: Child,
    port: u16,
    log: PathBuf,
    http: reqwest::Client,
}

impl ServiceProcess {
    /// Starts `binary` in `service_dir` with its config/default.toml and the variables `dapr run`
    /// sets (sidecar ports, APP_PORT, APP_API_TOKEN), logging to `log`.
    pub fn start(
        binary: &Path,
        service_dir: &Path,
        sidecar: &Daprd,
        port: u16,
        app_api_token: &str,
        log: &Path,
    ) -> anyhow::Result<Self> {
        let config = service_dir.join("config").join("default.toml");
        let config_text = std::fs::read_to_string(&config).with_context(|| format!("reading {}", config.display()))?;
        let mut command = Command::new(binary);
        command
            .current_dir(service_dir)
            .env("APP_CONFIG", &config)
            .env("APP_PORT", port.to_string())
            .env("DAPR_HTTP_PORT", sidecar.http_port().to_string())
            .env("DAPR_GRPC_PORT", sidecar.grpc_port().to_string())
            .env("APP_API_TOKEN", app_api_token)
            .env_remove("DAPR_API_TOKEN")
            .env_remove("DAPR_GRPC_ENDPOINT")
            .env_remove("DAPR_HTTP_ENDPOINT");
        if config_text.lines().any(|line| line.trim() == "[grpc]") {
            // Not used by the benchmark; any free port keeps it from colliding with another run.
            command.env("APP__GRPC__PORT", "0");
        }
        let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
        Ok(Self {
            child,
            port,
            log: log.to_owned(),
            http,
        })
    }

    /// The service's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The service's base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until `/readyz` answers 2xx and the sidecar reports the app channel healthy
    /// (`/v1.0/healthz`), failing with the service's log when it exits or `timeout` passes.
    pub async fn wait_until_ready(&mut self, sidecar: &Daprd, timeout: Duration) -> anyhow::Result<()> {
        let probes = [
            format!("{}/readyz", self.url()),
            format!("{}/v1.0/healthz", sidecar.http_url()),
        ];
        let started = Instant::now();
        for probe in &probes {
            loop {
                if let Some(status) = self.child.try_wait()? {
                    bail!(
                        "the service exited while starting ({status}); its log:\n{}",
                        self.log_tail()
                    );
                }
                if self
                    .http
                    .get(probe)
                    .send()
                    .await
                    .is_ok_and(|response| response.status().is_success())
                {
                    break;
                }
                if started.elapsed() > timeout {
                    bail!(
                        "{probe} did not answer 2xx within {timeout:?}; the service's log:\n{}",
                        self.log_tail()
                    );
                }
                tokio::time::sleep(PROBE_INTERVAL).await;
            }
        }
        Ok(())
    }

    /// Creates `count` records through the API (POST), answering their ids.
    pub async fn create_records(&self, resources_path: &str, count: usize) -> anyhow::Result<Vec<String>> {
        let url = format!("{}/{resources_path}", self.url());
        let mut ids = Vec::with_capacity(count);
        for n in 0..count {
            let response = self
                .http
                .post(&url)
                .json(&serde_json::json!({ "name": format!("bench {n}"), "quantity": 1 }))
                .send()
                .await?;
            let status = response.status();
            let body = response.text().await?;
            if status != reqwest::StatusCode::CREATED {
                bail!("POST {url} answered {status}: {body}");
            }
            let created: serde_json::Value = serde_json::from_str(&body)?;
            let id = created["id"].as_str().with_context(|| format!("no id in {body}"))?;
            ids.push(id.to_owned());
        }
        Ok(ids)
    }

    /// The service's resident memory now.
    pub fn memory(&self) -> anyhow::Result<Memory> {
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .with_context(|| format!("no {name} in {path}"))
        };
        Ok(Memory {
            rss_kib: field("VmRSS:")?,
            hwm_kib: field("VmHWM:")?,
        })
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
