//! [`RestockWorkflow`] on Dapr Workflow: a durable workflow `restock` that runs one activity
//! `adjust_order` per step of [`restock_steps`], each through
//! [`OrderUsecase::adjust`]. Each step's adjustment id is fixed by the instance id and the
//! line, so an activity that is retried, or replayed after a crash, adjusts only once.
//!
//! Two halves, because the activity needs the use case, which only exists once the shaku module
//! is built, while the module needs this adapter:
//! - [`DaprRestockWorkflow`], the component, schedules runs and reads their status;
//! - [`start_restock_worker`], called by the app after the module is built, runs the workflow and
//!   its activity in this process, until [`RestockWorker::shutdown`].
//!
//! Activity failures: a step the use case refuses (no such order, or an invalid
//! adjustment) cannot succeed later, so the activity reports it as its result and the workflow
//! fails with that reason at once; any other failure (storage unavailable, contention) fails the
//! activity, which the workflow retries with exponential back-off before it gives up.
//!
//! API token: the `dapr` crate's workflow client (`dapr-durabletask` 0.0.4) sends no
//! `dapr-api-token`. A sidecar started with `DAPR_API_TOKEN` refuses every workflow call as
//! `Unauthenticated`, so run workflows against a sidecar without an API token (keep the sidecar's
//! API on loopback instead), until the SDK can send one.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use biz::error::RepoError;
use biz::order_usecase::{OrderError, OrderUsecase};
use biz::workflow::{
    RestockReport, RestockRequest, RestockStatus, RestockStep, RestockWorkflow, restock_steps,
};
use dapr::workflow::{
    ActivityContext, ActivityContextExt, ActivityOptions, FetchOptions, RegistryExt, RetryPolicy,
    RuntimeStatus, ScheduleOptions, WorkerHandle, WorkflowClient, WorkflowContext,
    WorkflowContextExt, WorkflowError, WorkflowMetadata, WorkflowSchedulingClient,
};
use serde::{Deserialize, Serialize};
use shaku::Component;
use tokio::sync::OnceCell;

use crate::sidecar::DaprSidecar;
// The order_fulfilment saga (daprgen add saga).
use crate::dapr_order_fulfilment_saga::register_order_fulfilment_saga;
use biz::order_fulfilment_saga::OrderFulfilmentSagaSteps;
// daprgen:anchor workflow-imports

/// Name of the workflow.
pub const RESTOCK_WORKFLOW: &str = "restock";
/// Name of its activity.
pub const ADJUST_ACTIVITY: &str = "adjust_order";
/// Longest instance id accepted by [`RestockWorkflow::status`]; ids this adapter issues are UUIDs.
const MAX_INSTANCE_ID_LEN: usize = 128;
/// How long [`start_restock_worker`] waits for the sidecar to register the worker.
const REGISTRATION_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between two looks at the sidecar's metadata while waiting for the registration.
const REGISTRATION_POLL: Duration = Duration::from_millis(100);

/// What one step's activity reports: applied, or refused for a reason retrying cannot change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
enum StepOutcome {
    /// The adjustment is applied (now or by an earlier attempt).
    Applied,
    /// The use case refused the step.
    Refused {
        /// Why, in words for the workflow's failure message.
        reason: String,
    },
}

/// How often a failing step is tried, and how far apart: 1 s, 2 s, 4 s … capped at 30 s, eight
/// attempts in all (about a minute and a half), long enough to ride out a sidecar or store restart.
fn activity_retry_policy() -> RetryPolicy {
    RetryPolicy::new(8, Duration::from_secs(1))
        .with_backoff_coefficient(2.0)
        .with_max_retry_interval(Duration::from_secs(30))
}

/// The workflow: the steps in order, stopping at the first refused one.
async fn restock(ctx: WorkflowContext) -> dapr::workflow::Result<Option<String>> {
    let request: RestockRequest = ctx.get_input_typed()?;
    let mut report = RestockReport {
        lines_applied: 0,
        quantity_added: 0,
    };
    for (line, step) in restock_steps(&ctx.instance_id(), &request)
        .into_iter()
        .enumerate()
    {
        let delta = step.delta;
        let options = ActivityOptions::new()
            .try_with_input(&step)?
            .with_retry_policy(activity_retry_policy());
        match ctx
            .call_activity_with_options_typed(ADJUST_ACTIVITY, options)
            .await?
        {
            StepOutcome::Applied => {
                report.lines_applied += 1;
                report.quantity_added += delta;
            }
            StepOutcome::Refused { reason } => {
                return Err(WorkflowError::Other(format!(
                    "line {line} refused: {reason}"
                )));
            }
        }
    }
    Ok(Some(serde_json::to_string(&report)?))
}

/// The activity: one adjustment through the use case.
async fn adjust(
    usecase: Arc<dyn OrderUsecase>,
    ctx: ActivityContext,
    input: Option<String>,
) -> dapr::workflow::Result<Option<String>> {
    let step: RestockStep = ctx.get_input(input.as_deref())?;
    let outcome = match usecase
        .adjust(step.order_id, step.adjustment_id, step.delta)
        .await
    {
        Ok(_) => StepOutcome::Applied,
        Err(refused @ (OrderError::Invalid(_) | OrderError::NotFound(_))) => StepOutcome::Refused {
            reason: refused.to_string(),
        },
        Err(error) => {
            let detail = std::error::Error::source(&error)
                .map(ToString::to_string)
                .unwrap_or_default();
            tracing::warn!(%error, detail, "restock step failed, the workflow will retry it");
            return Err(WorkflowError::Other(format!("{error}: {detail}")));
        }
    };
    Ok(Some(serde_json::to_string(&outcome)?))
}

/// The workflow worker of this process; stop it with [`RestockWorker::shutdown`] (dropping it
/// stops it too, without waiting).
pub struct RestockWorker {
    handle: WorkerHandle,
}

impl std::fmt::Debug for RestockWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestockWorker").finish_non_exhaustive()
    }
}

impl RestockWorker {
    /// Stops taking work and waits for the worker to finish.
    pub async fn shutdown(self) -> Result<(), RepoError> {
        self.handle.shutdown().await.map_err(workflow_error)
    }
}

/// What the activities of this process's workflows call, resolved from the app's module once it is
/// built (the module holds this crate's adapters, so the activities cannot be its components).
pub struct WorkflowActivities {
    /// Restock steps go through it.
    pub orders: Arc<dyn OrderUsecase>,
    /// The operations of the order_fulfilment saga.
    pub order_fulfilment_saga_steps: Arc<dyn OrderFulfilmentSagaSteps>,
    // daprgen:anchor workflow-activities-fields
}

/// Registers the workflows and their activities with the sidecar and runs them in this process.
/// Waits (at most 10 s) until the sidecar has registered the worker: scheduling before that works,
/// but costs a steady 2 s inside daprd.
pub async fn start_restock_worker(
    sidecar: &DaprSidecar,
    activities: WorkflowActivities,
) -> Result<RestockWorker, RepoError> {
    if sidecar.settings().api_token.is_some() {
        tracing::warn!(
            "the Dapr workflow client sends no API token: a sidecar that requires one refuses workflows"
        );
    }
    let mut client = connect(sidecar).await?;
    let registry = client.registry_mut();
    registry.add_workflow(RESTOCK_WORKFLOW, restock);
    let usecase = activities.orders;
    registry.add_activity(ADJUST_ACTIVITY, move |ctx, input| {
        adjust(usecase.clone(), ctx, input)
    });
    register_order_fulfilment_saga(registry, activities.order_fulfilment_saga_steps);
    // daprgen:anchor workflow-registrations
    let handle = client.start_worker().await.map_err(workflow_error)?;
    wait_for_registration(sidecar).await;
    Ok(RestockWorker { handle })
}

/// Waits until the sidecar's metadata lists this app's workflow actor type; warns if it never does.
async fn wait_for_registration(sidecar: &DaprSidecar) {
    let deadline = tokio::time::Instant::now() + REGISTRATION_TIMEOUT;
    loop {
        let registered = sidecar.metadata().await.map(|metadata| {
            let workflow_actor = format!(
                "dapr.internal.default.{}.workflow",
                metadata["id"].as_str().unwrap_or_default()
            );
            metadata["actorRuntime"]["activeActors"]
                .as_array()
                .is_some_and(|actors| {
                    actors
                        .iter()
                        .any(|actor| actor["type"] == workflow_actor.as_str())
                })
        });
        match registered {
            Ok(true) => return,
            outcome if tokio::time::Instant::now() >= deadline => {
                tracing::warn!(
                    ?outcome,
                    "the sidecar has not registered the workflow worker yet (placement and scheduler reachable?)"
                );
                return;
            }
            _ => tokio::time::sleep(REGISTRATION_POLL).await,
        }
    }
}

pub(crate) async fn connect(sidecar: &DaprSidecar) -> Result<WorkflowClient, RepoError> {
    WorkflowClient::new_with_address(sidecar.settings().grpc_endpoint.clone())
        .await
        .map_err(workflow_error)
}

/// [`RestockWorkflow`] on Dapr Workflow: schedules `restock` runs and reads their status.
#[derive(Component)]
#[shaku(interface = RestockWorkflow)]
pub struct DaprRestockWorkflow {
    /// The sidecar that runs the workflows.
    sidecar: DaprSidecar,
    /// Connected on first use: the workflow client connects eagerly, and shaku builds
    /// components synchronously.
    #[shaku(force_default)]
    client: OnceCell<WorkflowSchedulingClient>,
}

impl DaprRestockWorkflow {
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
impl RestockWorkflow for DaprRestockWorkflow {
    async fn start(&self, request: &RestockRequest) -> Result<String, RepoError> {
        let options = ScheduleOptions::new()
            .try_with_input(request)
            .map_err(|error| {
                RepoError::Corrupt(format!("cannot encode the restock request: {error}"))
            })?;
        self.client()
            .await?
            .schedule_workflow(RESTOCK_WORKFLOW, options)
            .await
            .map_err(workflow_error)
    }

    async fn status(&self, instance_id: &str) -> Result<Option<RestockStatus>, RepoError> {
        // The SDK refuses such ids itself, as an error; they name no run we started.
        if instance_id.is_empty()
            || instance_id.len() > MAX_INSTANCE_ID_LEN
            || instance_id.chars().any(char::is_control)
        {
            return Ok(None);
        }
        let fetched = self
            .client()
            .await?
            .fetch_workflow_metadata(instance_id, FetchOptions::new().with_fetch_payloads(true))
            .await;
        match fetched {
            Ok(metadata) => restock_status(&metadata).map(Some),
            Err(WorkflowError::InstanceNotFound { .. }) => Ok(None),
            Err(error) => Err(workflow_error(error)),
        }
    }
}

/// Where a run stands, from the workflow engine's view of it.
fn restock_status(metadata: &WorkflowMetadata) -> Result<RestockStatus, RepoError> {
    Ok(match metadata.runtime_status {
        RuntimeStatus::Completed => {
            let output = metadata.serialized_output.as_deref().unwrap_or_default();
            let report = serde_json::from_str(output).map_err(|error| {
                RepoError::Corrupt(format!(
                    "restock {} completed with an unreadable report: {error}",
                    metadata.instance_id
                ))
            })?;
            RestockStatus::Completed(report)
        }
        RuntimeStatus::Failed => RestockStatus::Failed(
            metadata
                .failure_details
                .as_ref()
                .map_or_else(|| "failed".to_owned(), |details| details.message.clone()),
        ),
        RuntimeStatus::Terminated | RuntimeStatus::Canceled => {
            RestockStatus::Failed("stopped by an operator".into())
        }
        // Not finished yet, suspended or waiting included.
        RuntimeStatus::Running
        | RuntimeStatus::Pending
        | RuntimeStatus::Suspended
        | RuntimeStatus::ContinuedAsNew
        | RuntimeStatus::Stalled => RestockStatus::Running,
    })
}

/// A workflow engine failure, in port terms.
pub(crate) fn workflow_error(error: WorkflowError) -> RepoError {
    match error {
        WorkflowError::GrpcError(status) if status.code() == tonic::Code::Unauthenticated => {
            RepoError::Unavailable(format!(
                "the sidecar refused the workflow call ({}): the workflow client sends no API token",
                status.message()
            ))
        }
        other => RepoError::Unavailable(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use biz::order::{OrderId, ValidationError};
    use biz::order_usecase::MockOrderUsecase;
    use dapr::workflow::FailureDetails;

    use super::*;

    fn metadata(status: RuntimeStatus) -> WorkflowMetadata {
        WorkflowMetadata {
            instance_id: "run-1".into(),
            name: RESTOCK_WORKFLOW.into(),
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
    fn a_completed_run_reports_its_output() {
        let report = RestockReport {
            lines_applied: 2,
            quantity_added: 9,
        };
        let completed = WorkflowMetadata {
            serialized_output: Some(serde_json::to_string(&report).unwrap()),
            ..metadata(RuntimeStatus::Completed)
        };
        assert_eq!(
            restock_status(&completed).unwrap(),
            RestockStatus::Completed(report)
        );
    }

    #[test]
    fn a_completed_run_without_a_readable_report_is_corrupt() {
        assert!(matches!(
            restock_status(&metadata(RuntimeStatus::Completed)),
            Err(RepoError::Corrupt(_))
        ));
    }

    #[test]
    fn a_failed_run_reports_its_reason() {
        let failed = WorkflowMetadata {
            failure_details: Some(FailureDetails {
                message: "line 1 refused: order x not found".into(),
                error_type: "WorkflowError".into(),
                stack_trace: None,
            }),
            ..metadata(RuntimeStatus::Failed)
        };
        assert_eq!(
            restock_status(&failed).unwrap(),
            RestockStatus::Failed("line 1 refused: order x not found".into())
        );
        assert!(matches!(
            restock_status(&metadata(RuntimeStatus::Terminated)).unwrap(),
            RestockStatus::Failed(_)
        ));
    }

    #[test]
    fn unfinished_runs_are_running() {
        for status in [
            RuntimeStatus::Running,
            RuntimeStatus::Pending,
            RuntimeStatus::Suspended,
            RuntimeStatus::Stalled,
        ] {
            assert_eq!(
                restock_status(&metadata(status)).unwrap(),
                RestockStatus::Running,
                "{status:?}"
            );
        }
    }

    #[test]
    fn the_missing_api_token_is_named_when_the_sidecar_refuses() {
        let error = workflow_error(WorkflowError::GrpcError(Box::new(
            tonic::Status::unauthenticated("missing token"),
        )));
        assert!(matches!(error, RepoError::Unavailable(message) if message.contains("API token")));
    }

    fn step() -> RestockStep {
        RestockStep {
            order_id: OrderId::new(),
            adjustment_id: "restock-run-1-0".into(),
            delta: 3,
        }
    }

    async fn run_activity(usecase: MockOrderUsecase) -> dapr::workflow::Result<Option<String>> {
        let input = serde_json::to_string(&step()).unwrap();
        adjust(
            Arc::new(usecase),
            ActivityContext::new("run-1".into(), 0, "task-0".into()),
            Some(input),
        )
        .await
    }

    #[tokio::test]
    async fn refusals_are_results_and_outages_are_retryable_failures() {
        let mut refusing = MockOrderUsecase::new();
        refusing
            .expect_adjust()
            .withf(|_, adjustment_id, delta| adjustment_id == "restock-run-1-0" && *delta == 3)
            .returning(|_, _, _| Err(ValidationError::new("delta", "too big").into()));
        let outcome: StepOutcome =
            serde_json::from_str(&run_activity(refusing).await.unwrap().unwrap()).unwrap();
        assert!(matches!(outcome, StepOutcome::Refused { reason } if reason.contains("too big")));

        let mut failing = MockOrderUsecase::new();
        failing.expect_adjust().returning(|id, _, _| {
            Err(OrderError::Unavailable(RepoError::Unavailable(format!(
                "store down for {id}"
            ))))
        });
        let error = run_activity(failing).await.unwrap_err();
        assert!(error.to_string().contains("store down"), "{error}");
    }
}
