//! The floor a saga is measured against: the same operations, with the same idempotency keys and
//! the same bodies, POSTed one after the other through the order app's sidecar (Dapr service
//! invocation, as the saga's activities call them), with no workflow engine in between. What a
//! saga costs above this is the price of running the steps as a durable workflow.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::StatusCode;

use crate::order::{OrderInput, OrderStatus};

/// How long one direct call may take (the saga's own invocations allow 10 s too).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Which way a measured saga goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SagaPath {
    /// Every step done: reserve stock, charge payment, confirm the order.
    Happy,
    /// Payment refuses the charge: reserve stock, charge payment (refused), release the stock.
    Compensating,
}

/// One operation of a saga as the saga's activity sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// Its name, the second half of its idempotency key, e.g. `reserve_stock`.
    pub name: &'static str,
    /// The app it is sent to.
    pub app_id: &'static str,
    /// The method of that app.
    pub method: &'static str,
    /// Whether the path expects it refused (a 4xx other than 408/425/429) rather than done (2xx).
    pub refused: bool,
}

impl Operation {
    const fn done(name: &'static str, app_id: &'static str, method: &'static str) -> Operation {
        Operation {
            name,
            app_id,
            method,
            refused: false,
        }
    }
}

/// The operations of the happy path, in order, where the example's `config/default.toml` sends
/// them.
const HAPPY: [Operation; 3] = [
    Operation::done("reserve_stock", "inventory", "reserve-stock"),
    Operation::done("charge_payment", "payment", "charge-payment"),
    Operation::done("confirm_order", "order", "confirm-order"),
];
/// The operations of the compensating path: the charge refused, the reservation released.
const COMPENSATING: [Operation; 3] = [
    Operation::done("reserve_stock", "inventory", "reserve-stock"),
    Operation {
        refused: true,
        ..Operation::done("charge_payment", "payment", "charge-payment")
    },
    Operation::done("release_stock", "inventory", "release-stock"),
];

impl SagaPath {
    /// Both paths, in the order they are measured.
    pub const ALL: [SagaPath; 2] = [SagaPath::Happy, SagaPath::Compensating];

    /// As printed: `happy path`, `compensating path`.
    pub fn name(self) -> &'static str {
        match self {
            SagaPath::Happy => "happy path",
            SagaPath::Compensating => "compensating path",
        }
    }

    /// As a key of machine-readable output: `happy`, `compensating`.
    pub fn key(self) -> &'static str {
        match self {
            SagaPath::Happy => "happy",
            SagaPath::Compensating => "compensating",
        }
    }

    /// How an order on this path ends.
    pub fn expected_status(self) -> OrderStatus {
        match self {
            SagaPath::Happy => OrderStatus::Completed,
            SagaPath::Compensating => OrderStatus::Cancelled,
        }
    }

    /// The operations a saga on this path runs, in order.
    pub fn operations(self) -> &'static [Operation] {
        match self {
            SagaPath::Happy => &HAPPY,
            SagaPath::Compensating => &COMPENSATING,
        }
    }
}

/// A client making a saga's calls itself, through one sidecar. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DirectCalls {
    http: reqwest::Client,
    sidecar: String,
}

impl DirectCalls {
    /// Calls through the sidecar whose HTTP API is at `sidecar` (e.g. `http://127.0.0.1:3500`).
    pub fn new(sidecar: String) -> anyhow::Result<DirectCalls> {
        let http = reqwest::Client::builder().timeout(CALL_TIMEOUT).build()?;
        Ok(DirectCalls { http, sidecar })
    }

    /// Runs the operations of `path` for a saga `saga_id` with `input`, one after the other, each
    /// keyed `<saga_id>:<operation>`; returns how long they took together. Fails when an operation
    /// does not answer as the path expects: no retries, so that the floor stays a floor.
    pub async fn run(&self, saga_id: &str, input: &OrderInput, path: SagaPath) -> anyhow::Result<Duration> {
        let started = Instant::now();
        for operation in path.operations() {
            let url = format!(
                "{}/v1.0/invoke/{}/method/{}",
                self.sidecar, operation.app_id, operation.method
            );
            let response = self
                .http
                .post(&url)
                .header("Idempotency-Key", format!("{saga_id}:{}", operation.name))
                .json(input)
                .send()
                .await
                .with_context(|| format!("POST {url}"))?;
            let status = response.status();
            let refused = status.is_client_error()
                && ![
                    StatusCode::REQUEST_TIMEOUT,
                    StatusCode::TOO_EARLY,
                    StatusCode::TOO_MANY_REQUESTS,
                ]
                .contains(&status);
            let as_expected = if operation.refused {
                refused
            } else {
                status.is_success()
            };
            // Read to the end either way, so that the connection goes back to the pool.
            let body = response.text().await.unwrap_or_default();
            if !as_expected {
                let expected = if operation.refused { "a refusal" } else { "2xx" };
                bail!(
                    "{} of saga {saga_id} ({}): POST {url} answered {status}, expected {expected}: {body}",
                    operation.name,
                    path.name()
                );
            }
        }
        Ok(started.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_paths_reserve_then_charge_and_only_the_compensating_one_is_refused() {
        for path in SagaPath::ALL {
            let names: Vec<&str> = path.operations().iter().map(|operation| operation.name).collect();
            let refused: Vec<bool> = path.operations().iter().map(|operation| operation.refused).collect();
            match path {
                SagaPath::Happy => {
                    assert_eq!(names, ["reserve_stock", "charge_payment", "confirm_order"]);
                    assert_eq!(refused, [false; 3]);
                }
                SagaPath::Compensating => {
                    assert_eq!(names, ["reserve_stock", "charge_payment", "release_stock"]);
                    assert_eq!(refused, [false, true, false]);
                }
            }
        }
    }
}
