//! The transactional outbox against a real sidecar: every upsert of an ExecuteStateTransaction
//! publishes its value to `domain-events`, and what a transaction that fails publishes depends on
//! how the state store fails it.
//!
//! The events arrive about a second after the commit: the sidecar first publishes to an internal
//! topic, and its handler waits 1 s before it checks that the transaction committed.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use dapr::dapr::proto::common::v1::{Etag, StateItem};
use dapr::dapr::proto::runtime::v1::{ExecuteStateTransactionRequest, GetStateRequest, TransactionalStateOperation};
use dapr_harness::{Daprd, DaprdBuilder, RawDaprClient, Redis};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::timeout;

const APP_ID: &str = "outbox-test";
const STORE: &str = "statestore";
const TOPIC: &str = "domain-events";
/// Generous bound for one event; a healthy sidecar delivers it about 1 s after the commit.
const EVENT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long nothing more must arrive once the expected events are in.
const QUIET_PERIOD: Duration = Duration::from_secs(2);

/// An app subscribed to `domain-events` on `pubsub` that accepts every event and reports it.
async fn start_subscriber() -> (u16, mpsc::UnboundedReceiver<Value>) {
    let (events, received) = mpsc::unbounded_channel::<Value>();
    let router = Router::new()
        .route(
            "/dapr/subscribe",
            get(|| async { Json(json!([{"pubsubname": "pubsub", "topic": TOPIC, "route": "/domain-events"}])) }),
        )
        .route(
            "/domain-events",
            post(
                |State(events): State<mpsc::UnboundedSender<Value>>, Json(event): Json<Value>| async move {
                    // The receiver is gone only once the test is over.
                    let _ = events.send(event);
                    Json(json!({"status": "SUCCESS"}))
                },
            ),
        )
        .with_state(events);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (port, received)
}

/// A sidecar with the redis pub/sub and the subscriber; the test adds the outbox state store.
fn sidecar(redis: &Redis, app_port: u16) -> DaprdBuilder {
    Daprd::builder(APP_ID)
        .redis(redis)
        .component("pubsub/redis.yaml")
        .app_port(app_port)
        // The outbox's internal subscription starts once the app is reported healthy.
        .wait_for_app()
}

fn upsert(key: &str, value: &Value, etag: Option<&str>) -> TransactionalStateOperation {
    TransactionalStateOperation {
        operation_type: "upsert".into(),
        request: Some(StateItem {
            key: key.into(),
            value: serde_json::to_vec(value).unwrap(),
            etag: etag.map(|value| Etag { value: value.into() }),
            ..Default::default()
        }),
    }
}

/// An order: the key is part of the value, because the event carries the value only.
fn order(key: &str, revision: u32) -> Value {
    json!({"orderId": key, "revision": revision})
}

async fn transact(
    client: &mut RawDaprClient,
    operations: Vec<TransactionalStateOperation>,
) -> Result<(), tonic::Status> {
    client
        .execute_state_transaction(ExecuteStateTransactionRequest {
            store_name: STORE.into(),
            operations,
            metadata: HashMap::new(),
        })
        .await
        .map(|_| ())
}

/// The stored value (None when absent) and its ETag.
async fn read_state(client: &mut RawDaprClient, key: &str) -> (Option<Value>, String) {
    let got = client
        .get_state(GetStateRequest {
            store_name: STORE.into(),
            key: key.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let value = (!got.data.is_empty()).then(|| serde_json::from_slice(&got.data).unwrap());
    (value, got.etag)
}

async fn next_event(events: &mut mpsc::UnboundedReceiver<Value>) -> Value {
    timeout(EVENT_TIMEOUT, events.recv())
        .await
        .unwrap_or_else(|_| panic!("no event within {EVENT_TIMEOUT:?}"))
        .expect("the subscriber is running")
}

/// Receives `count` events and returns the orders they carry, checking the envelope of each.
async fn receive_orders(events: &mut mpsc::UnboundedReceiver<Value>, count: usize) -> Vec<Value> {
    let mut orders = Vec::new();
    for _ in 0..count {
        let event = next_event(events).await;
        // The value written through gRPC is bytes without a content type: the sidecar publishes it
        // as `text/plain`, so `data` is the JSON text of the value, not a JSON object.
        assert_eq!(event["datacontenttype"], "text/plain", "{event}");
        let data = event["data"]
            .as_str()
            .unwrap_or_else(|| panic!("data is a string: {event}"));
        orders.push(serde_json::from_str(data).unwrap());
        assert_eq!(event["type"], "com.dapr.event.sent", "{event}");
        assert_eq!(event["source"], APP_ID, "{event}");
        assert_eq!(event["topic"], TOPIC, "{event}");
        assert_eq!(event["pubsubname"], "pubsub", "{event}");
        assert_eq!(event["specversion"], "1.0", "{event}");
        // The id is the sidecar's outbox marker, not the state key.
        assert!(event["id"].as_str().unwrap().starts_with("outbox-"), "{event}");
    }
    orders
}

/// Asserts that no further event arrives for a while: here the wait is the assertion.
async fn assert_quiet(events: &mut mpsc::UnboundedReceiver<Value>) {
    if let Ok(extra) = timeout(QUIET_PERIOD, events.recv()).await {
        panic!("unexpected extra event: {extra:?}");
    }
}

fn sorted(mut orders: Vec<Value>) -> Vec<Value> {
    orders.sort_by_key(|order| order.to_string());
    orders
}

#[tokio::test]
async fn every_committed_upsert_publishes_exactly_one_event() {
    let (port, mut events) = start_subscriber().await;
    let redis = Redis::start().await.unwrap();
    let daprd = sidecar(&redis, port)
        .component("state/redis-outbox.yaml")
        .start()
        .await
        .expect("daprd starts");
    let mut client = daprd.grpc_client().await.unwrap();

    let first = ["order-1", "order-2", "order-3"];
    let operations = first.iter().map(|key| upsert(key, &order(key, 1), None)).collect();
    transact(&mut client, operations).await.unwrap();
    transact(&mut client, vec![upsert("order-4", &order("order-4", 1), None)])
        .await
        .unwrap();
    transact(&mut client, vec![upsert("order-5", &order("order-5", 1), None)])
        .await
        .unwrap();

    let orders = receive_orders(&mut events, 5).await;
    let keys: HashSet<&str> = orders.iter().map(|order| order["orderId"].as_str().unwrap()).collect();
    assert_eq!(keys.len(), 5, "each key once: {orders:?}");
    let expected = ["order-1", "order-2", "order-3", "order-4", "order-5"].map(|key| order(key, 1));
    assert_eq!(sorted(orders), expected.to_vec());
    assert_quiet(&mut events).await;
}

#[tokio::test]
async fn transaction_rejected_before_commit_publishes_nothing() {
    let (port, mut events) = start_subscriber().await;
    let redis = Redis::start().await.unwrap();
    let daprd = sidecar(&redis, port)
        .component("state/redis-outbox.yaml")
        .start()
        .await
        .expect("daprd starts");
    let mut client = daprd.grpc_client().await.unwrap();

    // A malformed ETag is refused by state.redis before it sends anything to redis. The outbox
    // has already published to its internal topic, but the commit marker is never written.
    let rejected = transact(
        &mut client,
        vec![
            upsert("order-1", &order("order-1", 1), None),
            upsert("order-2", &order("order-2", 1), Some("not-a-number")),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(rejected.code(), tonic::Code::Internal, "{rejected:?}");
    assert!(rejected.message().contains("invalid etag value"), "{rejected:?}");
    assert_eq!(read_state(&mut client, "order-1").await.0, None, "nothing was written");

    // A committed transaction after it: its event is the only one.
    transact(&mut client, vec![upsert("order-3", &order("order-3", 1), None)])
        .await
        .unwrap();
    assert_eq!(receive_orders(&mut events, 1).await, vec![order("order-3", 1)]);
    assert_quiet(&mut events).await;
}

/// What a store does with a transaction that meets a stale ETag: two committed versions of
/// order-1 (their two events received), then one transaction inserting order-2 and writing
/// order-1 over the first, now stale, ETag. Returns what the tests need to look at the outcome.
struct StaleTransaction {
    _redis: Redis,
    _daprd: Daprd,
    client: RawDaprClient,
    events: mpsc::UnboundedReceiver<Value>,
    conflict: tonic::Status,
}

async fn stale_transaction(component: &str) -> StaleTransaction {
    let (port, mut events) = start_subscriber().await;
    let redis = Redis::start().await.unwrap();
    let daprd = sidecar(&redis, port)
        .component(component)
        .start()
        .await
        .expect("daprd starts");
    let mut client = daprd.grpc_client().await.unwrap();
    transact(&mut client, vec![upsert("order-1", &order("order-1", 1), None)])
        .await
        .unwrap();
    let stale_etag = read_state(&mut client, "order-1").await.1;
    transact(
        &mut client,
        vec![upsert("order-1", &order("order-1", 2), Some(&stale_etag))],
    )
    .await
    .unwrap();
    assert_eq!(
        sorted(receive_orders(&mut events, 2).await),
        [order("order-1", 1), order("order-1", 2)]
    );

    let conflict = transact(
        &mut client,
        vec![
            upsert("order-2", &order("order-2", 1), None),
            upsert("order-1", &order("order-1", 3), Some(&stale_etag)),
        ],
    )
    .await
    .unwrap_err();
    StaleTransaction {
        _redis: redis,
        _daprd: daprd,
        client,
        events,
        conflict,
    }
}

#[tokio::test]
async fn redis_stale_etag_transaction_is_not_atomic_and_publishes_every_upsert() {
    // The processes live as long as these bindings: `..` would drop them at once.
    let StaleTransaction {
        _redis: _redis_alive,
        _daprd: _daprd_alive,
        mut client,
        mut events,
        conflict,
    } = stale_transaction("state/redis-outbox.yaml").await;
    assert_eq!(conflict.code(), tonic::Code::Internal, "{conflict:?}");
    assert!(conflict.message().contains("failed to set key"), "{conflict:?}");

    // A fact that bites: state.redis runs a transaction as MULTI/EXEC, which does not roll back
    // when one command fails. The ETag conflict is reported, yet the other upsert and the outbox
    // commit markers are written, so the sidecar publishes an event for every upsert, including
    // the rejected value that was never stored. With redis, an error from a transaction does not
    // mean "nothing happened": consumers must not trust outbox events as committed state.
    assert_eq!(
        read_state(&mut client, "order-2").await.0,
        Some(order("order-2", 1)),
        "partly committed"
    );
    assert_eq!(
        read_state(&mut client, "order-1").await.0,
        Some(order("order-1", 2)),
        "the conflict lost"
    );
    assert_eq!(
        sorted(receive_orders(&mut events, 2).await),
        [order("order-1", 3), order("order-2", 1)]
    );
    assert_quiet(&mut events).await;
}

#[tokio::test]
async fn sqlite_stale_etag_transaction_rolls_back_and_publishes_nothing() {
    // The processes live as long as these bindings: `..` would drop them at once.
    let StaleTransaction {
        _redis: _redis_alive,
        _daprd: _daprd_alive,
        mut client,
        mut events,
        conflict,
    } = stale_transaction("state/sqlite-outbox.yaml").await;
    assert_eq!(conflict.code(), tonic::Code::Internal, "{conflict:?}");
    assert!(conflict.message().contains("etag mismatch"), "{conflict:?}");
    // A store with real transactions rolls the whole transaction back, commit markers included.
    assert_eq!(read_state(&mut client, "order-2").await.0, None, "rolled back");
    assert_eq!(read_state(&mut client, "order-1").await.0, Some(order("order-1", 2)));

    transact(&mut client, vec![upsert("order-3", &order("order-3", 1), None)])
        .await
        .unwrap();
    assert_eq!(receive_orders(&mut events, 1).await, vec![order("order-3", 1)]);
    assert_quiet(&mut events).await;
}
