//! The test kit of payment's integration tests: the real service next to a real Dapr
//! sidecar, both on free loopback ports, torn down when the test ends.
//!
//! ```ignore
//! let service = support::TestService::start().await?;
//! let response = service.http().get(service.url("/healthz")).send().await?;
//! ```
//!
//! [`TestService::start`] starts redis (when the service's components use it), then daprd with the service's own `components/`
//! directory, told which port the app will listen on, then the service itself in this process
//! (`Application::build` with the variables `dapr run` would set), and waits, through health
//! endpoints and never a fixed sleep, until the sidecar has found the app and loaded its
//! subscriptions and `/readyz` answers. Every process is killed when its handle is dropped; when
//! a test panics, the last lines of each process's log are printed.
//!
//! The binaries come from `$DAPR_HOME/bin` (default `~/.dapr/bin`, where `dapr init --slim`
//! installs them) and `redis-server` from `PATH`; when one is missing the start fails and says
//! how to install it.
mod client;
mod events;
mod process;
mod redis;
mod runtime;
mod service;
mod sidecar;
pub use client::{AccountClient, AccountView, Refusal};
pub use events::{EventStream, ReceivedEvent};
pub use process::{ManagedProcess, StartError, free_port};
pub use redis::Redis;
pub use runtime::{DaprRuntime, service_root};
pub use service::{
    ADJUSTMENTS_DEAD_LETTER_TOPIC, ADJUSTMENTS_TOPIC, DOMAIN_EVENTS_TOPIC, PUBSUB_NAME, TestService,
};
pub use sidecar::{
    API_TOKEN_HEADER, DaprGrpcClient, Sidecar, SidecarOptions, SidecarPorts, components_use_redis,
};
