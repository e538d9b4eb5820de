//! Events, through the real pub/sub: every committed change publishes exactly one domain event
//! (through the state store's outbox), a redelivered adjustment request has one effect, a
//! malformed one is dead-lettered, and only the sidecar may deliver events.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{
    ADJUSTMENTS_DEAD_LETTER_TOPIC, ADJUSTMENTS_TOPIC, API_TOKEN_HEADER, ReceivedEvent, Refusal,
};

use crate::service;

/// Longest wait for one expected event.
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);
/// Well above the outbox's publication delay (about 1 s): an event not seen by then is not coming.
const QUIET_PERIOD: Duration = Duration::from_secs(3);

fn adjustment_id() -> String {
    format!("adjustment-{}", uuid::Uuid::new_v4())
}

fn of_type<'a>(events: &'a [ReceivedEvent], event_type: &str) -> &'a ReceivedEvent {
    let mut matching = events.iter().filter(|event| event.event_type == event_type);
    let event = matching
        .next()
        .unwrap_or_else(|| panic!("no {event_type} event in {events:#?}"));
    assert!(
        matching.next().is_none(),
        "two {event_type} events in {events:#?}"
    );
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dapr_integration),
    ignore = "needs a Dapr runtime: run with DAPR_INTEGRATION=1 (tests/integration/README.md)"
)]
async fn every_committed_change_publishes_exactly_one_event() {
    let service = service().await;
    let client = service.client().await.unwrap();
    let mut events = service.domain_events().await.unwrap();

    let created = client.create("widget", 1).await.unwrap();
    let updated = client
        .update(&created.id, "widget", 2, &created.etag)
        .await
        .unwrap();
    let refused = client
        .update(&created.id, "lost update", 3, &created.etag)
        .await;
    assert!(
        matches!(refused, Err(Refusal::Conflict(_))),
        "a stale update is refused: {refused:?}"
    );
    client.delete(&created.id).await.unwrap();

    let received = events.take(3, EVENT_TIMEOUT).await.unwrap();
    events
        .expect_quiet(QUIET_PERIOD)
        .await
        .expect("no event for the refused update, none twice");

    let ids: HashSet<&str> = received.iter().map(|event| event.id.as_str()).collect();
    assert_eq!(ids.len(), 3, "every event has its own id: {received:#?}");
    let snapshot = |event: &ReceivedEvent| event.data["account"].clone();

    let created_event = of_type(&received, "account.created");
    assert_eq!(created_event.data["type"], "created");
    assert_eq!(
        snapshot(created_event),
        json!({"id": created.id, "name": "widget", "quantity": 1, "version": 1})
    );

    let updated_event = of_type(&received, "account.updated");
    assert_eq!(updated_event.data["type"], "updated");
    assert_eq!(
        snapshot(updated_event),
        json!({"id": created.id, "name": "widget", "quantity": 2, "version": updated.version})
    );

    let deleted_event = of_type(&received, "account.deleted");
    assert_eq!(deleted_event.data["type"], "deleted");
    assert_eq!(
        (&deleted_event.data["id"], &deleted_event.data["version"]),
        (&json!(created.id), &json!(updated.version))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dapr_integration),
    ignore = "needs a Dapr runtime: run with DAPR_INTEGRATION=1 (tests/integration/README.md)"
)]
async fn a_redelivered_adjustment_has_one_effect() {
    let service = service().await;
    let client = service.client().await.unwrap();
    let mut events = service.domain_events().await.unwrap();
    let stock = client.create("stock", 10).await.unwrap();
    events.next(EVENT_TIMEOUT).await.expect("the created event");

    let duplicated = adjustment_id();
    let request = json!({"account_id": stock.id, "delta": 5});
    service
        .publish(ADJUSTMENTS_TOPIC, &duplicated, &request)
        .await
        .unwrap();
    service
        .publish(ADJUSTMENTS_TOPIC, &duplicated, &request)
        .await
        .unwrap();
    // A distinct adjustment after the duplicates: once both of its effects are seen, the
    // duplicates have been delivered too (and the quiet period covers a late one).
    let distinct = json!({"account_id": stock.id, "delta": 100});
    service
        .publish(ADJUSTMENTS_TOPIC, &adjustment_id(), &distinct)
        .await
        .unwrap();

    let adjusted = events.take(2, EVENT_TIMEOUT).await.unwrap();
    events
        .expect_quiet(QUIET_PERIOD)
        .await
        .expect("the duplicated adjustment is applied once");
    let mut deltas: Vec<i64> = adjusted
        .iter()
        .map(|event| {
            assert_eq!(event.event_type, "account.adjusted", "{event:#?}");
            event.data["delta"].as_i64().unwrap()
        })
        .collect();
    deltas.sort();
    assert_eq!(deltas, [5, 100]);
    assert_eq!(client.get(&stock.id).await.unwrap().quantity, 115);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dapr_integration),
    ignore = "needs a Dapr runtime: run with DAPR_INTEGRATION=1 (tests/integration/README.md)"
)]
async fn an_adjustment_that_can_never_apply_goes_to_the_dead_letter_topic() {
    let service = service().await;
    let client = service.client().await.unwrap();
    let mut dead_letters = service
        .subscribe(ADJUSTMENTS_DEAD_LETTER_TOPIC)
        .await
        .unwrap();
    let mut events = service.domain_events().await.unwrap();
    let stock = client.create("stock", 1).await.unwrap();
    events.next(EVENT_TIMEOUT).await.expect("the created event");

    let cases = [
        ("malformed", json!({"nonsense": true})),
        (
            "unknown account",
            json!({"account_id": uuid::Uuid::new_v4().to_string(), "delta": 1}),
        ),
        ("below zero", json!({"account_id": stock.id, "delta": -2})),
    ];
    let mut expected = HashSet::new();
    for (what, request) in &cases {
        let id = format!("{}-{}", what.replace(' ', "-"), uuid::Uuid::new_v4());
        service
            .publish(ADJUSTMENTS_TOPIC, &id, request)
            .await
            .unwrap();
        expected.insert(id);
    }
    let dropped: HashSet<String> = dead_letters
        .take(cases.len(), EVENT_TIMEOUT)
        .await
        .unwrap()
        .into_iter()
        .map(|event| event.id)
        .collect();
    assert_eq!(dropped, expected);
    events
        .expect_quiet(QUIET_PERIOD)
        .await
        .expect("a refused adjustment changes nothing");
    assert_eq!(client.get(&stock.id).await.unwrap().quantity, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dapr_integration),
    ignore = "needs a Dapr runtime: run with DAPR_INTEGRATION=1 (tests/integration/README.md)"
)]
async fn only_the_sidecar_may_call_the_dapr_routes() {
    let service = service().await;
    let client = service.client().await.unwrap();
    let stock = client.create("stock", 1).await.unwrap();
    let event = json!({
        "specversion": "1.0",
        "id": adjustment_id(),
        "source": "intruder",
        "type": "com.dapr.event.sent",
        "topic": ADJUSTMENTS_TOPIC,
        "pubsubname": "pubsub",
        "datacontenttype": "application/json",
        "data": {"account_id": stock.id, "delta": 1000},
    });
    for token in [None, Some("wrong token")] {
        let with_token = |request: reqwest::RequestBuilder| match token {
            Some(token) => request.header(API_TOKEN_HEADER, token),
            None => request,
        };
        let subscriptions = with_token(service.http().get(service.url("/dapr/subscribe")))
            .send()
            .await
            .unwrap();
        assert_eq!(
            subscriptions.status(),
            StatusCode::UNAUTHORIZED,
            "/dapr/subscribe with token {token:?}"
        );
        let delivery = with_token(service.http().post(service.url("/events/adjustments")))
            .header("content-type", "application/cloudevents+json")
            .body(event.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(
            delivery.status(),
            StatusCode::UNAUTHORIZED,
            "/events/adjustments with token {token:?}"
        );
        assert_eq!(
            delivery
                .headers()
                .get("content-type")
                .and_then(|value| value.to_str().ok()),
            Some("application/problem+json")
        );
    }
    assert_eq!(
        client.get(&stock.id).await.unwrap().quantity,
        1,
        "a refused delivery changes nothing"
    );

    let subscriptions: Value = service
        .http()
        .get(service.url("/dapr/subscribe"))
        .header(API_TOKEN_HEADER, service.app_api_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let topics: Vec<&str> = subscriptions
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["topic"].as_str())
        .collect();
    // The template's own subscription comes first; `daprgen add consumer` appends its own.
    assert_eq!(
        topics.first(),
        Some(&ADJUSTMENTS_TOPIC),
        "the sidecar's own token is accepted: {topics:?}"
    );
}
