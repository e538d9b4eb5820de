//! Where the Dapr binaries are, and whether they are the pinned version.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::bail;

/// The pin file shared with `make dapr` (tools/dapr/versions.env).
const VERSIONS_ENV: &str = include_str!("../../../tools/dapr/versions.env");

/// The Dapr runtime version this repository pins.
pub fn pinned_runtime_version() -> &'static str {
    VERSIONS_ENV
        .lines()
        .find_map(|line| line.trim().strip_prefix("DAPR_RUNTIME_VERSION="))
        .expect("tools/dapr/versions.env defines DAPR_RUNTIME_VERSION")
}

/// The installed Dapr runtime: `daprd`, `placement` and `scheduler` in one directory.
#[derive(Debug, Clone)]
pub struct DaprRuntime {
    bin_dir: PathBuf,
}

impl DaprRuntime {
    /// Finds the runtime in `$DAPR_HOME/bin` (default `~/.dapr/bin`) and checks that `daprd` is
    /// the pinned version. Fails with the command that installs it.
    pub fn locate() -> anyhow::Result<&'static DaprRuntime> {
        static RUNTIME: OnceLock<Result<DaprRuntime, String>> = OnceLock::new();
        RUNTIME
            .get_or_init(|| {
                let dapr_home = dapr_home().map_err(|e| format!("{e:#}"))?;
                Self::in_dir(&dapr_home.join("bin")).map_err(|e| format!("{e:#}"))
            })
            .as_ref()
            .map_err(|message| anyhow::anyhow!("{message}"))
    }

    /// The runtime in `bin_dir`, checked as [`DaprRuntime::locate`] checks it.
    pub fn in_dir(bin_dir: &Path) -> anyhow::Result<DaprRuntime> {
        let runtime = DaprRuntime {
            bin_dir: bin_dir.to_owned(),
        };
        for binary in ["daprd", "placement", "scheduler"] {
            if !runtime.binary(binary).is_file() {
                bail!(
                    "the Dapr runtime is not installed: {} is missing. Run `make dapr` at the repository root \
                     (it builds Dapr {} from Go modules into {}).",
                    runtime.binary(binary).display(),
                    pinned_runtime_version(),
                    runtime.bin_dir.display()
                );
            }
        }
        let output = Command::new(runtime.binary("daprd")).arg("--version").output()?;
        let installed = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        if installed != pinned_runtime_version() {
            bail!(
                "{} is version {installed:?}, but this repository pins {}. Run `make dapr` to install the pinned runtime.",
                runtime.binary("daprd").display(),
                pinned_runtime_version()
            );
        }
        Ok(runtime)
    }

    /// The path of one of the runtime's binaries.
    pub fn binary(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }
}

/// The Dapr home directory: `$DAPR_HOME`, default `~/.dapr` (binaries in `bin/`, and the
/// `components/` and `config.yaml` that `dapr run` falls back to).
pub(crate) fn dapr_home() -> anyhow::Result<PathBuf> {
    match std::env::var_os("DAPR_HOME") {
        Some(home) => Ok(PathBuf::from(home)),
        None => match std::env::var_os("HOME") {
            Some(home) => Ok(PathBuf::from(home).join(".dapr")),
            None => bail!("neither DAPR_HOME nor HOME is set"),
        },
    }
}

/// The repository's component catalogue (`components/`).
pub fn catalogue_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../components"))
}
