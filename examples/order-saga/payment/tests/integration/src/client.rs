//! A small typed client of the account API, over HTTP, for the tests that are about what
//! the service does rather than about one transport's details (events, adjustments, transfers).

use api::http::TransferBody;
use api::http::{AccountBody, AccountDto, Problem};
use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_MATCH};

/// A account as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountView {
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

/// Why the API refused a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Bad input: 400 or 422, with the service's explanation.
    Invalid(String),
    /// No such account: 404.
    NotFound,
    /// A stale version or a concurrent writer: 409 or 412; read again and retry.
    Conflict(String),
    /// Anything else: a server error or a transport failure. Never expected.
    Failed(String),
}

/// The account API of one service.
#[derive(Debug, Clone)]
pub struct AccountClient {
    http: reqwest::Client,
    base_url: String,
}

impl AccountClient {
    /// A client of the service at `base_url` (e.g. `http://127.0.0.1:41234`).
    pub fn new(http: reqwest::Client, base_url: impl Into<String>) -> Self {
        Self {
            http,
            base_url: base_url.into(),
        }
    }

    /// Creates a account.
    pub async fn create(&self, name: &str, quantity: i64) -> Result<AccountView, Refusal> {
        let body = AccountBody {
            name: name.to_owned(),
            quantity,
        };
        let response = self
            .http
            .post(self.url("/accounts"))
            .json(&body)
            .send()
            .await;
        view(expect(response, StatusCode::CREATED).await?).await
    }

    /// Reads a account.
    pub async fn get(&self, id: &str) -> Result<AccountView, Refusal> {
        let response = self
            .http
            .get(self.url(&format!("/accounts/{id}")))
            .send()
            .await;
        view(expect(response, StatusCode::OK).await?).await
    }

    /// Replaces a account, exactly the version `etag` names.
    pub async fn update(
        &self,
        id: &str,
        name: &str,
        quantity: i64,
        etag: &str,
    ) -> Result<AccountView, Refusal> {
        let body = AccountBody {
            name: name.to_owned(),
            quantity,
        };
        let response = self
            .http
            .put(self.url(&format!("/accounts/{id}")))
            .header(IF_MATCH, etag)
            .json(&body)
            .send()
            .await;
        view(expect(response, StatusCode::OK).await?).await
    }

    /// Deletes a account, whatever its version.
    pub async fn delete(&self, id: &str) -> Result<(), Refusal> {
        let response = self
            .http
            .delete(self.url(&format!("/accounts/{id}")))
            .send()
            .await;
        expect(response, StatusCode::NO_CONTENT).await.map(drop)
    }

    /// Moves `amount` from one account to another.
    pub async fn transfer(&self, from: &str, to: &str, amount: i64) -> Result<(), Refusal> {
        let body = TransferBody {
            from: from.to_owned(),
            to: to.to_owned(),
            amount,
        };
        let response = self
            .http
            .post(self.url("/accounts/transfers"))
            .json(&body)
            .send()
            .await;
        expect(response, StatusCode::OK).await.map(drop)
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

async fn view(response: reqwest::Response) -> Result<AccountView, Refusal> {
    let etag = response
        .headers()
        .get(ETAG)
        .and_then(|etag| etag.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| Refusal::Failed("the response has no ETag".to_owned()))?;
    let dto: AccountDto = json(response).await?;
    Ok(AccountView {
        id: dto.id,
        name: dto.name,
        quantity: dto.quantity,
        version: dto.version,
        etag,
    })
}
