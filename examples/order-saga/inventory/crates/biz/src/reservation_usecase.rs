//! The saga operations on reservations: `reserve_stock` takes from a stock, `release_stock`
//! gives it back, both idempotent per saga (see [`crate::reservation`]).
//!
//! Both run under the distributed lock of the stock (the one transfers take, so neither
//! interleaves with a transfer) and of the reservation (so the action and the compensation of one
//! saga never interleave, whatever stock they name). A busy lock is waited for, a little
//! while: many sagas on one stock contend for it, and a retry of the whole operation by
//! the workflow costs far more than a few short pauses here. Under the lock, the stock and the
//! reservation record change in one state transaction, guarded by their ETags against writers that
//! do not take the lock (updates and adjustments of the stock).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use shaku::{Component, Interface};

use crate::error::RepoError;
use crate::lock::{DistributedLock, LockError, with_locks};
use crate::reservation::Reservation;
use crate::reservation::ReservationEvent;
use crate::reservation::ReservationRequest;
use crate::reservation::ReservationState;
use crate::reservation::SagaId;
use crate::reservation_repo::ReservationRepo;
use crate::reservation_repo::ReservationWrite;
use crate::stock::StockEvent;
use crate::stock::StockId;
use crate::stock::Stored;
use crate::stock::ValidationError;
use crate::stock_repo::Replacement;
use crate::stock_repo::StockRepo;
use crate::stock_transfer::lock_resource;

/// How long an operation may hold its locks. Far longer than one takes; only matters when the
/// process dies while holding them.
pub const LEASE_SECONDS: u32 = 10;
/// How long an operation waits for busy locks before answering [`ReservationError::Busy`] (which the
/// saga retries). Well below the HTTP request timeout.
pub const LOCK_WAIT: Duration = Duration::from_secs(3);
/// The first pause before trying a busy lock again; it doubles up to [`MAX_LOCK_PAUSE`], and each
/// pause is jittered down to half, so that waiters spread out instead of retrying in step.
const FIRST_LOCK_PAUSE: Duration = Duration::from_millis(10);
/// The longest pause between two tries.
const MAX_LOCK_PAUSE: Duration = Duration::from_millis(100);

/// Why an operation did not take effect.
#[derive(Debug, thiserror::Error)]
pub enum ReservationError {
    /// The request breaks a rule (amount not positive).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The saga already holds something else under its id: another request, not a retry.
    #[error("saga {0} already holds another reservation ({1} of stock {2})")]
    Mismatch(SagaId, i64, StockId),
    /// The stock does not exist.
    #[error("stock {0} not found")]
    StockNotFound(StockId),
    /// The saga has no reservation (only `get` says so).
    #[error("saga {0} has no reservation")]
    NotFound(SagaId),
    /// The stock cannot give what is asked.
    #[error("short stock: {available} on hand, {asked} asked")]
    Short {
        /// What the stock has.
        available: i64,
        /// What was asked.
        asked: i64,
    },
    /// More is asked than the limit failure injection sets.
    #[error("short stock: quantity {asked} over the limit {limit}")]
    OverLimit {
        /// What was asked.
        asked: i64,
        /// The limit.
        limit: i64,
    },
    /// The saga's reservation was already released: a late `reserve_stock` must not take effect.
    #[error("the reservation of saga {0} was already released")]
    AlreadyReleased(SagaId),
    /// Another holder has the lock, or a writer changed the record meanwhile: try again.
    #[error("{0} is busy, try again")]
    Busy(String),
    /// Storage or the lock store failed.
    #[error("storage unavailable")]
    Unavailable(#[source] RepoError),
}

/// What an operation left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservationOutcome {
    /// The record as stored.
    pub reservation: Reservation,
    /// `true` when an earlier attempt had already done it (nothing changed this time).
    pub replayed: bool,
}

/// The saga operations on reservations.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Reservations: Interface {
    /// Takes `request` from the stock for `saga_id`, once; refused once the saga's
    /// reservation was released.
    async fn reserve_stock(
        &self,
        saga_id: SagaId,
        request: ReservationRequest,
        limit: Option<i64>,
    ) -> Result<ReservationOutcome, ReservationError>;

    /// Gives back what `saga_id` took, once. Without a reservation, records a tombstone, so that a
    /// late `reserve_stock` of the saga is refused.
    async fn release_stock(
        &self,
        saga_id: SagaId,
        request: ReservationRequest,
    ) -> Result<ReservationOutcome, ReservationError>;

    /// The reservation of `saga_id`.
    async fn get(&self, saga_id: SagaId) -> Result<Reservation, ReservationError>;
}

/// [`Reservations`] on the reservation and stock repos and the lock.
#[derive(Component)]
#[shaku(interface = Reservations)]
pub struct ReservationInteractor {
    #[shaku(inject)]
    repo: Arc<dyn ReservationRepo>,
    #[shaku(inject)]
    stocks: Arc<dyn StockRepo>,
    #[shaku(inject)]
    lock: Arc<dyn DistributedLock>,
    /// How long to wait for busy locks ([`LOCK_WAIT`] unless set).
    #[shaku(default = LOCK_WAIT)]
    lock_wait: Duration,
}

/// The lock resource name of a saga's reservation.
pub fn reservation_lock_resource(saga_id: &SagaId) -> String {
    format!("reservation/{saga_id}")
}

impl ReservationInteractor {
    /// An interactor over the repos and the lock (shaku builds it the same way).
    pub fn new(
        repo: Arc<dyn ReservationRepo>,
        stocks: Arc<dyn StockRepo>,
        lock: Arc<dyn DistributedLock>,
    ) -> Self {
        Self {
            repo,
            stocks,
            lock,
            lock_wait: LOCK_WAIT,
        }
    }

    /// The same interactor, waiting at most `lock_wait` for busy locks.
    pub fn with_lock_wait(self, lock_wait: Duration) -> Self {
        Self { lock_wait, ..self }
    }

    /// Runs the future `critical` makes under the locks of the stock and of the saga's
    /// reservation, waiting for them up to `lock_wait`.
    async fn locked<T, F>(
        &self,
        saga_id: &SagaId,
        request: &ReservationRequest,
        critical: impl Fn() -> F,
    ) -> Result<T, ReservationError>
    where
        F: Future<Output = Result<T, ReservationError>>,
    {
        let resources = [
            lock_resource(request.sku),
            reservation_lock_resource(saga_id),
        ];
        let deadline = tokio::time::Instant::now() + self.lock_wait;
        let mut pause = FIRST_LOCK_PAUSE;
        loop {
            let resource = match with_locks(&self.lock, &resources, LEASE_SECONDS, critical()).await
            {
                Ok(done) => return Ok(done),
                Err(LockError::Busy(resource)) => resource,
                Err(LockError::Unavailable(error)) => {
                    return Err(ReservationError::Unavailable(error));
                }
                Err(LockError::Inner(error)) => return Err(error),
            };
            let half = pause.as_millis() as u64 / 2;
            let jittered = Duration::from_millis(half + rand::random_range(0..=half));
            if tokio::time::Instant::now() + jittered >= deadline {
                return Err(ReservationError::Busy(resource));
            }
            tokio::time::sleep(jittered).await;
            pause = (pause * 2).min(MAX_LOCK_PAUSE);
        }
    }

    async fn record(
        &self,
        saga_id: &SagaId,
    ) -> Result<Option<Stored<Reservation>>, ReservationError> {
        self.repo
            .get(saga_id)
            .await
            .map_err(ReservationError::Unavailable)
    }

    async fn commit(&self, write: &ReservationWrite) -> Result<(), ReservationError> {
        self.repo.commit(write).await.map_err(|error| match error {
            RepoError::Conflict | RepoError::AlreadyExists => {
                ReservationError::Busy(lock_resource(write.reservation.sku))
            }
            other => ReservationError::Unavailable(other),
        })
    }

    async fn reserve_stock_locked(
        &self,
        saga_id: SagaId,
        request: ReservationRequest,
        limit: Option<i64>,
    ) -> Result<ReservationOutcome, ReservationError> {
        if let Some(existing) = self.record(&saga_id).await? {
            let existing = existing.value;
            return match existing.state {
                ReservationState::Released => Err(ReservationError::AlreadyReleased(saga_id)),
                ReservationState::Reserved if !existing.matches(&request) => Err(
                    ReservationError::Mismatch(saga_id, existing.quantity, existing.sku),
                ),
                ReservationState::Reserved => Ok(ReservationOutcome {
                    reservation: existing,
                    replayed: true,
                }),
            };
        }
        // Checked for new reservations only: a retry of one already taken still succeeds.
        if let Some(limit) = limit.filter(|limit| request.quantity > *limit) {
            return Err(ReservationError::OverLimit {
                asked: request.quantity,
                limit,
            });
        }
        let current = self
            .stocks
            .get(request.sku)
            .await
            .map_err(|error| match error {
                RepoError::NotFound => ReservationError::StockNotFound(request.sku),
                other => ReservationError::Unavailable(other),
            })?;
        let record = Reservation::new(saga_id, &request, ReservationState::Reserved);
        let mut changed = current.value.clone();
        changed
            .adjust(&record.adjustment_id(), -request.quantity)
            .map_err(|_| ReservationError::Short {
                available: current.value.quantity,
                asked: request.quantity,
            })?;
        let write = ReservationWrite {
            stock: Some(replacement(changed, current.etag, -request.quantity)),
            event: ReservationEvent::Reserved {
                reservation: record.clone(),
            },
            reservation: record,
            over: None,
        };
        self.commit(&write).await?;
        Ok(ReservationOutcome {
            reservation: write.reservation,
            replayed: false,
        })
    }

    async fn release_stock_locked(
        &self,
        saga_id: SagaId,
        request: ReservationRequest,
    ) -> Result<ReservationOutcome, ReservationError> {
        let Some(existing) = self.record(&saga_id).await? else {
            // Nothing was taken: remember that the saga is compensated, so that a late action
            // (still in flight, or retried) cannot take what nobody would give back.
            let record = Reservation::new(saga_id, &request, ReservationState::Released);
            let write = ReservationWrite {
                stock: None,
                event: ReservationEvent::Released {
                    reservation: record.clone(),
                    returned: false,
                },
                reservation: record,
                over: None,
            };
            self.commit(&write).await?;
            return Ok(ReservationOutcome {
                reservation: write.reservation,
                replayed: false,
            });
        };
        let Stored {
            value: mut record,
            etag,
        } = existing;
        match record.state {
            ReservationState::Released => {
                return Ok(ReservationOutcome {
                    reservation: record,
                    replayed: true,
                });
            }
            ReservationState::Reserved if record.sku != request.sku => {
                return Err(ReservationError::Mismatch(
                    saga_id,
                    record.quantity,
                    record.sku,
                ));
            }
            ReservationState::Reserved => {}
        }
        record.state = ReservationState::Released;
        let stock = match self.stocks.get(record.sku).await {
            Ok(current) => {
                let mut changed = current.value;
                // Giving back cannot go below zero; only an overflow could refuse it.
                changed
                    .adjust(&record.adjustment_id(), record.quantity)
                    .map_err(ReservationError::Invalid)?;
                Some(replacement(changed, current.etag, record.quantity))
            }
            Err(RepoError::NotFound) => {
                // Deleted since: nothing to give back to. The compensation must still succeed.
                tracing::warn!(%saga_id, sku = %record.sku, "stock deleted while held; released without giving back");
                None
            }
            Err(other) => return Err(ReservationError::Unavailable(other)),
        };
        let write = ReservationWrite {
            event: ReservationEvent::Released {
                reservation: record.clone(),
                returned: stock.is_some(),
            },
            stock,
            reservation: record,
            over: Some(etag),
        };
        self.commit(&write).await?;
        Ok(ReservationOutcome {
            reservation: write.reservation,
            replayed: false,
        })
    }
}

/// The stock `changed` written over version `etag`, announcing `delta`.
fn replacement(changed: crate::stock::Stock, etag: crate::stock::Etag, delta: i64) -> Replacement {
    let event = StockEvent::Adjusted {
        stock: (&changed).into(),
        delta,
    };
    Replacement {
        stock: changed,
        etag,
        event,
    }
}

#[async_trait]
impl Reservations for ReservationInteractor {
    async fn reserve_stock(
        &self,
        saga_id: SagaId,
        request: ReservationRequest,
        limit: Option<i64>,
    ) -> Result<ReservationOutcome, ReservationError> {
        let request = request.validate()?;
        let critical = || self.reserve_stock_locked(saga_id.clone(), request.clone(), limit);
        self.locked(&saga_id, &request, critical).await
    }

    async fn release_stock(
        &self,
        saga_id: SagaId,
        request: ReservationRequest,
    ) -> Result<ReservationOutcome, ReservationError> {
        let critical = || self.release_stock_locked(saga_id.clone(), request.clone());
        self.locked(&saga_id, &request, critical).await
    }

    async fn get(&self, saga_id: SagaId) -> Result<Reservation, ReservationError> {
        match self.record(&saga_id).await? {
            Some(stored) => Ok(stored.value),
            None => Err(ReservationError::NotFound(saga_id)),
        }
    }
}

#[cfg(test)]
mod tests;
