//! Distributed lock API (alpha) against a real sidecar and redis: contention, unlock statuses,
//! lease expiry, request validation, over gRPC and HTTP.

use std::time::{Duration, Instant};

use dapr::dapr::proto::runtime::v1::unlock_response::Status;
use dapr::dapr::proto::runtime::v1::{TryLockRequest, UnlockRequest};
use dapr_harness::{Daprd, RawDaprClient, Redis};
use serde_json::json;

const STORE: &str = "lockstore";
const LEASE_SECONDS: i32 = 30;

async fn sidecar(redis: &Redis, app_id: &str) -> Daprd {
    Daprd::builder(app_id)
        .redis(redis)
        .component("lock/redis.yaml")
        .start()
        .await
        .expect("daprd starts")
}

fn try_lock_request(resource_id: &str, owner: &str, expiry_in_seconds: i32) -> TryLockRequest {
    TryLockRequest {
        store_name: STORE.into(),
        resource_id: resource_id.into(),
        lock_owner: owner.into(),
        expiry_in_seconds,
    }
}

/// Whether `owner` got the lock; a refusal is an answer, not an error.
async fn try_lock(client: &mut RawDaprClient, resource_id: &str, owner: &str, expiry_in_seconds: i32) -> bool {
    client
        .try_lock_alpha1(try_lock_request(resource_id, owner, expiry_in_seconds))
        .await
        .expect("TryLock answers")
        .into_inner()
        .success
}

async fn unlock(client: &mut RawDaprClient, resource_id: &str, owner: &str) -> Status {
    client
        .unlock_alpha1(UnlockRequest {
            store_name: STORE.into(),
            resource_id: resource_id.into(),
            lock_owner: owner.into(),
        })
        .await
        .expect("Unlock answers")
        .into_inner()
        .status()
}

#[tokio::test]
async fn grpc_held_lock_refuses_other_owners_until_released() {
    let redis = Redis::start().await.unwrap();
    let daprd = sidecar(&redis, "lock-test").await;
    let mut client = daprd.grpc_client().await.unwrap();

    assert!(
        try_lock(&mut client, "orders", "A", LEASE_SECONDS).await,
        "a free lock is taken"
    );
    assert!(
        !try_lock(&mut client, "orders", "B", LEASE_SECONDS).await,
        "a held lock answers success=false, not an error"
    );
    // Not re-entrant either: the holder asking again is refused the same way (and does not
    // extend its lease).
    assert!(!try_lock(&mut client, "orders", "A", LEASE_SECONDS).await);
    assert_eq!(unlock(&mut client, "orders", "B").await, Status::LockBelongsToOthers);

    assert_eq!(unlock(&mut client, "orders", "A").await, Status::Success);
    assert!(
        try_lock(&mut client, "orders", "B", LEASE_SECONDS).await,
        "a released lock is free"
    );
    assert_eq!(unlock(&mut client, "orders", "A").await, Status::LockBelongsToOthers);
}

#[tokio::test]
async fn grpc_unlocking_a_lock_nobody_holds_says_it_does_not_exist() {
    let redis = Redis::start().await.unwrap();
    let daprd = sidecar(&redis, "lock-test").await;
    let mut client = daprd.grpc_client().await.unwrap();

    assert_eq!(unlock(&mut client, "never-locked", "A").await, Status::LockDoesNotExist);

    // A second unlock by the former holder finds nothing either.
    assert!(try_lock(&mut client, "once-locked", "A", LEASE_SECONDS).await);
    assert_eq!(unlock(&mut client, "once-locked", "A").await, Status::Success);
    assert_eq!(unlock(&mut client, "once-locked", "A").await, Status::LockDoesNotExist);
}

#[tokio::test]
async fn grpc_expired_lease_can_be_taken_by_another_owner() {
    const POLL_INTERVAL: Duration = Duration::from_millis(100);
    const GIVE_UP_AFTER: Duration = Duration::from_secs(5);
    let redis = Redis::start().await.unwrap();
    let daprd = sidecar(&redis, "lock-test").await;
    let mut client = daprd.grpc_client().await.unwrap();

    // Measured from before A's request: the lease cannot start earlier than this.
    let locked_at = Instant::now();
    assert!(try_lock(&mut client, "lease", "A", 1).await);
    let taken_after = loop {
        if try_lock(&mut client, "lease", "B", LEASE_SECONDS).await {
            break locked_at.elapsed();
        }
        assert!(
            locked_at.elapsed() < GIVE_UP_AFTER,
            "B never got the lock after A's 1 s lease"
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    };
    eprintln!("B took the lock {taken_after:?} after A's 1 s lease started");
    // Redis expires the key after 1 s; the margin only absorbs clock granularity.
    assert!(
        taken_after >= Duration::from_millis(900),
        "B got the lock after {taken_after:?}, before A's 1 s lease ran out"
    );
    // A's lease is gone: A can no longer release what B now holds.
    assert_eq!(unlock(&mut client, "lease", "A").await, Status::LockBelongsToOthers);
}

#[tokio::test]
async fn grpc_invalid_requests_are_invalid_argument() {
    let redis = Redis::start().await.unwrap();
    let daprd = sidecar(&redis, "lock-test").await;
    let mut client = daprd.grpc_client().await.unwrap();
    let mut unknown_store = try_lock_request("r", "A", 5);
    unknown_store.store_name = "no-such-store".into();

    for (request, message) in [
        (try_lock_request("r", "A", 0), "ExpiryInSeconds is not positive"),
        (try_lock_request("r", "A", -1), "ExpiryInSeconds is not positive"),
        (try_lock_request("", "A", 5), "ResourceId is empty"),
        (try_lock_request("r", "", 5), "LockOwner is empty"),
        (unknown_store, "lock store no-such-store not found"),
    ] {
        let error = client.try_lock_alpha1(request.clone()).await.unwrap_err();
        assert_eq!(error.code(), tonic::Code::InvalidArgument, "{request:?}: {error:?}");
        assert!(error.message().contains(message), "{request:?}: {error:?}");
    }
}

#[tokio::test]
async fn http_lock_and_unlock() {
    let redis = Redis::start().await.unwrap();
    let daprd = sidecar(&redis, "lock-test").await;
    let http = daprd.http_client();
    let post = |path: &str, body: serde_json::Value| {
        let request = http
            .post(format!("{}/v1.0-alpha1/{path}", daprd.http_url()))
            .json(&body);
        async move {
            let response = request.send().await.expect("the sidecar answers");
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.expect("a JSON body"))
        }
    };
    let lock = |owner: &str| json!({"resourceId": "orders", "lockOwner": owner, "expiryInSeconds": LEASE_SECONDS});
    let unlock = |owner: &str| json!({"resourceId": "orders", "lockOwner": owner});

    // Refusals are 200 answers, like over gRPC; unlock statuses come as the enum's numbers.
    assert_eq!(post("lock/lockstore", lock("A")).await, (200, json!({"success": true})));
    assert_eq!(
        post("lock/lockstore", lock("B")).await,
        (200, json!({"success": false}))
    );
    assert_eq!(
        post("unlock/lockstore", unlock("B")).await,
        (200, json!({"status": Status::LockBelongsToOthers as i32}))
    );
    assert_eq!(
        post("unlock/lockstore", unlock("A")).await,
        (200, json!({"status": Status::Success as i32}))
    );
    assert_eq!(
        post("unlock/lockstore", unlock("A")).await,
        (200, json!({"status": Status::LockDoesNotExist as i32}))
    );
    assert_eq!(post("lock/lockstore", lock("B")).await, (200, json!({"success": true})));

    let (status, body) = post(
        "lock/lockstore",
        json!({"resourceId": "orders", "lockOwner": "A", "expiryInSeconds": 0}),
    )
    .await;
    assert_eq!(
        (status, &body["errorCode"]),
        (400, &json!("ERR_MALFORMED_REQUEST")),
        "{body}"
    );
    let (status, body) = post("lock/no-such-store", lock("A")).await;
    assert_eq!(
        (status, &body["errorCode"]),
        (400, &json!("ERR_LOCK_STORE_NOT_FOUND")),
        "{body}"
    );
}

#[tokio::test]
async fn locks_are_scoped_to_the_app_id() {
    // lock.redis stores `lock||<app id>||<resource id>` unless the component sets keyPrefix: two
    // apps on the same redis do not exclude each other.
    let redis = Redis::start().await.unwrap();
    let (orders, billing) = tokio::join!(sidecar(&redis, "orders"), sidecar(&redis, "billing"));
    let mut orders = orders.grpc_client().await.unwrap();
    let mut billing = billing.grpc_client().await.unwrap();

    assert!(try_lock(&mut orders, "shared", "A", LEASE_SECONDS).await);
    assert!(try_lock(&mut billing, "shared", "B", LEASE_SECONDS).await);
}
