//! A small typed client of the order API, over HTTP, for the tests that are about what
//! the service does rather than about one transport's details (events, adjustments,
//! restocks).

use api::http::{OrderBody, OrderDto, Problem};
use api::http::{RestockBody, RestockDto, RestockLineBody, RestockState};
use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_MATCH};

/// A order as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderView {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its quantity.
    pub quantity: i64,
    /// Its version, incremented by every change.
    pub version: u64,
    /// Its ETag, for the next update.
    pub etag: String,
}

/// Where a restock run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestockProgress {
    /// Started, not finished.
    Running,
    /// Finished: every line applied.
    Completed {
        /// Lines applied.
        lines_applied: u64,
        /// Quantity added over all lines.
        quantity_added: i64,
    },
    /// Stopped on a line that could not be applied.
    Failed,
}

/// Why the API refused a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Bad input: 400 or 422, with the service's explanation.
    Invalid(String),
    /// No such order: 404.
    NotFound,
    /// A stale version or a concurrent writer: 409 or 412; read again and retry.
    Conflict(String),
    /// Anything else: a server error or a transport failure. Never expected.
    Failed(String),
}

/// The order API of one service.
#[derive(Debug, Clone)]
pub struct OrderClient {
    http: reqwest::Client,
    base_url: String,
}

impl OrderClient {
    /// A client of the service at `base_url` (e.g. `http://127.0.0.1:41234`).
    pub fn new(http: reqwest::Client, base_url: impl Into<String>) -> Self {
        Self {
            http,
            base_url: base_url.into(),
        }
    }

    /// Creates a order.
    pub async fn create(&self, name: &str, quantity: i64) -> Result<OrderView, Refusal> {
        let body = OrderBody {
            name: name.to_owned(),
            quantity,
        };
        let response = self.http.post(self.url("/orders")).json(&body).send().await;
        view(expect(response, StatusCode::CREATED).await?).await
    }

    /// Reads a order.
    pub async fn get(&self, id: &str) -> Result<OrderView, Refusal> {
        let response = self
            .http
            .get(self.url(&format!("/orders/{id}")))
            .send()
            .await;
        view(expect(response, StatusCode::OK).await?).await
    }

    /// Replaces a order, exactly the version `etag` names.
    pub async fn update(
        &self,
        id: &str,
        name: &str,
        quantity: i64,
        etag: &str,
    ) -> Result<OrderView, Refusal> {
        let body = OrderBody {
            name: name.to_owned(),
            quantity,
        };
        let response = self
            .http
            .put(self.url(&format!("/orders/{id}")))
            .header(IF_MATCH, etag)
            .json(&body)
            .send()
            .await;
        view(expect(response, StatusCode::OK).await?).await
    }

    /// Deletes a order, whatever its version.
    pub async fn delete(&self, id: &str) -> Result<(), Refusal> {
        let response = self
            .http
            .delete(self.url(&format!("/orders/{id}")))
            .send()
            .await;
        expect(response, StatusCode::NO_CONTENT).await.map(drop)
    }

    /// Starts a restock run of `lines` (order id, quantity to add); returns its id.
    pub async fn start_restock(&self, lines: &[(&str, i64)]) -> Result<String, Refusal> {
        let lines = lines
            .iter()
            .map(|(id, quantity)| RestockLineBody {
                order_id: (*id).to_owned(),
                quantity: *quantity,
            })
            .collect();
        let response = self
            .http
            .post(self.url("/restocks"))
            .json(&RestockBody { lines })
            .send()
            .await;
        let run: RestockDto = json(expect(response, StatusCode::ACCEPTED).await?).await?;
        Ok(run.id)
    }

    /// Where restock run `id` stands.
    pub async fn restock(&self, id: &str) -> Result<RestockProgress, Refusal> {
        let response = self
            .http
            .get(self.url(&format!("/restocks/{id}")))
            .send()
            .await;
        let run: RestockDto = json(expect(response, StatusCode::OK).await?).await?;
        Ok(match run.status {
            RestockState::Running => RestockProgress::Running,
            RestockState::Completed => RestockProgress::Completed {
                lines_applied: run.lines_applied.unwrap_or_default(),
                quantity_added: run.quantity_added.unwrap_or_default(),
            },
            RestockState::Failed => RestockProgress::Failed,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

/// The response if it has `status`; otherwise the refusal its problem details describe.
async fn expect(
    response: reqwest::Result<reqwest::Response>,
    status: StatusCode,
) -> Result<reqwest::Response, Refusal> {
    let response = response.map_err(|error| Refusal::Failed(error.to_string()))?;
    let actual = response.status();
    if actual == status {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    let detail = serde_json::from_str::<Problem>(&body)
        .ok()
        .and_then(|problem| problem.detail)
        .unwrap_or_else(|| body.clone());
    Err(match actual {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => Refusal::Invalid(detail),
        StatusCode::NOT_FOUND => Refusal::NotFound,
        StatusCode::CONFLICT | StatusCode::PRECONDITION_FAILED => Refusal::Conflict(detail),
        other => Refusal::Failed(format!("expected {status}, got {other}: {body}")),
    })
}

async fn json<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> Result<T, Refusal> {
    response
        .json()
        .await
        .map_err(|error| Refusal::Failed(format!("unreadable body: {error}")))
}

async fn view(response: reqwest::Response) -> Result<OrderView, Refusal> {
    let etag = response
        .headers()
        .get(ETAG)
        .and_then(|etag| etag.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| Refusal::Failed("the response has no ETag".to_owned()))?;
    let dto: OrderDto = json(response).await?;
    Ok(OrderView {
        id: dto.id,
        name: dto.name,
        quantity: dto.quantity,
        version: dto.version,
        etag,
    })
}
