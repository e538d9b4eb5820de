//! Sagas: a business transaction across services as a sequence of steps, each an action with a
//! compensation that undoes it. [`run_saga`] runs the actions in order; when one fails, it runs
//! the compensations of the steps already done, in reverse order, and says how that went. It
//! decides the order only: the operations themselves run through [`SagaOperations`] — workflow
//! activities in the data layer (durable, retried), or a steps port directly in unit tests.
//!
//! Every operation carries an idempotency key, [`operation_key`]: the same for every retry of one
//! operation of one saga, different for every other, so a retried call takes effect once.

use std::fmt::Debug;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::RepoError;
use crate::order::ValidationError;

/// Longest saga id accepted; ids this service makes are UUIDs.
pub const MAX_SAGA_ID_LEN: usize = 128;

/// Accepts 1 to [`MAX_SAGA_ID_LEN`] ASCII letters, digits, `-` or `_`; otherwise says why not.
pub fn check_saga_id(text: &str) -> Result<(), String> {
    let valid = !text.is_empty()
        && text.len() <= MAX_SAGA_ID_LEN
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{text:?} is not a saga id (1 to {MAX_SAGA_ID_LEN} letters, digits, '-' or '_')"
        ))
    }
}

/// The idempotency key of `operation` (an action or a compensation) of saga `saga_id`.
pub fn operation_key(saga_id: &str, operation: &str) -> String {
    format!("{saga_id}:{operation}")
}

/// Why an operation did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", content = "reason", rename_all = "snake_case")]
pub enum StepError {
    /// The other side refused it, so it did not take effect; asking again gets the same answer.
    #[error("refused: {0}")]
    Refused(String),
    /// It could not be completed (unreachable, timed out, failing): it may or may not have taken
    /// effect, and retrying may help.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// One step of a saga: an action, and the compensation that undoes it.
pub trait SagaStep: Copy + Debug + Send + Sync + 'static {
    /// The action's name, e.g. `reserve_stock`.
    fn action(self) -> &'static str;
    /// The compensation's name, e.g. `release_stock`.
    fn compensation(self) -> &'static str;
}

/// Runs the operations of one saga for [`run_saga`]. Retrying is the implementation's business:
/// an error returned here is final.
#[async_trait]
pub trait SagaOperations<S: SagaStep>: Send + Sync {
    /// Runs the action of `step`.
    async fn act(&self, step: S) -> Result<(), StepError>;
    /// Runs the compensation of `step`. It must succeed, doing nothing, when the action never took
    /// effect.
    async fn compensate(&self, step: S) -> Result<(), StepError>;
    /// Told after every operation that succeeded, e.g. to show progress. Does nothing by default.
    fn progress(&self, _report: &SagaReport) {}
}

/// What a saga has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SagaReport {
    /// Actions that succeeded, in the order they ran.
    pub done: Vec<String>,
    /// Compensations that succeeded, in the order they ran.
    pub compensated: Vec<String>,
}

/// An operation that failed, for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationFailure {
    /// The action or compensation.
    pub operation: String,
    /// How it failed.
    pub error: StepError,
}

/// How a saga ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SagaOutcome {
    /// Every action succeeded.
    Completed {
        /// What ran.
        report: SagaReport,
    },
    /// An action failed, and every step that had (or may have) taken effect was compensated.
    Compensated {
        /// The action that failed.
        failure: OperationFailure,
        /// What ran.
        report: SagaReport,
    },
    /// An action failed, and at least one compensation failed too, even after its retries: some
    /// effects are still in place and need a person to look at them.
    CompensationFailed {
        /// The action that failed.
        failure: OperationFailure,
        /// The compensations that failed, in the order they ran.
        compensation_failures: Vec<OperationFailure>,
        /// What ran.
        report: SagaReport,
    },
}

/// Where a saga stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SagaStatus {
    /// Started, not finished; what it has done so far.
    Running(SagaReport),
    /// Finished, one way or another.
    Finished(SagaOutcome),
    /// Stopped by the engine outside of any step (terminated by an operator, or a fault of the
    /// saga's own code); nothing more runs.
    Failed(String),
}

/// Why a request about a saga failed.
#[derive(Debug, thiserror::Error)]
pub enum SagaError {
    /// The request breaks a rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// No saga has this id.
    #[error("saga {0} not found")]
    NotFound(String),
    /// The workflow engine failed.
    #[error("workflow engine unavailable")]
    Unavailable(#[source] RepoError),
}

/// Runs `steps` through `operations`: the actions in order until one fails, then the compensations
/// of the steps done, last first. A step whose action failed as [`StepError::Unavailable`] may have
/// taken effect, so it is compensated too (first); one [`StepError::Refused`] did not, so it is not.
/// A failing compensation does not stop the others: each undoes a different step, and leaving the
/// rest in place would help nobody; the outcome names every one that failed.
pub async fn run_saga<S: SagaStep>(
    steps: &[S],
    operations: &impl SagaOperations<S>,
) -> SagaOutcome {
    let mut report = SagaReport::default();
    for (index, &step) in steps.iter().enumerate() {
        let error = match operations.act(step).await {
            Ok(()) => {
                report.done.push(step.action().to_owned());
                operations.progress(&report);
                continue;
            }
            Err(error) => error,
        };
        let undo = match error {
            StepError::Refused(_) => &steps[..index],
            StepError::Unavailable(_) => &steps[..=index],
        };
        let failure = OperationFailure {
            operation: step.action().to_owned(),
            error,
        };
        let mut compensation_failures = Vec::new();
        for &done in undo.iter().rev() {
            match operations.compensate(done).await {
                Ok(()) => {
                    report.compensated.push(done.compensation().to_owned());
                    operations.progress(&report);
                }
                Err(error) => {
                    compensation_failures.push(OperationFailure {
                        operation: done.compensation().to_owned(),
                        error,
                    });
                }
            }
        }
        return if compensation_failures.is_empty() {
            SagaOutcome::Compensated { failure, report }
        } else {
            SagaOutcome::CompensationFailed {
                failure,
                compensation_failures,
                report,
            }
        };
    }
    SagaOutcome::Completed { report }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saga_ids_are_checked() {
        assert!(check_saga_id("0b7c1c52-5b1e-4c3a-9d07-6f0f3c1a2b3c").is_ok());
        assert!(check_saga_id("order_42").is_ok());
        for bad in ["", "a b", "a/b", "é", &"x".repeat(MAX_SAGA_ID_LEN + 1)] {
            assert!(check_saga_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn operation_keys_differ_per_saga_and_operation() {
        assert_eq!(operation_key("s-1", "reserve"), "s-1:reserve");
        assert_ne!(
            operation_key("s-1", "reserve"),
            operation_key("s-1", "release")
        );
        assert_ne!(
            operation_key("s-1", "reserve"),
            operation_key("s-2", "reserve")
        );
    }

    #[test]
    fn outcomes_keep_their_shape_in_json() {
        let outcome = SagaOutcome::Compensated {
            failure: OperationFailure {
                operation: "charge".into(),
                error: StepError::Refused("declined".into()),
            },
            report: SagaReport {
                done: vec!["reserve".into()],
                compensated: vec!["release".into()],
            },
        };
        let json = serde_json::to_value(&outcome).unwrap();
        assert_eq!(json["outcome"], "compensated");
        assert_eq!(
            json["failure"]["error"],
            serde_json::json!({"kind": "refused", "reason": "declined"})
        );
        assert_eq!(
            serde_json::from_value::<SagaOutcome>(json).unwrap(),
            outcome
        );
    }
}
