//! The HTTP readiness probe shared by every process that exposes a health endpoint.

use std::sync::OnceLock;
use std::time::Duration;

/// A client for probes: short timeouts, and no idle connections kept. A pooled client can leave
/// a connection it opened but never used (hyper races a new connection against the return of a
/// pooled one, and pools the loser); daprd's HTTP server then waits up to 5 s for that
/// connection's first request when it shuts down, which is its whole graceful-shutdown budget:
/// it ends in "Graceful shutdown timeout exceeded" and exit status 1.
pub(crate) fn probe_client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .pool_max_idle_per_host(0)
            .build()
            .expect("a reqwest client with a timeout builds")
    })
}

/// True when `url` answers with a 2xx status.
pub(crate) async fn answers_2xx(url: &str) -> bool {
    matches!(probe_client().get(url).send().await, Ok(response) if response.status().is_success())
}
