//! The example's HTTP APIs, as a client uses them: the apps' own ports, as in the README's curl
//! examples (the order service calls the others through Dapr; the client need not).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::order::{Order, OrderResult, SagaView};

/// Where sagas are started; `GET <this>/{id}` reads one.
const SAGAS_PATH: &str = "/sagas/order-fulfilment";
/// How long one read of a running saga asks the order service to wait for it to finish
/// (`?wait_ms=`, at most 5 s): the answer comes as soon as the saga ends, with no polling.
const SAGA_WAIT: Duration = Duration::from_secs(5);
/// Pause before retrying a request the service could not answer yet (503 while the workflow
/// engine starts, the order app restarting).
const RETRY_PAUSE: Duration = Duration::from_millis(250);
/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// A record kept per saga by a service (a reservation, a charge, a fulfilment).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Its `state`, e.g. `reserved`, `released`, `captured`, `refunded`, `confirmed`.
    pub state: String,
    /// The whole body.
    pub body: Value,
}

/// A client of the three services. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct SagaClient {
    http: reqwest::Client,
    order: String,
    inventory: String,
    payment: String,
    /// A fixed pause between two plain reads of a running saga; `None`: wait in the service
    /// instead ([`SAGA_WAIT`]).
    poll_every: Option<Duration>,
    /// Reads of a saga's status made so far, by this client and its clones.
    saga_reads: Arc<AtomicU64>,
}

impl SagaClient {
    /// A client of the services at these base URLs (e.g. `http://127.0.0.1:8081`).
    pub fn new(order: String, inventory: String, payment: String) -> anyhow::Result<SagaClient> {
        let http = reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build()?;
        Ok(SagaClient {
            http,
            order,
            inventory,
            payment,
            poll_every: None,
            saga_reads: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The same client (the same connection pool), polling a running saga every `every` instead of
    /// waiting for it in the service: for comparing the two, where the poll interval bounds the
    /// error of the latency measured, at the price of more status reads.
    pub fn with_poll_interval(mut self, every: Duration) -> SagaClient {
        self.poll_every = Some(every);
        self
    }

    /// How many times this client and its clones have read a saga's status.
    pub fn saga_reads(&self) -> u64 {
        self.saga_reads.load(Ordering::Relaxed)
    }

    /// Creates a stock record of `quantity` units on hand; returns its id (the SKU of orders).
    pub async fn create_stock(&self, name: &str, quantity: i64) -> anyhow::Result<String> {
        self.create(&self.inventory, "/stocks", name, quantity).await
    }

    /// Creates an account with a balance of `cents`; returns its id.
    pub async fn create_account(&self, name: &str, cents: i64) -> anyhow::Result<String> {
        self.create(&self.payment, "/accounts", name, cents).await
    }

    /// Units of stock `id` on hand.
    pub async fn stock(&self, id: &str) -> anyhow::Result<i64> {
        self.quantity(&self.inventory, &format!("/stocks/{id}")).await
    }

    /// Balance of account `id`, in cents.
    pub async fn balance(&self, id: &str) -> anyhow::Result<i64> {
        self.quantity(&self.payment, &format!("/accounts/{id}")).await
    }

    /// Inventory's reservation for saga `saga_id`, if it has one.
    pub async fn reservation(&self, saga_id: &str) -> anyhow::Result<Option<Record>> {
        self.record(&self.inventory, &format!("/reservations/{saga_id}")).await
    }

    /// Payment's charge for saga `saga_id`, if it has one.
    pub async fn charge(&self, saga_id: &str) -> anyhow::Result<Option<Record>> {
        self.record(&self.payment, &format!("/charges/{saga_id}")).await
    }

    /// The order service's fulfilment record for saga `saga_id`, if it has one.
    pub async fn fulfilment(&self, saga_id: &str) -> anyhow::Result<Option<Record>> {
        self.record(&self.order, &format!("/fulfilments/{saga_id}")).await
    }

    /// Starts the saga of `order`; returns its id. The request carries an Idempotency-Key, so it
    /// is retried safely while the workflow engine answers 503.
    pub async fn place_order(&self, order: &Order) -> anyhow::Result<String> {
        static SEQUENCE: AtomicU64 = AtomicU64::new(0);
        let key = format!(
            "order-saga-client-{}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |since| since.as_nanos()),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        let url = format!("{}{SAGAS_PATH}", self.order);
        let started = Instant::now();
        loop {
            let response = self
                .http
                .post(&url)
                .header("Idempotency-Key", &key)
                .json(&order.input)
                .send()
                .await
                .with_context(|| format!("POST {url}"))?;
            // 503: the engine is not there yet; 409: our own first attempt is still in progress.
            let retry = matches!(
                response.status(),
                StatusCode::SERVICE_UNAVAILABLE | StatusCode::CONFLICT
            );
            if retry && started.elapsed() < REQUEST_TIMEOUT {
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
            let response = success(response, &format!("POST {url}")).await?;
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|value| value.to_str().ok())
                .context("the saga's start answered without a Location")?;
            let id = location.rsplit('/').next().unwrap_or_default();
            if id.is_empty() {
                bail!("the saga's Location {location:?} names no id");
            }
            return Ok(id.to_owned());
        }
    }

    /// Saga `id` as the order service reports it now.
    pub async fn saga(&self, id: &str) -> anyhow::Result<SagaView> {
        self.read_saga(id, Duration::ZERO).await
    }

    /// Saga `id` once it has finished, or after `wait` (whole milliseconds) if it still runs.
    async fn read_saga(&self, id: &str, wait: Duration) -> anyhow::Result<SagaView> {
        let url = match wait.as_millis() {
            0 => format!("{}{SAGAS_PATH}/{id}", self.order),
            ms => format!("{}{SAGAS_PATH}/{id}?wait_ms={ms}", self.order),
        };
        self.saga_reads.fetch_add(1, Ordering::Relaxed);
        let response = self.http.get(&url).send().await.with_context(|| format!("GET {url}"))?;
        Ok(success(response, &format!("GET {url}")).await?.json().await?)
    }

    /// Waits for saga `id` to finish, for at most `timeout`: reads that wait in the service (or
    /// polls, see [`SagaClient::with_poll_interval`]). Failed reads (the order app restarting,
    /// the engine busy) are retried until then.
    pub async fn wait_for_saga(&self, id: &str, timeout: Duration) -> anyhow::Result<SagaView> {
        let started = Instant::now();
        loop {
            let wait = match self.poll_every {
                Some(_) => Duration::ZERO,
                None => SAGA_WAIT.min(timeout.saturating_sub(started.elapsed())),
            };
            let read = self.read_saga(id, wait).await;
            if let Ok(saga) = &read
                && saga.is_finished()
            {
                return read;
            }
            if started.elapsed() > timeout {
                return match read {
                    Ok(saga) => bail!("saga {id} still runs after {timeout:?}: {saga:?}"),
                    Err(error) => Err(error.context(format!("saga {id} unreadable after {timeout:?}"))),
                };
            }
            match (self.poll_every, &read) {
                (Some(every), _) => tokio::time::sleep(every).await,
                // The read waited already: ask again at once.
                (None, Ok(_)) => {}
                (None, Err(_)) => tokio::time::sleep(RETRY_PAUSE).await,
            }
        }
    }

    /// Places `order` and waits for its saga to finish, for at most `timeout`.
    pub async fn run_order(&self, order: Order, timeout: Duration) -> anyhow::Result<OrderResult> {
        let started = Instant::now();
        let id = self.place_order(&order).await?;
        let saga = self
            .wait_for_saga(&id, timeout)
            .await
            .with_context(|| format!("order {}", order.label))?;
        Ok(OrderResult {
            order,
            saga,
            latency: started.elapsed(),
        })
    }

    async fn create(&self, base: &str, path: &str, name: &str, quantity: i64) -> anyhow::Result<String> {
        let url = format!("{base}{path}");
        let response = self
            .http
            .post(&url)
            .json(&json!({"name": name, "quantity": quantity}))
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let created: Value = success(response, &format!("POST {url}")).await?.json().await?;
        created["id"]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("POST {url} answered no id: {created}"))
    }

    async fn quantity(&self, base: &str, path: &str) -> anyhow::Result<i64> {
        let url = format!("{base}{path}");
        let response = self.http.get(&url).send().await.with_context(|| format!("GET {url}"))?;
        let body: Value = success(response, &format!("GET {url}")).await?.json().await?;
        body["quantity"]
            .as_i64()
            .with_context(|| format!("GET {url} answered no quantity: {body}"))
    }

    async fn record(&self, base: &str, path: &str) -> anyhow::Result<Option<Record>> {
        let url = format!("{base}{path}");
        let response = self.http.get(&url).send().await.with_context(|| format!("GET {url}"))?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let body: Value = success(response, &format!("GET {url}")).await?.json().await?;
        let state = body["state"]
            .as_str()
            .with_context(|| format!("GET {url} answered no state: {body}"))?
            .to_owned();
        Ok(Some(Record { state, body }))
    }
}

/// `response` if its status is 2xx; else an error with the status and the body.
async fn success(response: Response, what: &str) -> anyhow::Result<Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    bail!("{what} answered {status}: {body}")
}
