//! The routes the Dapr sidecar calls: the programmatic subscription list and the event handler.
//! Subscriptions are served here rather than through the `dapr` crate's `#[topic]` macro, which
//! acknowledges every event and panics on a malformed one; here each event gets the answer that
//! tells the sidecar what to do with it (SUCCESS, RETRY, or DROP to the dead-letter topic).

// daprgen:anchor subscription-modules

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use biz::order_adjustment::Disposition;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::problem::{ApiError, ProblemKind};
use crate::router::HttpState;

/// Name of the Dapr pub/sub component subscribed to, unless configured otherwise.
pub const DEFAULT_PUBSUB_NAME: &str = "pubsub";
/// Topic of adjustment requests.
pub const ADJUSTMENTS_TOPIC: &str = "orders-adjustments";
/// Where the sidecar sends adjustment requests answered with DROP.
pub const ADJUSTMENTS_DEAD_LETTER_TOPIC: &str = "orders-adjustments-dead";
/// The route the sidecar delivers adjustment requests to.
pub const ADJUSTMENTS_ROUTE: &str = "/events/adjustments";
/// The header the sidecar authenticates itself with (its `APP_API_TOKEN`).
pub const APP_TOKEN_HEADER: &str = "dapr-api-token";

/// One entry of the programmatic subscription list (`GET /dapr/subscribe`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// The pub/sub component.
    pub pubsubname: String,
    /// The topic.
    pub topic: String,
    /// The app route events are delivered to.
    pub route: String,
    /// Where events answered with DROP (or out of retries) go.
    pub dead_letter_topic: String,
}

/// The sidecar-facing routes; they require the sidecar's `dapr-api-token` when one is configured.
pub(crate) fn routes(state: Arc<HttpState>) -> Router<Arc<HttpState>> {
    Router::new()
        .route("/dapr/subscribe", get(subscriptions))
        .route(ADJUSTMENTS_ROUTE, post(adjustments))
        .route("/confirm-order", post(crate::http::fulfilment::confirm))
        .route("/cancel-order", post(crate::http::fulfilment::cancel))
        // daprgen:anchor subscription-routes
        .route_layer(middleware::from_fn_with_state(state, require_app_token))
}

/// `GET /dapr/subscribe`: what the sidecar should deliver to this app.
async fn subscriptions(State(state): State<Arc<HttpState>>) -> Json<Vec<Subscription>> {
    Json(vec![
        Subscription {
            pubsubname: state.pubsub_name.clone(),
            topic: ADJUSTMENTS_TOPIC.to_owned(),
            route: ADJUSTMENTS_ROUTE.to_owned(),
            dead_letter_topic: ADJUSTMENTS_DEAD_LETTER_TOPIC.to_owned(),
        },
        // daprgen:anchor subscriptions
    ])
}

/// The CloudEvent fields this app reads; the others are ignored.
#[derive(Debug, Deserialize)]
struct CloudEvent {
    id: String,
    #[serde(default)]
    data: Value,
}

impl CloudEvent {
    /// The event delivered in `body`, its payload read by [`payload`]; `None` (logged) when the
    /// body is no CloudEvent, which is answered DROP.
    fn read(body: Result<Bytes, BytesRejection>) -> Option<Self> {
        match body
            .map_err(|rejection| rejection.body_text())
            .and_then(|bytes| {
                serde_json::from_slice::<CloudEvent>(&bytes).map_err(|error| error.to_string())
            }) {
            Ok(event) => Some(Self {
                data: payload(event.data),
                ..event
            }),
            Err(error) => {
                tracing::warn!(%error, "malformed CloudEvent, dropping it");
                None
            }
        }
    }
}

/// `POST /events/adjustments`: applies one adjustment request. Always answers 200 with a
/// disposition: any other status would make the sidecar retry, which never helps a malformed
/// event.
async fn adjustments(
    State(state): State<Arc<HttpState>>,
    body: Result<Bytes, BytesRejection>,
) -> Json<Value> {
    let Some(event) = CloudEvent::read(body) else {
        return reply(Disposition::Drop);
    };
    let disposition = state.adjustments.handle(&event.id, &event.data).await;
    tracing::debug!(
        event_id = event.id,
        ?disposition,
        "adjustment request handled"
    );
    reply(disposition)
}

/// The event's payload as JSON. Publishers that send JSON as text (the state store outbox does,
/// with `datacontenttype: text/plain`) deliver it as a JSON string: parse it once more.
fn payload(data: Value) -> Value {
    match data {
        Value::String(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
        other => other,
    }
}

fn reply(disposition: Disposition) -> Json<Value> {
    let status = match disposition {
        Disposition::Success => "SUCCESS",
        Disposition::Retry => "RETRY",
        Disposition::Drop => "DROP",
    };
    Json(serde_json::json!({ "status": status }))
}

/// Refuses calls that do not carry the configured app token: only the sidecar may deliver events.
async fn require_app_token(
    State(state): State<Arc<HttpState>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(expected) = &state.app_api_token {
        let given = request
            .headers()
            .get(APP_TOKEN_HEADER)
            .map(|value| value.as_bytes());
        if !given.is_some_and(|given| constant_time_eq(given, expected.as_bytes())) {
            return ApiError::new(
                ProblemKind::Unauthorized,
                format!("the {APP_TOKEN_HEADER} header is missing or wrong"),
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// Compares secrets in time independent of where they differ (their length is not secret).
fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len()
        && left
            .iter()
            .zip(right)
            .fold(0u8, |acc, (l, r)| acc | (l ^ r))
            == 0
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use axum::http::{Request, StatusCode};
    use biz::order_adjustment::Disposition;
    use serde_json::json;

    use super::{ADJUSTMENTS_ROUTE, APP_TOKEN_HEADER, Subscription};
    use crate::router::HttpLimits;
    use crate::test_support::{Mocks, call, empty};

    fn event(data: serde_json::Value) -> String {
        json!({
            "specversion": "1.0",
            "id": "event-1",
            "source": "somewhere",
            "type": "order.adjustment.requested",
            "datacontenttype": "application/json",
            "topic": "orders-adjustments",
            "pubsubname": "pubsub",
            "data": data,
        })
        .to_string()
    }

    fn delivery(body: impl Into<String>) -> Request<axum::body::Body> {
        let mut request = crate::test_support::json("POST", ADJUSTMENTS_ROUTE, body);
        request.headers_mut().insert(
            "content-type",
            "application/cloudevents+json".parse().unwrap(),
        );
        request
    }

    #[tokio::test]
    async fn the_subscription_names_topic_route_and_dead_letter_topic() {
        let answer = call(Mocks::new().router(), empty("GET", "/dapr/subscribe")).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(
            answer.json()[0],
            json!({
                "pubsubname": "pubsub",
                "topic": "orders-adjustments",
                "route": "/events/adjustments",
                "deadLetterTopic": "orders-adjustments-dead",
            })
        );
    }

    #[tokio::test]
    async fn no_two_subscriptions_share_a_topic_or_a_route() {
        let answer = call(Mocks::new().router(), empty("GET", "/dapr/subscribe")).await;
        let subscriptions: Vec<Subscription> =
            serde_json::from_slice(&answer.body).expect("a subscription list");
        let topics: HashSet<_> = subscriptions
            .iter()
            .map(|s| (&s.pubsubname, &s.topic))
            .collect();
        let routes: HashSet<_> = subscriptions.iter().map(|s| &s.route).collect();
        assert_eq!(
            (topics.len(), routes.len()),
            (subscriptions.len(), subscriptions.len()),
            "{subscriptions:?}"
        );
    }

    async fn disposition_of(disposition: Disposition) -> serde_json::Value {
        let mut mocks = Mocks::new();
        let data = json!({ "order_id": "0b7a5f3e-5f5c-4d6e-9a51-6f0e8e9b2c11", "delta": 2 });
        let expected = data.clone();
        mocks
            .adjustments
            .expect_handle()
            .withf(move |event_id, data| event_id == "event-1" && *data == expected)
            .times(1)
            .return_const(disposition);
        let answer = call(mocks.router(), delivery(event(data))).await;
        assert_eq!(answer.status, StatusCode::OK);
        answer.json()
    }

    #[tokio::test]
    async fn each_disposition_is_answered_with_200_and_its_status() {
        assert_eq!(
            disposition_of(Disposition::Success).await,
            json!({ "status": "SUCCESS" })
        );
        assert_eq!(
            disposition_of(Disposition::Retry).await,
            json!({ "status": "RETRY" })
        );
        assert_eq!(
            disposition_of(Disposition::Drop).await,
            json!({ "status": "DROP" })
        );
    }

    #[tokio::test]
    async fn json_sent_as_text_is_parsed_once_more() {
        let mut mocks = Mocks::new();
        mocks
            .adjustments
            .expect_handle()
            .withf(|_, data| data["delta"] == 5)
            .return_const(Disposition::Success);
        let answer = call(mocks.router(), delivery(event(json!("{\"delta\": 5}")))).await;
        assert_eq!(answer.json(), json!({ "status": "SUCCESS" }));
    }

    #[tokio::test]
    async fn malformed_events_are_dropped_without_reaching_the_handler() {
        for body in ["not json", "{\"data\": {}}", "[1, 2]", "{\"id\": 7}", ""] {
            let answer = call(Mocks::new().router(), delivery(body)).await;
            assert_eq!(answer.status, StatusCode::OK, "body {body:?}");
            assert_eq!(answer.json(), json!({ "status": "DROP" }), "body {body:?}");
        }
    }

    #[tokio::test]
    async fn oversized_events_are_dropped() {
        let mut mocks = Mocks::new();
        mocks.limits = HttpLimits {
            body_limit_bytes: 1024,
            ..HttpLimits::default()
        };
        let answer = call(
            mocks.router(),
            delivery(event(json!({ "padding": "x".repeat(4096) }))),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.json(), json!({ "status": "DROP" }));
    }

    fn guarded() -> Mocks {
        let mut mocks = Mocks::new();
        mocks.app_api_token = Some("sidecar-secret".into());
        mocks
    }

    #[tokio::test]
    async fn with_an_app_token_the_sidecar_routes_refuse_calls_without_it() {
        for (uri, method) in [("/dapr/subscribe", "GET"), (ADJUSTMENTS_ROUTE, "POST")] {
            let answer = call(guarded().router(), empty(method, uri)).await;
            answer.assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");

            let mut request = empty(method, uri);
            request
                .headers_mut()
                .insert(APP_TOKEN_HEADER, "wrong-secret".parse().unwrap());
            call(guarded().router(), request)
                .await
                .assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
        }
    }

    #[tokio::test]
    async fn with_the_right_app_token_the_sidecar_routes_answer() {
        let mut mocks = guarded();
        mocks
            .adjustments
            .expect_handle()
            .return_const(Disposition::Success);
        let router = mocks.router();

        let mut request = empty("GET", "/dapr/subscribe");
        request
            .headers_mut()
            .insert(APP_TOKEN_HEADER, "sidecar-secret".parse().unwrap());
        assert_eq!(call(router.clone(), request).await.status, StatusCode::OK);

        let mut request = delivery(event(json!({})));
        request
            .headers_mut()
            .insert(APP_TOKEN_HEADER, "sidecar-secret".parse().unwrap());
        assert_eq!(
            call(router, request).await.json(),
            json!({ "status": "SUCCESS" })
        );
    }

    #[tokio::test]
    async fn probes_stay_open_with_an_app_token() {
        let answer = call(guarded().router(), empty("GET", "/healthz")).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
}
