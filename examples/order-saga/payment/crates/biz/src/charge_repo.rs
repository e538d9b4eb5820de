//! The port through which charges are stored, each change committed together with the change of
//! the account it makes and with their events.

use async_trait::async_trait;
use shaku::Interface;

use crate::account::Etag;
use crate::account::Stored;
use crate::account_repo::Replacement;
use crate::charge::Charge;
use crate::charge::ChargeEvent;
use crate::charge::SagaId;
use crate::error::RepoError;

/// One change of a charge, written as a whole or not at all.
#[derive(Debug, Clone, PartialEq)]
pub struct ChargeWrite {
    /// The account as changed by it, over the version it was read at; `None` when no
    /// account changes (a tombstone, or a account deleted meanwhile).
    pub account: Option<Replacement>,
    /// The record as it becomes.
    pub charge: Charge,
    /// The version of the record it replaces; `None`: there must be no record yet.
    pub over: Option<Etag>,
    /// The event published with the record.
    pub event: ChargeEvent,
}

/// Storage of charges.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ChargeRepo: Interface {
    /// The charge of `saga_id` and its ETag; `None` if the saga has none.
    async fn get(&self, saga_id: &SagaId) -> Result<Option<Stored<Charge>>, RepoError>;

    /// Commits `write` in one state transaction; [`RepoError::Conflict`] when the account or
    /// the record is no longer at the version given.
    async fn commit(&self, write: &ChargeWrite) -> Result<(), RepoError>;
}
