//! Stopping without losing work: SIGTERM (sent by Kubernetes and by `dapr run` on exit) or
//! SIGINT (Ctrl-C) makes the servers stop accepting connections and finish the requests in flight;
//! the whole drain is bounded by `shutdown_timeout_ms`, after which what is left is dropped.

use std::future::Future;

use tokio::sync::watch;

/// Completes when the process is asked to stop: SIGTERM or SIGINT.
pub async fn signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            // Without the handler the process can still be stopped by SIGTERM; do not stop now.
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}

/// The stop order every server of the process listens to: triggered once, seen by all.
#[derive(Debug, Clone)]
pub struct Shutdown {
    sender: watch::Sender<bool>,
}

impl Shutdown {
    /// A shutdown not yet triggered.
    pub fn new() -> Self {
        Self {
            sender: watch::Sender::new(false),
        }
    }

    /// Tells every listener to stop. Triggering twice is harmless.
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    /// Completes once [`Shutdown::trigger`] was called, also if it was called before.
    pub fn triggered(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut receiver = self.sender.subscribe();
        async move {
            // An error means the sender is gone: nobody can trigger any more, so stop too.
            let _ = receiver.wait_for(|stopping| *stopping).await;
        }
    }
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::FutureExt;

    use super::*;

    #[tokio::test]
    async fn every_listener_sees_the_trigger_even_after_the_fact() {
        let shutdown = Shutdown::new();
        let early = tokio::spawn(shutdown.triggered());
        shutdown.trigger();
        let late = shutdown.triggered();
        tokio::time::timeout(Duration::from_secs(1), async {
            early.await.unwrap();
            late.await;
        })
        .await
        .expect("listeners complete once triggered");
    }

    #[test]
    fn listeners_wait_until_triggered() {
        let shutdown = Shutdown::new();
        assert!(
            shutdown.triggered().now_or_never().is_none(),
            "completed without a trigger"
        );
    }
}
