//! [`ReservationRepo`] on the Dapr state API.
//!
//! Layout: `reservation/<saga id>`, one record per saga, as JSON, next to the stocks
//! (`stock/<id>`, written by `dapr_stock_repo` in the same layout).
//!
//! A write is one `ExecuteStateTransaction`: the stock over the ETag it was read at (with its
//! `stock.adjusted` event) and the record, first-write or over its ETag (with its
//! `reservation.…` event), both published through the outbox. Before the transaction, both
//! versions are compared with what is stored: redis commits the rest of a transaction whose ETag
//! check fails and ignores first-write inside transactions (see `dapr_stock_repo`), so this
//! check, together with the locks the use case holds, is what keeps a stale write from
//! committing half.

use async_trait::async_trait;
use biz::error::RepoError;
use biz::reservation::Reservation;
use biz::reservation::SagaId;
use biz::reservation_repo::ReservationRepo;
use biz::reservation_repo::ReservationWrite;
use biz::stock::Etag;
use biz::stock::StockId;
use biz::stock::Stored;
use serde::Serialize;
use shaku::Component;

use crate::sidecar::DaprSidecar;
use crate::state::{self, OutboxEvent, Precondition, Transaction};

/// [`ReservationRepo`] on the Dapr state store.
#[derive(Component)]
#[shaku(interface = ReservationRepo)]
pub struct DaprReservationRepo {
    /// The sidecar whose state store holds the reservations and the stocks.
    sidecar: DaprSidecar,
}

impl DaprReservationRepo {
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
impl ReservationRepo for DaprReservationRepo {
    async fn get(&self, saga_id: &SagaId) -> Result<Option<Stored<Reservation>>, RepoError> {
        let Some(entry) = state::get(&self.sidecar, &reservation_key(saga_id)).await? else {
            return Ok(None);
        };
        let value = serde_json::from_slice(&entry.data)
            .map_err(|error| RepoError::Corrupt(error.to_string()))?;
        Ok(Some(Stored {
            value,
            etag: Etag(entry.etag),
        }))
    }

    async fn commit(&self, write: &ReservationWrite) -> Result<(), RepoError> {
        let key = reservation_key(&write.reservation.saga_id);
        let mut transaction = Transaction::new();
        if let Some(replacement) = &write.stock {
            let id = replacement.stock.id;
            let record = stock_key(id);
            self.check_version(&record, Some(&replacement.etag)).await?;
            transaction.upsert_publishing(
                &record,
                encode(&replacement.stock)?,
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
            encode(&write.reservation)?,
            precondition,
            OutboxEvent {
                event_type: write.event.event_type(),
                subject: write.reservation.saga_id.to_string(),
                data: encode(&write.event)?,
            },
        );
        transaction.commit(&self.sidecar).await
    }
}

/// The key of the reservation of one saga.
fn reservation_key(saga_id: &SagaId) -> String {
    format!("reservation/{saga_id}")
}

/// The key of one stock, as `dapr_stock_repo` stores it.
fn stock_key(id: StockId) -> String {
    format!("stock/{id}")
}

fn encode(value: &impl Serialize) -> Result<Vec<u8>, RepoError> {
    serde_json::to_vec(value).map_err(|error| RepoError::Corrupt(format!("cannot encode: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_the_layout_of_the_stock_repo() {
        let saga_id = SagaId::parse("saga-1").unwrap();
        assert_eq!(reservation_key(&saga_id), "reservation/saga-1");
        let id = StockId::new();
        assert_eq!(stock_key(id), format!("stock/{id}"));
    }
}
