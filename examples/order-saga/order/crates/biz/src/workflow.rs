//! Restocking as a durable workflow: a batch of quantity additions that runs to the end even if
//! the process restarts half-way. The steps are decided here, purely; the Dapr Workflow adapter
//! in the data layer runs each as an activity through [`crate::order_usecase::OrderUsecase::adjust`],
//! whose adjustment id makes a retried activity harmless.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use shaku::{Component, Interface};

use crate::error::RepoError;
use crate::order::{OrderId, ValidationError};

/// The most lines one restock may carry.
pub const MAX_RESTOCK_LINES: usize = 100;

/// One order to restock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestockLine {
    /// The order.
    pub order_id: OrderId,
    /// How much to add, positive.
    pub quantity: i64,
}

/// A batch of restock lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestockRequest {
    /// The lines, applied in order.
    pub lines: Vec<RestockLine>,
}

impl RestockRequest {
    /// Checks the business rules.
    pub fn validate(self) -> Result<Self, ValidationError> {
        if self.lines.is_empty() || self.lines.len() > MAX_RESTOCK_LINES {
            return Err(ValidationError::new(
                "lines",
                format!("must hold 1 to {MAX_RESTOCK_LINES} lines"),
            ));
        }
        if self.lines.iter().any(|line| line.quantity <= 0) {
            return Err(ValidationError::new(
                "quantity",
                "must be positive on every line",
            ));
        }
        Ok(self)
    }
}

/// One activity of a restock run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestockStep {
    /// The order to adjust.
    pub order_id: OrderId,
    /// Its adjustment id: the same for every retry of this step, different for every step.
    pub adjustment_id: String,
    /// What to add.
    pub delta: i64,
}

/// The steps of restock run `instance_id`, in order.
pub fn restock_steps(instance_id: &str, request: &RestockRequest) -> Vec<RestockStep> {
    request
        .lines
        .iter()
        .enumerate()
        .map(|(index, line)| RestockStep {
            order_id: line.order_id,
            adjustment_id: format!("restock-{instance_id}-{index}"),
            delta: line.quantity,
        })
        .collect()
}

/// What a finished restock did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestockReport {
    /// Lines applied.
    pub lines_applied: usize,
    /// Quantity added over all lines.
    pub quantity_added: i64,
}

/// Where a restock run stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestockStatus {
    /// Started, not finished.
    Running,
    /// Finished; every line applied.
    Completed(RestockReport),
    /// Stopped on a step that could not succeed; earlier lines stay applied.
    Failed(String),
}

/// The durable workflow engine, as the business layer needs it.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RestockWorkflow: Interface {
    /// Starts a run; returns its instance id.
    async fn start(&self, request: &RestockRequest) -> Result<String, RepoError>;
    /// The state of run `instance_id`; `None` if there is no such run.
    async fn status(&self, instance_id: &str) -> Result<Option<RestockStatus>, RepoError>;
}

/// Why a restock request failed.
#[derive(Debug, thiserror::Error)]
pub enum RestockError {
    /// The request breaks a rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// No run has this id.
    #[error("restock {0} not found")]
    NotFound(String),
    /// The workflow engine failed.
    #[error("workflow engine unavailable")]
    Unavailable(#[source] RepoError),
}

/// Restock use cases.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Restocks: Interface {
    /// Validates and starts a restock run; returns its instance id.
    async fn start(&self, request: RestockRequest) -> Result<String, RestockError>;
    /// Where run `instance_id` stands.
    async fn status(&self, instance_id: &str) -> Result<RestockStatus, RestockError>;
}

/// [`Restocks`] on top of the [`RestockWorkflow`] port.
#[derive(Component)]
#[shaku(interface = Restocks)]
pub struct RestockInteractor {
    #[shaku(inject)]
    workflow: Arc<dyn RestockWorkflow>,
}

impl RestockInteractor {
    /// An interactor over `workflow` (shaku builds it the same way).
    pub fn new(workflow: Arc<dyn RestockWorkflow>) -> Self {
        Self { workflow }
    }
}

#[async_trait]
impl Restocks for RestockInteractor {
    async fn start(&self, request: RestockRequest) -> Result<String, RestockError> {
        let request = request.validate()?;
        self.workflow
            .start(&request)
            .await
            .map_err(RestockError::Unavailable)
    }

    async fn status(&self, instance_id: &str) -> Result<RestockStatus, RestockError> {
        self.workflow
            .status(instance_id)
            .await
            .map_err(RestockError::Unavailable)?
            .ok_or_else(|| RestockError::NotFound(instance_id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(quantity: i64) -> RestockLine {
        RestockLine {
            order_id: OrderId::new(),
            quantity,
        }
    }

    #[test]
    fn steps_are_one_per_line_with_stable_distinct_adjustment_ids() {
        let request = RestockRequest {
            lines: vec![line(2), line(5)],
        };
        let steps = restock_steps("wf-1", &request);
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].adjustment_id, "restock-wf-1-0");
        assert_eq!(steps[1].adjustment_id, "restock-wf-1-1");
        assert_eq!((steps[0].delta, steps[1].delta), (2, 5));
        assert_eq!(
            steps,
            restock_steps("wf-1", &request),
            "a replay computes the same steps"
        );
    }

    #[test]
    fn requests_are_validated() {
        assert!(RestockRequest { lines: vec![] }.validate().is_err());
        assert!(
            RestockRequest {
                lines: vec![line(0)]
            }
            .validate()
            .is_err()
        );
        assert!(
            RestockRequest {
                lines: (0..=MAX_RESTOCK_LINES).map(|_| line(1)).collect()
            }
            .validate()
            .is_err()
        );
        assert!(
            RestockRequest {
                lines: vec![line(1)]
            }
            .validate()
            .is_ok()
        );
    }

    #[tokio::test]
    async fn start_validates_then_starts_the_workflow() {
        let mut workflow = MockRestockWorkflow::new();
        workflow
            .expect_start()
            .times(1)
            .returning(|_| Ok("wf-9".into()));
        let usecase = RestockInteractor::new(Arc::new(workflow));
        assert!(matches!(
            usecase.start(RestockRequest { lines: vec![] }).await,
            Err(RestockError::Invalid(_))
        ));
        assert_eq!(
            usecase
                .start(RestockRequest {
                    lines: vec![line(1)]
                })
                .await
                .unwrap(),
            "wf-9"
        );
    }

    #[tokio::test]
    async fn status_of_an_unknown_run_is_not_found() {
        let mut workflow = MockRestockWorkflow::new();
        workflow.expect_status().returning(|_| Ok(None));
        let usecase = RestockInteractor::new(Arc::new(workflow));
        assert!(
            matches!(usecase.status("nope").await, Err(RestockError::NotFound(id)) if id == "nope")
        );
    }
}
