//! Test support that runs the real Dapr runtime.
//!
//! Every process is started on free loopback ports, waited for through its own health endpoint
//! (never a fixed sleep), and killed when its handle is dropped, also when a test panics, in which
//! case the tail of its log is printed. Tests can run in parallel: no two processes share a port
//! or a data directory.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use dapr_harness::{Daprd, Redis};
//!
//! let redis = Redis::start().await?;
//! let sidecar = Daprd::builder("orders")
//!     .redis(&redis)
//!     .component("state/redis.yaml")
//!     .start()
//!     .await?;
//! let mut client = sidecar.grpc_client().await?;
//! # Ok(())
//! # }
//! ```
//!
//! The binaries come from `$DAPR_HOME/bin` (default `~/.dapr/bin`), where `make dapr` installs the
//! pinned runtime; a missing or different runtime fails with that instruction.
//!
//! [`MultiAppRun`] runs a Dapr multi-app run file (`dapr.yaml`) the way `dapr run -f` does, for
//! machines without the Dapr CLI; `examples/run_file.rs` is its command-line form.

mod control_plane;
mod daprd;
mod http_probe;
pub mod measure;
mod ports;
mod process;
mod redis;
mod run_file;
mod runtime;
mod stack;

pub use control_plane::{Placement, Scheduler};
pub use daprd::{API_TOKEN_HEADER, Daprd, DaprdBuilder, RawDaprClient};
pub use ports::free_port;
pub use process::{ManagedProcess, StartError, start_with_retries};
pub use redis::{Redis, stream_entries as redis_stream_entries};
pub use run_file::{
    AppConfig, AppStopped, LOCAL_PLACEMENT_PORTS, LOCAL_REDIS_PORT, LOCAL_SCHEDULER_PORTS, LogDestination, MultiAppRun,
    RUN_FILE_NAME, RunFile, RunOptions, RunningApp, SUPPORTED_KEYS, StopReport,
};
pub use runtime::{DaprRuntime, catalogue_dir, pinned_runtime_version};
pub use stack::Stack;
