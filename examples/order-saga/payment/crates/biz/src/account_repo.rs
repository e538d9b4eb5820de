//! The port through which accounts are stored, and their events published with them.

use async_trait::async_trait;
use shaku::Interface;

use crate::account::{Account, AccountEvent, AccountId, Etag, Stored, ValidationError};
use crate::error::RepoError;
use crate::page::{Page, PageRequest};

/// How a change decides what to do with the current record: `Ok(Some(event))` writes the
/// modified record and publishes `event` with it; `Ok(None)` writes nothing (the change was
/// already applied); `Err` refuses the change and writes nothing.
pub type Change =
    dyn Fn(&mut Account) -> Result<Option<AccountEvent>, ValidationError> + Send + Sync;

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

/// One record of a [`AccountRepo::replace_all`] transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Replacement {
    /// The new state.
    pub account: Account,
    /// The version it replaces.
    pub etag: Etag,
    /// The event published with it.
    pub event: AccountEvent,
}

/// Storage of accounts. Every write also publishes its domain event, committed together
/// with the state through the store's transactional outbox.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AccountRepo: Interface {
    /// Reads one account and its ETag. [`RepoError::NotFound`] if there is none.
    async fn get(&self, id: AccountId) -> Result<Stored<Account>, RepoError>;

    /// Lists accounts in creation order, one page at a time.
    async fn list(&self, page: &PageRequest) -> Result<Page<Account>, RepoError>;

    /// Stores a new account; [`RepoError::AlreadyExists`] if its id is taken.
    async fn insert(&self, account: &Account, event: &AccountEvent) -> Result<Etag, RepoError>;

    /// Changes exactly version `etag`: reads the record once, refuses with
    /// [`RepoError::Conflict`] if it is at another version ([`RepoError::NotFound`] if there is
    /// none), else applies `change` and writes the result over that version, never retrying (the
    /// caller named the version). Returns the record as stored.
    async fn replace(
        &self,
        id: AccountId,
        etag: &Etag,
        change: &Change,
    ) -> Result<Stored<Account>, ModifyError>;

    /// Writes several accounts in one transaction, each over exactly its version; fails
    /// whole with [`RepoError::Conflict`] if one is stale (see the state store's notes on atomicity).
    async fn replace_all(&self, replacements: &[Replacement]) -> Result<Vec<Etag>, RepoError>;

    /// Deletes exactly version `etag`; [`RepoError::Conflict`] if it is stale.
    async fn delete(
        &self,
        id: AccountId,
        etag: &Etag,
        event: &AccountEvent,
    ) -> Result<(), RepoError>;

    /// Read, apply `change`, write with the ETag read; on a conflict, start over, up to
    /// `policy.max_attempts` times with jittered back-off. Returns the record as stored last.
    async fn modify(
        &self,
        id: AccountId,
        change: &Change,
        policy: RetryPolicy,
    ) -> Result<Stored<Account>, ModifyError>;
}
