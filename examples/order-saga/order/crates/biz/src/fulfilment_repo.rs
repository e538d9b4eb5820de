//! The port through which fulfilments are stored, and their events published with them.

use async_trait::async_trait;
use shaku::Interface;

use crate::error::RepoError;
use crate::fulfilment::Fulfilment;
use crate::order::Stored;

/// What a write requires of the record it replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// No record may exist yet.
    Absent,
    /// The record must be at exactly this version.
    Version(crate::order::Etag),
}

/// Storage of fulfilments, one per saga. Every write also publishes the event of the state
/// written (`order.confirmed`, `order.cancelled`), committed together with it.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait FulfilmentRepo: Interface {
    /// The fulfilment of saga `saga_id` and its version; `None` if there is none.
    async fn get(&self, saga_id: &str) -> Result<Option<Stored<Fulfilment>>, RepoError>;

    /// Stores `fulfilment` and publishes its event, if the current record is as `expected`;
    /// [`RepoError::Conflict`] otherwise (another writer got there first).
    async fn put(&self, fulfilment: &Fulfilment, expected: &Expected) -> Result<(), RepoError>;
}
