//! Extractors of the public API. Each answers bad input with problem details (never axum's
//! plain-text rejections): bodies that are not JSON, JSON of the wrong shape, ids that are not
//! UUIDs, malformed `If-Match` or `Idempotency-Key` headers.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use biz::account::{AccountId, Etag};
use biz::idempotency::{Fingerprint, IdempotencyKey};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::error::Category;
use sha2::{Digest, Sha256};

use crate::problem::{self, ApiError, ProblemKind};

/// Header naming one logical request, so that its retries are answered once.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// A JSON request body of type `T`.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let (_, value) = read_json(request, state).await?;
        Ok(Self(value))
    }
}

/// A JSON request body of type `T` together with its `Idempotency-Key` (if any) and the
/// fingerprint of the request, to tell a retry from another request reusing the key.
pub struct Idempotent<T> {
    /// The key the client sent, if any.
    pub key: Option<IdempotencyKey>,
    /// SHA-256 of the method, path and body.
    pub fingerprint: Fingerprint,
    /// The parsed body.
    pub body: T,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Idempotent<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let key = single_header(request.headers(), IDEMPOTENCY_KEY)?
            .map(|value| {
                let text = value.to_str().unwrap_or_default();
                IdempotencyKey::parse(text)
                    .map_err(|error| ApiError::new(ProblemKind::BadRequest, error.to_string()))
            })
            .transpose()?;
        let (method, path) = (request.method().clone(), request.uri().path().to_owned());
        let (bytes, body) = read_json(request, state).await?;
        let mut digest = Sha256::new();
        for part in [
            method.as_str().as_bytes(),
            b"\n",
            path.as_bytes(),
            b"\n",
            &bytes,
        ] {
            digest.update(part);
        }
        Ok(Self {
            key,
            fingerprint: Fingerprint(format!("{:x}", digest.finalize())),
            body,
        })
    }
}

/// Reads the body (within the configured limit) and parses it as JSON.
async fn read_json<S: Send + Sync, T: DeserializeOwned>(
    request: Request,
    state: &S,
) -> Result<(Bytes, T), ApiError> {
    require_json_content_type(request.headers())?;
    let bytes = Bytes::from_request(request, state)
        .await
        .map_err(|rejection| problem::from_rejection(rejection.status(), rejection.body_text()))?;
    let value = serde_json::from_slice(&bytes).map_err(|error| match error.classify() {
        // Well-formed JSON of the wrong shape: wrong types, missing or unknown fields.
        Category::Data => ApiError::new(ProblemKind::InvalidBody, error.to_string()),
        Category::Syntax | Category::Eof | Category::Io => ApiError::new(
            ProblemKind::BadRequest,
            format!("the body is not valid JSON: {error}"),
        ),
    })?;
    Ok((bytes, value))
}

/// Accepts `application/json` and `application/*+json`, with any parameters (`charset=utf-8`).
fn require_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    match essence.as_deref() {
        Some("application/json") => Ok(()),
        Some(other) if other.starts_with("application/") && other.ends_with("+json") => Ok(()),
        _ => Err(ApiError::new(
            ProblemKind::UnsupportedMediaType,
            "the body must be JSON, sent with Content-Type: application/json",
        )),
    }
}

/// The value of header `name`; refuses it repeated, since which one counts would be a guess.
fn single_header<'a>(
    headers: &'a HeaderMap,
    name: &str,
) -> Result<Option<&'a HeaderValue>, ApiError> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (first, None) => Ok(first),
        (Some(_), Some(_)) => Err(ApiError::new(
            ProblemKind::BadRequest,
            format!("the {name} header is repeated"),
        )),
        (None, Some(_)) => Ok(None),
    }
}

/// The `{id}` of a `/accounts/{id}` path, a UUID.
pub struct AccountPathId(pub AccountId);

impl<S: Send + Sync> FromRequestParts<S> for AccountPathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(text) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| {
                problem::from_rejection(rejection.status(), rejection.body_text())
            })?;
        AccountId::parse(&text).map(Self).map_err(|_| {
            ApiError::new(
                ProblemKind::BadRequest,
                format!("{text:?} is not a valid account id (a UUID)"),
            )
        })
    }
}

/// The query of a list request.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// Items per page.
    pub page_size: Option<usize>,
    /// Where the previous page ended.
    pub page_token: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ListQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(query) = Query::<Self>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| {
                problem::from_rejection(rejection.status(), rejection.body_text())
            })?;
        Ok(query)
    }
}

/// What an `If-Match` header asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// No `If-Match` header.
    Absent,
    /// `If-Match: *`: any current version.
    Any,
    /// `If-Match: "<etag>"`: exactly this version.
    Version(Etag),
    /// `If-Match: W/"<etag>"`: a weak tag, which never matches (If-Match compares strongly).
    Weak,
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let Some(value) = single_header(&parts.headers, header::IF_MATCH.as_str())? else {
            return Ok(Self::Absent);
        };
        let text = value.to_str().unwrap_or_default().trim();
        if text == "*" {
            return Ok(Self::Any);
        }
        let (weak, tag) = match text.strip_prefix("W/") {
            Some(tag) => (true, tag),
            None => (false, text),
        };
        match tag
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'))
        {
            Some(inner) if !inner.is_empty() && !inner.contains('"') => Ok(if weak {
                Self::Weak
            } else {
                Self::Version(Etag(inner.to_owned()))
            }),
            _ => Err(ApiError::new(
                ProblemKind::BadRequest,
                "If-Match must be one quoted entity tag, as received in ETag (e.g. \"3\"), or *",
            )),
        }
    }
}

/// The `ETag` header value of `etag`: quoted, strong. `None` (and a warning) for a tag the store
/// made that cannot be sent as one, which would be a bug in the data layer.
pub fn etag_header(etag: &Etag) -> Option<HeaderValue> {
    let value = (!etag.0.contains('"'))
        .then(|| HeaderValue::from_str(&format!("\"{}\"", etag.0)).ok())
        .flatten();
    if value.is_none() {
        tracing::warn!(etag = %etag, "this ETag cannot be sent in a header");
    }
    value
}
