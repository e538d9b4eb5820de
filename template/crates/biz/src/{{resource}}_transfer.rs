//! Moving quantity from one {{resource}} to another: two records that must change together. The
//! distributed lock keeps concurrent transfers touching the same {{resources}} from interleaving
//! (a state store transaction alone is not enough: on redis a transaction is not rolled back
//! when one of its writes meets a stale ETag).

use std::sync::Arc;

use async_trait::async_trait;
use shaku::{Component, Interface};

use crate::error::RepoError;
use crate::lock::{DistributedLock, LockError, with_locks};
use crate::{{resource}}::{Stored, ValidationError, {{Resource}}, {{Resource}}Event, {{Resource}}Id};
use crate::{{resource}}_repo::{Replacement, {{Resource}}Repo};

/// How long a transfer may hold its locks. Far longer than a transfer takes; only matters when
/// the process dies while holding them.
pub const TRANSFER_LEASE_SECONDS: u32 = 10;

/// Why a transfer did not happen.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The request breaks a rule (same {{resource}} twice, amount not positive, not enough quantity).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// One of the {{resources}} does not exist.
    #[error("{{resource}} {0} not found")]
    NotFound({{Resource}}Id),
    /// Another transfer holds one of the {{resources}}, or a concurrent write intervened: try again.
    #[error("{{resource}} {0} is busy, try again")]
    Busy(String),
    /// Storage or the lock store failed.
    #[error("storage unavailable")]
    Unavailable(#[source] RepoError),
}

/// The completed transfer: both {{resources}} as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Transfer {
    /// The {{resource}} the quantity was taken from.
    pub from: Stored<{{Resource}}>,
    /// The {{resource}} it was added to.
    pub to: Stored<{{Resource}}>,
}

/// Transfers quantity between {{resources}}.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait {{Resource}}Transfers: Interface {
    /// Moves `amount` from `from` to `to`, atomically for every other transfer.
    async fn transfer(
        &self,
        transfer_id: String,
        from: {{Resource}}Id,
        to: {{Resource}}Id,
        amount: i64,
    ) -> Result<Transfer, TransferError>;
}

/// [`{{Resource}}Transfers`] on top of the repo and the lock ports.
#[derive(Component)]
#[shaku(interface = {{Resource}}Transfers)]
pub struct {{Resource}}TransferInteractor {
    #[shaku(inject)]
    repo: Arc<dyn {{Resource}}Repo>,
    #[shaku(inject)]
    lock: Arc<dyn DistributedLock>,
}

impl {{Resource}}TransferInteractor {
    /// An interactor over `repo` and `lock` (shaku builds it the same way).
    pub fn new(repo: Arc<dyn {{Resource}}Repo>, lock: Arc<dyn DistributedLock>) -> Self {
        Self { repo, lock }
    }

    async fn read(&self, id: {{Resource}}Id) -> Result<Stored<{{Resource}}>, TransferError> {
        self.repo.get(id).await.map_err(|error| match error {
            RepoError::NotFound => TransferError::NotFound(id),
            other => TransferError::Unavailable(other),
        })
    }

    async fn transfer_locked(
        &self,
        transfer_id: &str,
        from: {{Resource}}Id,
        to: {{Resource}}Id,
        amount: i64,
    ) -> Result<Transfer, TransferError> {
        let (source, target) = (self.read(from).await?, self.read(to).await?);
        let (mut taken, mut given) = (source.value.clone(), target.value.clone());
        taken.adjust(transfer_id, -amount)?;
        given.adjust(transfer_id, amount)?;
        let replacements = [
            replacement(taken, source.etag, -amount),
            replacement(given, target.etag, amount),
        ];
        let etags = self.repo.replace_all(&replacements).await.map_err(|error| match error {
            RepoError::Conflict => TransferError::Busy(from.to_string()),
            other => TransferError::Unavailable(other),
        })?;
        let [taken, given] = replacements;
        Ok(Transfer {
            from: Stored { value: taken.{{resource}}, etag: etags[0].clone() },
            to: Stored { value: given.{{resource}}, etag: etags[1].clone() },
        })
    }
}

fn replacement({{resource}}: {{Resource}}, etag: crate::{{resource}}::Etag, delta: i64) -> Replacement {
    let event = {{Resource}}Event::Adjusted { {{resource}}: (&{{resource}}).into(), delta };
    Replacement { {{resource}}, etag, event }
}

/// The lock resource name of a {{resource}}.
pub fn lock_resource(id: {{Resource}}Id) -> String {
    format!("{{resource}}/{id}")
}

#[async_trait]
impl {{Resource}}Transfers for {{Resource}}TransferInteractor {
    async fn transfer(
        &self,
        transfer_id: String,
        from: {{Resource}}Id,
        to: {{Resource}}Id,
        amount: i64,
    ) -> Result<Transfer, TransferError> {
        if from == to {
            return Err(ValidationError::new("to", "must differ from `from`").into());
        }
        if amount <= 0 {
            return Err(ValidationError::new("amount", "must be positive").into());
        }
        let resources = [lock_resource(from), lock_resource(to)];
        let critical = self.transfer_locked(&transfer_id, from, to, amount);
        with_locks(&self.lock, &resources, TRANSFER_LEASE_SECONDS, critical)
            .await
            .map_err(|error| match error {
                LockError::Busy(resource) => TransferError::Busy(resource),
                LockError::Unavailable(error) => TransferError::Unavailable(error),
                LockError::Inner(error) => error,
            })
    }
}
