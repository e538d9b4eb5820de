//! A private redis-server: its own port, no persistence, gone when dropped.

use std::process::Command;
use std::time::Duration;

use anyhow::bail;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::ports::free_port;
use crate::process::{ManagedProcess, StartError, start_with_retries};

const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A redis-server started for one test (or one stack).
#[derive(Debug)]
pub struct Redis {
    port: u16,
    process: ManagedProcess,
    _dir: TempDir,
}

impl Redis {
    /// Starts redis-server (from `PATH`) on a free loopback port and waits until it answers PING.
    pub async fn start() -> anyhow::Result<Self> {
        start_with_retries("redis-server", || Self::try_start(None)).await
    }

    /// Starts redis-server on loopback port `port` (e.g. 6379, where `dapr init` puts it) and
    /// waits until it answers PING. Fails if the port is taken.
    pub async fn start_on(port: u16) -> anyhow::Result<Self> {
        match Self::try_start(Some(port)).await {
            Ok(redis) => Ok(redis),
            Err(StartError::PortTaken) => bail!("starting redis-server on port {port}: the port is taken"),
            Err(StartError::Failed(error)) => Err(error.context(format!("starting redis-server on port {port}"))),
        }
    }

    async fn try_start(port: Option<u16>) -> Result<Self, StartError> {
        let dir = TempDir::with_prefix("harness-redis-").map_err(anyhow::Error::from)?;
        let port = match port {
            Some(port) => port,
            None => free_port()?,
        };
        let mut command = Command::new("redis-server");
        command.current_dir(dir.path()).args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "no",
        ]);
        let mut process =
            ManagedProcess::spawn("redis-server", command, &dir.path().join("redis.log")).map_err(|e| {
                StartError::Failed(
                    e.context("is redis-server installed? `make dapr` installs it from Debian's packages"),
                )
            })?;
        process.wait_until_ready(START_TIMEOUT, || answers_ping(port)).await?;
        Ok(Self {
            port,
            process,
            _dir: dir,
        })
    }

    /// The loopback port redis listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host:port`, as Dapr's redis components take it.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// What redis-server has logged.
    pub fn log(&self) -> String {
        self.process.log()
    }
}

/// The raw entries of the redis stream `stream` on loopback port `port` (what `XRANGE stream - +`
/// answers, unparsed: enough to look for a value in it), read with a PING after it so the end of
/// the answer is known.
pub async fn stream_entries(port: u16, stream: &str) -> anyhow::Result<String> {
    let mut connection = TcpStream::connect(("127.0.0.1", port)).await?;
    let command = format!(
        "*4\r\n$6\r\nXRANGE\r\n${}\r\n{stream}\r\n$1\r\n-\r\n$1\r\n+\r\n*1\r\n$4\r\nPING\r\n",
        stream.len()
    );
    connection.write_all(command.as_bytes()).await?;
    let mut answer = Vec::new();
    while !answer.ends_with(b"+PONG\r\n") {
        let mut chunk = [0u8; 4096];
        let read = connection.read(&mut chunk).await?;
        if read == 0 {
            bail!("redis on port {port} closed the connection before answering XRANGE {stream}");
        }
        answer.extend_from_slice(&chunk[..read]);
    }
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// True when something on loopback port `port` answers a redis PING with PONG.
pub(crate) async fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").await.is_ok() && stream.read_exact(&mut reply).await.is_ok() && &reply == b"+PONG\r\n"
}
