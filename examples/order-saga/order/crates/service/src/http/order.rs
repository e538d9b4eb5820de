//! `/orders`: the order routes of the public API, and the mapping between their
//! bodies and the business layer.
//!
//! Versions: every answer carrying one order has its `ETag` (quoted, strong). `PUT` must send
//! it back in `If-Match` (428 without: a blind replacement could undo another client's change);
//! `DELETE` may (without it, whatever version is current is deleted). A tag that is no longer
//! current answers 412: read the order again, then decide.

use std::sync::Arc;

use api::http::{OrderBody, OrderDto, OrderPage, Problem};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use biz::order::{Order, OrderInput, Stored};
use biz::order_usecase::OrderError;
use biz::page::PageRequest;

use super::extract::{Idempotent, IfMatch, JsonBody, ListQuery, OrderPathId};
use super::idempotent::run_once;
use super::reply::Reply;
use crate::problem::{ApiError, ProblemKind};
use crate::router::HttpState;

/// The response body of one order.
pub fn dto(order: &Order) -> OrderDto {
    OrderDto {
        id: order.id.to_string(),
        name: order.name.clone(),
        quantity: order.quantity,
        version: order.version,
    }
}

impl From<OrderError> for ApiError {
    fn from(error: OrderError) -> Self {
        match &error {
            OrderError::Invalid(_) => ApiError::new(ProblemKind::Validation, error.to_string()),
            OrderError::NotFound(_) => ApiError::new(ProblemKind::NotFound, error.to_string()),
            OrderError::StaleVersion(_) => ApiError::new(
                ProblemKind::StaleVersion,
                format!("{error}: read it again for its current ETag"),
            ),
            OrderError::VersionRequired(_) => {
                ApiError::new(ProblemKind::VersionRequired, error.to_string())
            }
            OrderError::Contended(_) => ApiError::new(ProblemKind::Contended, error.to_string()),
            OrderError::Unavailable(biz::error::RepoError::Corrupt(_)) => ApiError::server(
                ProblemKind::Internal,
                "order storage holds corrupt data",
                &error,
            ),
            OrderError::Unavailable(_) => {
                ApiError::server(ProblemKind::Unavailable, "order storage failed", &error)
            }
        }
    }
}

/// One order with its `ETag`, and its `Location` when it was just created.
fn stored_reply(status: StatusCode, stored: &Stored<Order>) -> Result<Reply, ApiError> {
    let reply = Reply::json(status, &dto(&stored.value))?.etag(&stored.etag);
    if status != StatusCode::CREATED {
        return Ok(reply);
    }
    let location = format!("/orders/{}", stored.value.id);
    Ok(match HeaderValue::try_from(location) {
        Ok(location) => reply.header(header::LOCATION, location),
        Err(_) => reply,
    })
}

/// Creates a new order.
#[utoipa::path(
    post,
    path = "/orders",
    tag = "orders",
    operation_id = "create_order",
    request_body = OrderBody,
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255,
            description = "Names this request (e.g. a UUID): a retry with the same key and body gets the first answer again, not a second order."),
    ),
    responses(
        (status = 201, description = "Created.", body = OrderDto, headers(
            ("ETag" = String, description = "Version of the order."),
            ("Location" = String, description = "Path of the order."),
        )),
        (status = 400, description = "Malformed JSON or Idempotency-Key.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A request with this Idempotency-Key is still being processed.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid order, or Idempotency-Key used with another request.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage unavailable; retry later.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn create(
    State(state): State<Arc<HttpState>>,
    request: Idempotent<OrderBody>,
) -> Response {
    let Idempotent {
        key,
        fingerprint,
        body,
    } = request;
    let work = async {
        let input = OrderInput {
            name: body.name,
            quantity: body.quantity,
        };
        let stored = state.orders.create(input).await?;
        stored_reply(StatusCode::CREATED, &stored)
    };
    run_once(state.idempotency.as_ref(), key, &fingerprint, work).await
}

/// Lists orders in creation order, one page at a time.
#[utoipa::path(
    get,
    path = "/orders",
    tag = "orders",
    operation_id = "list_orders",
    params(
        ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Items per page, 1 to 100 (default 20)."),
        ("page_token" = Option<String>, Query, description = "The `next_page_token` of the previous page."),
    ),
    responses(
        (status = 200, description = "One page.", body = OrderPage),
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
    let page = state.orders.list(page).await.map_err(|error| match error {
        // The only invalid input of a list is its query (a page token this service did not issue).
        OrderError::Invalid(invalid) => ApiError::new(ProblemKind::BadRequest, invalid.to_string()),
        other => other.into(),
    })?;
    let body = OrderPage {
        items: page.items.iter().map(dto).collect(),
        next_page_token: page.next_token,
    };
    Reply::json(StatusCode::OK, &body)
}

/// Reads one order.
#[utoipa::path(
    get,
    path = "/orders/{id}",
    tag = "orders",
    operation_id = "get_order",
    params(("id" = String, Path, format = Uuid, description = "Id of the order.")),
    responses(
        (status = 200, description = "The order.", body = OrderDto, headers(("ETag" = String, description = "Version of the order."))),
        (status = 400, description = "The id is not a UUID.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage unavailable; retry later.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn get(
    State(state): State<Arc<HttpState>>,
    OrderPathId(id): OrderPathId,
) -> Result<Reply, ApiError> {
    let stored = state.orders.get(id).await?;
    stored_reply(StatusCode::OK, &stored)
}

/// Replaces one order: exactly the version named in `If-Match`.
#[utoipa::path(
    put,
    path = "/orders/{id}",
    tag = "orders",
    operation_id = "update_order",
    request_body = OrderBody,
    params(
        ("id" = String, Path, format = Uuid, description = "Id of the order."),
        ("If-Match" = String, Header, description = "The ETag of the version being replaced (required)."),
    ),
    responses(
        (status = 200, description = "Replaced.", body = OrderDto, headers(("ETag" = String, description = "The new version."))),
        (status = 400, description = "Malformed id, JSON or If-Match.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order.", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The If-Match version is no longer current.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid order.", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage unavailable; retry later.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn update(
    State(state): State<Arc<HttpState>>,
    OrderPathId(id): OrderPathId,
    if_match: IfMatch,
    JsonBody(body): JsonBody<OrderBody>,
) -> Result<Reply, ApiError> {
    let if_match = match if_match {
        IfMatch::Version(etag) => Some(etag),
        // `*` names no version: it would be the blind replacement that If-Match exists to prevent.
        IfMatch::Absent | IfMatch::Any => None,
        IfMatch::Weak => return Err(OrderError::StaleVersion(id).into()),
    };
    let input = OrderInput {
        name: body.name,
        quantity: body.quantity,
    };
    let stored = state.orders.update(id, input, if_match).await?;
    stored_reply(StatusCode::OK, &stored)
}

/// Deletes one order; only the version named in `If-Match`, when one is given.
#[utoipa::path(
    delete,
    path = "/orders/{id}",
    tag = "orders",
    operation_id = "delete_order",
    params(
        ("id" = String, Path, format = Uuid, description = "Id of the order."),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Delete only this version (an ETag)."),
    ),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, description = "Malformed id or If-Match.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Changed while being deleted; read it again, then decide.", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The If-Match version is no longer current.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage unavailable; retry later.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn delete(
    State(state): State<Arc<HttpState>>,
    OrderPathId(id): OrderPathId,
    if_match: IfMatch,
) -> Result<StatusCode, ApiError> {
    let if_match = match if_match {
        IfMatch::Version(etag) => Some(etag),
        IfMatch::Absent | IfMatch::Any => None,
        IfMatch::Weak => return Err(OrderError::StaleVersion(id).into()),
    };
    state.orders.delete(id, if_match).await?;
    Ok(StatusCode::NO_CONTENT)
}
