//! The public HTTP API: JSON over axum, errors as problem details, described by the OpenAPI
//! document served at `/openapi.json` (and kept in the service's `openapi.json`).

mod account;
mod extract;
mod idempotent;
pub mod openapi;
mod reply;
#[cfg(test)]
mod tests;
// The order-saga example: what the routes of saga operations share.
mod saga_operation;
// The order-saga example: the saga operations on charges.
pub(crate) mod charge;
// daprgen:anchor http-modules

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

pub use extract::IDEMPOTENCY_KEY;
pub use reply::IDEMPOTENT_REPLAYED;

use crate::router::HttpState;

/// The routes of the public API.
pub(crate) fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route("/accounts", post(account::create).get(account::list))
        .route(
            "/accounts/{id}",
            get(account::get)
                .put(account::update)
                .delete(account::delete),
        )
        .route("/accounts/transfers", post(account::transfer))
        .route("/charges/{saga_id}", get(charge::get))
        // daprgen:anchor http-routes
        .route("/openapi.json", get(openapi::serve))
}
