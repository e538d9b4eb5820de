//! Telemetry writes to the sink it is given, filters by level, tags request spans with the
//! W3C trace id the sidecar propagates, and keeps successful responses out of the access log at
//! the default level.

use std::io;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use order::telemetry::{self, LogFormat, TRACEPARENT, TelemetrySettings};
use serde_json::Value;
use tower::ServiceExt;

/// A sink that keeps what is written, for the test to read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    fn json_lines(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
            .collect()
    }
}

fn settings(format: LogFormat, level: &str) -> TelemetrySettings {
    TelemetrySettings {
        format,
        level: level.to_owned(),
    }
}

fn capture(settings: &TelemetrySettings) -> (Captured, Box<dyn tracing::Subscriber + Send + Sync>) {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = telemetry::subscriber(settings, move || sink.clone()).unwrap();
    (captured, subscriber)
}

#[test]
fn json_lines_carry_the_message_and_fields() {
    let (captured, subscriber) = capture(&settings(LogFormat::Json, "info"));
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(answer = 42, "computed");
        tracing::debug!("filtered out");
    });
    let lines = captured.json_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["message"], "computed");
    assert_eq!(lines[0]["answer"], 42);
    assert_eq!(lines[0]["level"], "INFO");
}

#[test]
fn the_level_filter_takes_per_target_directives() {
    let (captured, subscriber) = capture(&settings(LogFormat::Json, "warn,chatty=debug"));
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!("dropped");
        tracing::debug!(target: "chatty", "kept");
        tracing::warn!("kept too");
    });
    let messages: Vec<Value> = captured
        .json_lines()
        .into_iter()
        .map(|line| line["message"].clone())
        .collect();
    assert_eq!(messages, ["kept", "kept too"]);
}

#[test]
fn pretty_output_is_plain_text() {
    let (captured, subscriber) = capture(&settings(LogFormat::Pretty, "info"));
    tracing::subscriber::with_default(subscriber, || tracing::info!(answer = 42, "computed"));
    let text = captured.text();
    assert!(
        text.contains("computed") && text.contains("answer: 42"),
        "{text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "no colour codes in a captured sink: {text}"
    );
}

/// Serves one request for `path` through the HTTP trace layer, logging at `level`, and returns
/// the log lines written meanwhile. `/probe` answers 200, any other path 404.
async fn serve(level: &str, path: &str, traceparent: Option<&str>) -> Vec<Value> {
    let (captured, subscriber) = capture(&settings(LogFormat::Json, level));
    let _default = tracing::subscriber::set_default(subscriber);
    let app = Router::new()
        .route(
            "/probe",
            get(|| async {
                tracing::info!("handling");
                "ok"
            }),
        )
        .layer(telemetry::http_trace_layer());
    let mut request = Request::get(path);
    if let Some(header) = traceparent {
        request = request.header(TRACEPARENT, header);
    }
    app.oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    captured.json_lines()
}

async fn serve_one(traceparent: Option<&str>) -> Vec<Value> {
    serve("info", "/probe?token=secret", traceparent).await
}

/// The access log lines among `lines`.
fn access_log(lines: &[Value]) -> Vec<&Value> {
    lines
        .iter()
        .filter(|line| line["message"] == "finished processing request")
        .collect()
}

#[tokio::test]
async fn successful_responses_are_in_the_access_log_at_debug_only() {
    assert_eq!(
        access_log(&serve("info", "/probe", None).await),
        Vec::<&Value>::new()
    );
    let lines = serve("info,tower_http::trace=debug", "/probe", None).await;
    let logged = access_log(&lines);
    assert_eq!(logged.len(), 1, "{lines:?}");
    assert_eq!(
        (&logged[0]["status"], &logged[0]["level"]),
        (&Value::from(200), &Value::from("DEBUG"))
    );
}

#[tokio::test]
async fn client_errors_are_in_the_access_log_at_info() {
    let lines = serve("info", "/missing", None).await;
    let logged = access_log(&lines);
    assert_eq!(logged.len(), 1, "{lines:?}");
    assert_eq!(
        (&logged[0]["status"], &logged[0]["level"]),
        (&Value::from(404), &Value::from("INFO"))
    );
    assert_eq!(request_span(logged[0])["path"], "/missing");
}

fn request_span(line: &Value) -> &Value {
    line["spans"]
        .as_array()
        .and_then(|spans| spans.iter().find(|span| span["name"] == "request"))
        .unwrap_or_else(|| panic!("no request span in {line}"))
}

#[tokio::test]
async fn request_spans_record_the_trace_id_of_traceparent() {
    let lines = serve_one(Some(
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ))
    .await;
    let handling = lines
        .iter()
        .find(|line| line["message"] == "handling")
        .expect("the handler's line");
    let span = request_span(handling);
    assert_eq!(span["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(span["method"], "GET");
    assert_eq!(span["path"], "/probe", "the query is never logged");
    assert!(
        lines
            .iter()
            .all(|line| !line.to_string().contains("secret")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_malformed_traceparent_is_ignored() {
    let lines = serve_one(Some("00-not-a-trace-01")).await;
    let handling = lines
        .iter()
        .find(|line| line["message"] == "handling")
        .expect("the handler's line");
    assert!(
        request_span(handling).get("trace_id").is_none(),
        "{handling}"
    );
}
