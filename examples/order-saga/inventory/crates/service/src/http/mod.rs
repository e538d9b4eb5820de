//! The public HTTP API: JSON over axum, errors as problem details, described by the OpenAPI
//! document served at `/openapi.json` (and kept in the service's `openapi.json`).

mod extract;
mod idempotent;
pub mod openapi;
mod reply;
mod stock;
#[cfg(test)]
mod tests;
// The order-saga example: what the routes of saga operations share.
mod saga_operation;
// The order-saga example: the saga operations on reservations.
pub(crate) mod reservation;
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
        .route("/stocks", post(stock::create).get(stock::list))
        .route(
            "/stocks/{id}",
            get(stock::get).put(stock::update).delete(stock::delete),
        )
        .route("/stocks/transfers", post(stock::transfer))
        .route("/reservations/{saga_id}", get(reservation::get))
        // daprgen:anchor http-routes
        .route("/openapi.json", get(openapi::serve))
}
