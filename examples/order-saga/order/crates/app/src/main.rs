//! Starts order: configuration, telemetry, then the application until SIGTERM/SIGINT.

use order::{Application, Settings, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load()?;
    telemetry::init(&settings.telemetry)?;
    Application::build(settings)
        .await?
        .run_until_stopped()
        .await
}
