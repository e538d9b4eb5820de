//! The public HTTP API: JSON over axum, errors as problem details, described by the OpenAPI
//! document served at `/openapi.json` (and kept in the service's `openapi.json`).

mod extract;
mod idempotent;
pub mod openapi;
mod order;
mod reply;
mod restock;
#[cfg(test)]
mod tests;
// What the routes of every saga share (daprgen add saga).
mod saga;
// The routes of the order_fulfilment saga (daprgen add saga).
mod order_fulfilment_saga;
// The order-saga example: what the routes of saga operations share.
mod saga_operation;
// The order-saga example: confirm_order, cancel_order and the fulfilments.
pub(crate) mod fulfilment;
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
        .route("/orders", post(order::create).get(order::list))
        .route(
            "/orders/{id}",
            get(order::get).put(order::update).delete(order::delete),
        )
        .route("/restocks", post(restock::start))
        .route("/restocks/{id}", get(restock::status))
        .route(
            "/sagas/order-fulfilment",
            post(order_fulfilment_saga::start),
        )
        .route(
            "/sagas/order-fulfilment/{id}",
            get(order_fulfilment_saga::status),
        )
        .route("/fulfilments/{saga_id}", get(fulfilment::get))
        // daprgen:anchor http-routes
        .route("/openapi.json", get(openapi::serve))
}
