//! The OpenAPI document of the public API, generated from the handlers' `#[utoipa::path]`
//! attributes and the bodies' `ToSchema` derives: the code is the only source. The copy in the
//! service's `openapi.json` (for clients and reviews) is checked against it by a test; after
//! changing the API, refresh it with `UPDATE_OPENAPI=1 cargo test -p service openapi`.

use std::sync::LazyLock;

use api::http::Problem;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa::OpenApi;

/// The OpenAPI description of the public API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "payment",
        description = "The public HTTP API of payment. Errors are RFC 9457 problem details (application/problem+json).",
    ),
    paths(
        super::account::create,
        super::account::list,
        super::account::get,
        super::account::update,
        super::account::delete,
        super::account::transfer,
        // daprgen:anchor openapi-paths
    ),
    components(schemas(Problem)),
    tags(
        (name = "accounts", description = "Account records, with ETag versions and idempotent creation."),
        // daprgen:anchor openapi-tags
    ),
)]
pub struct ApiDoc;

/// The document as served and as kept in `openapi.json`: pretty JSON with a final newline.
pub fn document() -> String {
    let mut document = ApiDoc::openapi();
    // utoipa fills the license in from Cargo.toml; the crates declare none, so say nothing.
    document.info.license = None;
    let mut text = document
        .to_pretty_json()
        .expect("an OpenAPI document built from Rust types always serializes");
    text.push('\n');
    text
}

static DOCUMENT: LazyLock<String> = LazyLock::new(document);

/// `GET /openapi.json`.
pub async fn serve() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::Value;

    use super::document;

    /// Where `kept` first differs from `served`, as a JSON pointer, or `None` if they are equal.
    fn first_difference(kept: &Value, served: &Value, pointer: &str) -> Option<String> {
        match (kept, served) {
            (Value::Object(kept), Value::Object(served)) => kept
                .keys()
                .chain(served.keys())
                .find_map(|key| match (kept.get(key), served.get(key)) {
                    (Some(kept), Some(served)) => {
                        first_difference(kept, served, &format!("{pointer}/{key}"))
                    }
                    _ => Some(format!("{pointer}/{key}")),
                }),
            (Value::Array(kept_items), Value::Array(served_items))
                if kept_items.len() == served_items.len() =>
            {
                kept_items.iter().zip(served_items).enumerate().find_map(
                    |(index, (kept, served))| {
                        first_difference(kept, served, &format!("{pointer}/{index}"))
                    },
                )
            }
            _ => (kept != served).then(|| pointer.to_owned()),
        }
    }

    /// Compared as JSON values, not as text: the order of the schemas (sorted by name) depends on
    /// the resource's name, so a freshly generated service may list them in another order.
    #[test]
    fn openapi_json_is_the_document_the_code_serves() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi.json");
        let served = document();
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, &served).expect("openapi.json is writable");
            return;
        }
        let refresh = "run `UPDATE_OPENAPI=1 cargo test -p service openapi` to refresh it";
        let kept = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}; {refresh}", path.display()));
        let kept: Value = serde_json::from_str(&kept)
            .unwrap_or_else(|error| panic!("openapi.json is not JSON ({error}); {refresh}"));
        let served: Value = serde_json::from_str(&served).expect("the served document is JSON");
        if let Some(pointer) = first_difference(&kept, &served, "") {
            panic!(
                "openapi.json differs from the document the code serves at {pointer:?}; {refresh}"
            );
        }
    }
}
