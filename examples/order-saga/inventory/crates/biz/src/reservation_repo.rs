//! The port through which reservations are stored, each change committed together with the change of
//! the stock it makes and with their events.

use async_trait::async_trait;
use shaku::Interface;

use crate::error::RepoError;
use crate::reservation::Reservation;
use crate::reservation::ReservationEvent;
use crate::reservation::SagaId;
use crate::stock::Etag;
use crate::stock::Stored;
use crate::stock_repo::Replacement;

/// One change of a reservation, written as a whole or not at all.
#[derive(Debug, Clone, PartialEq)]
pub struct ReservationWrite {
    /// The stock as changed by it, over the version it was read at; `None` when no
    /// stock changes (a tombstone, or a stock deleted meanwhile).
    pub stock: Option<Replacement>,
    /// The record as it becomes.
    pub reservation: Reservation,
    /// The version of the record it replaces; `None`: there must be no record yet.
    pub over: Option<Etag>,
    /// The event published with the record.
    pub event: ReservationEvent,
}

/// Storage of reservations.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ReservationRepo: Interface {
    /// The reservation of `saga_id` and its ETag; `None` if the saga has none.
    async fn get(&self, saga_id: &SagaId) -> Result<Option<Stored<Reservation>>, RepoError>;

    /// Commits `write` in one state transaction; [`RepoError::Conflict`] when the stock or
    /// the record is no longer at the version given.
    async fn commit(&self, write: &ReservationWrite) -> Result<(), RepoError>;
}
