//! Where the programs the tests start are installed, and what to do when one is missing.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::bail;

/// How to install the Dapr runtime, for the messages of a failed start.
const INSTALL_DAPR: &str = "Install the Dapr CLI (https://docs.dapr.io/getting-started/install-dapr-cli/) and run \
     `dapr init --slim`, which puts daprd, placement and scheduler into ~/.dapr/bin without Docker; \
     inside the daprgen repository `make dapr` builds and installs the pinned runtime instead. \
     Set DAPR_HOME if your runtime lives elsewhere.";
/// How to install redis, for the messages of a failed start.
const INSTALL_REDIS: &str = "Install redis-server and put it on PATH (Debian/Ubuntu: `apt-get install redis-server`, \
     macOS: `brew install redis`); inside the daprgen repository `make dapr` installs it too.";

/// The Dapr runtime's binaries: `daprd`, and `placement` and `scheduler` for workflows.
#[derive(Debug, Clone)]
pub struct DaprRuntime {
    bin_dir: PathBuf,
}

impl DaprRuntime {
    /// The runtime in `$DAPR_HOME/bin` (default `~/.dapr/bin`), where `dapr init --slim` installs
    /// it. Looked up once per test process.
    pub fn locate() -> anyhow::Result<&'static DaprRuntime> {
        static RUNTIME: OnceLock<Result<DaprRuntime, String>> = OnceLock::new();
        RUNTIME
            .get_or_init(|| {
                let dapr_home = match std::env::var_os("DAPR_HOME") {
                    Some(home) => PathBuf::from(home),
                    None => PathBuf::from(
                        std::env::var_os("HOME").ok_or("neither DAPR_HOME nor HOME is set")?,
                    )
                    .join(".dapr"),
                };
                Ok(DaprRuntime {
                    bin_dir: dapr_home.join("bin"),
                })
            })
            .as_ref()
            .map_err(|message| anyhow::anyhow!("{message}. {INSTALL_DAPR}"))
    }

    /// The path of `name` (`daprd`, `placement`, `scheduler`), failing with installation
    /// instructions when it is not there.
    pub fn binary(&self, name: &str) -> anyhow::Result<PathBuf> {
        let path = self.bin_dir.join(name);
        if !path.is_file() {
            bail!(
                "the Dapr runtime is not installed: {} is missing. {INSTALL_DAPR}",
                path.display()
            );
        }
        Ok(path)
    }
}

/// `redis-server` from `PATH`, failing with installation instructions when there is none.
pub fn redis_server() -> anyhow::Result<PathBuf> {
    let found = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("redis-server"))
        .find(|candidate| candidate.is_file());
    match found {
        Some(path) => Ok(path),
        None => bail!(
            "redis-server is not on PATH, and this service's components use redis. {INSTALL_REDIS}"
        ),
    }
}

/// The root of this service: the directory holding `components/` and `config/`.
pub fn service_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}
