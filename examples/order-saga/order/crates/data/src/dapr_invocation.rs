//! Saga operations as Dapr service invocation: each is a `POST` through the sidecar to a method of
//! another app (or of this one), `{http_endpoint}/v1.0/invoke/{app_id}/method/{method}`, with the
//! operation's idempotency key in the `Idempotency-Key` header, so the other side does it once
//! however often a retry sends it. The sidecar's resiliency policies apply on the way.
//!
//! The answer decides what the saga does next: 2xx is done; 408, 425, 429 and 5xx (the sidecar
//! answers 500 when it cannot reach the app) are [`StepError::Unavailable`], retried by the
//! workflow; any other 4xx is [`StepError::Refused`]: the other side said no, so the saga
//! compensates.

use std::fmt;
use std::time::Duration;

use biz::saga::StepError;
use serde::{Deserialize, Serialize};

use crate::sidecar::DaprSidecar;

/// The header carrying an operation's idempotency key.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";
/// Longest one call may take, the other app's work included.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Most characters of an answer's body quoted in a refusal.
const MAX_QUOTED_BODY: usize = 200;
/// Header carrying the API token.
const API_TOKEN_HEADER: &str = "dapr-api-token";

/// Where an operation is sent: the method `method` of the app `app_id`, through the sidecar.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TargetFields", deny_unknown_fields)]
pub struct InvocationTarget {
    app_id: String,
    method: String,
}

/// [`InvocationTarget`] as written in the configuration, before it is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetFields {
    app_id: String,
    method: String,
}

impl TryFrom<TargetFields> for InvocationTarget {
    type Error = String;

    fn try_from(fields: TargetFields) -> Result<Self, String> {
        Self::new(fields.app_id, fields.method)
    }
}

impl InvocationTarget {
    /// The method `method` (a path, e.g. `reservations` or `v1/reservations`) of the app `app_id`.
    pub fn new(app_id: impl Into<String>, method: impl Into<String>) -> Result<Self, String> {
        let (app_id, method) = (app_id.into(), method.into());
        let valid_app_id = !app_id.is_empty()
            && app_id
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'));
        if !valid_app_id {
            return Err(format!(
                "app_id {app_id:?} is not a Dapr app id (letters, digits, '-', '_', '.')"
            ));
        }
        let valid_method = !method.is_empty()
            && !method.starts_with('/')
            && !method
                .split('/')
                .any(|segment| segment.is_empty() || segment == "." || segment == "..")
            && method
                .bytes()
                .all(|byte| byte.is_ascii_graphic() && !matches!(byte, b'?' | b'#' | b'%' | b'\\'));
        if !valid_method {
            return Err(format!(
                "method {method:?} is not a method path (e.g. \"reservations\" or \"v1/reservations\")"
            ));
        }
        Ok(Self { app_id, method })
    }

    /// The app called.
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// The method called.
    pub fn method(&self) -> &str {
        &self.method
    }
}

impl fmt::Debug for InvocationTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.app_id, self.method)
    }
}

/// `POST`s `body` to `target` through `sidecar`, keyed by `key`.
pub async fn invoke(
    http: &reqwest::Client,
    sidecar: &DaprSidecar,
    target: &InvocationTarget,
    key: &str,
    body: &impl Serialize,
) -> Result<(), StepError> {
    let settings = sidecar.settings();
    let url = format!(
        "{}/v1.0/invoke/{}/method/{}",
        settings.http_endpoint, target.app_id, target.method
    );
    let mut request = http
        .post(&url)
        .timeout(CALL_TIMEOUT)
        .header(IDEMPOTENCY_KEY_HEADER, key)
        .json(body);
    if let Some(token) = &settings.api_token {
        request = request.header(API_TOKEN_HEADER, token);
    }
    let response = request.send().await.map_err(|error| {
        StepError::Unavailable(format!("{target:?} could not be called: {error}"))
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    let reason = format!("{target:?} answered {status}: {}", quoted(&body));
    let retryable = status.is_server_error() || matches!(status.as_u16(), 408 | 425 | 429);
    if retryable {
        Err(StepError::Unavailable(reason))
    } else {
        Err(StepError::Refused(reason))
    }
}

/// What an error body says: a problem's `detail` (or `title`), else the start of the body.
fn quoted(body: &str) -> String {
    #[derive(Deserialize)]
    struct Problem {
        title: Option<String>,
        detail: Option<String>,
    }
    if let Ok(Problem { detail, title }) = serde_json::from_str::<Problem>(body)
        && let Some(said) = detail.or(title)
    {
        return said;
    }
    match body.char_indices().nth(MAX_QUOTED_BODY) {
        Some((end, _)) => format!("{}…", &body[..end]),
        None if body.is_empty() => "(no body)".to_owned(),
        None => body.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::sidecar::DaprSettings;

    #[test]
    fn targets_are_checked() {
        assert!(InvocationTarget::new("inventory", "reservations").is_ok());
        assert!(InvocationTarget::new("payment-svc", "v1/charges").is_ok());
        for (app_id, method) in [
            ("", "m"),
            ("in ventory", "m"),
            ("inventory", ""),
            ("inventory", "/m"),
            ("inventory", "a//b"),
            ("inventory", "../admin"),
            ("inventory", "m?x=1"),
            ("inventory", "m n"),
        ] {
            assert!(
                InvocationTarget::new(app_id, method).is_err(),
                "{app_id:?} {method:?}"
            );
        }
        let parsed: Result<InvocationTarget, _> =
            serde_json::from_str(r#"{"app_id": "x", "method": "/m"}"#);
        assert!(parsed.is_err());
    }

    #[test]
    fn refusals_quote_the_problem_detail_or_the_body() {
        assert_eq!(
            quoted(r#"{"type":"t","title":"Conflict","status":409,"detail":"out of stock"}"#),
            "out of stock"
        );
        assert_eq!(quoted(r#"{"title":"Conflict"}"#), "Conflict");
        assert_eq!(quoted("plain words"), "plain words");
        assert_eq!(quoted(""), "(no body)");
        assert!(quoted(&"x".repeat(500)).chars().count() <= MAX_QUOTED_BODY + 1);
    }

    /// A one-shot HTTP server answering `status` with `body`; yields the request it got, as text.
    async fn answer_once(
        status: u16,
        body: &'static str,
    ) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let served = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buffer = [0; 4096];
            // The whole request: its head, then as many body bytes as Content-Length says.
            loop {
                let read = stream.read(&mut buffer).await.unwrap();
                request.extend_from_slice(&buffer[..read]);
                let text = String::from_utf8_lossy(&request).to_string();
                if let Some(head_end) = text.find("\r\n\r\n") {
                    let length = text[..head_end]
                        .lines()
                        .find_map(|line| {
                            line.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(str::to_owned)
                        })
                        .and_then(|value| value.trim().parse::<usize>().ok())
                        .unwrap_or_default();
                    if request.len() >= head_end + 4 + length || read == 0 {
                        break;
                    }
                }
            }
            let response = format!(
                "HTTP/1.1 {status} Whatever\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(response.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&request).to_string()
        });
        (endpoint, served)
    }

    fn sidecar_at(http_endpoint: String, api_token: Option<&str>) -> DaprSidecar {
        let settings = DaprSettings {
            http_endpoint,
            api_token: api_token.map(str::to_owned),
            ..DaprSettings::default()
        };
        DaprSidecar::new(settings).unwrap()
    }

    #[tokio::test]
    async fn a_call_posts_the_body_with_its_key_through_the_sidecar() {
        let (endpoint, served) = answer_once(204, "").await;
        let sidecar = sidecar_at(endpoint, Some("sidecar-token"));
        let target = InvocationTarget::new("inventory", "v1/reservations").unwrap();
        let body = serde_json::json!({"sku": "A-1"});
        invoke(
            &reqwest::Client::new(),
            &sidecar,
            &target,
            "saga-1:reserve_stock",
            &body,
        )
        .await
        .unwrap();
        let request = served.await.unwrap().to_ascii_lowercase();
        assert!(
            request.starts_with("post /v1.0/invoke/inventory/method/v1/reservations http/1.1"),
            "{request}"
        );
        assert!(
            request.contains("idempotency-key: saga-1:reserve_stock"),
            "{request}"
        );
        assert!(
            request.contains("dapr-api-token: sidecar-token"),
            "{request}"
        );
        assert!(
            request.contains("content-type: application/json"),
            "{request}"
        );
        assert!(request.ends_with(r#"{"sku":"a-1"}"#), "{request}");
    }

    #[tokio::test]
    async fn answers_are_refusals_or_retryable() {
        let cases = [
            (
                409,
                r#"{"title":"Conflict","detail":"out of stock"}"#,
                Some(true),
            ),
            (422, "", Some(true)),
            (404, "", Some(true)),
            (500, "boom", Some(false)),
            (503, "", Some(false)),
            (429, "", Some(false)),
            (408, "", Some(false)),
            (200, "", None),
        ];
        for (status, body, refused) in cases {
            let (endpoint, served) = answer_once(status, body).await;
            let target = InvocationTarget::new("payment", "charges").unwrap();
            let outcome = invoke(
                &reqwest::Client::new(),
                &sidecar_at(endpoint, None),
                &target,
                "k",
                &(),
            )
            .await;
            served.await.unwrap();
            match (refused, outcome) {
                (None, Ok(())) => {}
                (Some(true), Err(StepError::Refused(reason))) => {
                    assert!(reason.contains("payment/charges"), "{reason}")
                }
                (Some(false), Err(StepError::Unavailable(_))) => {}
                (expected, outcome) => {
                    panic!("{status}: expected refused={expected:?}, got {outcome:?}")
                }
            }
        }
        let closed = sidecar_at("http://127.0.0.1:9".into(), None);
        let target = InvocationTarget::new("payment", "charges").unwrap();
        let outcome = invoke(&reqwest::Client::new(), &closed, &target, "k", &()).await;
        assert!(
            matches!(outcome, Err(StepError::Unavailable(_))),
            "{outcome:?}"
        );
    }
}
