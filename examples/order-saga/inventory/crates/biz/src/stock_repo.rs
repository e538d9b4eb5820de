//! The port through which stocks are stored, and their events published with them.

use async_trait::async_trait;
use shaku::Interface;

use crate::error::RepoError;
use crate::page::{Page, PageRequest};
use crate::stock::{Etag, Stock, StockEvent, StockId, Stored, ValidationError};

/// How a change decides what to do with the current record: `Ok(Some(event))` writes the
/// modified record and publishes `event` with it; `Ok(None)` writes nothing (the change was
/// already applied); `Err` refuses the change and writes nothing.
pub type Change = dyn Fn(&mut Stock) -> Result<Option<StockEvent>, ValidationError> + Send + Sync;

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

/// One record of a [`StockRepo::replace_all`] transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Replacement {
    /// The new state.
    pub stock: Stock,
    /// The version it replaces.
    pub etag: Etag,
    /// The event published with it.
    pub event: StockEvent,
}

/// Storage of stocks. Every write also publishes its domain event, committed together
/// with the state through the store's transactional outbox.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait StockRepo: Interface {
    /// Reads one stock and its ETag. [`RepoError::NotFound`] if there is none.
    async fn get(&self, id: StockId) -> Result<Stored<Stock>, RepoError>;

    /// Lists stocks in creation order, one page at a time.
    async fn list(&self, page: &PageRequest) -> Result<Page<Stock>, RepoError>;

    /// Stores a new stock; [`RepoError::AlreadyExists`] if its id is taken.
    async fn insert(&self, stock: &Stock, event: &StockEvent) -> Result<Etag, RepoError>;

    /// Changes exactly version `etag`: reads the record once, refuses with
    /// [`RepoError::Conflict`] if it is at another version ([`RepoError::NotFound`] if there is
    /// none), else applies `change` and writes the result over that version, never retrying (the
    /// caller named the version). Returns the record as stored.
    async fn replace(
        &self,
        id: StockId,
        etag: &Etag,
        change: &Change,
    ) -> Result<Stored<Stock>, ModifyError>;

    /// Writes several stocks in one transaction, each over exactly its version; fails
    /// whole with [`RepoError::Conflict`] if one is stale (see the state store's notes on atomicity).
    async fn replace_all(&self, replacements: &[Replacement]) -> Result<Vec<Etag>, RepoError>;

    /// Deletes exactly version `etag`; [`RepoError::Conflict`] if it is stale.
    async fn delete(&self, id: StockId, etag: &Etag, event: &StockEvent) -> Result<(), RepoError>;

    /// Read, apply `change`, write with the ETag read; on a conflict, start over, up to
    /// `policy.max_attempts` times with jittered back-off. Returns the record as stored last.
    async fn modify(
        &self,
        id: StockId,
        change: &Change,
        policy: RetryPolicy,
    ) -> Result<Stored<Stock>, ModifyError>;
}
