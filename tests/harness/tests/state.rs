//! State API against a real sidecar and redis: ETags over HTTP and gRPC, first-write.

use dapr::dapr::proto::common::v1::{Etag, StateItem, StateOptions, state_options::StateConcurrency};
use dapr::dapr::proto::runtime::v1::{DeleteStateRequest, GetStateRequest, SaveStateRequest};
use dapr_harness::{Daprd, Redis};
use serde_json::json;

const STORE: &str = "statestore";

async fn sidecar(redis: &Redis) -> Daprd {
    Daprd::builder("state-test")
        .redis(redis)
        .component("state/redis.yaml")
        .start()
        .await
        .expect("daprd starts")
}

#[tokio::test]
async fn http_save_get_delete_and_stale_etag_conflict() {
    let redis = Redis::start().await.unwrap();
    let daprd = sidecar(&redis).await;
    let http = daprd.http_client();
    let state_url = format!("{}/v1.0/state/{STORE}", daprd.http_url());

    let saved = http
        .post(&state_url)
        .json(&json!([{"key": "k1", "value": {"n": 1}}]))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 204);

    let got = http.get(format!("{state_url}/k1")).send().await.unwrap();
    assert_eq!(got.status(), 200);
    let etag = got.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(got.json::<serde_json::Value>().await.unwrap(), json!({"n": 1}));

    // Writing with the current ETag succeeds and moves the ETag on.
    let updated = http
        .post(&state_url)
        .json(&json!([{"key": "k1", "value": {"n": 2}, "etag": etag}]))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 204);

    // The old ETag is now stale: the sidecar answers 409 Conflict and keeps the newer value.
    let stale = http
        .post(&state_url)
        .json(&json!([{"key": "k1", "value": {"n": 3}, "etag": etag}]))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 409, "{}", stale.text().await.unwrap());
    let current = http.get(format!("{state_url}/k1")).send().await.unwrap();
    assert_eq!(current.json::<serde_json::Value>().await.unwrap(), json!({"n": 2}));

    // A stale ETag on delete is refused the same way; the current one deletes.
    let stale_delete = http
        .delete(format!("{state_url}/k1"))
        .header("If-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(stale_delete.status(), 409);
    let current_etag = http.get(format!("{state_url}/k1")).send().await.unwrap().headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let deleted = http
        .delete(format!("{state_url}/k1"))
        .header("If-Match", current_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let gone = http.get(format!("{state_url}/k1")).send().await.unwrap();
    assert_eq!(gone.status(), 204, "a missing key answers 204 No Content");
}

#[tokio::test]
async fn http_malformed_etag_is_a_bad_request() {
    let redis = Redis::start().await.unwrap();
    let daprd = sidecar(&redis).await;
    let http = daprd.http_client();
    let state_url = format!("{}/v1.0/state/{STORE}", daprd.http_url());
    http.post(&state_url)
        .json(&json!([{"key": "k", "value": 1}]))
        .send()
        .await
        .unwrap();

    let malformed = http
        .post(&state_url)
        .json(&json!([{"key": "k", "value": 2, "etag": "not-a-number"}]))
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400, "{}", malformed.text().await.unwrap());
}

#[tokio::test]
async fn grpc_stale_etag_is_aborted() {
    let redis = Redis::start().await.unwrap();
    let daprd = sidecar(&redis).await;
    let mut client = daprd.grpc_client().await.unwrap();
    let item = |value: &str, etag: Option<&str>| StateItem {
        key: "k2".into(),
        value: value.as_bytes().to_vec(),
        etag: etag.map(|value| Etag { value: value.into() }),
        ..Default::default()
    };
    let save = |items: Vec<StateItem>| SaveStateRequest {
        store_name: STORE.into(),
        states: items,
    };

    client.save_state(save(vec![item("\"a\"", None)])).await.unwrap();
    let got = client
        .get_state(GetStateRequest {
            store_name: STORE.into(),
            key: "k2".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.data, b"\"a\"");
    let etag = got.etag;

    client.save_state(save(vec![item("\"b\"", Some(&etag))])).await.unwrap();
    let stale = client
        .save_state(save(vec![item("\"c\"", Some(&etag))]))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), tonic::Code::Aborted, "{stale:?}");

    let malformed = client
        .save_state(save(vec![item("\"c\"", Some("xyz"))]))
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), tonic::Code::InvalidArgument, "{malformed:?}");

    let stale_delete = client
        .delete_state(DeleteStateRequest {
            store_name: STORE.into(),
            key: "k2".into(),
            etag: Some(Etag { value: etag }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(stale_delete.code(), tonic::Code::Aborted);
}

#[tokio::test]
async fn first_write_without_etag_inserts_only_if_absent() {
    let redis = Redis::start().await.unwrap();
    let daprd = sidecar(&redis).await;
    let mut client = daprd.grpc_client().await.unwrap();
    let insert = |value: &str| SaveStateRequest {
        store_name: STORE.into(),
        states: vec![StateItem {
            key: "idempotency-key-1".into(),
            value: value.as_bytes().to_vec(),
            options: Some(StateOptions {
                concurrency: StateConcurrency::ConcurrencyFirstWrite as i32,
                consistency: 0,
            }),
            ..Default::default()
        }],
    };

    client
        .save_state(insert("\"first\""))
        .await
        .expect("the first insert wins");
    let second = client.save_state(insert("\"second\"")).await.unwrap_err();
    // A fact that bites: state.redis reports a lost first-write insert as a generic save failure
    // (Internal, ERR_STATE_SAVE), not as Aborted like an ETag mismatch. An adapter that uses
    // first-write as an idempotency primitive must re-read the key to tell "already there" from
    // "the store is broken".
    assert_eq!(second.code(), tonic::Code::Internal, "{second:?}");
    assert!(second.message().contains("failed to set key"), "{second:?}");

    let stored = client
        .get_state(GetStateRequest {
            store_name: STORE.into(),
            key: "idempotency-key-1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored.data, b"\"first\"", "the losing insert changed nothing");
}
