//! Pub/sub against a real sidecar and redis streams: delivery to an HTTP subscriber, RETRY answered
//! with redelivery (the inbound policy of resiliency/default.yaml), DROP sent to the dead-letter topic.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use dapr_harness::{Daprd, Redis};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::timeout;

const PUBSUB: &str = "pubsub";
/// Generous bound for one delivery: a healthy sidecar delivers in milliseconds.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(15);
/// Bound for a redelivery by the inbound retry policy (every 200 ms); without the policy, redis
/// would redeliver only after `processingTimeout` (30 s), so this also proves the policy applies.
const REDELIVERY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long nothing more must arrive: five times the 200 ms inbound retry interval.
const QUIET_PERIOD: Duration = Duration::from_secs(1);

/// One request the sidecar made to a subscription route.
#[derive(Debug)]
struct Delivery {
    route: String,
    /// 1 for the first delivery to this route, 2 for the next, …
    attempt: usize,
    event: Value,
}

/// What the subscriber answers (`SUCCESS`, `RETRY`, `DROP`) given the route and the attempt.
type Answer = fn(&str, usize) -> &'static str;

#[derive(Clone)]
struct Subscriber {
    subscriptions: Arc<Value>,
    answer: Answer,
    attempts: Arc<Mutex<HashMap<String, usize>>>,
    deliveries: mpsc::UnboundedSender<Delivery>,
}

/// Serves `subscriptions` on `GET /dapr/subscribe` and reports every delivery; returns the app port.
async fn start_subscriber(subscriptions: Value, answer: Answer) -> (u16, mpsc::UnboundedReceiver<Delivery>) {
    let (deliveries, received) = mpsc::unbounded_channel();
    let app = Subscriber {
        subscriptions: Arc::new(subscriptions),
        answer,
        attempts: Arc::default(),
        deliveries,
    };
    let router = Router::new()
        .route(
            "/dapr/subscribe",
            get(|State(app): State<Subscriber>| async move { Json((*app.subscriptions).clone()) }),
        )
        .route("/{*route}", post(deliver))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (port, received)
}

async fn deliver(State(app): State<Subscriber>, Path(route): Path<String>, Json(event): Json<Value>) -> Json<Value> {
    let route = format!("/{route}");
    let attempt = {
        let mut attempts = app.attempts.lock().unwrap();
        let attempt = attempts.entry(route.clone()).or_default();
        *attempt += 1;
        *attempt
    };
    let status = (app.answer)(&route, attempt);
    // The receiver is gone only once the test is over.
    let _ = app.deliveries.send(Delivery { route, attempt, event });
    Json(json!({ "status": status }))
}

async fn sidecar(redis: &Redis, app_port: u16) -> Daprd {
    Daprd::builder("pubsub-test")
        .redis(redis)
        .component("pubsub/redis.yaml")
        .component("resiliency/default.yaml")
        .app_port(app_port)
        // Subscriptions are read from the app before the sidecar reports the app healthy.
        .wait_for_app()
        .start()
        .await
        .expect("daprd starts")
}

async fn publish(daprd: &Daprd, topic: &str, data: &Value) {
    let response = daprd
        .http_client()
        .post(format!("{}/v1.0/publish/{PUBSUB}/{topic}", daprd.http_url()))
        .json(data)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204, "{}", response.text().await.unwrap());
}

async fn next_delivery(deliveries: &mut mpsc::UnboundedReceiver<Delivery>) -> Delivery {
    next_delivery_within(DELIVERY_TIMEOUT, deliveries).await
}

async fn next_delivery_within(bound: Duration, deliveries: &mut mpsc::UnboundedReceiver<Delivery>) -> Delivery {
    timeout(bound, deliveries.recv())
        .await
        .unwrap_or_else(|_| panic!("no delivery within {bound:?}"))
        .expect("the subscriber is running")
}

/// Asserts that nothing more is delivered for a while: here the wait is the assertion.
async fn assert_quiet(deliveries: &mut mpsc::UnboundedReceiver<Delivery>) {
    if let Ok(extra) = timeout(QUIET_PERIOD, deliveries.recv()).await {
        panic!("unexpected extra delivery: {extra:?}");
    }
}

#[tokio::test]
async fn published_event_reaches_the_subscriber_as_a_cloud_event() {
    let topic = "orders-created";
    let subscriptions = json!([{"pubsubname": PUBSUB, "topic": topic, "route": "/orders-created"}]);
    let (port, mut deliveries) = start_subscriber(subscriptions, |_, _| "SUCCESS").await;
    let redis = Redis::start().await.unwrap();
    let daprd = sidecar(&redis, port).await;

    let data = json!({"orderId": "o-1", "amount": 42});
    publish(&daprd, topic, &data).await;

    let delivery = next_delivery(&mut deliveries).await;
    assert_eq!(delivery.route, "/orders-created");
    let event = &delivery.event;
    assert_eq!(event["data"], data, "{event}");
    assert_eq!(event["datacontenttype"], "application/json", "{event}");
    assert_eq!(event["specversion"], "1.0", "{event}");
    assert_eq!(event["type"], "com.dapr.event.sent", "{event}");
    assert_eq!(event["source"], "pubsub-test", "{event}");
    assert_eq!(event["topic"], topic, "{event}");
    assert_eq!(event["pubsubname"], PUBSUB, "{event}");
    assert!(event["id"].as_str().is_some_and(|id| !id.is_empty()), "{event}");
    assert_quiet(&mut deliveries).await;
}

#[tokio::test]
async fn retry_answer_is_redelivered_until_success() {
    let topic = "orders-retried";
    let subscriptions = json!([{"pubsubname": PUBSUB, "topic": topic, "route": "/orders-retried"}]);
    let (port, mut deliveries) = start_subscriber(
        subscriptions,
        |_, attempt| if attempt <= 2 { "RETRY" } else { "SUCCESS" },
    )
    .await;
    let redis = Redis::start().await.unwrap();
    let daprd = sidecar(&redis, port).await;

    publish(&daprd, topic, &json!({"orderId": "o-2"})).await;

    let first = next_delivery(&mut deliveries).await;
    for expected_attempt in 2..=3 {
        let again = next_delivery_within(REDELIVERY_TIMEOUT, &mut deliveries).await;
        assert_eq!(again.route, "/orders-retried");
        assert_eq!(again.attempt, expected_attempt);
        assert_eq!(again.event["id"], first.event["id"], "redelivery of the same event");
        assert_eq!(again.event["data"], json!({"orderId": "o-2"}));
    }
    // The third answer was SUCCESS: the message is acknowledged and never delivered a fourth time.
    assert_quiet(&mut deliveries).await;
}

#[tokio::test]
async fn dropped_event_goes_to_the_dead_letter_topic_once() {
    let topic = "orders-dropped";
    let dead_letter_topic = "orders-dropped-dead";
    let subscriptions = json!([
        {"pubsubname": PUBSUB, "topic": topic, "route": "/orders-dropped", "deadLetterTopic": dead_letter_topic},
        {"pubsubname": PUBSUB, "topic": dead_letter_topic, "route": "/dead-letters"},
    ]);
    let answer = |route: &str, _| if route == "/orders-dropped" { "DROP" } else { "SUCCESS" };
    let (port, mut deliveries) = start_subscriber(subscriptions, answer).await;
    let redis = Redis::start().await.unwrap();
    let daprd = sidecar(&redis, port).await;

    let data = json!({"orderId": "o-3"});
    publish(&daprd, topic, &data).await;

    let dropped = next_delivery(&mut deliveries).await;
    assert_eq!(dropped.route, "/orders-dropped");
    let dead_letter = next_delivery(&mut deliveries).await;
    assert_eq!(dead_letter.route, "/dead-letters");
    let event = &dead_letter.event;
    // The sidecar forwards the original CloudEvent unchanged, its `topic` still the original one.
    assert_eq!(event["id"], dropped.event["id"], "{event}");
    assert_eq!(event["data"], data, "{event}");
    assert_eq!(event["topic"], topic, "{event}");
    // DROP is final: no retry on the original route, no second dead letter.
    assert_quiet(&mut deliveries).await;
}

#[tokio::test]
async fn exhausted_retries_go_to_the_dead_letter_topic() {
    let topic = "orders-failing";
    let dead_letter_topic = "orders-failing-dead";
    let subscriptions = json!([
        {"pubsubname": PUBSUB, "topic": topic, "route": "/orders-failing", "deadLetterTopic": dead_letter_topic},
        {"pubsubname": PUBSUB, "topic": dead_letter_topic, "route": "/dead-letters"},
    ]);
    let answer = |route: &str, _| if route == "/orders-failing" { "RETRY" } else { "SUCCESS" };
    let (port, mut deliveries) = start_subscriber(subscriptions, answer).await;
    let redis = Redis::start().await.unwrap();
    let daprd = sidecar(&redis, port).await;

    publish(&daprd, topic, &json!({"orderId": "o-4"})).await;

    // maxRetries: 3 in resiliency/default.yaml: the first delivery and three retries.
    let first = next_delivery(&mut deliveries).await;
    assert_eq!((first.route.as_str(), first.attempt), ("/orders-failing", 1));
    for expected_attempt in 2..=4 {
        let again = next_delivery_within(REDELIVERY_TIMEOUT, &mut deliveries).await;
        assert_eq!(
            (again.route.as_str(), again.attempt),
            ("/orders-failing", expected_attempt)
        );
    }
    let dead_letter = next_delivery_within(REDELIVERY_TIMEOUT, &mut deliveries).await;
    assert_eq!(dead_letter.route, "/dead-letters");
    assert_eq!(dead_letter.event["id"], first.event["id"]);
    assert_quiet(&mut deliveries).await;
}
