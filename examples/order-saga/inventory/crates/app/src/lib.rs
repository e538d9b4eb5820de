//! inventory as a library: the composition root that reads the configuration, wires the
//! Dapr adapters into the use cases ([`module`]), and serves them over HTTP until told to
//! stop. `main.rs` only calls it; tests start the real thing the same way, on free ports:
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! let mut settings = inventory::Settings::load()?;
//! settings.http.port = 0;
//! let application = inventory::Application::build(settings).await?;
//! let url = format!("http://127.0.0.1:{}", application.port());
//! tokio::spawn(application.run_until_stopped());
//! # let _ = url;
//! # Ok(())
//! # }
//! ```

pub mod config;
pub mod module;
pub mod shutdown;
mod startup;
pub mod telemetry;

pub use config::Settings;
pub use startup::{Application, SidecarReadiness};
