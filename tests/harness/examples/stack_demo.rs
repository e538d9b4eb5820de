//! `make demo`: starts a real Dapr stack on free ports and shows each building block working.
//!
//! redis + placement + scheduler + one daprd fronting a tiny axum app; then state with ETags,
//! a distributed lock, pub/sub delivery and a two-activity workflow. Everything it started is
//! stopped when it returns, also on failure.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use axum::{Json, Router, routing::get, routing::post};
use dapr::dapr::proto::runtime::v1::{TryLockRequest, UnlockRequest, unlock_response::Status};
use dapr::workflow::{
    ActivityContext, ActivityContextExt, FetchOptions, RegistryExt, RuntimeStatus, ScheduleOptions, WorkflowClient,
    WorkflowContext, WorkflowContextExt,
};
use dapr_harness::{Daprd, Stack};
use serde_json::{Value, json};
use tokio::sync::mpsc;

const APP_ID: &str = "demo";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let started = Instant::now();
    let stack = Stack::start().await?;
    println!(
        "redis {}, placement {}, scheduler {}: ready in {:.0?}",
        stack.redis.address(),
        stack.placement.address(),
        stack.scheduler.address(),
        started.elapsed()
    );

    let (events, mut received) = mpsc::unbounded_channel();
    let app_port = serve_subscriber(events).await?;
    let started = Instant::now();
    let daprd = stack
        .daprd(APP_ID)
        .app_port(app_port)
        .wait_for_app()
        .component("state/redis.yaml")
        .component("pubsub/redis.yaml")
        .component("lock/redis.yaml")
        .component("resiliency/default.yaml")
        .config("configuration/tracing.yaml")
        .start()
        .await?;
    println!(
        "daprd {APP_ID:?} (HTTP {}, gRPC {}): ready in {:.0?}\n",
        daprd.http_port(),
        daprd.grpc_port(),
        started.elapsed()
    );

    state_with_etags(&daprd).await?;
    distributed_lock(&daprd).await?;
    pub_sub(&daprd, &mut received).await?;
    workflow(&daprd).await?;
    println!("\nAll building blocks work. Stopping daprd, scheduler, placement and redis.");
    Ok(())
}

async fn state_with_etags(daprd: &Daprd) -> anyhow::Result<()> {
    println!("1. State with optimistic concurrency (ETags)");
    let http = daprd.http_client();
    let url = format!("{}/v1.0/state/statestore", daprd.http_url());
    http.post(&url)
        .json(&json!([{"key": "order-1", "value": {"status": "NEW"}}]))
        .send()
        .await?
        .error_for_status()?;
    let etag = http.get(format!("{url}/order-1")).send().await?.headers()["etag"]
        .to_str()?
        .to_owned();
    println!("   saved order-1, ETag {etag}");
    let update = |status: &str| json!([{"key": "order-1", "value": {"status": status}, "etag": etag}]);
    let fresh = http.post(&url).json(&update("PAID")).send().await?.status();
    println!("   update with ETag {etag}: {fresh}");
    let stale = http.post(&url).json(&update("CANCELLED")).send().await?.status();
    println!("   update with the same, now stale, ETag {etag}: {stale} (the lost update is refused)");
    ensure!(
        fresh.is_success() && stale == 409,
        "unexpected answers {fresh} / {stale}"
    );
    Ok(())
}

async fn distributed_lock(daprd: &Daprd) -> anyhow::Result<()> {
    println!("2. Distributed lock");
    let mut grpc = daprd.grpc_client().await?;
    let lock = |owner: &str| TryLockRequest {
        store_name: "lockstore".into(),
        resource_id: "sku-42".into(),
        lock_owner: owner.into(),
        expiry_in_seconds: 10,
    };
    let a = grpc.try_lock_alpha1(lock("worker-a")).await?.into_inner().success;
    let b = grpc.try_lock_alpha1(lock("worker-b")).await?.into_inner().success;
    println!("   worker-a takes sku-42: {a}; worker-b while it is held: {b}");
    let released = grpc
        .unlock_alpha1(UnlockRequest {
            store_name: "lockstore".into(),
            resource_id: "sku-42".into(),
            lock_owner: "worker-a".into(),
        })
        .await?
        .into_inner()
        .status();
    let b_again = grpc.try_lock_alpha1(lock("worker-b")).await?.into_inner().success;
    println!(
        "   worker-a releases: {}; worker-b then: {b_again}",
        released.as_str_name()
    );
    ensure!(
        a && !b && released == Status::Success && b_again,
        "the lock did not behave"
    );
    Ok(())
}

async fn pub_sub(daprd: &Daprd, received: &mut mpsc::UnboundedReceiver<Value>) -> anyhow::Result<()> {
    println!("3. Pub/sub");
    let url = format!("{}/v1.0/publish/pubsub/orders", daprd.http_url());
    daprd
        .http_client()
        .post(url)
        .json(&json!({"order": "order-1"}))
        .send()
        .await?
        .error_for_status()?;
    let event = tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .context("no delivery within 10 s")?
        .context("the subscriber stopped")?;
    println!(
        "   published to topic orders; the app received CloudEvent {} with data {}",
        event["id"], event["data"]
    );
    Ok(())
}

async fn workflow(daprd: &Daprd) -> anyhow::Result<()> {
    println!("4. Workflow (placement + scheduler + actor state store)");
    let mut client = WorkflowClient::new_with_address(daprd.grpc_url()).await?;
    client.registry_mut().add_workflow("fulfil", fulfil);
    client.registry_mut().add_activity("reserve", reserve);
    client.registry_mut().add_activity("charge", charge);
    let worker = client.start_worker().await?;
    daprd.wait_for_workflow_worker(Duration::from_secs(30)).await?;
    let started = Instant::now();
    let id = client
        .schedule_workflow("fulfil", ScheduleOptions::new().with_input("order-1"))
        .await?;
    let state = client
        .wait_for_workflow_completion_with_options(
            &id,
            FetchOptions::new().with_fetch_payloads(true),
            Some(Duration::from_secs(60)),
        )
        .await?;
    println!(
        "   instance {id}: reserve -> charge -> {:?} in {:.0?}, output {}",
        state.runtime_status,
        started.elapsed(),
        state.serialized_output.as_deref().unwrap_or("none")
    );
    worker.shutdown().await?;
    ensure!(
        state.runtime_status == RuntimeStatus::Completed,
        "the workflow did not complete"
    );
    Ok(())
}

async fn fulfil(ctx: WorkflowContext) -> dapr::workflow::Result<Option<String>> {
    let order: String = ctx.get_input_typed()?;
    let reservation: String = ctx.call_activity_typed("reserve", order).await?;
    let receipt: String = ctx.call_activity_typed("charge", reservation).await?;
    Ok(Some(serde_json::to_string(&receipt)?))
}

async fn reserve(ctx: ActivityContext, input: Option<String>) -> dapr::workflow::Result<Option<String>> {
    let order: String = ctx.get_input(input.as_deref())?;
    Ok(Some(serde_json::to_string(&format!("{order}: stock reserved"))?))
}

async fn charge(ctx: ActivityContext, input: Option<String>) -> dapr::workflow::Result<Option<String>> {
    let reservation: String = ctx.get_input(input.as_deref())?;
    Ok(Some(serde_json::to_string(&format!("{reservation}, payment charged"))?))
}

/// The app behind the sidecar: declares one subscription and forwards every event it receives.
async fn serve_subscriber(events: mpsc::UnboundedSender<Value>) -> anyhow::Result<u16> {
    let app = Router::new()
        .route(
            "/dapr/subscribe",
            get(|| async { Json(json!([{"pubsubname": "pubsub", "topic": "orders", "route": "/orders"}])) }),
        )
        .route(
            "/orders",
            post(move |Json(event): Json<Value>| async move {
                let _ = events.send(event);
                Json(json!({"status": "SUCCESS"}))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(port)
}
