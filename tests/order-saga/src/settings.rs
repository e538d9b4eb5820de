//! Where the example, its build and its binaries live; each place can be moved by an environment
//! variable.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The directory of the example: `ORDER_SAGA_DIR`, default `<workspace>/examples/order-saga`.
const DIR_VAR: &str = "ORDER_SAGA_DIR";
/// The shared target directory of the three services' builds: `ORDER_SAGA_TARGET_DIR`.
const TARGET_VAR: &str = "ORDER_SAGA_TARGET_DIR";

/// Where things are.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The example: a directory holding `dapr.yaml` and one directory per service.
    pub example_dir: PathBuf,
    /// The cargo target directory the services are built in (default
    /// `~/.cache/daprgen/order-saga-target`): outside the repository, so a build survives a
    /// `cargo clean` of the workspace, and shared by the demo and the tests.
    pub target_dir: PathBuf,
}

impl Settings {
    /// The settings from the environment, checked: the example directory must hold `dapr.yaml`.
    pub fn from_env() -> anyhow::Result<Settings> {
        let example_dir = match std::env::var_os(DIR_VAR) {
            Some(dir) => PathBuf::from(dir),
            None => workspace_root().join("examples").join("order-saga"),
        };
        let target_dir = match std::env::var_os(TARGET_VAR) {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?)
                .join(".cache/daprgen/order-saga-target"),
        };
        let example_dir = std::path::absolute(&example_dir)?;
        if !example_dir.join(dapr_harness::RUN_FILE_NAME).is_file() {
            bail!(
                "{} holds no {}: render the example first (`daprgen example order-saga {}`), or point {DIR_VAR} \
                 at a directory that has it",
                example_dir.display(),
                dapr_harness::RUN_FILE_NAME,
                example_dir.display()
            );
        }
        Ok(Settings {
            example_dir,
            target_dir: std::path::absolute(&target_dir)?,
        })
    }
}

/// The repository's root: two levels above this crate.
fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.ancestors().nth(2).unwrap_or(manifest_dir).to_owned()
}
