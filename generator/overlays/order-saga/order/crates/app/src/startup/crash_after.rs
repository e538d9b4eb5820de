//! `crash_after=<operation>` (failure injection of the order-saga example): the process aborts
//! right after the named operation of the `order_fulfilment` saga succeeded, before the workflow
//! engine has recorded that it did. Restarted without the variable, the service resumes the saga:
//! the engine runs that operation again, and its idempotency key makes the second run harmless.
//!
//! It decorates the saga's steps port, and only when the directive is set: without it, the module
//! holds the Dapr adapter alone and nothing here runs.

use std::sync::Arc;

use async_trait::async_trait;
use biz::order_fulfilment_saga::{OrderFulfilmentSagaInput, OrderFulfilmentSagaSteps};
use biz::saga::StepError;
use data::dapr_order_fulfilment_saga::DaprOrderFulfilmentSagaSteps;
use data::sidecar::DaprSidecar;
use shaku::ModuleBuilder;

use super::failure_injection;
use crate::module::AppModule;

/// What ends the process; a parameter so that tests can observe the decision instead of dying.
pub(crate) type Crash = Box<dyn Fn(&str) + Send + Sync>;

/// Replaces the saga's steps port in `builder` by [`CrashAfter`] over the Dapr adapter when the
/// environment sets `crash_after`; otherwise returns `builder` as it is. An invalid variable is
/// left to the start-up check, which refuses to start on it.
pub(crate) fn install(
    builder: ModuleBuilder<AppModule>,
    sidecar: &DaprSidecar,
) -> ModuleBuilder<AppModule> {
    let crash_after = failure_injection::from_environment()
        .ok()
        .and_then(|injection| injection.crash_after());
    match crash_after {
        Some(operation) => builder.with_component_override::<dyn OrderFulfilmentSagaSteps>(
            Box::new(CrashAfter::new(
                Arc::new(DaprOrderFulfilmentSagaSteps::new(sidecar.clone())),
                operation,
                Box::new(abort),
            )),
        ),
        None => builder,
    }
}

/// Ends the process at once: no destructor, no graceful shutdown, as a crash would.
fn abort(operation: &str) {
    tracing::error!(
        operation,
        "crash_after: aborting on purpose right after {operation} succeeded; restart without \
         ORDER_SAGA_FAILURE_INJECTION to see the saga resume"
    );
    std::process::abort();
}

/// The saga's steps through `inner`, with `crash` called right after `operation` succeeded.
pub(crate) struct CrashAfter {
    inner: Arc<dyn OrderFulfilmentSagaSteps>,
    operation: &'static str,
    crash: Crash,
}

impl CrashAfter {
    /// Steps through `inner` that call `crash` once `operation` returned `Ok`.
    pub(crate) fn new(
        inner: Arc<dyn OrderFulfilmentSagaSteps>,
        operation: &'static str,
        crash: Crash,
    ) -> Self {
        Self {
            inner,
            operation,
            crash,
        }
    }

    /// Passes `result` of `operation` on, crashing first if it is the one named and succeeded.
    fn after(&self, operation: &str, result: Result<(), StepError>) -> Result<(), StepError> {
        if result.is_ok() && operation == self.operation {
            (self.crash)(operation);
        }
        result
    }
}

#[async_trait]
impl OrderFulfilmentSagaSteps for CrashAfter {
    async fn reserve_stock(
        &self,
        key: &str,
        input: &OrderFulfilmentSagaInput,
    ) -> Result<(), StepError> {
        self.after("reserve_stock", self.inner.reserve_stock(key, input).await)
    }

    async fn release_stock(
        &self,
        key: &str,
        input: &OrderFulfilmentSagaInput,
    ) -> Result<(), StepError> {
        self.after("release_stock", self.inner.release_stock(key, input).await)
    }

    async fn charge_payment(
        &self,
        key: &str,
        input: &OrderFulfilmentSagaInput,
    ) -> Result<(), StepError> {
        self.after(
            "charge_payment",
            self.inner.charge_payment(key, input).await,
        )
    }

    async fn refund_payment(
        &self,
        key: &str,
        input: &OrderFulfilmentSagaInput,
    ) -> Result<(), StepError> {
        self.after(
            "refund_payment",
            self.inner.refund_payment(key, input).await,
        )
    }

    async fn confirm_order(
        &self,
        key: &str,
        input: &OrderFulfilmentSagaInput,
    ) -> Result<(), StepError> {
        self.after("confirm_order", self.inner.confirm_order(key, input).await)
    }

    async fn cancel_order(
        &self,
        key: &str,
        input: &OrderFulfilmentSagaInput,
    ) -> Result<(), StepError> {
        self.after("cancel_order", self.inner.cancel_order(key, input).await)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use biz::failure_injection::OPERATIONS;
    use biz::order_fulfilment_saga::{MockOrderFulfilmentSagaSteps, OrderFulfilmentSagaStep};
    use biz::saga::{SagaStep, operation_key};

    use super::*;

    /// Steps where every operation answers `result`, wrapped to crash after `operation`; the
    /// crashes are recorded instead of ending the test process.
    fn crashing_after(
        operation: &'static str,
        result: Result<(), StepError>,
    ) -> (CrashAfter, Arc<Mutex<Vec<String>>>) {
        let mut inner = MockOrderFulfilmentSagaSteps::new();
        let answer = move |_: &str, _: &OrderFulfilmentSagaInput| result.clone();
        inner.expect_reserve_stock().returning(answer.clone());
        inner.expect_release_stock().returning(answer.clone());
        inner.expect_charge_payment().returning(answer.clone());
        inner.expect_refund_payment().returning(answer.clone());
        inner.expect_confirm_order().returning(answer.clone());
        inner.expect_cancel_order().returning(answer);
        let crashes = Arc::new(Mutex::new(Vec::new()));
        let recorded = crashes.clone();
        let crash: Crash = Box::new(move |operation| {
            recorded.lock().unwrap().push(operation.to_owned());
        });
        (CrashAfter::new(Arc::new(inner), operation, crash), crashes)
    }

    /// Runs every action and compensation of the saga once through `steps`.
    async fn run_every_operation(steps: &CrashAfter) -> Vec<Result<(), StepError>> {
        let input = OrderFulfilmentSagaInput::default();
        let mut results = Vec::new();
        for step in OrderFulfilmentSagaStep::ALL {
            results.push(step.act(steps, "saga-1", &input).await);
            results.push(step.compensate(steps, "saga-1", &input).await);
        }
        results
    }

    #[tokio::test]
    async fn only_the_named_operation_crashes_and_only_once_it_succeeded() {
        for operation in OPERATIONS {
            let (steps, crashes) = crashing_after(operation, Ok(()));
            let results = run_every_operation(&steps).await;
            assert!(results.iter().all(Result::is_ok));
            assert_eq!(*crashes.lock().unwrap(), vec![operation.to_owned()]);
        }
    }

    #[tokio::test]
    async fn a_failed_operation_does_not_crash_and_its_error_passes_through() {
        let error = StepError::Unavailable("inventory down".into());
        let (steps, crashes) = crashing_after("reserve_stock", Err(error.clone()));
        let input = OrderFulfilmentSagaInput::default();
        let key = operation_key("saga-1", "reserve_stock");
        assert_eq!(steps.reserve_stock(&key, &input).await, Err(error));
        assert!(crashes.lock().unwrap().is_empty());
    }

    #[test]
    fn crash_after_accepts_exactly_the_operations_of_the_saga() {
        let mut saga: Vec<&str> = OrderFulfilmentSagaStep::ALL
            .iter()
            .flat_map(|step| [step.action(), step.compensation()])
            .collect();
        let mut accepted = OPERATIONS.to_vec();
        saga.sort_unstable();
        accepted.sort_unstable();
        assert_eq!(saga, accepted);
    }
}
