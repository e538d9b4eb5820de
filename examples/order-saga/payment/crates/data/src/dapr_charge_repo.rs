//! [`ChargeRepo`] on the Dapr state API.
//!
//! Layout: `charge/<saga id>`, one record per saga, as JSON, next to the accounts
//! (`account/<id>`, written by `dapr_account_repo` in the same layout).
//!
//! A write is one `ExecuteStateTransaction`: the account over the ETag it was read at (with its
//! `account.adjusted` event) and the record, first-write or over its ETag (with its
//! `charge.…` event), both published through the outbox. Before the transaction, both
//! versions are compared with what is stored: redis commits the rest of a transaction whose ETag
//! check fails and ignores first-write inside transactions (see `dapr_account_repo`), so this
//! check, together with the locks the use case holds, is what keeps a stale write from
//! committing half.

use async_trait::async_trait;
use biz::account::AccountId;
use biz::account::Etag;
use biz::account::Stored;
use biz::charge::Charge;
use biz::charge::SagaId;
use biz::charge_repo::ChargeRepo;
use biz::charge_repo::ChargeWrite;
use biz::error::RepoError;
use serde::Serialize;
use shaku::Component;

use crate::sidecar::DaprSidecar;
use crate::state::{self, OutboxEvent, Precondition, Transaction};

/// [`ChargeRepo`] on the Dapr state store.
#[derive(Component)]
#[shaku(interface = ChargeRepo)]
pub struct DaprChargeRepo {
    /// The sidecar whose state store holds the charges and the accounts.
    sidecar: DaprSidecar,
}

impl DaprChargeRepo {
    /// A repo storing through `sidecar` (shaku builds it the same way).
    pub fn new(sidecar: DaprSidecar) -> Self {
        Self { sidecar }
    }

    /// Checks that `key` is at version `expected` (`None`: absent); [`RepoError::Conflict`] if not.
    async fn check_version(&self, key: &str, expected: Option<&Etag>) -> Result<(), RepoError> {
        let current = state::get(&self.sidecar, key).await?;
        match (current, expected) {
            (None, None) => Ok(()),
            (Some(entry), Some(etag)) if entry.etag == etag.0 => Ok(()),
            _ => Err(RepoError::Conflict),
        }
    }
}

#[async_trait]
impl ChargeRepo for DaprChargeRepo {
    async fn get(&self, saga_id: &SagaId) -> Result<Option<Stored<Charge>>, RepoError> {
        let Some(entry) = state::get(&self.sidecar, &charge_key(saga_id)).await? else {
            return Ok(None);
        };
        let value = serde_json::from_slice(&entry.data)
            .map_err(|error| RepoError::Corrupt(error.to_string()))?;
        Ok(Some(Stored {
            value,
            etag: Etag(entry.etag),
        }))
    }

    async fn commit(&self, write: &ChargeWrite) -> Result<(), RepoError> {
        let key = charge_key(&write.charge.saga_id);
        let mut transaction = Transaction::new();
        if let Some(replacement) = &write.account {
            let id = replacement.account.id;
            let record = account_key(id);
            self.check_version(&record, Some(&replacement.etag)).await?;
            transaction.upsert_publishing(
                &record,
                encode(&replacement.account)?,
                Precondition::Matches(replacement.etag.0.clone()),
                OutboxEvent {
                    event_type: replacement.event.event_type(),
                    subject: id.to_string(),
                    data: encode(&replacement.event)?,
                },
            );
        }
        self.check_version(&key, write.over.as_ref()).await?;
        let precondition = match &write.over {
            Some(etag) => Precondition::Matches(etag.0.clone()),
            None => Precondition::Absent,
        };
        transaction.upsert_publishing(
            &key,
            encode(&write.charge)?,
            precondition,
            OutboxEvent {
                event_type: write.event.event_type(),
                subject: write.charge.saga_id.to_string(),
                data: encode(&write.event)?,
            },
        );
        transaction.commit(&self.sidecar).await
    }
}

/// The key of the charge of one saga.
fn charge_key(saga_id: &SagaId) -> String {
    format!("charge/{saga_id}")
}

/// The key of one account, as `dapr_account_repo` stores it.
fn account_key(id: AccountId) -> String {
    format!("account/{id}")
}

fn encode(value: &impl Serialize) -> Result<Vec<u8>, RepoError> {
    serde_json::to_vec(value).map_err(|error| RepoError::Corrupt(format!("cannot encode: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_the_layout_of_the_account_repo() {
        let saga_id = SagaId::parse("saga-1").unwrap();
        assert_eq!(charge_key(&saga_id), "charge/saga-1");
        let id = AccountId::new();
        assert_eq!(account_key(id), format!("account/{id}"));
    }
}
