//! The `order_fulfilment` saga on Dapr Workflow: a durable workflow `order_fulfilment_saga` that
//! runs [`run_saga`] with every operation an activity of its own
//! (`order_fulfilment_saga.reserve_stock`, `order_fulfilment_saga.release_stock`, …), so the saga
//! survives a restart half-way, and a failing operation is retried before it counts as failed.
//!
//! - [`DaprOrderFulfilmentSagaWorkflow`], the component, starts sagas and reads where they stand;
//! - [`register_order_fulfilment_saga`] adds the workflow and its activities to this process's
//!   workflow worker (see [`crate::dapr_workflow::start_restock_worker`]);
//! - [`DaprOrderFulfilmentSagaSteps`] does each operation as a Dapr service invocation, to the
//!   app and method configured for it in `[dapr] order_fulfilment_saga` (see
//!   [`crate::dapr_invocation`]).
//!
//! Retries: an operation whose activity fails ([`StepError::Unavailable`]) is retried with
//! exponential back-off, compensations longer than actions; one that is refused is not. While a
//! saga runs, its progress (the operations done) is its workflow's custom status.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use biz::error::RepoError;
use biz::order_fulfilment_saga::{
    OrderFulfilmentSagaInput, OrderFulfilmentSagaStep, OrderFulfilmentSagaSteps,
    OrderFulfilmentSagaWorkflow,
};
use biz::saga::{
    SagaOperations, SagaOutcome, SagaReport, SagaStatus, SagaStep, StepError, run_saga,
};
use dapr::workflow::{
    ActivityContext, ActivityContextExt, ActivityOptions, FetchOptions, Registry, RegistryExt,
    RetryPolicy, RuntimeStatus, ScheduleOptions, WorkflowContext, WorkflowContextExt,
    WorkflowError, WorkflowMetadata, WorkflowSchedulingClient,
};
use serde::{Deserialize, Serialize};
use shaku::Component;
use tokio::sync::OnceCell;

use crate::dapr_invocation::{InvocationTarget, invoke};
use crate::dapr_workflow::{connect, workflow_error};
use crate::sidecar::DaprSidecar;

/// Name of the workflow.
pub const ORDER_FULFILMENT_SAGA_WORKFLOW: &str = "order_fulfilment_saga";

/// The activity running `operation` (an action or a compensation).
pub fn order_fulfilment_saga_activity(operation: &str) -> String {
    let workflow = ORDER_FULFILMENT_SAGA_WORKFLOW;
    format!("{workflow}.{operation}")
}

/// How often a status read is tried: a read that races the saga's own write of its state may fail
/// with a transient `Unknown` ("… missing from state store (transient store read failure or partial
/// save?)", measured with 50 concurrent sagas), and a client's GET should not fail for that.
const STATUS_READ_ATTEMPTS: u32 = 3;
/// Pause between two status reads.
const STATUS_READ_PAUSE: Duration = Duration::from_millis(50);

/// How often a failing action is tried: 1 s, 2 s, 4 s apart, four attempts in all (7 s). Short:
/// the sooner a step that cannot be done is compensated, the less is held (stock, funds).
fn action_retry_policy() -> RetryPolicy {
    RetryPolicy::new(4, Duration::from_secs(1)).with_backoff_coefficient(2.0)
}

/// How often a failing compensation is tried: 1 s, 2 s, 4 s … capped at 30 s, eight attempts in all
/// (about a minute and a half), long enough to ride out a restart of the other side. After that the
/// saga ends as [`SagaOutcome::CompensationFailed`], for a person to look at.
fn compensation_retry_policy() -> RetryPolicy {
    RetryPolicy::new(8, Duration::from_secs(1))
        .with_backoff_coefficient(2.0)
        .with_max_retry_interval(Duration::from_secs(30))
}

/// What an operation's activity gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct OperationInput {
    /// The saga (its workflow instance id), for the idempotency key.
    saga_id: String,
    /// The saga's input.
    input: OrderFulfilmentSagaInput,
}

/// What an operation's activity reports: done, or refused for a reason retrying cannot change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
enum OperationOutcome {
    /// Done (now or by an earlier attempt).
    Done,
    /// The other side refused.
    Refused {
        /// Why.
        reason: String,
    },
}

/// An action, or the compensation of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Act(OrderFulfilmentSagaStep),
    Compensate(OrderFulfilmentSagaStep),
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Self::Act(step) => step.action(),
            Self::Compensate(step) => step.compensation(),
        }
    }
}

/// The workflow: the saga, every operation an activity.
async fn order_fulfilment_saga(ctx: WorkflowContext) -> dapr::workflow::Result<Option<String>> {
    let input: OrderFulfilmentSagaInput = ctx.get_input_typed()?;
    let operations = ActivityOperations {
        input: OperationInput {
            saga_id: ctx.instance_id().to_string(),
            input,
        },
        ctx,
    };
    let outcome = run_saga(&OrderFulfilmentSagaStep::ALL, &operations).await;
    Ok(Some(serde_json::to_string(&outcome)?))
}

/// [`SagaOperations`] as activities of the running workflow.
struct ActivityOperations {
    ctx: WorkflowContext,
    input: OperationInput,
}

impl ActivityOperations {
    async fn call(&self, operation: Operation, retry_policy: RetryPolicy) -> Result<(), StepError> {
        let options = ActivityOptions::new()
            .try_with_input(&self.input)
            .map_err(|error| {
                StepError::Unavailable(format!("cannot encode the saga input: {error}"))
            })?
            .with_retry_policy(retry_policy);
        let activity = order_fulfilment_saga_activity(operation.name());
        match self
            .ctx
            .call_activity_with_options_typed(&activity, options)
            .await
        {
            Ok(OperationOutcome::Done) => Ok(()),
            Ok(OperationOutcome::Refused { reason }) => Err(StepError::Refused(reason)),
            // Failed on every attempt: it may or may not have taken effect.
            Err(error) => Err(StepError::Unavailable(error.to_string())),
        }
    }
}

#[async_trait]
impl SagaOperations<OrderFulfilmentSagaStep> for ActivityOperations {
    async fn act(&self, step: OrderFulfilmentSagaStep) -> Result<(), StepError> {
        self.call(Operation::Act(step), action_retry_policy()).await
    }

    async fn compensate(&self, step: OrderFulfilmentSagaStep) -> Result<(), StepError> {
        self.call(Operation::Compensate(step), compensation_retry_policy())
            .await
    }

    fn progress(&self, report: &SagaReport) {
        if let Ok(progress) = serde_json::to_string(report) {
            self.ctx.set_custom_status(progress);
        }
    }
}

/// The activity of `operation`: one call through the steps port.
async fn run_operation(
    steps: Arc<dyn OrderFulfilmentSagaSteps>,
    operation: Operation,
    ctx: ActivityContext,
    input: Option<String>,
) -> dapr::workflow::Result<Option<String>> {
    let OperationInput { saga_id, input } = ctx.get_input(input.as_deref())?;
    let done = match operation {
        Operation::Act(step) => step.act(steps.as_ref(), &saga_id, &input).await,
        Operation::Compensate(step) => step.compensate(steps.as_ref(), &saga_id, &input).await,
    };
    let outcome = match done {
        Ok(()) => OperationOutcome::Done,
        Err(StepError::Refused(reason)) => OperationOutcome::Refused { reason },
        Err(StepError::Unavailable(reason)) => {
            tracing::warn!(
                saga_id,
                operation = operation.name(),
                reason,
                "saga operation failed, the workflow will retry it"
            );
            return Err(WorkflowError::Other(reason));
        }
    };
    Ok(Some(serde_json::to_string(&outcome)?))
}

/// Adds the `order_fulfilment_saga` workflow and one activity per operation to `registry`, the
/// activities calling `steps`.
pub fn register_order_fulfilment_saga(
    registry: &mut Registry,
    steps: Arc<dyn OrderFulfilmentSagaSteps>,
) {
    registry.add_workflow(ORDER_FULFILMENT_SAGA_WORKFLOW, order_fulfilment_saga);
    for step in OrderFulfilmentSagaStep::ALL {
        for operation in [Operation::Act(step), Operation::Compensate(step)] {
            let steps = steps.clone();
            registry.add_activity(
                &order_fulfilment_saga_activity(operation.name()),
                move |ctx, input| run_operation(steps.clone(), operation, ctx, input),
            );
        }
    }
}

/// [`OrderFulfilmentSagaWorkflow`] on Dapr Workflow: starts `order_fulfilment_saga` runs and reads
/// where they stand.
#[derive(Component)]
#[shaku(interface = OrderFulfilmentSagaWorkflow)]
pub struct DaprOrderFulfilmentSagaWorkflow {
    /// The sidecar that runs the workflows.
    sidecar: DaprSidecar,
    /// Connected on first use: the workflow client connects eagerly, and shaku builds
    /// components synchronously.
    #[shaku(force_default)]
    client: OnceCell<WorkflowSchedulingClient>,
}

impl DaprOrderFulfilmentSagaWorkflow {
    /// A workflow adapter on `sidecar` (shaku builds it the same way).
    pub fn new(sidecar: DaprSidecar) -> Self {
        Self {
            sidecar,
            client: OnceCell::new(),
        }
    }

    /// A client on the shared connection (its calls take `&mut self`).
    async fn client(&self) -> Result<WorkflowSchedulingClient, RepoError> {
        self.client
            .get_or_try_init(|| async { Ok(connect(&self.sidecar).await?.scheduling_client()) })
            .await
            .cloned()
    }
}

#[async_trait]
impl OrderFulfilmentSagaWorkflow for DaprOrderFulfilmentSagaWorkflow {
    async fn start(
        &self,
        saga_id: &str,
        input: &OrderFulfilmentSagaInput,
    ) -> Result<(), RepoError> {
        // Scheduling an id again would replace a finished saga: look first.
        if self.status(saga_id).await?.is_some() {
            return Ok(());
        }
        let options = ScheduleOptions::new()
            .with_instance_id(saga_id)
            .try_with_input(input)
            .map_err(|error| {
                RepoError::Corrupt(format!("cannot encode the saga input: {error}"))
            })?;
        match self
            .client()
            .await?
            .schedule_workflow(ORDER_FULFILMENT_SAGA_WORKFLOW, options)
            .await
        {
            Ok(_) => Ok(()),
            // Started by a concurrent request in the meantime: that is the saga asked for.
            Err(error) => match self.status(saga_id).await {
                Ok(Some(_)) => Ok(()),
                _ => Err(workflow_error(error)),
            },
        }
    }

    async fn status(&self, saga_id: &str) -> Result<Option<SagaStatus>, RepoError> {
        let mut attempt = 1;
        loop {
            let fetched = self
                .client()
                .await?
                .fetch_workflow_metadata(saga_id, FetchOptions::new().with_fetch_payloads(true))
                .await;
            match fetched {
                Ok(metadata) => return saga_status(&metadata).map(Some),
                Err(WorkflowError::InstanceNotFound { .. }) => return Ok(None),
                Err(WorkflowError::GrpcError(status))
                    if status.code() == tonic::Code::Unknown && attempt < STATUS_READ_ATTEMPTS =>
                {
                    attempt += 1;
                    tokio::time::sleep(STATUS_READ_PAUSE).await;
                }
                Err(error) => return Err(workflow_error(error)),
            }
        }
    }

    async fn wait(
        &self,
        saga_id: &str,
        timeout: Duration,
    ) -> Result<Option<SagaStatus>, RepoError> {
        // The sidecar answers as soon as the saga finishes (it watches the instance; no polling).
        let waited = self
            .client()
            .await?
            .wait_for_workflow_completion_with_options(
                saga_id,
                FetchOptions::new().with_fetch_payloads(true),
                Some(timeout),
            )
            .await;
        match waited {
            Ok(metadata) => saga_status(&metadata).map(Some),
            // Still running when the time was up; or no such saga, which the sidecar waits on too
            // (it could still be scheduled): either way, where it stands now says which.
            Err(WorkflowError::Timeout | WorkflowError::InstanceNotFound { .. }) => {
                self.status(saga_id).await
            }
            Err(error) => Err(workflow_error(error)),
        }
    }
}

/// Where a saga stands, from the workflow engine's view of it.
fn saga_status(metadata: &WorkflowMetadata) -> Result<SagaStatus, RepoError> {
    let unreadable = |what: &str, error: serde_json::Error| {
        RepoError::Corrupt(format!(
            "saga {} has an unreadable {what}: {error}",
            metadata.instance_id
        ))
    };
    Ok(match metadata.runtime_status {
        RuntimeStatus::Completed => {
            let output = metadata.serialized_output.as_deref().unwrap_or_default();
            let outcome: SagaOutcome =
                serde_json::from_str(output).map_err(|error| unreadable("outcome", error))?;
            SagaStatus::Finished(outcome)
        }
        RuntimeStatus::Failed => SagaStatus::Failed(
            metadata
                .failure_details
                .as_ref()
                .map_or_else(|| "failed".to_owned(), |details| details.message.clone()),
        ),
        RuntimeStatus::Terminated | RuntimeStatus::Canceled => {
            SagaStatus::Failed("stopped by an operator".into())
        }
        // Not finished yet, suspended or waiting included.
        RuntimeStatus::Running
        | RuntimeStatus::Pending
        | RuntimeStatus::Suspended
        | RuntimeStatus::ContinuedAsNew
        | RuntimeStatus::Stalled => {
            let progress = match metadata.serialized_custom_status.as_deref() {
                Some(progress) if !progress.is_empty() => {
                    serde_json::from_str(progress).map_err(|error| unreadable("progress", error))?
                }
                _ => SagaReport::default(),
            };
            SagaStatus::Running(progress)
        }
    })
}

/// Where each operation of the `order_fulfilment` saga is sent: `[dapr]` keys
/// `order_fulfilment_saga.<operation> = { app_id = "…", method = "…" }`. Operations not configured
/// go where `daprgen add saga` was told (this app by default), to a method named after them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrderFulfilmentSagaTargets {
    /// Where `reserve_stock` goes.
    pub reserve_stock: InvocationTarget,
    /// Where `release_stock` goes.
    pub release_stock: InvocationTarget,
    /// Where `charge_payment` goes.
    pub charge_payment: InvocationTarget,
    /// Where `refund_payment` goes.
    pub refund_payment: InvocationTarget,
    /// Where `confirm_order` goes.
    pub confirm_order: InvocationTarget,
    /// Where `cancel_order` goes.
    pub cancel_order: InvocationTarget,
}

impl Default for OrderFulfilmentSagaTargets {
    fn default() -> Self {
        let target = |app_id: &str, method: &str| {
            InvocationTarget::new(app_id, method).expect("a valid default target")
        };
        Self {
            reserve_stock: target("inventory", "reserve-stock"),
            release_stock: target("inventory", "release-stock"),
            charge_payment: target("payment", "charge-payment"),
            refund_payment: target("payment", "refund-payment"),
            confirm_order: target("order", "confirm-order"),
            cancel_order: target("order", "cancel-order"),
        }
    }
}

/// [`OrderFulfilmentSagaSteps`] as Dapr service invocations: each operation a `POST` of the saga's
/// input to the app and method configured for it, with its idempotency key.
#[derive(Component)]
#[shaku(interface = OrderFulfilmentSagaSteps)]
pub struct DaprOrderFulfilmentSagaSteps {
    /// The sidecar the calls go through; its settings name the targets.
    sidecar: DaprSidecar,
    #[shaku(force_default)]
    http: reqwest::Client,
}

impl DaprOrderFulfilmentSagaSteps {
    /// Steps through `sidecar` (shaku builds them the same way).
    pub fn new(sidecar: DaprSidecar) -> Self {
        Self {
            sidecar,
            http: reqwest::Client::new(),
        }
    }

    async fn call(
        &self,
        target: impl Fn(&OrderFulfilmentSagaTargets) -> &InvocationTarget,
        key: &str,
        input: &OrderFulfilmentSagaInput,
    ) -> Result<(), StepError> {
        let target = target(&self.sidecar.settings().order_fulfilment_saga);
        invoke(&self.http, &self.sidecar, target, key, input).await
    }
}

#[async_trait]
impl OrderFulfilmentSagaSteps for DaprOrderFulfilmentSagaSteps {
    async fn reserve_stock(
        &self,
        key: &str,
        input: &OrderFulfilmentSagaInput,
    ) -> Result<(), StepError> {
        self.call(|targets| &targets.reserve_stock, key, input)
            .await
    }

    async fn release_stock(
        &self,
        key: &str,
        input: &OrderFulfilmentSagaInput,
    ) -> Result<(), StepError> {
        self.call(|targets| &targets.release_stock, key, input)
            .await
    }

    async fn charge_payment(
        &self,
        key: &str,
        input: &OrderFulfilmentSagaInput,
    ) -> Result<(), StepError> {
        self.call(|targets| &targets.charge_payment, key, input)
            .await
    }

    async fn refund_payment(
        &self,
        key: &str,
        input: &OrderFulfilmentSagaInput,
    ) -> Result<(), StepError> {
        self.call(|targets| &targets.refund_payment, key, input)
            .await
    }

    async fn confirm_order(
        &self,
        key: &str,
        input: &OrderFulfilmentSagaInput,
    ) -> Result<(), StepError> {
        self.call(|targets| &targets.confirm_order, key, input)
            .await
    }

    async fn cancel_order(
        &self,
        key: &str,
        input: &OrderFulfilmentSagaInput,
    ) -> Result<(), StepError> {
        self.call(|targets| &targets.cancel_order, key, input).await
    }
}

#[cfg(test)]
mod tests {
    use biz::order_fulfilment_saga::MockOrderFulfilmentSagaSteps;
    use biz::saga::OperationFailure;
    use dapr::workflow::FailureDetails;

    use super::*;

    fn metadata(status: RuntimeStatus) -> WorkflowMetadata {
        WorkflowMetadata {
            instance_id: "saga-1".into(),
            name: ORDER_FULFILMENT_SAGA_WORKFLOW.into(),
            runtime_status: status,
            created_at: None,
            last_updated_at: None,
            started_at: None,
            parent_instance_id: None,
            parent_app_id: None,
            serialized_input: None,
            serialized_output: None,
            serialized_custom_status: None,
            failure_details: None,
        }
    }

    #[test]
    fn a_finished_saga_reports_its_outcome() {
        let outcome = SagaOutcome::Compensated {
            failure: OperationFailure {
                operation: "reserve_stock".into(),
                error: StepError::Refused("no".into()),
            },
            report: SagaReport::default(),
        };
        let completed = WorkflowMetadata {
            serialized_output: Some(serde_json::to_string(&outcome).unwrap()),
            ..metadata(RuntimeStatus::Completed)
        };
        assert_eq!(
            saga_status(&completed).unwrap(),
            SagaStatus::Finished(outcome)
        );
        assert!(matches!(
            saga_status(&metadata(RuntimeStatus::Completed)),
            Err(RepoError::Corrupt(_))
        ));
    }

    #[test]
    fn a_running_saga_reports_its_progress() {
        let progress = SagaReport {
            done: vec!["reserve_stock".into()],
            compensated: vec![],
        };
        let running = WorkflowMetadata {
            serialized_custom_status: Some(serde_json::to_string(&progress).unwrap()),
            ..metadata(RuntimeStatus::Running)
        };
        assert_eq!(
            saga_status(&running).unwrap(),
            SagaStatus::Running(progress)
        );
        for status in [
            RuntimeStatus::Pending,
            RuntimeStatus::Suspended,
            RuntimeStatus::Stalled,
        ] {
            assert_eq!(
                saga_status(&metadata(status)).unwrap(),
                SagaStatus::Running(SagaReport::default())
            );
        }
    }

    #[test]
    fn a_saga_the_engine_stopped_is_failed() {
        let failed = WorkflowMetadata {
            failure_details: Some(FailureDetails {
                message: "cannot decode the input".into(),
                error_type: "WorkflowError".into(),
                stack_trace: None,
            }),
            ..metadata(RuntimeStatus::Failed)
        };
        assert_eq!(
            saga_status(&failed).unwrap(),
            SagaStatus::Failed("cannot decode the input".into())
        );
        assert!(matches!(
            saga_status(&metadata(RuntimeStatus::Terminated)).unwrap(),
            SagaStatus::Failed(_)
        ));
    }

    fn operation_input() -> Option<String> {
        let input = OperationInput {
            saga_id: "saga-1".into(),
            input: OrderFulfilmentSagaInput::default(),
        };
        Some(serde_json::to_string(&input).unwrap())
    }

    fn activity_context() -> ActivityContext {
        ActivityContext::new("saga-1".into(), 0, "task-0".into())
    }

    #[tokio::test]
    async fn activities_call_their_operation_with_its_key() {
        let mut steps = MockOrderFulfilmentSagaSteps::new();
        steps
            .expect_reserve_stock()
            .withf(|key, _| key == "saga-1:reserve_stock")
            .times(1)
            .returning(|_, _| Ok(()));
        steps
            .expect_release_stock()
            .withf(|key, _| key == "saga-1:release_stock")
            .times(1)
            .returning(|_, _| Err(StepError::Refused("nothing to undo".into())));
        let steps: Arc<dyn OrderFulfilmentSagaSteps> = Arc::new(steps);
        let step = OrderFulfilmentSagaStep::ReserveStock;

        let done = run_operation(
            steps.clone(),
            Operation::Act(step),
            activity_context(),
            operation_input(),
        )
        .await;
        let done: OperationOutcome = serde_json::from_str(&done.unwrap().unwrap()).unwrap();
        assert_eq!(done, OperationOutcome::Done);

        let refused = run_operation(
            steps,
            Operation::Compensate(step),
            activity_context(),
            operation_input(),
        )
        .await;
        let refused: OperationOutcome = serde_json::from_str(&refused.unwrap().unwrap()).unwrap();
        assert_eq!(
            refused,
            OperationOutcome::Refused {
                reason: "nothing to undo".into()
            }
        );
    }

    #[tokio::test]
    async fn an_unavailable_operation_fails_its_activity_so_that_it_is_retried() {
        let mut steps = MockOrderFulfilmentSagaSteps::new();
        steps
            .expect_reserve_stock()
            .times(1)
            .returning(|_, _| Err(StepError::Unavailable("store down".into())));
        let operation = Operation::Act(OrderFulfilmentSagaStep::ReserveStock);
        let error = run_operation(
            Arc::new(steps),
            operation,
            activity_context(),
            operation_input(),
        )
        .await
        .unwrap_err();
        assert!(error.to_string().contains("store down"), "{error}");
    }

    #[test]
    fn every_operation_has_its_own_activity() {
        let mut names: Vec<String> = OrderFulfilmentSagaStep::ALL
            .iter()
            .flat_map(|step| [Operation::Act(*step), Operation::Compensate(*step)])
            .map(|operation| order_fulfilment_saga_activity(operation.name()))
            .collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 2 * OrderFulfilmentSagaStep::ALL.len());
        assert!(names.contains(&"order_fulfilment_saga.reserve_stock".to_owned()));
    }

    #[test]
    fn targets_have_defaults_and_are_configured_per_operation() {
        let targets: OrderFulfilmentSagaTargets = serde_json::from_str(
            r#"{"reserve_stock": {"app_id": "elsewhere", "method": "v2/x"} }"#,
        )
        .unwrap();
        assert_eq!(
            targets.reserve_stock,
            InvocationTarget::new("elsewhere", "v2/x").unwrap()
        );
        assert_eq!(
            targets.release_stock,
            OrderFulfilmentSagaTargets::default().release_stock
        );
        assert_eq!(
            OrderFulfilmentSagaTargets::default().reserve_stock,
            InvocationTarget::new("inventory", "reserve-stock").unwrap()
        );
        let misspelt = serde_json::from_str::<OrderFulfilmentSagaTargets>(
            r#"{"reserve_stock_x": {"app_id": "a", "method": "m"} }"#,
        );
        assert!(misspelt.is_err());
    }
}
