//! `/accounts`: the account routes of the public API, and the mapping between their
//! bodies and the business layer.
//!
//! Versions: every answer carrying one account has its `ETag` (quoted, strong). `PUT` must send
//! it back in `If-Match` (428 without: a blind replacement could undo another client's change);
//! `DELETE` may (without it, whatever version is current is deleted). A tag that is no longer
//! current answers 412: read the account again, then decide.

use std::sync::Arc;

use api::http::{AccountBody, AccountDto, AccountPage, Problem};
use api::http::{TransferBody, TransferDto};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use biz::account::{Account, AccountInput, Stored};
use biz::account::{AccountId, ValidationError};
use biz::account_transfer::TransferError;
use biz::account_usecase::AccountError;
use biz::page::PageRequest;

use super::extract::{AccountPathId, Idempotent, IfMatch, JsonBody, ListQuery};
use super::idempotent::run_once;
use super::reply::Reply;
use crate::problem::{ApiError, ProblemKind};
use crate::router::HttpState;

/// The response body of one account.
pub fn dto(account: &Account) -> AccountDto {
    AccountDto {
        id: account.id.to_string(),
        name: account.name.clone(),
        quantity: account.quantity,
        version: account.version,
    }
}

impl From<AccountError> for ApiError {
    fn from(error: AccountError) -> Self {
        match &error {
            AccountError::Invalid(_) => ApiError::new(ProblemKind::Validation, error.to_string()),
            AccountError::NotFound(_) => ApiError::new(ProblemKind::NotFound, error.to_string()),
            AccountError::StaleVersion(_) => ApiError::new(
                ProblemKind::StaleVersion,
                format!("{error}: read it again for its current ETag"),
            ),
            AccountError::VersionRequired(_) => {
                ApiError::new(ProblemKind::VersionRequired, error.to_string())
            }
            AccountError::Contended(_) => ApiError::new(ProblemKind::Contended, error.to_string()),
            AccountError::Unavailable(biz::error::RepoError::Corrupt(_)) => ApiError::server(
                ProblemKind::Internal,
                "account storage holds corrupt data",
                &error,
            ),
            AccountError::Unavailable(_) => {
                ApiError::server(ProblemKind::Unavailable, "account storage failed", &error)
            }
        }
    }
}

/// One account with its `ETag`, and its `Location` when it was just created.
fn stored_reply(status: StatusCode, stored: &Stored<Account>) -> Result<Reply, ApiError> {
    let reply = Reply::json(status, &dto(&stored.value))?.etag(&stored.etag);
    if status != StatusCode::CREATED {
        return Ok(reply);
    }
    let location = format!("/accounts/{}", stored.value.id);
    Ok(match HeaderValue::try_from(location) {
        Ok(location) => reply.header(header::LOCATION, location),
        Err(_) => reply,
    })
}

/// Creates a new account.
#[utoipa::path(
    post,
    path = "/accounts",
    tag = "accounts",
    operation_id = "create_account",
    request_body = AccountBody,
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255,
            description = "Names this request (e.g. a UUID): a retry with the same key and body gets the first answer again, not a second account."),
    ),
    responses(
        (status = 201, description = "Created.", body = AccountDto, headers(
            ("ETag" = String, description = "Version of the account."),
            ("Location" = String, description = "Path of the account."),
        )),
        (status = 400, description = "Malformed JSON or Idempotency-Key.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A request with this Idempotency-Key is still being processed.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid account, or Idempotency-Key used with another request.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage unavailable; retry later.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn create(
    State(state): State<Arc<HttpState>>,
    request: Idempotent<AccountBody>,
) -> Response {
    let Idempotent {
        key,
        fingerprint,
        body,
    } = request;
    let work = async {
        let input = AccountInput {
            name: body.name,
            quantity: body.quantity,
        };
        let stored = state.accounts.create(input).await?;
        stored_reply(StatusCode::CREATED, &stored)
    };
    run_once(state.idempotency.as_ref(), key, &fingerprint, work).await
}

/// Lists accounts in creation order, one page at a time.
#[utoipa::path(
    get,
    path = "/accounts",
    tag = "accounts",
    operation_id = "list_accounts",
    params(
        ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Items per page, 1 to 100 (default 20)."),
        ("page_token" = Option<String>, Query, description = "The `next_page_token` of the previous page."),
    ),
    responses(
        (status = 200, description = "One page.", body = AccountPage),
        (status = 400, description = "Invalid page size or token.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage unavailable; retry later.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn list(
    State(state): State<Arc<HttpState>>,
    query: ListQuery,
) -> Result<Reply, ApiError> {
    let token = query.page_token.filter(|token| !token.is_empty());
    let page = PageRequest::new(query.page_size, token)
        .map_err(|reason| ApiError::new(ProblemKind::BadRequest, reason))?;
    let page = state
        .accounts
        .list(page)
        .await
        .map_err(|error| match error {
            // The only invalid input of a list is its query (a page token this service did not issue).
            AccountError::Invalid(invalid) => {
                ApiError::new(ProblemKind::BadRequest, invalid.to_string())
            }
            other => other.into(),
        })?;
    let body = AccountPage {
        items: page.items.iter().map(dto).collect(),
        next_page_token: page.next_token,
    };
    Reply::json(StatusCode::OK, &body)
}

/// Reads one account.
#[utoipa::path(
    get,
    path = "/accounts/{id}",
    tag = "accounts",
    operation_id = "get_account",
    params(("id" = String, Path, format = Uuid, description = "Id of the account.")),
    responses(
        (status = 200, description = "The account.", body = AccountDto, headers(("ETag" = String, description = "Version of the account."))),
        (status = 400, description = "The id is not a UUID.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage unavailable; retry later.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn get(
    State(state): State<Arc<HttpState>>,
    AccountPathId(id): AccountPathId,
) -> Result<Reply, ApiError> {
    let stored = state.accounts.get(id).await?;
    stored_reply(StatusCode::OK, &stored)
}

/// Replaces one account: exactly the version named in `If-Match`.
#[utoipa::path(
    put,
    path = "/accounts/{id}",
    tag = "accounts",
    operation_id = "update_account",
    request_body = AccountBody,
    params(
        ("id" = String, Path, format = Uuid, description = "Id of the account."),
        ("If-Match" = String, Header, description = "The ETag of the version being replaced (required)."),
    ),
    responses(
        (status = 200, description = "Replaced.", body = AccountDto, headers(("ETag" = String, description = "The new version."))),
        (status = 400, description = "Malformed id, JSON or If-Match.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account.", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The If-Match version is no longer current.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid account.", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage unavailable; retry later.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn update(
    State(state): State<Arc<HttpState>>,
    AccountPathId(id): AccountPathId,
    if_match: IfMatch,
    JsonBody(body): JsonBody<AccountBody>,
) -> Result<Reply, ApiError> {
    let if_match = match if_match {
        IfMatch::Version(etag) => Some(etag),
        // `*` names no version: it would be the blind replacement that If-Match exists to prevent.
        IfMatch::Absent | IfMatch::Any => None,
        IfMatch::Weak => return Err(AccountError::StaleVersion(id).into()),
    };
    let input = AccountInput {
        name: body.name,
        quantity: body.quantity,
    };
    let stored = state.accounts.update(id, input, if_match).await?;
    stored_reply(StatusCode::OK, &stored)
}

/// Deletes one account; only the version named in `If-Match`, when one is given.
#[utoipa::path(
    delete,
    path = "/accounts/{id}",
    tag = "accounts",
    operation_id = "delete_account",
    params(
        ("id" = String, Path, format = Uuid, description = "Id of the account."),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Delete only this version (an ETag)."),
    ),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, description = "Malformed id or If-Match.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Changed while being deleted; read it again, then decide.", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The If-Match version is no longer current.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage unavailable; retry later.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn delete(
    State(state): State<Arc<HttpState>>,
    AccountPathId(id): AccountPathId,
    if_match: IfMatch,
) -> Result<StatusCode, ApiError> {
    let if_match = match if_match {
        IfMatch::Version(etag) => Some(etag),
        IfMatch::Absent | IfMatch::Any => None,
        IfMatch::Weak => return Err(AccountError::StaleVersion(id).into()),
    };
    state.accounts.delete(id, if_match).await?;
    Ok(StatusCode::NO_CONTENT)
}

impl From<TransferError> for ApiError {
    fn from(error: TransferError) -> Self {
        match &error {
            TransferError::Invalid(_) => ApiError::new(ProblemKind::Validation, error.to_string()),
            TransferError::NotFound(_) => ApiError::new(ProblemKind::NotFound, error.to_string()),
            TransferError::Busy(_) => ApiError::new(ProblemKind::Contended, error.to_string()),
            TransferError::Unavailable(_) => ApiError::server(
                ProblemKind::Unavailable,
                "transfer storage or lock failed",
                &error,
            ),
        }
    }
}

/// Parses the account id in body field `field`.
fn body_id(field: &'static str, text: &str) -> Result<AccountId, ApiError> {
    AccountId::parse(text).map_err(|_| {
        let invalid = ValidationError::new(
            field,
            format!("{text:?} is not a valid account id (a UUID)"),
        );
        ApiError::new(ProblemKind::Validation, invalid.to_string())
    })
}

/// Moves quantity from one account to another, atomically for every other transfer.
#[utoipa::path(
    post,
    path = "/accounts/transfers",
    tag = "accounts",
    operation_id = "transfer_accounts",
    request_body = TransferBody,
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255,
            description = "Names this request (e.g. a UUID): a retry with the same key and body gets the first answer again, not a second transfer."),
    ),
    responses(
        (status = 200, description = "Transferred.", body = TransferDto),
        (status = 400, description = "Malformed JSON or Idempotency-Key.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "One of the accounts does not exist.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "One of the accounts is busy, or a request with this Idempotency-Key is still being processed; retry.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid transfer (same account twice, amount not positive, not enough quantity), or Idempotency-Key used with another request.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage or lock unavailable; retry later.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn transfer(
    State(state): State<Arc<HttpState>>,
    request: Idempotent<TransferBody>,
) -> Response {
    let Idempotent {
        key,
        fingerprint,
        body,
    } = request;
    let (from, to) = match (body_id("from", &body.from), body_id("to", &body.to)) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(invalid), _) | (_, Err(invalid)) => return invalid.into_response(),
    };
    let work = async {
        let transfer_id = uuid::Uuid::new_v4().to_string();
        let transfer = state
            .transfers
            .transfer(transfer_id, from, to, body.amount)
            .await?;
        Reply::json(
            StatusCode::OK,
            &TransferDto {
                from: dto(&transfer.from.value),
                to: dto(&transfer.to.value),
            },
        )
    };
    run_once(state.idempotency.as_ref(), key, &fingerprint, work).await
}
