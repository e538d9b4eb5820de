//! The public HTTP API: JSON over axum, errors as problem details, described by the OpenAPI
//! document served at `/openapi.json` (and kept in the service's `openapi.json`).

mod extract;
mod idempotent;
pub mod openapi;
mod reply;
{%- if with_workflow %}
mod restock;
{%- endif %}
#[cfg(test)]
mod tests;
mod {{resource}};
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
        .route("/{{resources_path}}", post({{resource}}::create).get({{resource}}::list))
        .route(
            "/{{resources_path}}/{id}",
            get({{resource}}::get).put({{resource}}::update).delete({{resource}}::delete),
        )
{%- if with_lock %}
        .route("/{{resources_path}}/transfers", post({{resource}}::transfer))
{%- endif %}
{%- if with_workflow %}
        .route("/restocks", post(restock::start))
        .route("/restocks/{id}", get(restock::status))
{%- endif %}
        // daprgen:anchor http-routes
        .route("/openapi.json", get(openapi::serve))
}
