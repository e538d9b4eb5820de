//! A private redis-server: its own port and directory, no persistence, gone when dropped.

use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::process::{ManagedProcess, StartError, free_port, start_with_retries};
use crate::runtime;

const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A redis-server started for one test.
#[derive(Debug)]
pub struct Redis {
    port: u16,
    _process: ManagedProcess,
    _dir: TempDir,
}

impl Redis {
    /// Starts redis-server (from `PATH`) on a free loopback port and waits until it answers PING.
    pub async fn start() -> anyhow::Result<Self> {
        let program = runtime::redis_server()?;
        start_with_retries("redis-server", || async {
            let dir = TempDir::with_prefix("it-redis-").map_err(anyhow::Error::from)?;
            let port = free_port()?;
            let mut command = Command::new(&program);
            command.current_dir(dir.path()).args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ]);
            let mut process =
                ManagedProcess::spawn("redis-server", command, &dir.path().join("redis.log"))?;
            process
                .wait_until_ready(START_TIMEOUT, || answers_ping(port))
                .await?;
            Ok::<_, StartError>(Self {
                port,
                _process: process,
                _dir: dir,
            })
        })
        .await
    }

    /// `host:port`, as Dapr's redis components take it.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

async fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").await.is_ok()
        && stream.read_exact(&mut reply).await.is_ok()
        && &reply == b"+PONG\r\n"
}
