//! The saga operations on charges: `charge_payment` takes from a account, `refund_payment`
//! gives it back, both idempotent per saga (see [`crate::charge`]).
//!
//! Both run under the distributed lock of the account (the one transfers take, so neither
//! interleaves with a transfer) and of the charge (so the action and the compensation of one
//! saga never interleave, whatever account they name). A busy lock is waited for, a little
//! while: many sagas on one account contend for it, and a retry of the whole operation by
//! the workflow costs far more than a few short pauses here. Under the lock, the account and the
//! charge record change in one state transaction, guarded by their ETags against writers that
//! do not take the lock (updates and adjustments of the account).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use shaku::{Component, Interface};

use crate::account::AccountEvent;
use crate::account::AccountId;
use crate::account::Stored;
use crate::account::ValidationError;
use crate::account_repo::AccountRepo;
use crate::account_repo::Replacement;
use crate::account_transfer::lock_resource;
use crate::charge::Charge;
use crate::charge::ChargeEvent;
use crate::charge::ChargeRequest;
use crate::charge::ChargeState;
use crate::charge::SagaId;
use crate::charge_repo::ChargeRepo;
use crate::charge_repo::ChargeWrite;
use crate::error::RepoError;
use crate::lock::{DistributedLock, LockError, with_locks};

/// How long an operation may hold its locks. Far longer than one takes; only matters when the
/// process dies while holding them.
pub const LEASE_SECONDS: u32 = 10;
/// How long an operation waits for busy locks before answering [`ChargeError::Busy`] (which the
/// saga retries). Well below the HTTP request timeout.
pub const LOCK_WAIT: Duration = Duration::from_secs(3);
/// The first pause before trying a busy lock again; it doubles up to [`MAX_LOCK_PAUSE`], and each
/// pause is jittered down to half, so that waiters spread out instead of retrying in step.
const FIRST_LOCK_PAUSE: Duration = Duration::from_millis(10);
/// The longest pause between two tries.
const MAX_LOCK_PAUSE: Duration = Duration::from_millis(100);

/// Why an operation did not take effect.
#[derive(Debug, thiserror::Error)]
pub enum ChargeError {
    /// The request breaks a rule (amount not positive).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The saga already holds something else under its id: another request, not a retry.
    #[error("saga {0} already holds another charge ({1} of account {2})")]
    Mismatch(SagaId, i64, AccountId),
    /// The account does not exist.
    #[error("account {0} not found")]
    AccountNotFound(AccountId),
    /// The saga has no charge (only `get` says so).
    #[error("saga {0} has no charge")]
    NotFound(SagaId),
    /// The account cannot give what is asked.
    #[error("declined: insufficient funds (balance {available}, amount {asked})")]
    Short {
        /// What the account has.
        available: i64,
        /// What was asked.
        asked: i64,
    },
    /// More is asked than the limit failure injection sets.
    #[error("declined: amount {asked} over the limit {limit}")]
    OverLimit {
        /// What was asked.
        asked: i64,
        /// The limit.
        limit: i64,
    },
    /// The saga's charge was already refunded: a late `charge_payment` must not take effect.
    #[error("the charge of saga {0} was already refunded")]
    AlreadyRefunded(SagaId),
    /// Another holder has the lock, or a writer changed the record meanwhile: try again.
    #[error("{0} is busy, try again")]
    Busy(String),
    /// Storage or the lock store failed.
    #[error("storage unavailable")]
    Unavailable(#[source] RepoError),
}

/// What an operation left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeOutcome {
    /// The record as stored.
    pub charge: Charge,
    /// `true` when an earlier attempt had already done it (nothing changed this time).
    pub replayed: bool,
}

/// The saga operations on charges.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Charges: Interface {
    /// Takes `request` from the account for `saga_id`, once; refused once the saga's
    /// charge was refunded.
    async fn charge_payment(
        &self,
        saga_id: SagaId,
        request: ChargeRequest,
        limit: Option<i64>,
    ) -> Result<ChargeOutcome, ChargeError>;

    /// Gives back what `saga_id` took, once. Without a charge, records a tombstone, so that a
    /// late `charge_payment` of the saga is refused.
    async fn refund_payment(
        &self,
        saga_id: SagaId,
        request: ChargeRequest,
    ) -> Result<ChargeOutcome, ChargeError>;

    /// The charge of `saga_id`.
    async fn get(&self, saga_id: SagaId) -> Result<Charge, ChargeError>;
}

/// [`Charges`] on the charge and account repos and the lock.
#[derive(Component)]
#[shaku(interface = Charges)]
pub struct ChargeInteractor {
    #[shaku(inject)]
    repo: Arc<dyn ChargeRepo>,
    #[shaku(inject)]
    accounts: Arc<dyn AccountRepo>,
    #[shaku(inject)]
    lock: Arc<dyn DistributedLock>,
    /// How long to wait for busy locks ([`LOCK_WAIT`] unless set).
    #[shaku(default = LOCK_WAIT)]
    lock_wait: Duration,
}

/// The lock resource name of a saga's charge.
pub fn charge_lock_resource(saga_id: &SagaId) -> String {
    format!("charge/{saga_id}")
}

impl ChargeInteractor {
    /// An interactor over the repos and the lock (shaku builds it the same way).
    pub fn new(
        repo: Arc<dyn ChargeRepo>,
        accounts: Arc<dyn AccountRepo>,
        lock: Arc<dyn DistributedLock>,
    ) -> Self {
        Self {
            repo,
            accounts,
            lock,
            lock_wait: LOCK_WAIT,
        }
    }

    /// The same interactor, waiting at most `lock_wait` for busy locks.
    pub fn with_lock_wait(self, lock_wait: Duration) -> Self {
        Self { lock_wait, ..self }
    }

    /// Runs the future `critical` makes under the locks of the account and of the saga's
    /// charge, waiting for them up to `lock_wait`.
    async fn locked<T, F>(
        &self,
        saga_id: &SagaId,
        request: &ChargeRequest,
        critical: impl Fn() -> F,
    ) -> Result<T, ChargeError>
    where
        F: Future<Output = Result<T, ChargeError>>,
    {
        let resources = [
            lock_resource(request.account),
            charge_lock_resource(saga_id),
        ];
        let deadline = tokio::time::Instant::now() + self.lock_wait;
        let mut pause = FIRST_LOCK_PAUSE;
        loop {
            let resource = match with_locks(&self.lock, &resources, LEASE_SECONDS, critical()).await
            {
                Ok(done) => return Ok(done),
                Err(LockError::Busy(resource)) => resource,
                Err(LockError::Unavailable(error)) => return Err(ChargeError::Unavailable(error)),
                Err(LockError::Inner(error)) => return Err(error),
            };
            let half = pause.as_millis() as u64 / 2;
            let jittered = Duration::from_millis(half + rand::random_range(0..=half));
            if tokio::time::Instant::now() + jittered >= deadline {
                return Err(ChargeError::Busy(resource));
            }
            tokio::time::sleep(jittered).await;
            pause = (pause * 2).min(MAX_LOCK_PAUSE);
        }
    }

    async fn record(&self, saga_id: &SagaId) -> Result<Option<Stored<Charge>>, ChargeError> {
        self.repo
            .get(saga_id)
            .await
            .map_err(ChargeError::Unavailable)
    }

    async fn commit(&self, write: &ChargeWrite) -> Result<(), ChargeError> {
        self.repo.commit(write).await.map_err(|error| match error {
            RepoError::Conflict | RepoError::AlreadyExists => {
                ChargeError::Busy(lock_resource(write.charge.account))
            }
            other => ChargeError::Unavailable(other),
        })
    }

    async fn charge_payment_locked(
        &self,
        saga_id: SagaId,
        request: ChargeRequest,
        limit: Option<i64>,
    ) -> Result<ChargeOutcome, ChargeError> {
        if let Some(existing) = self.record(&saga_id).await? {
            let existing = existing.value;
            return match existing.state {
                ChargeState::Refunded => Err(ChargeError::AlreadyRefunded(saga_id)),
                ChargeState::Captured if !existing.matches(&request) => Err(ChargeError::Mismatch(
                    saga_id,
                    existing.amount,
                    existing.account,
                )),
                ChargeState::Captured => Ok(ChargeOutcome {
                    charge: existing,
                    replayed: true,
                }),
            };
        }
        // Checked for new charges only: a retry of one already taken still succeeds.
        if let Some(limit) = limit.filter(|limit| request.amount > *limit) {
            return Err(ChargeError::OverLimit {
                asked: request.amount,
                limit,
            });
        }
        let current = self
            .accounts
            .get(request.account)
            .await
            .map_err(|error| match error {
                RepoError::NotFound => ChargeError::AccountNotFound(request.account),
                other => ChargeError::Unavailable(other),
            })?;
        let record = Charge::new(saga_id, &request, ChargeState::Captured);
        let mut changed = current.value.clone();
        changed
            .adjust(&record.adjustment_id(), -request.amount)
            .map_err(|_| ChargeError::Short {
                available: current.value.quantity,
                asked: request.amount,
            })?;
        let write = ChargeWrite {
            account: Some(replacement(changed, current.etag, -request.amount)),
            event: ChargeEvent::Captured {
                charge: record.clone(),
            },
            charge: record,
            over: None,
        };
        self.commit(&write).await?;
        Ok(ChargeOutcome {
            charge: write.charge,
            replayed: false,
        })
    }

    async fn refund_payment_locked(
        &self,
        saga_id: SagaId,
        request: ChargeRequest,
    ) -> Result<ChargeOutcome, ChargeError> {
        let Some(existing) = self.record(&saga_id).await? else {
            // Nothing was taken: remember that the saga is compensated, so that a late action
            // (still in flight, or retried) cannot take what nobody would give back.
            let record = Charge::new(saga_id, &request, ChargeState::Refunded);
            let write = ChargeWrite {
                account: None,
                event: ChargeEvent::Refunded {
                    charge: record.clone(),
                    returned: false,
                },
                charge: record,
                over: None,
            };
            self.commit(&write).await?;
            return Ok(ChargeOutcome {
                charge: write.charge,
                replayed: false,
            });
        };
        let Stored {
            value: mut record,
            etag,
        } = existing;
        match record.state {
            ChargeState::Refunded => {
                return Ok(ChargeOutcome {
                    charge: record,
                    replayed: true,
                });
            }
            ChargeState::Captured if record.account != request.account => {
                return Err(ChargeError::Mismatch(
                    saga_id,
                    record.amount,
                    record.account,
                ));
            }
            ChargeState::Captured => {}
        }
        record.state = ChargeState::Refunded;
        let account = match self.accounts.get(record.account).await {
            Ok(current) => {
                let mut changed = current.value;
                // Giving back cannot go below zero; only an overflow could refuse it.
                changed
                    .adjust(&record.adjustment_id(), record.amount)
                    .map_err(ChargeError::Invalid)?;
                Some(replacement(changed, current.etag, record.amount))
            }
            Err(RepoError::NotFound) => {
                // Deleted since: nothing to give back to. The compensation must still succeed.
                tracing::warn!(%saga_id, account = %record.account, "account deleted while held; refunded without giving back");
                None
            }
            Err(other) => return Err(ChargeError::Unavailable(other)),
        };
        let write = ChargeWrite {
            event: ChargeEvent::Refunded {
                charge: record.clone(),
                returned: account.is_some(),
            },
            account,
            charge: record,
            over: Some(etag),
        };
        self.commit(&write).await?;
        Ok(ChargeOutcome {
            charge: write.charge,
            replayed: false,
        })
    }
}

/// The account `changed` written over version `etag`, announcing `delta`.
fn replacement(
    changed: crate::account::Account,
    etag: crate::account::Etag,
    delta: i64,
) -> Replacement {
    let event = AccountEvent::Adjusted {
        account: (&changed).into(),
        delta,
    };
    Replacement {
        account: changed,
        etag,
        event,
    }
}

#[async_trait]
impl Charges for ChargeInteractor {
    async fn charge_payment(
        &self,
        saga_id: SagaId,
        request: ChargeRequest,
        limit: Option<i64>,
    ) -> Result<ChargeOutcome, ChargeError> {
        let request = request.validate()?;
        let critical = || self.charge_payment_locked(saga_id.clone(), request.clone(), limit);
        self.locked(&saga_id, &request, critical).await
    }

    async fn refund_payment(
        &self,
        saga_id: SagaId,
        request: ChargeRequest,
    ) -> Result<ChargeOutcome, ChargeError> {
        let critical = || self.refund_payment_locked(saga_id.clone(), request.clone());
        self.locked(&saga_id, &request, critical).await
    }

    async fn get(&self, saga_id: SagaId) -> Result<Charge, ChargeError> {
        match self.record(&saga_id).await? {
            Some(stored) => Ok(stored.value),
            None => Err(ChargeError::NotFound(saga_id)),
        }
    }
}

#[cfg(test)]
mod tests;
