//! The `order_fulfilment` saga. Its steps, in the order they run, each with the compensation that
//! undoes it:
//! 1. `reserve_stock`, undone by `release_stock`;
//! 2. `charge_payment`, undone by `refund_payment`;
//! 3. `confirm_order`, undone by `cancel_order`.
//!
//! When a step fails, the steps done are undone, last first (see [`run_saga`] for which ones
//! exactly). The order is decided here, purely; the operations go through the
//! [`OrderFulfilmentSagaSteps`] port, each with its idempotency key. The Dapr Workflow adapter in
//! the data layer runs each operation as an activity, retried, so the saga goes on after a restart.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use shaku::{Component, Interface};

use crate::error::RepoError;
use crate::order::ValidationError;
use crate::saga::{
    SagaError, SagaOperations, SagaOutcome, SagaStatus, SagaStep, StepError, check_saga_id,
    operation_key, run_saga,
};

/// What one `order_fulfilment` saga works on, given when it starts and passed to every operation:
/// any JSON object. Replace it with typed fields when the operations need them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderFulfilmentSagaInput(pub serde_json::Map<String, serde_json::Value>);

/// The steps of the `order_fulfilment` saga.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderFulfilmentSagaStep {
    /// `reserve_stock`, undone by `release_stock`.
    ReserveStock,
    /// `charge_payment`, undone by `refund_payment`.
    ChargePayment,
    /// `confirm_order`, undone by `cancel_order`.
    ConfirmOrder,
}

impl OrderFulfilmentSagaStep {
    /// Every step, in the order they run.
    pub const ALL: [Self; 3] = [Self::ReserveStock, Self::ChargePayment, Self::ConfirmOrder];

    /// Runs this step's action for saga `saga_id` through `steps`.
    pub async fn act(
        self,
        steps: &dyn OrderFulfilmentSagaSteps,
        saga_id: &str,
        input: &OrderFulfilmentSagaInput,
    ) -> Result<(), StepError> {
        let key = operation_key(saga_id, self.action());
        match self {
            Self::ReserveStock => steps.reserve_stock(&key, input).await,
            Self::ChargePayment => steps.charge_payment(&key, input).await,
            Self::ConfirmOrder => steps.confirm_order(&key, input).await,
        }
    }

    /// Runs this step's compensation for saga `saga_id` through `steps`.
    pub async fn compensate(
        self,
        steps: &dyn OrderFulfilmentSagaSteps,
        saga_id: &str,
        input: &OrderFulfilmentSagaInput,
    ) -> Result<(), StepError> {
        let key = operation_key(saga_id, self.compensation());
        match self {
            Self::ReserveStock => steps.release_stock(&key, input).await,
            Self::ChargePayment => steps.refund_payment(&key, input).await,
            Self::ConfirmOrder => steps.cancel_order(&key, input).await,
        }
    }
}

impl SagaStep for OrderFulfilmentSagaStep {
    fn action(self) -> &'static str {
        match self {
            Self::ReserveStock => "reserve_stock",
            Self::ChargePayment => "charge_payment",
            Self::ConfirmOrder => "confirm_order",
        }
    }

    fn compensation(self) -> &'static str {
        match self {
            Self::ReserveStock => "release_stock",
            Self::ChargePayment => "refund_payment",
            Self::ConfirmOrder => "cancel_order",
        }
    }
}

/// The operations of the `order_fulfilment` saga. Each gets its idempotency key (see
/// [`operation_key`]): the same on every retry, so an operation takes effect once however often it
/// is called. A compensation must succeed, doing nothing, when its action never took effect.
///
/// [`StepError::Refused`] means the operation did not take effect and will not;
/// [`StepError::Unavailable`] that it may have, and that trying again may help.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OrderFulfilmentSagaSteps: Interface {
    /// Step 1: `reserve_stock`.
    async fn reserve_stock(
        &self,
        key: &str,
        input: &OrderFulfilmentSagaInput,
    ) -> Result<(), StepError>;
    /// Undoes `reserve_stock`.
    async fn release_stock(
        &self,
        key: &str,
        input: &OrderFulfilmentSagaInput,
    ) -> Result<(), StepError>;
    /// Step 2: `charge_payment`.
    async fn charge_payment(
        &self,
        key: &str,
        input: &OrderFulfilmentSagaInput,
    ) -> Result<(), StepError>;
    /// Undoes `charge_payment`.
    async fn refund_payment(
        &self,
        key: &str,
        input: &OrderFulfilmentSagaInput,
    ) -> Result<(), StepError>;
    /// Step 3: `confirm_order`.
    async fn confirm_order(
        &self,
        key: &str,
        input: &OrderFulfilmentSagaInput,
    ) -> Result<(), StepError>;
    /// Undoes `confirm_order`.
    async fn cancel_order(
        &self,
        key: &str,
        input: &OrderFulfilmentSagaInput,
    ) -> Result<(), StepError>;
}

/// Runs saga `saga_id` in this process, straight through `steps`: no retries, nothing survives a
/// restart. The workflow adapter runs the same [`run_saga`] with every operation a retried activity.
pub async fn run_order_fulfilment_saga(
    steps: &dyn OrderFulfilmentSagaSteps,
    saga_id: &str,
    input: &OrderFulfilmentSagaInput,
) -> SagaOutcome {
    run_saga(
        &OrderFulfilmentSagaStep::ALL,
        &DirectOperations {
            steps,
            saga_id,
            input,
        },
    )
    .await
}

/// [`SagaOperations`] straight on the port.
struct DirectOperations<'a> {
    steps: &'a dyn OrderFulfilmentSagaSteps,
    saga_id: &'a str,
    input: &'a OrderFulfilmentSagaInput,
}

#[async_trait]
impl SagaOperations<OrderFulfilmentSagaStep> for DirectOperations<'_> {
    async fn act(&self, step: OrderFulfilmentSagaStep) -> Result<(), StepError> {
        step.act(self.steps, self.saga_id, self.input).await
    }

    async fn compensate(&self, step: OrderFulfilmentSagaStep) -> Result<(), StepError> {
        step.compensate(self.steps, self.saga_id, self.input).await
    }
}

/// The durable workflow engine running `order_fulfilment` sagas, as the business layer needs it.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OrderFulfilmentSagaWorkflow: Interface {
    /// Starts saga `saga_id` on `input`; if it exists already, leaves it as it is.
    async fn start(&self, saga_id: &str, input: &OrderFulfilmentSagaInput)
    -> Result<(), RepoError>;
    /// Where saga `saga_id` stands; `None` if there is no such saga.
    async fn status(&self, saga_id: &str) -> Result<Option<SagaStatus>, RepoError>;
    /// Where saga `saga_id` stands once it has finished, or after `timeout` if it still runs
    /// then; `None` if there is no such saga (known only when the time is up).
    async fn wait(&self, saga_id: &str, timeout: Duration)
    -> Result<Option<SagaStatus>, RepoError>;
}

/// `order_fulfilment` saga use cases.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OrderFulfilmentSagas: Interface {
    /// Starts a saga on `input`, as `saga_id` when given (starting an id again starts nothing new),
    /// else under a new id; returns its id.
    async fn start(
        &self,
        saga_id: Option<String>,
        input: OrderFulfilmentSagaInput,
    ) -> Result<String, SagaError>;
    /// Where saga `saga_id` stands.
    async fn status(&self, saga_id: &str) -> Result<SagaStatus, SagaError>;
    /// Where saga `saga_id` stands once it has finished, or after `timeout` if it still runs then:
    /// one call instead of a client polling [`status`](Self::status).
    async fn wait(&self, saga_id: &str, timeout: Duration) -> Result<SagaStatus, SagaError>;
}

/// [`OrderFulfilmentSagas`] on top of the [`OrderFulfilmentSagaWorkflow`] port.
#[derive(Component)]
#[shaku(interface = OrderFulfilmentSagas)]
pub struct OrderFulfilmentSagaInteractor {
    #[shaku(inject)]
    workflow: Arc<dyn OrderFulfilmentSagaWorkflow>,
}

impl OrderFulfilmentSagaInteractor {
    /// An interactor over `workflow` (shaku builds it the same way).
    pub fn new(workflow: Arc<dyn OrderFulfilmentSagaWorkflow>) -> Self {
        Self { workflow }
    }

    /// Saga `saga_id` as the workflow engine reports it, now or after waiting up to `wait`.
    async fn look(&self, saga_id: &str, wait: Option<Duration>) -> Result<SagaStatus, SagaError> {
        if check_saga_id(saga_id).is_err() {
            return Err(SagaError::NotFound(saga_id.to_owned()));
        }
        let read = match wait {
            None => self.workflow.status(saga_id).await,
            Some(timeout) => self.workflow.wait(saga_id, timeout).await,
        };
        read.map_err(SagaError::Unavailable)?
            .ok_or_else(|| SagaError::NotFound(saga_id.to_owned()))
    }
}

#[async_trait]
impl OrderFulfilmentSagas for OrderFulfilmentSagaInteractor {
    async fn start(
        &self,
        saga_id: Option<String>,
        input: OrderFulfilmentSagaInput,
    ) -> Result<String, SagaError> {
        let saga_id = match saga_id {
            Some(saga_id) => {
                check_saga_id(&saga_id)
                    .map_err(|reason| ValidationError::new("saga_id", reason))?;
                saga_id
            }
            None => uuid::Uuid::new_v4().to_string(),
        };
        self.workflow
            .start(&saga_id, &input)
            .await
            .map_err(SagaError::Unavailable)?;
        Ok(saga_id)
    }

    async fn status(&self, saga_id: &str) -> Result<SagaStatus, SagaError> {
        self.look(saga_id, None).await
    }

    async fn wait(&self, saga_id: &str, timeout: Duration) -> Result<SagaStatus, SagaError> {
        self.look(saga_id, Some(timeout)).await
    }
}

#[cfg(test)]
mod tests {
    use mockall::Sequence;

    use super::*;
    use crate::saga::{OperationFailure, SagaReport};

    const SAGA_ID: &str = "saga-1";

    /// Every action, in order.
    const ACTIONS: [&str; 3] = ["reserve_stock", "charge_payment", "confirm_order"];

    /// For a refusal at each step: the operations that must run, in this order, and no other.
    const REFUSED_AT: [(&str, &[&str]); 3] = [
        ("reserve_stock", &["reserve_stock"]),
        (
            "charge_payment",
            &["reserve_stock", "charge_payment", "release_stock"],
        ),
        (
            "confirm_order",
            &[
                "reserve_stock",
                "charge_payment",
                "confirm_order",
                "refund_payment",
                "release_stock",
            ],
        ),
    ];

    /// For a step that stays unavailable (it may have taken effect): the same, its own
    /// compensation first.
    const UNAVAILABLE_AT: [(&str, &[&str]); 3] = [
        ("reserve_stock", &["reserve_stock", "release_stock"]),
        (
            "charge_payment",
            &[
                "reserve_stock",
                "charge_payment",
                "refund_payment",
                "release_stock",
            ],
        ),
        (
            "confirm_order",
            &[
                "reserve_stock",
                "charge_payment",
                "confirm_order",
                "cancel_order",
                "refund_payment",
                "release_stock",
            ],
        ),
    ];

    fn input() -> OrderFulfilmentSagaInput {
        OrderFulfilmentSagaInput(
            serde_json::json!({"ref": "A-1"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        )
    }

    /// Expects `operation` once, next in `sequence`, with its own key and the saga's input;
    /// it answers `result`. Any operation not expected fails the test when called.
    fn expect(
        steps: &mut MockOrderFulfilmentSagaSteps,
        sequence: &mut Sequence,
        operation: &str,
        result: Result<(), StepError>,
    ) {
        let key = operation_key(SAGA_ID, operation);
        let matches = move |given: &str, given_input: &OrderFulfilmentSagaInput| {
            given == key && *given_input == input()
        };
        match operation {
            "reserve_stock" => {
                steps
                    .expect_reserve_stock()
                    .withf(matches)
                    .times(1)
                    .in_sequence(sequence)
                    .return_once(|_, _| result);
            }
            "release_stock" => {
                steps
                    .expect_release_stock()
                    .withf(matches)
                    .times(1)
                    .in_sequence(sequence)
                    .return_once(|_, _| result);
            }
            "charge_payment" => {
                steps
                    .expect_charge_payment()
                    .withf(matches)
                    .times(1)
                    .in_sequence(sequence)
                    .return_once(|_, _| result);
            }
            "refund_payment" => {
                steps
                    .expect_refund_payment()
                    .withf(matches)
                    .times(1)
                    .in_sequence(sequence)
                    .return_once(|_, _| result);
            }
            "confirm_order" => {
                steps
                    .expect_confirm_order()
                    .withf(matches)
                    .times(1)
                    .in_sequence(sequence)
                    .return_once(|_, _| result);
            }
            "cancel_order" => {
                steps
                    .expect_cancel_order()
                    .withf(matches)
                    .times(1)
                    .in_sequence(sequence)
                    .return_once(|_, _| result);
            }
            other => panic!("no operation {other}"),
        }
    }

    /// Steps that expect exactly `operations`, in order; `failing` answer their error, the rest succeed.
    fn steps_expecting(
        operations: &[&str],
        failing: &[(&str, StepError)],
    ) -> MockOrderFulfilmentSagaSteps {
        let mut steps = MockOrderFulfilmentSagaSteps::new();
        let mut sequence = Sequence::new();
        for operation in operations {
            let result = match failing.iter().find(|(name, _)| name == operation) {
                Some((_, error)) => Err(error.clone()),
                None => Ok(()),
            };
            expect(&mut steps, &mut sequence, operation, result);
        }
        steps
    }

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    /// Splits the expected operations at the failing action: the actions that succeeded, and the
    /// compensations after it.
    fn report_of(operations: &[&str], failing: &str) -> SagaReport {
        let at = operations
            .iter()
            .position(|operation| *operation == failing)
            .unwrap_or_default();
        SagaReport {
            done: strings(&operations[..at]),
            compensated: strings(&operations[at + 1..]),
        }
    }

    #[tokio::test]
    async fn every_action_runs_in_order_and_nothing_is_compensated() {
        let steps = steps_expecting(&ACTIONS, &[]);
        let outcome = run_order_fulfilment_saga(&steps, SAGA_ID, &input()).await;
        assert_eq!(
            outcome,
            SagaOutcome::Completed {
                report: SagaReport {
                    done: strings(&ACTIONS),
                    compensated: vec![]
                }
            }
        );
    }

    #[tokio::test]
    async fn a_refused_step_undoes_the_steps_before_it_last_first() {
        for (failing, operations) in REFUSED_AT {
            let error = StepError::Refused(format!("{failing} says no"));
            let steps = steps_expecting(operations, &[(failing, error.clone())]);
            let outcome = run_order_fulfilment_saga(&steps, SAGA_ID, &input()).await;
            let failure = OperationFailure {
                operation: failing.to_owned(),
                error,
            };
            let report = report_of(operations, failing);
            assert_eq!(
                outcome,
                SagaOutcome::Compensated { failure, report },
                "refused at {failing}"
            );
        }
    }

    #[tokio::test]
    async fn an_unavailable_step_is_undone_too_then_the_steps_before_it() {
        for (failing, operations) in UNAVAILABLE_AT {
            let error = StepError::Unavailable(format!("{failing} timed out"));
            let steps = steps_expecting(operations, &[(failing, error.clone())]);
            let outcome = run_order_fulfilment_saga(&steps, SAGA_ID, &input()).await;
            let failure = OperationFailure {
                operation: failing.to_owned(),
                error,
            };
            let report = report_of(operations, failing);
            assert_eq!(
                outcome,
                SagaOutcome::Compensated { failure, report },
                "unavailable at {failing}"
            );
        }
    }

    #[tokio::test]
    async fn a_failing_compensation_is_a_distinct_outcome_and_the_others_still_run() {
        // The last step stays unavailable, so every step is undone; the first compensation fails.
        let (failing, operations) = UNAVAILABLE_AT[UNAVAILABLE_AT.len() - 1];
        let first_compensation = operations[ACTIONS.len()];
        let error = StepError::Unavailable("still down".into());
        let compensation_error = StepError::Unavailable("still down after every retry".into());
        let steps = steps_expecting(
            operations,
            &[
                (failing, error.clone()),
                (first_compensation, compensation_error.clone()),
            ],
        );
        let outcome = run_order_fulfilment_saga(&steps, SAGA_ID, &input()).await;
        assert_eq!(
            outcome,
            SagaOutcome::CompensationFailed {
                failure: OperationFailure {
                    operation: failing.to_owned(),
                    error
                },
                compensation_failures: vec![OperationFailure {
                    operation: first_compensation.to_owned(),
                    error: compensation_error
                }],
                report: SagaReport {
                    done: strings(&ACTIONS[..ACTIONS.len() - 1]),
                    compensated: strings(&operations[ACTIONS.len() + 1..]),
                },
            }
        );
    }

    #[test]
    fn steps_name_their_operations_distinctly() {
        let mut names: Vec<&str> = OrderFulfilmentSagaStep::ALL
            .iter()
            .flat_map(|step| [step.action(), step.compensation()])
            .collect();
        assert_eq!(names.len(), 6);
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 6, "{names:?}");
    }

    #[tokio::test]
    async fn start_makes_an_id_or_checks_the_one_given() {
        let mut workflow = MockOrderFulfilmentSagaWorkflow::new();
        workflow
            .expect_start()
            .withf(|saga_id, _| saga_id == "order-7")
            .times(1)
            .returning(|_, _| Ok(()));
        workflow
            .expect_start()
            .withf(|saga_id, _| uuid::Uuid::parse_str(saga_id).is_ok())
            .times(1)
            .returning(|_, _| Ok(()));
        let usecase = OrderFulfilmentSagaInteractor::new(Arc::new(workflow));
        assert_eq!(
            usecase
                .start(Some("order-7".into()), input())
                .await
                .unwrap(),
            "order-7"
        );
        assert!(uuid::Uuid::parse_str(&usecase.start(None, input()).await.unwrap()).is_ok());
        let refused = usecase.start(Some("no/such id".into()), input()).await;
        assert!(
            matches!(&refused, Err(SagaError::Invalid(error)) if error.field == "saga_id"),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn status_of_an_unknown_saga_is_not_found() {
        let mut workflow = MockOrderFulfilmentSagaWorkflow::new();
        workflow
            .expect_status()
            .withf(|saga_id| saga_id == "nope")
            .times(1)
            .returning(|_| Ok(None));
        let usecase = OrderFulfilmentSagaInteractor::new(Arc::new(workflow));
        assert!(
            matches!(usecase.status("nope").await, Err(SagaError::NotFound(id)) if id == "nope")
        );
        assert!(matches!(
            usecase.status("not an id").await,
            Err(SagaError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn wait_passes_the_timeout_to_the_engine_and_maps_an_unknown_saga() {
        let mut workflow = MockOrderFulfilmentSagaWorkflow::new();
        let finished = SagaStatus::Finished(SagaOutcome::Completed {
            report: SagaReport::default(),
        });
        let answer = finished.clone();
        workflow
            .expect_wait()
            .withf(|saga_id, timeout| saga_id == SAGA_ID && *timeout == Duration::from_secs(2))
            .times(1)
            .return_once(move |_, _| Ok(Some(answer)));
        workflow
            .expect_wait()
            .withf(|saga_id, _| saga_id == "nope")
            .times(1)
            .returning(|_, _| Ok(None));
        let usecase = OrderFulfilmentSagaInteractor::new(Arc::new(workflow));
        assert_eq!(
            usecase.wait(SAGA_ID, Duration::from_secs(2)).await.unwrap(),
            finished
        );
        assert!(
            matches!(usecase.wait("nope", Duration::from_secs(2)).await, Err(SagaError::NotFound(id)) if id == "nope")
        );
        assert!(matches!(
            usecase.wait("not an id", Duration::from_secs(2)).await,
            Err(SagaError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn an_engine_failure_is_unavailable() {
        let mut workflow = MockOrderFulfilmentSagaWorkflow::new();
        workflow
            .expect_start()
            .returning(|_, _| Err(RepoError::Unavailable("sidecar down".into())));
        let usecase = OrderFulfilmentSagaInteractor::new(Arc::new(workflow));
        assert!(matches!(
            usecase.start(None, input()).await,
            Err(SagaError::Unavailable(_))
        ));
    }
}
