//! Confirming and cancelling the order of a saga (`confirm_order`, `cancel_order`), and reading
//! where it stands. Both operations are idempotent: the record of the saga tells a retry from a
//! first call, so no separate idempotency record is needed.

use std::sync::Arc;

use async_trait::async_trait;
use shaku::{Component, Interface};

use crate::error::RepoError;
use crate::fulfilment::{Decision, Fulfilment, FulfilmentCommand, decide};
use crate::fulfilment_repo::{Expected, FulfilmentRepo};
use crate::saga::check_saga_id;

/// How often a command reads, decides and writes when another writer keeps getting there first
/// (a confirm racing its own cancel). Each retry decides again on what the other one wrote.
pub const WRITE_ATTEMPTS: u32 = 3;

/// Why a fulfilment request failed.
#[derive(Debug, thiserror::Error)]
pub enum FulfilmentError {
    /// The saga id is malformed.
    #[error("invalid saga id: {0}")]
    InvalidSagaId(String),
    /// A confirm after the cancel: refused, so that a late action never undoes its compensation.
    #[error("the order of saga {0} is cancelled; it cannot be confirmed any more")]
    Cancelled(String),
    /// No saga has confirmed or cancelled an order under this id.
    #[error("no fulfilment for saga {0}")]
    NotFound(String),
    /// Concurrent writers changed the record on every attempt; retrying may succeed.
    #[error("the fulfilment of saga {0} kept changing concurrently; retry")]
    Busy(String),
    /// Storage failed.
    #[error("storage unavailable")]
    Unavailable(#[source] RepoError),
}

/// Fulfilment use cases.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Fulfilments: Interface {
    /// Confirms the order of saga `saga_id` (`confirm_order`); again is the same, after a cancel
    /// [`FulfilmentError::Cancelled`].
    async fn confirm(&self, saga_id: &str) -> Result<Fulfilment, FulfilmentError>;
    /// Cancels the order of saga `saga_id` (`cancel_order`), confirmed or not yet: always succeeds
    /// unless storage fails.
    async fn cancel(&self, saga_id: &str) -> Result<Fulfilment, FulfilmentError>;
    /// Where the order of saga `saga_id` stands.
    async fn get(&self, saga_id: &str) -> Result<Fulfilment, FulfilmentError>;
}

/// [`Fulfilments`] on top of the [`FulfilmentRepo`] port.
#[derive(Component)]
#[shaku(interface = Fulfilments)]
pub struct FulfilmentInteractor {
    #[shaku(inject)]
    repo: Arc<dyn FulfilmentRepo>,
}

impl FulfilmentInteractor {
    /// An interactor over `repo` (shaku builds it the same way).
    pub fn new(repo: Arc<dyn FulfilmentRepo>) -> Self {
        Self { repo }
    }

    /// Reads the record, decides `command` on it, and writes if needed, guarded by the version
    /// read: a concurrent write makes it decide again on the record as that one left it.
    async fn settle(
        &self,
        saga_id: &str,
        command: FulfilmentCommand,
    ) -> Result<Fulfilment, FulfilmentError> {
        check_saga_id(saga_id).map_err(FulfilmentError::InvalidSagaId)?;
        let settled = Fulfilment {
            saga_id: saga_id.to_owned(),
            state: command.target(),
        };
        for _ in 0..WRITE_ATTEMPTS {
            let current = self
                .repo
                .get(saga_id)
                .await
                .map_err(FulfilmentError::Unavailable)?;
            let expected = match (
                decide(current.as_ref().map(|stored| stored.value.state), command),
                current,
            ) {
                (Decision::Unchanged, _) => return Ok(settled),
                (Decision::Refused, _) => {
                    return Err(FulfilmentError::Cancelled(saga_id.to_owned()));
                }
                (Decision::Write, None) => Expected::Absent,
                (Decision::Write, Some(stored)) => Expected::Version(stored.etag),
            };
            match self.repo.put(&settled, &expected).await {
                Ok(()) => return Ok(settled),
                Err(RepoError::Conflict | RepoError::AlreadyExists) => continue,
                Err(error) => return Err(FulfilmentError::Unavailable(error)),
            }
        }
        Err(FulfilmentError::Busy(saga_id.to_owned()))
    }
}

#[async_trait]
impl Fulfilments for FulfilmentInteractor {
    async fn confirm(&self, saga_id: &str) -> Result<Fulfilment, FulfilmentError> {
        self.settle(saga_id, FulfilmentCommand::Confirm).await
    }

    async fn cancel(&self, saga_id: &str) -> Result<Fulfilment, FulfilmentError> {
        self.settle(saga_id, FulfilmentCommand::Cancel).await
    }

    async fn get(&self, saga_id: &str) -> Result<Fulfilment, FulfilmentError> {
        if check_saga_id(saga_id).is_err() {
            return Err(FulfilmentError::NotFound(saga_id.to_owned()));
        }
        self.repo
            .get(saga_id)
            .await
            .map_err(FulfilmentError::Unavailable)?
            .map(|stored| stored.value)
            .ok_or_else(|| FulfilmentError::NotFound(saga_id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use mockall::predicate::eq;

    use super::*;
    use crate::fulfilment::FulfilmentState::{self, Cancelled, Confirmed};
    use crate::fulfilment_repo::MockFulfilmentRepo;
    use crate::order::{Etag, Stored};

    const SAGA: &str = "saga-1";

    fn fulfilment(state: FulfilmentState) -> Fulfilment {
        Fulfilment {
            saga_id: SAGA.into(),
            state,
        }
    }

    fn stored(state: FulfilmentState, etag: &str) -> Option<Stored<Fulfilment>> {
        Some(Stored {
            value: fulfilment(state),
            etag: Etag(etag.into()),
        })
    }

    /// A repo answering `current` to every read.
    fn repo_holding(current: Option<Stored<Fulfilment>>) -> MockFulfilmentRepo {
        let mut repo = MockFulfilmentRepo::new();
        repo.expect_get()
            .withf(|saga_id| saga_id == SAGA)
            .returning(move |_| Ok(current.clone()));
        repo
    }

    fn usecase(repo: MockFulfilmentRepo) -> FulfilmentInteractor {
        FulfilmentInteractor::new(Arc::new(repo))
    }

    #[tokio::test]
    async fn a_first_confirm_or_cancel_writes_a_new_record() {
        for (state, run_confirm) in [(Confirmed, true), (Cancelled, false)] {
            let mut repo = repo_holding(None);
            repo.expect_put()
                .with(eq(fulfilment(state)), eq(Expected::Absent))
                .times(1)
                .returning(|_, _| Ok(()));
            let usecase = usecase(repo);
            let settled = if run_confirm {
                usecase.confirm(SAGA).await
            } else {
                usecase.cancel(SAGA).await
            };
            assert_eq!(settled.unwrap(), fulfilment(state));
        }
    }

    #[tokio::test]
    async fn a_retry_writes_nothing() {
        // No put expected: the mock fails the test if one happens.
        let confirmed = usecase(repo_holding(stored(Confirmed, "1")));
        assert_eq!(
            confirmed.confirm(SAGA).await.unwrap(),
            fulfilment(Confirmed)
        );
        let cancelled = usecase(repo_holding(stored(Cancelled, "1")));
        assert_eq!(cancelled.cancel(SAGA).await.unwrap(), fulfilment(Cancelled));
    }

    #[tokio::test]
    async fn cancel_overrides_a_confirm_and_a_late_confirm_is_refused() {
        let mut repo = repo_holding(stored(Confirmed, "7"));
        repo.expect_put()
            .with(
                eq(fulfilment(Cancelled)),
                eq(Expected::Version(Etag("7".into()))),
            )
            .times(1)
            .returning(|_, _| Ok(()));
        assert_eq!(
            usecase(repo).cancel(SAGA).await.unwrap(),
            fulfilment(Cancelled)
        );

        let refused = usecase(repo_holding(stored(Cancelled, "8")))
            .confirm(SAGA)
            .await;
        assert!(matches!(refused, Err(FulfilmentError::Cancelled(id)) if id == SAGA));
    }

    #[tokio::test]
    async fn a_concurrent_write_is_decided_again() {
        // The confirm finds no record, loses the race to a cancel, reads it, and is refused.
        let mut repo = MockFulfilmentRepo::new();
        let mut reads = vec![stored(Cancelled, "2"), None];
        repo.expect_get()
            .times(2)
            .returning(move |_| Ok(reads.pop().flatten()));
        repo.expect_put()
            .times(1)
            .returning(|_, _| Err(RepoError::Conflict));
        let refused = usecase(repo).confirm(SAGA).await;
        assert!(
            matches!(refused, Err(FulfilmentError::Cancelled(_))),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn endless_conflicts_are_busy_and_storage_failures_unavailable() {
        let mut repo = repo_holding(None);
        repo.expect_put()
            .times(WRITE_ATTEMPTS as usize)
            .returning(|_, _| Err(RepoError::Conflict));
        assert!(matches!(
            usecase(repo).cancel(SAGA).await,
            Err(FulfilmentError::Busy(_))
        ));
        let mut repo = MockFulfilmentRepo::new();
        repo.expect_get()
            .returning(|_| Err(RepoError::Unavailable("down".into())));
        assert!(matches!(
            usecase(repo).confirm(SAGA).await,
            Err(FulfilmentError::Unavailable(_))
        ));
    }

    #[tokio::test]
    async fn get_reads_the_record_or_says_not_found() {
        let found = usecase(repo_holding(stored(Confirmed, "1")))
            .get(SAGA)
            .await;
        assert_eq!(found.unwrap(), fulfilment(Confirmed));
        let missing = usecase(repo_holding(None)).get(SAGA).await;
        assert!(matches!(missing, Err(FulfilmentError::NotFound(_))));
        // A malformed id never reaches the store (no read expected).
        let malformed = usecase(MockFulfilmentRepo::new()).get("a b").await;
        assert!(matches!(malformed, Err(FulfilmentError::NotFound(_))));
        let refused = usecase(MockFulfilmentRepo::new()).confirm("a/b").await;
        assert!(matches!(refused, Err(FulfilmentError::InvalidSagaId(_))));
    }
}
