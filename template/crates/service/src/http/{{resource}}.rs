//! `/{{resources_path}}`: the {{resource}} routes of the public API, and the mapping between their
//! bodies and the business layer.
//!
//! Versions: every answer carrying one {{resource}} has its `ETag` (quoted, strong). `PUT` must send
//! it back in `If-Match` (428 without: a blind replacement could undo another client's change);
//! `DELETE` may (without it, whatever version is current is deleted). A tag that is no longer
//! current answers 412: read the {{resource}} again, then decide.

use std::sync::Arc;

use api::http::{Problem, {{Resource}}Body, {{Resource}}Dto, {{Resource}}Page};
{%- if with_lock %}
use api::http::{TransferBody, TransferDto};
{%- endif %}
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
{%- if with_lock %}
use axum::response::{IntoResponse, Response};
{%- else %}
use axum::response::Response;
{%- endif %}
use biz::page::PageRequest;
use biz::{{resource}}::{Stored, {{Resource}}, {{Resource}}Input};
{%- if with_lock %}
use biz::{{resource}}::{ValidationError, {{Resource}}Id};
use biz::{{resource}}_transfer::TransferError;
{%- endif %}
use biz::{{resource}}_usecase::{{Resource}}Error;

use super::extract::{IfMatch, Idempotent, JsonBody, ListQuery, {{Resource}}PathId};
use super::idempotent::run_once;
use super::reply::Reply;
use crate::problem::{ApiError, ProblemKind};
use crate::router::HttpState;

/// The response body of one {{resource}}.
pub fn dto({{resource}}: &{{Resource}}) -> {{Resource}}Dto {
    {{Resource}}Dto {
        id: {{resource}}.id.to_string(),
        name: {{resource}}.name.clone(),
        quantity: {{resource}}.quantity,
        version: {{resource}}.version,
    }
}

impl From<{{Resource}}Error> for ApiError {
    fn from(error: {{Resource}}Error) -> Self {
        match &error {
            {{Resource}}Error::Invalid(_) => ApiError::new(ProblemKind::Validation, error.to_string()),
            {{Resource}}Error::NotFound(_) => ApiError::new(ProblemKind::NotFound, error.to_string()),
            {{Resource}}Error::StaleVersion(_) => ApiError::new(
                ProblemKind::StaleVersion,
                format!("{error}: read it again for its current ETag"),
            ),
            {{Resource}}Error::VersionRequired(_) => ApiError::new(ProblemKind::VersionRequired, error.to_string()),
            {{Resource}}Error::Contended(_) => ApiError::new(ProblemKind::Contended, error.to_string()),
            {{Resource}}Error::Unavailable(biz::error::RepoError::Corrupt(_)) => {
                ApiError::server(ProblemKind::Internal, "{{resource}} storage holds corrupt data", &error)
            }
            {{Resource}}Error::Unavailable(_) => {
                ApiError::server(ProblemKind::Unavailable, "{{resource}} storage failed", &error)
            }
        }
    }
}

/// One {{resource}} with its `ETag`, and its `Location` when it was just created.
fn stored_reply(status: StatusCode, stored: &Stored<{{Resource}}>) -> Result<Reply, ApiError> {
    let reply = Reply::json(status, &dto(&stored.value))?.etag(&stored.etag);
    if status != StatusCode::CREATED {
        return Ok(reply);
    }
    let location = format!("/{{resources_path}}/{}", stored.value.id);
    Ok(match HeaderValue::try_from(location) {
        Ok(location) => reply.header(header::LOCATION, location),
        Err(_) => reply,
    })
}

/// Creates a new {{resource}}.
#[utoipa::path(
    post,
    path = "/{{resources_path}}",
    tag = "{{resources}}",
    operation_id = "create_{{resource}}",
    request_body = {{Resource}}Body,
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255,
            description = "Names this request (e.g. a UUID): a retry with the same key and body gets the first answer again, not a second {{resource}}."),
    ),
    responses(
        (status = 201, description = "Created.", body = {{Resource}}Dto, headers(
            ("ETag" = String, description = "Version of the {{resource}}."),
            ("Location" = String, description = "Path of the {{resource}}."),
        )),
        (status = 400, description = "Malformed JSON or Idempotency-Key.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A request with this Idempotency-Key is still being processed.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid {{resource}}, or Idempotency-Key used with another request.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage unavailable; retry later.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn create(State(state): State<Arc<HttpState>>, request: Idempotent<{{Resource}}Body>) -> Response {
    let Idempotent { key, fingerprint, body } = request;
    let work = async {
        let input = {{Resource}}Input { name: body.name, quantity: body.quantity };
        let stored = state.{{resources}}.create(input).await?;
        stored_reply(StatusCode::CREATED, &stored)
    };
    run_once(state.idempotency.as_ref(), key, &fingerprint, work).await
}

/// Lists {{resources}} in creation order, one page at a time.
#[utoipa::path(
    get,
    path = "/{{resources_path}}",
    tag = "{{resources}}",
    operation_id = "list_{{resources}}",
    params(
        ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Items per page, 1 to 100 (default 20)."),
        ("page_token" = Option<String>, Query, description = "The `next_page_token` of the previous page."),
    ),
    responses(
        (status = 200, description = "One page.", body = {{Resource}}Page),
        (status = 400, description = "Invalid page size or token.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage unavailable; retry later.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn list(State(state): State<Arc<HttpState>>, query: ListQuery) -> Result<Reply, ApiError> {
    let token = query.page_token.filter(|token| !token.is_empty());
    let page = PageRequest::new(query.page_size, token).map_err(|reason| ApiError::new(ProblemKind::BadRequest, reason))?;
    let page = state.{{resources}}.list(page).await.map_err(|error| match error {
        // The only invalid input of a list is its query (a page token this service did not issue).
        {{Resource}}Error::Invalid(invalid) => ApiError::new(ProblemKind::BadRequest, invalid.to_string()),
        other => other.into(),
    })?;
    let body = {{Resource}}Page { items: page.items.iter().map(dto).collect(), next_page_token: page.next_token };
    Reply::json(StatusCode::OK, &body)
}

/// Reads one {{resource}}.
#[utoipa::path(
    get,
    path = "/{{resources_path}}/{id}",
    tag = "{{resources}}",
    operation_id = "get_{{resource}}",
    params(("id" = String, Path, format = Uuid, description = "Id of the {{resource}}.")),
    responses(
        (status = 200, description = "The {{resource}}.", body = {{Resource}}Dto, headers(("ETag" = String, description = "Version of the {{resource}}."))),
        (status = 400, description = "The id is not a UUID.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such {{resource}}.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage unavailable; retry later.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn get(State(state): State<Arc<HttpState>>, {{Resource}}PathId(id): {{Resource}}PathId) -> Result<Reply, ApiError> {
    let stored = state.{{resources}}.get(id).await?;
    stored_reply(StatusCode::OK, &stored)
}

/// Replaces one {{resource}}: exactly the version named in `If-Match`.
#[utoipa::path(
    put,
    path = "/{{resources_path}}/{id}",
    tag = "{{resources}}",
    operation_id = "update_{{resource}}",
    request_body = {{Resource}}Body,
    params(
        ("id" = String, Path, format = Uuid, description = "Id of the {{resource}}."),
        ("If-Match" = String, Header, description = "The ETag of the version being replaced (required)."),
    ),
    responses(
        (status = 200, description = "Replaced.", body = {{Resource}}Dto, headers(("ETag" = String, description = "The new version."))),
        (status = 400, description = "Malformed id, JSON or If-Match.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such {{resource}}.", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The If-Match version is no longer current.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid {{resource}}.", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage unavailable; retry later.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn update(
    State(state): State<Arc<HttpState>>,
    {{Resource}}PathId(id): {{Resource}}PathId,
    if_match: IfMatch,
    JsonBody(body): JsonBody<{{Resource}}Body>,
) -> Result<Reply, ApiError> {
    let if_match = match if_match {
        IfMatch::Version(etag) => Some(etag),
        // `*` names no version: it would be the blind replacement that If-Match exists to prevent.
        IfMatch::Absent | IfMatch::Any => None,
        IfMatch::Weak => return Err({{Resource}}Error::StaleVersion(id).into()),
    };
    let input = {{Resource}}Input { name: body.name, quantity: body.quantity };
    let stored = state.{{resources}}.update(id, input, if_match).await?;
    stored_reply(StatusCode::OK, &stored)
}

/// Deletes one {{resource}}; only the version named in `If-Match`, when one is given.
#[utoipa::path(
    delete,
    path = "/{{resources_path}}/{id}",
    tag = "{{resources}}",
    operation_id = "delete_{{resource}}",
    params(
        ("id" = String, Path, format = Uuid, description = "Id of the {{resource}}."),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Delete only this version (an ETag)."),
    ),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, description = "Malformed id or If-Match.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such {{resource}}.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Changed while being deleted; read it again, then decide.", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The If-Match version is no longer current.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage unavailable; retry later.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn delete(
    State(state): State<Arc<HttpState>>,
    {{Resource}}PathId(id): {{Resource}}PathId,
    if_match: IfMatch,
) -> Result<StatusCode, ApiError> {
    let if_match = match if_match {
        IfMatch::Version(etag) => Some(etag),
        IfMatch::Absent | IfMatch::Any => None,
        IfMatch::Weak => return Err({{Resource}}Error::StaleVersion(id).into()),
    };
    state.{{resources}}.delete(id, if_match).await?;
    Ok(StatusCode::NO_CONTENT)
}
{%- if with_lock %}

impl From<TransferError> for ApiError {
    fn from(error: TransferError) -> Self {
        match &error {
            TransferError::Invalid(_) => ApiError::new(ProblemKind::Validation, error.to_string()),
            TransferError::NotFound(_) => ApiError::new(ProblemKind::NotFound, error.to_string()),
            TransferError::Busy(_) => ApiError::new(ProblemKind::Contended, error.to_string()),
            TransferError::Unavailable(_) => {
                ApiError::server(ProblemKind::Unavailable, "transfer storage or lock failed", &error)
            }
        }
    }
}

/// Parses the {{resource}} id in body field `field`.
fn body_id(field: &'static str, text: &str) -> Result<{{Resource}}Id, ApiError> {
    {{Resource}}Id::parse(text).map_err(|_| {
        let invalid = ValidationError::new(field, format!("{text:?} is not a valid {{resource}} id (a UUID)"));
        ApiError::new(ProblemKind::Validation, invalid.to_string())
    })
}

/// Moves quantity from one {{resource}} to another, atomically for every other transfer.
#[utoipa::path(
    post,
    path = "/{{resources_path}}/transfers",
    tag = "{{resources}}",
    operation_id = "transfer_{{resources}}",
    request_body = TransferBody,
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255,
            description = "Names this request (e.g. a UUID): a retry with the same key and body gets the first answer again, not a second transfer."),
    ),
    responses(
        (status = 200, description = "Transferred.", body = TransferDto),
        (status = 400, description = "Malformed JSON or Idempotency-Key.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "One of the {{resources}} does not exist.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "One of the {{resources}} is busy, or a request with this Idempotency-Key is still being processed; retry.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid transfer (same {{resource}} twice, amount not positive, not enough quantity), or Idempotency-Key used with another request.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage or lock unavailable; retry later.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn transfer(State(state): State<Arc<HttpState>>, request: Idempotent<TransferBody>) -> Response {
    let Idempotent { key, fingerprint, body } = request;
    let (from, to) = match (body_id("from", &body.from), body_id("to", &body.to)) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(invalid), _) | (_, Err(invalid)) => return invalid.into_response(),
    };
    let work = async {
        let transfer_id = uuid::Uuid::new_v4().to_string();
        let transfer = state.transfers.transfer(transfer_id, from, to, body.amount).await?;
        Reply::json(StatusCode::OK, &TransferDto { from: dto(&transfer.from.value), to: dto(&transfer.to.value) })
    };
    run_once(state.idempotency.as_ref(), key, &fingerprint, work).await
}
{%- endif %}
