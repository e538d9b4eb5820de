//! The HTTP readiness probe shared by every process that exposes a health endpoint.

use std::sync::OnceLock;
use std::time::Duration;

/// A client for probes: short timeouts, no connection reuse surprises between attempts.
pub(crate) fn probe_client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("a reqwest client with a timeout builds")
    })
}

/// True when `url` answers with a 2xx status.
pub(crate) async fn answers_2xx(url: &str) -> bool {
    matches!(probe_client().get(url).send().await, Ok(response) if response.status().is_success())
}
