//! The saga operations on charges against a real sidecar: `charge_payment` and `refund_payment` take
//! effect once per saga whatever the retries, a late `charge_payment` after its compensation is
//! refused, and each change of a account and of its charge is published through the outbox.

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
    account: &str,
    amount: i64,
) -> (StatusCode, Value) {
    let method = operation.replace('_', "-");
    let response = service
        .http()
        .post(service.url(&format!("/{method}")))
        .header("idempotency-key", format!("{saga}:{operation}"))
        .header(API_TOKEN_HEADER, service.app_api_token())
        .json(&json!({"account": account, "amount": amount, "unrelated": "ignored"}))
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
async fn charge_payment_and_refund_payment_take_effect_once_per_saga() {
    let service = service().await;
    let client = service.client().await.unwrap();
    let account = client.create("saga account", 10).await.unwrap();
    let quantity = async |id: &str| client.get(id).await.unwrap().quantity;
    let saga = saga_id();

    for _ in 0..2 {
        let (status, body) = operation(&service, "charge_payment", &saga, &account.id, 4).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["state"], "captured");
    }
    assert_eq!(quantity(&account.id).await, 6, "a retry takes nothing more");
    let record = service
        .http()
        .get(service.url(&format!("/charges/{saga}")))
        .send()
        .await
        .unwrap();
    assert_eq!(record.status(), StatusCode::OK);
    assert_eq!(
        record.json::<Value>().await.unwrap(),
        json!({"account": account.id, "amount": 4, "state": "captured"})
    );

    let (status, body) = operation(&service, "charge_payment", &saga_id(), &account.id, 7).await;
    assert_eq!(status.as_u16(), 402, "{body}");
    assert_eq!(body["type"], "urn:problem-type:declined");

    for _ in 0..2 {
        let (status, body) = operation(&service, "refund_payment", &saga, &account.id, 4).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["state"], "refunded");
    }
    assert_eq!(quantity(&account.id).await, 10, "given back once");

    let (status, body) = operation(&service, "charge_payment", &saga, &account.id, 4).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a late action is refused: {body}"
    );
    assert_eq!(quantity(&account.id).await, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dapr_integration),
    ignore = "needs a Dapr runtime: run with DAPR_INTEGRATION=1 (tests/integration/README.md)"
)]
async fn a_refund_payment_before_its_charge_payment_leaves_a_tombstone_that_refuses_it() {
    let service = service().await;
    let client = service.client().await.unwrap();
    let account = client.create("early compensation", 5).await.unwrap();
    let saga = saga_id();

    let (status, body) = operation(&service, "refund_payment", &saga, &account.id, 2).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "refunded");
    let (status, body) = operation(&service, "charge_payment", &saga, &account.id, 2).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(client.get(&account.id).await.unwrap().quantity, 5);

    let unknown = uuid::Uuid::new_v4().to_string();
    let (status, body) = operation(&service, "charge_payment", &saga_id(), &unknown, 1).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dapr_integration),
    ignore = "needs a Dapr runtime: run with DAPR_INTEGRATION=1 (tests/integration/README.md)"
)]
async fn each_charge_publishes_the_account_and_the_charge_events() {
    let service = service().await;
    let client = service.client().await.unwrap();
    let mut events = service.domain_events().await.unwrap();
    let account = client.create("evented", 3).await.unwrap();
    events.next(EVENT_TIMEOUT).await.expect("the created event");
    let saga = saga_id();

    let (status, body) = operation(&service, "charge_payment", &saga, &account.id, 1).await;
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
        of_type("charge.captured").data["charge"]["saga_id"],
        saga.as_str()
    );
    assert_eq!(of_type("account.adjusted").data["delta"], -1);
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
        .post(service.url("/charge-payment"))
        .header("idempotency-key", format!("{}:charge_payment", saga_id()))
        .json(&json!({"account": uuid::Uuid::new_v4().to_string(), "amount": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}
