//! The port through which orders are stored, and their events published with them.

use async_trait::async_trait;
use shaku::Interface;

use crate::error::RepoError;
use crate::order::{Etag, Order, OrderEvent, OrderId, Stored, ValidationError};
use crate::page::{Page, PageRequest};

/// How a change decides what to do with the current record: `Ok(Some(event))` writes the
/// modified record and publishes `event` with it; `Ok(None)` writes nothing (the change was
/// already applied); `Err` refuses the change and writes nothing.
pub type Change = dyn Fn(&mut Order) -> Result<Option<OrderEvent>, ValidationError> + Send + Sync;

/// How often a read-modify-write is retried when another writer got there first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included: 1 means never retry.
    pub max_attempts: u32,
    /// Base of the exponential back-off between attempts, in milliseconds; jitter is added.
    pub base_delay_ms: u64,
}

impl RetryPolicy {
    /// No retry: the caller wants to hear about the conflict (e.g. a client's `If-Match`).
    pub const NEVER: Self = Self {
        max_attempts: 1,
        base_delay_ms: 0,
    };
}

/// Why a modification did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ModifyError {
    /// The change refused the current state.
    #[error(transparent)]
    Rejected(#[from] ValidationError),
    /// The store failed, or the record changed on every attempt ([`RepoError::Conflict`]).
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// One record of a [`OrderRepo::replace_all`] transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Replacement {
    /// The new state.
    pub order: Order,
    /// The version it replaces.
    pub etag: Etag,
    /// The event published with it.
    pub event: OrderEvent,
}

/// Storage of orders. Every write also publishes its domain event, committed together
/// with the state through the store's transactional outbox.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OrderRepo: Interface {
    /// Reads one order and its ETag. [`RepoError::NotFound`] if there is none.
    async fn get(&self, id: OrderId) -> Result<Stored<Order>, RepoError>;

    /// Lists orders in creation order, one page at a time.
    async fn list(&self, page: &PageRequest) -> Result<Page<Order>, RepoError>;

    /// Stores a new order; [`RepoError::AlreadyExists`] if its id is taken.
    async fn insert(&self, order: &Order, event: &OrderEvent) -> Result<Etag, RepoError>;

    /// Changes exactly version `etag`: reads the record once, refuses with
    /// [`RepoError::Conflict`] if it is at another version ([`RepoError::NotFound`] if there is
    /// none), else applies `change` and writes the result over that version, never retrying (the
    /// caller named the version). Returns the record as stored.
    async fn replace(
        &self,
        id: OrderId,
        etag: &Etag,
        change: &Change,
    ) -> Result<Stored<Order>, ModifyError>;

    /// Writes several orders in one transaction, each over exactly its version; fails
    /// whole with [`RepoError::Conflict`] if one is stale (see the state store's notes on atomicity).
    async fn replace_all(&self, replacements: &[Replacement]) -> Result<Vec<Etag>, RepoError>;

    /// Deletes exactly version `etag`; [`RepoError::Conflict`] if it is stale.
    async fn delete(&self, id: OrderId, etag: &Etag, event: &OrderEvent) -> Result<(), RepoError>;

    /// Read, apply `change`, write with the ETag read; on a conflict, start over, up to
    /// `policy.max_attempts` times with jittered back-off. Returns the record as stored last.
    async fn modify(
        &self,
        id: OrderId,
        change: &Change,
        policy: RetryPolicy,
    ) -> Result<Stored<Order>, ModifyError>;
}
