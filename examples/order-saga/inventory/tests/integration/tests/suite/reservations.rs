//! The saga operations on reservations against a real sidecar: `reserve_stock` and `release_stock` take
//! effect once per saga whatever the retries, a late `reserve_stock` after its compensation is
//! refused, and each change of a stock and of its reservation is published through the outbox.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::API_TOKEN_HEADER;

use crate::service;

/// Longest wait for one expected event.
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// A saga id of its own for each use, so tests never see each other's records.
fn saga_id() -> String {
    format!("saga-{}", uuid::Uuid::new_v4())
}

/// POSTs `operation` of `saga` as the order service's saga does (through its sidecar, which adds
/// the app's token); answers the status and body.
async fn operation(
    service: &support::TestService,
    operation: &str,
    saga: &str,
    sku: &str,
    quantity: i64,
) -> (StatusCode, Value) {
    let method = operation.replace('_', "-");
    let response = service
        .http()
        .post(service.url(&format!("/{method}")))
        .header("idempotency-key", format!("{saga}:{operation}"))
        .header(API_TOKEN_HEADER, service.app_api_token())
        .json(&json!({"sku": sku, "quantity": quantity, "unrelated": "ignored"}))
        .send()
        .await
        .expect("the service answers");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dapr_integration),
    ignore = "needs a Dapr runtime: run with DAPR_INTEGRATION=1 (tests/integration/README.md)"
)]
async fn reserve_stock_and_release_stock_take_effect_once_per_saga() {
    let service = service().await;
    let client = service.client().await.unwrap();
    let stock = client.create("saga stock", 10).await.unwrap();
    let quantity = async |id: &str| client.get(id).await.unwrap().quantity;
    let saga = saga_id();

    for _ in 0..2 {
        let (status, body) = operation(&service, "reserve_stock", &saga, &stock.id, 4).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["state"], "reserved");
    }
    assert_eq!(quantity(&stock.id).await, 6, "a retry takes nothing more");
    let record = service
        .http()
        .get(service.url(&format!("/reservations/{saga}")))
        .send()
        .await
        .unwrap();
    assert_eq!(record.status(), StatusCode::OK);
    assert_eq!(
        record.json::<Value>().await.unwrap(),
        json!({"sku": stock.id, "quantity": 4, "state": "reserved"})
    );

    let (status, body) = operation(&service, "reserve_stock", &saga_id(), &stock.id, 7).await;
    assert_eq!(status.as_u16(), 409, "{body}");
    assert_eq!(body["type"], "urn:problem-type:short-stock");

    for _ in 0..2 {
        let (status, body) = operation(&service, "release_stock", &saga, &stock.id, 4).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["state"], "released");
    }
    assert_eq!(quantity(&stock.id).await, 10, "given back once");

    let (status, body) = operation(&service, "reserve_stock", &saga, &stock.id, 4).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a late action is refused: {body}"
    );
    assert_eq!(quantity(&stock.id).await, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dapr_integration),
    ignore = "needs a Dapr runtime: run with DAPR_INTEGRATION=1 (tests/integration/README.md)"
)]
async fn a_release_stock_before_its_reserve_stock_leaves_a_tombstone_that_refuses_it() {
    let service = service().await;
    let client = service.client().await.unwrap();
    let stock = client.create("early compensation", 5).await.unwrap();
    let saga = saga_id();

    let (status, body) = operation(&service, "release_stock", &saga, &stock.id, 2).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "released");
    let (status, body) = operation(&service, "reserve_stock", &saga, &stock.id, 2).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(client.get(&stock.id).await.unwrap().quantity, 5);

    let unknown = uuid::Uuid::new_v4().to_string();
    let (status, body) = operation(&service, "reserve_stock", &saga_id(), &unknown, 1).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dapr_integration),
    ignore = "needs a Dapr runtime: run with DAPR_INTEGRATION=1 (tests/integration/README.md)"
)]
async fn each_reservation_publishes_the_stock_and_the_reservation_events() {
    let service = service().await;
    let client = service.client().await.unwrap();
    let mut events = service.domain_events().await.unwrap();
    let stock = client.create("evented", 3).await.unwrap();
    events.next(EVENT_TIMEOUT).await.expect("the created event");
    let saga = saga_id();

    let (status, body) = operation(&service, "reserve_stock", &saga, &stock.id, 1).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // One transaction, two upserts through the outbox: one event each, in no particular order.
    let published = events.take(2, EVENT_TIMEOUT).await.unwrap();
    let of_type = |event_type: &str| {
        let event = published
            .iter()
            .find(|event| event.event_type == event_type);
        event.unwrap_or_else(|| panic!("no {event_type} event in {published:#?}"))
    };
    assert_eq!(
        of_type("reservation.reserved").data["reservation"]["saga_id"],
        saga.as_str()
    );
    assert_eq!(of_type("stock.adjusted").data["delta"], -1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dapr_integration),
    ignore = "needs a Dapr runtime: run with DAPR_INTEGRATION=1 (tests/integration/README.md)"
)]
async fn only_the_sidecar_may_call_the_operations() {
    let service = service().await;
    let response = service
        .http()
        .post(service.url("/reserve-stock"))
        .header("idempotency-key", format!("{}:reserve_stock", saga_id()))
        .json(&json!({"sku": uuid::Uuid::new_v4().to_string(), "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}
