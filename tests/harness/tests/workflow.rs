//! Dapr Workflow against a real stack: a workflow of two activities in sequence, run by the Rust
//! SDK's worker. Completing it proves placement, scheduler and the actor state store are wired.

use std::time::{Duration, Instant};

use dapr::workflow::{
    ActivityContext, ActivityContextExt, FetchOptions, RegistryExt, RuntimeStatus, ScheduleOptions, WorkflowClient,
    WorkflowContext, WorkflowContextExt,
};
use dapr_harness::Stack;
use serde::{Deserialize, Serialize};

/// Generous: a cold sidecar first has to connect to scheduler before it starts an instance.
const COMPLETION_TIMEOUT: Duration = Duration::from_secs(60);
const READY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    id: String,
    quantity: u32,
    unit_price_cents: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Reservation {
    reservation_id: String,
    order_id: String,
    total_cents: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Receipt {
    reservation_id: String,
    order_id: String,
    charged_cents: u64,
}

/// reserve, then charge what was reserved: the second activity only sees the first one's output.
async fn order_workflow(ctx: WorkflowContext) -> dapr::workflow::Result<Option<String>> {
    let order: Order = ctx.get_input_typed()?;
    let reservation: Reservation = ctx.call_activity_typed("reserve", order).await?;
    let receipt: Receipt = ctx.call_activity_typed("charge", reservation).await?;
    Ok(Some(serde_json::to_string(&receipt)?))
}

async fn reserve(ctx: ActivityContext, input: Option<String>) -> dapr::workflow::Result<Option<String>> {
    let order: Order = ctx.get_input(input.as_deref())?;
    let reservation = Reservation {
        reservation_id: format!("res-{}", order.id),
        order_id: order.id,
        total_cents: u64::from(order.quantity) * order.unit_price_cents,
    };
    Ok(Some(serde_json::to_string(&reservation)?))
}

async fn charge(ctx: ActivityContext, input: Option<String>) -> dapr::workflow::Result<Option<String>> {
    let reservation: Reservation = ctx.get_input(input.as_deref())?;
    let receipt = Receipt {
        reservation_id: reservation.reservation_id,
        order_id: reservation.order_id,
        charged_cents: reservation.total_cents,
    };
    Ok(Some(serde_json::to_string(&receipt)?))
}

#[tokio::test]
async fn two_activities_in_sequence_complete_with_their_output() -> anyhow::Result<()> {
    // Start-up errors carry the failing process's log tail; after start-up, failures panic (expect)
    // so that the harness prints the log tails of every process of the stack.
    let started = Instant::now();
    let stack = Stack::start().await?;
    let stack_took = started.elapsed();

    let started = Instant::now();
    let daprd = stack.daprd("wf-test").component("state/redis.yaml").start().await?;
    let daprd_took = started.elapsed();

    let started = Instant::now();
    let mut client = WorkflowClient::new_with_address(daprd.grpc_url())
        .await
        .expect("the workflow client connects");
    client.registry_mut().add_workflow("order", order_workflow);
    client.registry_mut().add_activity("reserve", reserve);
    client.registry_mut().add_activity("charge", charge);
    let worker = client.start_worker().await.expect("the worker starts");
    // Scheduling before the worker's actor types are registered works, but costs a steady 2 s
    // inside daprd; the harness waits for the registration through the metadata API.
    daprd
        .wait_for_workflow_worker(READY_TIMEOUT)
        .await
        .expect("the worker registers");
    let ready_took = started.elapsed();

    let started = Instant::now();
    let order = Order {
        id: "o-42".into(),
        quantity: 3,
        unit_price_cents: 1250,
    };
    let options = ScheduleOptions::new().with_instance_id("order-o-42").with_input(&order);
    let instance_id = tokio::time::timeout(COMPLETION_TIMEOUT, client.schedule_workflow("order", options))
        .await
        .expect("scheduling answers in time")
        .expect("the workflow is scheduled");
    assert_eq!(instance_id, "order-o-42");

    // The SDK waits through the sidecar's WaitForInstanceCompletion, which has no deadline of its
    // own: on a stack wired wrong it would wait forever.
    let state = client
        .wait_for_workflow_completion_with_options(
            &instance_id,
            FetchOptions::new().with_fetch_payloads(true),
            Some(COMPLETION_TIMEOUT),
        )
        .await
        .expect("the workflow reaches a final state");
    let workflow_took = started.elapsed();

    assert_eq!(
        state.runtime_status,
        RuntimeStatus::Completed,
        "failure: {:?}",
        state.failure_details
    );
    assert_eq!(state.name, "order");
    let input = state.serialized_input.as_deref().expect("payloads were fetched");
    assert_eq!(serde_json::from_str::<Order>(input)?, order);
    // The receipt holds what both activities computed: charge only saw reserve's output.
    let output = state
        .serialized_output
        .as_deref()
        .expect("a completed workflow has an output");
    assert_eq!(
        serde_json::from_str::<Receipt>(output)?,
        Receipt {
            reservation_id: "res-o-42".into(),
            order_id: "o-42".into(),
            charged_cents: 3750,
        }
    );

    worker.shutdown().await.expect("the worker shuts down cleanly");
    eprintln!(
        "timings: stack start {stack_took:?}, daprd start {daprd_took:?}, worker registered and scheduler \
         connected {ready_took:?}, schedule to completion {workflow_took:?}"
    );
    Ok(())
}
