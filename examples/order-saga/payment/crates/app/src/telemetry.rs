//! Logs and request spans. Logs go to stdout (the platform collects them) as JSON lines, or as
//! human-readable text for local runs. Every request runs in a span that carries the W3C trace id
//! the Dapr sidecar propagates in `traceparent`, so one request can be followed from the sidecar's
//! traces into this service's logs.

use std::io::IsTerminal;
use std::time::Duration;

use axum::http::{Request, Response};
use serde::Deserialize;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{DefaultOnRequest, DefaultOnResponse, MakeSpan, OnResponse, TraceLayer};
use tracing::{Level, Span, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry};

/// The header W3C Trace Context (and Dapr) propagates the trace in.
pub const TRACEPARENT: &str = "traceparent";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line, with the fields of every enclosing span: for log collectors.
    Json,
    /// Multi-line, human-readable text: for a developer's terminal.
    Pretty,
}

/// The `[telemetry]` section of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// Output format.
    pub format: LogFormat,
    /// Which events to keep, in `tracing_subscriber::EnvFilter` syntax (e.g. `info,data=debug`).
    pub level: String,
}

/// Why telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// `telemetry.level` is not a valid filter.
    #[error("invalid configuration key `telemetry.level`: {0}")]
    InvalidLevel(String),
    /// A global subscriber was installed already (telemetry is initialised once per process).
    #[error("telemetry was already initialised: {0}")]
    AlreadyInitialised(String),
}

/// The filter `level` describes.
pub fn level_filter(level: &str) -> Result<EnvFilter, TelemetryError> {
    EnvFilter::try_new(level).map_err(|error| TelemetryError::InvalidLevel(error.to_string()))
}

/// A subscriber writing to `sink`, without colours. Tests pass a sink that captures the output;
/// [`init`] passes stdout.
pub fn subscriber<W>(
    settings: &TelemetrySettings,
    sink: W,
) -> Result<Box<dyn Subscriber + Send + Sync>, TelemetryError>
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    build(settings, sink, false)
}

/// Installs the process-wide subscriber, writing to stdout (in colour if stdout is a terminal),
/// and routes records of the `log` crate into it.
pub fn init(settings: &TelemetrySettings) -> Result<(), TelemetryError> {
    build(settings, std::io::stdout, std::io::stdout().is_terminal())?
        .try_init()
        .map_err(|error| TelemetryError::AlreadyInitialised(error.to_string()))
}

fn build<W>(
    settings: &TelemetrySettings,
    sink: W,
    ansi: bool,
) -> Result<Box<dyn Subscriber + Send + Sync>, TelemetryError>
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let registry = Registry::default().with(level_filter(&settings.level)?);
    Ok(match settings.format {
        LogFormat::Json => Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(true)
                    .with_writer(sink),
            ),
        ),
        LogFormat::Pretty => Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .pretty()
                    .with_ansi(ansi)
                    .with_writer(sink),
            ),
        ),
    })
}

/// The parts of a W3C `traceparent` header (Trace Context, level 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent<'header> {
    /// 32 lowercase hex digits naming the whole trace.
    pub trace_id: &'header str,
    /// 16 lowercase hex digits naming the caller's span.
    pub parent_id: &'header str,
    /// Whether the caller records this trace.
    pub sampled: bool,
}

impl<'header> TraceParent<'header> {
    /// Parses `version-traceid-parentid-flags`; `None` for anything malformed, as the
    /// specification asks receivers to ignore such a header rather than fail the request.
    pub fn parse(header: &'header str) -> Option<Self> {
        let mut fields = header.split('-');
        let (version, trace_id, parent_id, flags) = (
            fields.next()?,
            fields.next()?,
            fields.next()?,
            fields.next()?,
        );
        let rest_is_allowed = match version {
            // Version 00 has exactly four fields; later versions may append more.
            "00" => fields.next().is_none(),
            "ff" => false,
            _ => true,
        };
        let valid = rest_is_allowed
            && is_lower_hex(version, 2)
            && is_lower_hex(trace_id, 32)
            && is_lower_hex(parent_id, 16)
            && is_lower_hex(flags, 2)
            && trace_id.bytes().any(|digit| digit != b'0')
            && parent_id.bytes().any(|digit| digit != b'0');
        valid.then(|| Self {
            trace_id,
            parent_id,
            sampled: u8::from_str_radix(flags, 16).is_ok_and(|flags| flags & 1 == 1),
        })
    }
}

fn is_lower_hex(field: &str, len: usize) -> bool {
    field.len() == len
        && field
            .bytes()
            .all(|digit| matches!(digit, b'0'..=b'9' | b'a'..=b'f'))
}

/// Opens the span of one request: method, path (never the query, which may carry secrets) and
/// the trace id of its `traceparent`, when it has a valid one.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let span = tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.uri().path(),
            trace_id = tracing::field::Empty,
        );
        let trace = request
            .headers()
            .get(TRACEPARENT)
            .and_then(|value| value.to_str().ok());
        if let Some(parent) = trace.and_then(TraceParent::parse) {
            span.record("trace_id", parent.trace_id);
        }
        span
    }
}

/// The access log: one line per response, with its status and latency, written by
/// `tower_http::trace` (the target to name in `telemetry.level`).
///
/// Responses that succeeded (1xx-3xx) are logged at `debug`: they are the bulk of the traffic,
/// and writing a JSON line for each was measured at about a quarter of this service's CPU per
/// `GET` under load. Client errors (4xx) are logged at `info`; server errors and failures also
/// get an `error` line from the trace layer's failure classifier. To log every response, set
/// `telemetry.level` to e.g. `info,tower_http::trace=debug`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AccessLog;

impl<B> OnResponse<B> for AccessLog {
    fn on_response(self, response: &Response<B>, latency: Duration, span: &Span) {
        let level = if response.status().as_u16() >= 400 {
            Level::INFO
        } else {
            Level::DEBUG
        };
        DefaultOnResponse::new()
            .level(level)
            .on_response(response, latency, span);
    }
}

/// Tracing of HTTP requests: a [`RequestSpan`] each, the [`AccessLog`], and an `error` line
/// when a 5xx or a failure ends one.
pub fn http_trace_layer()
-> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, RequestSpan, DefaultOnRequest, AccessLog> {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_response(AccessLog)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    #[test]
    fn parses_a_sampled_traceparent() {
        let parent =
            TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(parent.trace_id, TRACE_ID);
        assert_eq!(parent.parent_id, "00f067aa0ba902b7");
        assert!(parent.sampled);
        let unsampled =
            TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").unwrap();
        assert!(!unsampled.sampled);
    }

    #[test]
    fn accepts_extra_fields_only_from_later_versions() {
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future";
        assert_eq!(
            TraceParent::parse(later).map(|parent| parent.trace_id),
            Some(TRACE_ID)
        );
        assert_eq!(
            TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future"),
            None
        );
    }

    #[test]
    fn ignores_malformed_traceparents() {
        for header in [
            "",
            "garbage",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceParent::parse(header), None, "{header:?}");
        }
    }

    #[test]
    fn rejects_an_invalid_level_naming_the_key() {
        let error = level_filter("info,=[").unwrap_err();
        assert!(error.to_string().contains("telemetry.level"), "{error}");
    }
}
