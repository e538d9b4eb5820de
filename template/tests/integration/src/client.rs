//! A small typed client of the {{resource}} API, over {% if http %}HTTP{% else %}gRPC{% endif %}, for the tests that are about what
//! the service does rather than about one transport's details (events, adjustments{% if with_lock %}, transfers{% endif %}{% if with_workflow %},
//! restocks{% endif %}).
{%- if http %}

use api::http::{Problem, {{Resource}}Body, {{Resource}}Dto};
{%- if with_workflow %}
use api::http::{RestockBody, RestockDto, RestockLineBody, RestockState};
{%- endif %}
{%- if with_lock %}
use api::http::TransferBody;
{%- endif %}
use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_MATCH};
{%- else %}

use api::{{service_snake}}::v1 as pb;
use api::{{service_snake}}::v1::{{resource}}_service_client::{{Resource}}ServiceClient;
use tonic::transport::Channel;
{%- endif %}

/// A {{resource}} as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct {{Resource}}View {
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
{%- if with_workflow %}

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
{%- endif %}

/// Why the API refused a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Bad input: {% if http %}400 or 422{% else %}INVALID_ARGUMENT{% endif %}, with the service's explanation.
    Invalid(String),
    /// No such {{resource}}: {% if http %}404{% else %}NOT_FOUND{% endif %}.
    NotFound,
    /// A stale version or a concurrent writer: {% if http %}409 or 412{% else %}ABORTED{% endif %}; read again and retry.
    Conflict(String),
    /// Anything else: a server error or a transport failure. Never expected.
    Failed(String),
}

/// The {{resource}} API of one service.
#[derive(Debug, Clone)]
pub struct {{Resource}}Client {
{%- if http %}
    http: reqwest::Client,
    base_url: String,
{%- else %}
    grpc: {{Resource}}ServiceClient<Channel>,
{%- endif %}
}

impl {{Resource}}Client {
{%- if http %}
    /// A client of the service at `base_url` (e.g. `http://127.0.0.1:41234`).
    pub fn new(http: reqwest::Client, base_url: impl Into<String>) -> Self {
        Self { http, base_url: base_url.into() }
    }

    /// Creates a {{resource}}.
    pub async fn create(&self, name: &str, quantity: i64) -> Result<{{Resource}}View, Refusal> {
        let body = {{Resource}}Body { name: name.to_owned(), quantity };
        let response = self.http.post(self.url("/{{resources_path}}")).json(&body).send().await;
        view(expect(response, StatusCode::CREATED).await?).await
    }

    /// Reads a {{resource}}.
    pub async fn get(&self, id: &str) -> Result<{{Resource}}View, Refusal> {
        let response = self.http.get(self.url(&format!("/{{resources_path}}/{id}"))).send().await;
        view(expect(response, StatusCode::OK).await?).await
    }

    /// Replaces a {{resource}}, exactly the version `etag` names.
    pub async fn update(&self, id: &str, name: &str, quantity: i64, etag: &str) -> Result<{{Resource}}View, Refusal> {
        let body = {{Resource}}Body { name: name.to_owned(), quantity };
        let response = self
            .http
            .put(self.url(&format!("/{{resources_path}}/{id}")))
            .header(IF_MATCH, etag)
            .json(&body)
            .send()
            .await;
        view(expect(response, StatusCode::OK).await?).await
    }

    /// Deletes a {{resource}}, whatever its version.
    pub async fn delete(&self, id: &str) -> Result<(), Refusal> {
        let response = self.http.delete(self.url(&format!("/{{resources_path}}/{id}"))).send().await;
        expect(response, StatusCode::NO_CONTENT).await.map(drop)
    }
{%- if with_lock %}

    /// Moves `amount` from one {{resource}} to another.
    pub async fn transfer(&self, from: &str, to: &str, amount: i64) -> Result<(), Refusal> {
        let body = TransferBody { from: from.to_owned(), to: to.to_owned(), amount };
        let response = self.http.post(self.url("/{{resources_path}}/transfers")).json(&body).send().await;
        expect(response, StatusCode::OK).await.map(drop)
    }
{%- endif %}
{%- if with_workflow %}

    /// Starts a restock run of `lines` ({{resource}} id, quantity to add); returns its id.
    pub async fn start_restock(&self, lines: &[(&str, i64)]) -> Result<String, Refusal> {
        let lines = lines
            .iter()
            .map(|(id, quantity)| RestockLineBody { {{resource}}_id: (*id).to_owned(), quantity: *quantity })
            .collect();
        let response = self.http.post(self.url("/restocks")).json(&RestockBody { lines }).send().await;
        let run: RestockDto = json(expect(response, StatusCode::ACCEPTED).await?).await?;
        Ok(run.id)
    }

    /// Where restock run `id` stands.
    pub async fn restock(&self, id: &str) -> Result<RestockProgress, Refusal> {
        let response = self.http.get(self.url(&format!("/restocks/{id}"))).send().await;
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
{%- endif %}

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
{%- else %}
    /// A client over a gRPC connection to the service.
    pub fn new(grpc: {{Resource}}ServiceClient<Channel>) -> Self {
        Self { grpc }
    }

    /// Creates a {{resource}}.
    pub async fn create(&self, name: &str, quantity: i64) -> Result<{{Resource}}View, Refusal> {
        let request = pb::CreateRequest { name: name.to_owned(), quantity };
        self.grpc.clone().create(request).await.map(|reply| view(reply.into_inner())).map_err(refusal)
    }

    /// Reads a {{resource}}.
    pub async fn get(&self, id: &str) -> Result<{{Resource}}View, Refusal> {
        let request = pb::GetRequest { id: id.to_owned() };
        self.grpc.clone().get(request).await.map(|reply| view(reply.into_inner())).map_err(refusal)
    }

    /// Replaces a {{resource}}, exactly the version `etag` names.
    pub async fn update(&self, id: &str, name: &str, quantity: i64, etag: &str) -> Result<{{Resource}}View, Refusal> {
        let request = pb::UpdateRequest { id: id.to_owned(), name: name.to_owned(), quantity, etag: etag.to_owned() };
        self.grpc.clone().update(request).await.map(|reply| view(reply.into_inner())).map_err(refusal)
    }

    /// Deletes a {{resource}}, whatever its version.
    pub async fn delete(&self, id: &str) -> Result<(), Refusal> {
        let request = pb::DeleteRequest { id: id.to_owned(), etag: None };
        self.grpc.clone().delete(request).await.map(drop).map_err(refusal)
    }
{%- if with_lock %}

    /// Moves `amount` from one {{resource}} to another.
    pub async fn transfer(&self, from: &str, to: &str, amount: i64) -> Result<(), Refusal> {
        let request = pb::TransferRequest { from_id: from.to_owned(), to_id: to.to_owned(), amount };
        self.grpc.clone().transfer(request).await.map(drop).map_err(refusal)
    }
{%- endif %}
{%- if with_workflow %}

    /// Starts a restock run of `lines` ({{resource}} id, quantity to add); returns its id.
    pub async fn start_restock(&self, lines: &[(&str, i64)]) -> Result<String, Refusal> {
        let lines = lines
            .iter()
            .map(|(id, quantity)| pb::RestockLine { {{resource}}_id: (*id).to_owned(), quantity: *quantity })
            .collect();
        let request = pb::StartRestockRequest { lines };
        self.grpc.clone().start_restock(request).await.map(|reply| reply.into_inner().id).map_err(refusal)
    }

    /// Where restock run `id` stands.
    pub async fn restock(&self, id: &str) -> Result<RestockProgress, Refusal> {
        let request = pb::GetRestockRequest { id: id.to_owned() };
        let run = self.grpc.clone().get_restock(request).await.map_err(refusal)?.into_inner();
        match run.status() {
            pb::restock::Status::Running => Ok(RestockProgress::Running),
            pb::restock::Status::Completed => Ok(RestockProgress::Completed {
                lines_applied: run.lines_applied,
                quantity_added: run.quantity_added,
            }),
            pb::restock::Status::Failed => Ok(RestockProgress::Failed),
            pb::restock::Status::Unspecified => Err(Refusal::Failed(format!("restock {id} has no status"))),
        }
    }
{%- endif %}
{%- endif %}
}
{%- if http %}

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
    response.json().await.map_err(|error| Refusal::Failed(format!("unreadable body: {error}")))
}

async fn view(response: reqwest::Response) -> Result<{{Resource}}View, Refusal> {
    let etag = response
        .headers()
        .get(ETAG)
        .and_then(|etag| etag.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| Refusal::Failed("the response has no ETag".to_owned()))?;
    let dto: {{Resource}}Dto = json(response).await?;
    Ok({{Resource}}View { id: dto.id, name: dto.name, quantity: dto.quantity, version: dto.version, etag })
}
{%- else %}

fn view({{resource}}: pb::{{Resource}}) -> {{Resource}}View {
    {{Resource}}View {
        id: {{resource}}.id,
        name: {{resource}}.name,
        quantity: {{resource}}.quantity,
        version: {{resource}}.version,
        etag: {{resource}}.etag,
    }
}

fn refusal(status: tonic::Status) -> Refusal {
    match status.code() {
        tonic::Code::InvalidArgument => Refusal::Invalid(status.message().to_owned()),
        tonic::Code::NotFound => Refusal::NotFound,
        tonic::Code::Aborted => Refusal::Conflict(status.message().to_owned()),
        _ => Refusal::Failed(format!("{status:?}")),
    }
}
{%- endif %}
