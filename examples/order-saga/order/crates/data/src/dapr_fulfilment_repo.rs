//! [`FulfilmentRepo`] on the Dapr state API.
//!
//! Layout in the state store: `fulfilment/<saga id>`, one [`Fulfilment`] as JSON. Every write is
//! one `ExecuteStateTransaction` storing the record with an outbox projection carrying the same
//! JSON, so subscribers of the outbox topic receive `order.confirmed` or `order.cancelled`
//! (CloudEvent `subject`: the saga id) exactly when the record changes.
//!
//! Caveat, as for the order records (see `dapr_order_repo`): redis ignores first-write
//! concurrency inside a transaction, so two first writes racing each other (a confirm still in
//! flight while its cancel runs) both succeed there and the later one stays. SQLite, or any store
//! that honours first-write in transactions, refuses the second and the use case decides again.

use async_trait::async_trait;
use biz::error::RepoError;
use biz::fulfilment::Fulfilment;
use biz::fulfilment_repo::{Expected, FulfilmentRepo};
use biz::order::{Etag, Stored};
use shaku::Component;

use crate::sidecar::DaprSidecar;
use crate::state::{self, OutboxEvent, Precondition, Transaction};

/// [`FulfilmentRepo`] on the Dapr state store.
#[derive(Component)]
#[shaku(interface = FulfilmentRepo)]
pub struct DaprFulfilmentRepo {
    /// The sidecar whose state store holds the fulfilments.
    sidecar: DaprSidecar,
}

impl DaprFulfilmentRepo {
    /// A repo storing through `sidecar` (shaku builds it the same way).
    pub fn new(sidecar: DaprSidecar) -> Self {
        Self { sidecar }
    }
}

#[async_trait]
impl FulfilmentRepo for DaprFulfilmentRepo {
    async fn get(&self, saga_id: &str) -> Result<Option<Stored<Fulfilment>>, RepoError> {
        let Some(entry) = state::get(&self.sidecar, &record_key(saga_id)).await? else {
            return Ok(None);
        };
        let value = serde_json::from_slice(&entry.data)
            .map_err(|error| RepoError::Corrupt(format!("{}: {error}", record_key(saga_id))))?;
        Ok(Some(Stored {
            value,
            etag: Etag(entry.etag),
        }))
    }

    async fn put(&self, fulfilment: &Fulfilment, expected: &Expected) -> Result<(), RepoError> {
        let mut transaction = Transaction::new();
        let (key, value, event) = record_and_event(fulfilment)?;
        transaction.upsert_publishing(&key, value, precondition(expected), event);
        transaction.commit(&self.sidecar).await
    }
}

/// The state store key of the fulfilment of saga `saga_id`.
fn record_key(saga_id: &str) -> String {
    format!("fulfilment/{saga_id}")
}

/// What a write of `fulfilment` stores (key and value) and publishes.
fn record_and_event(fulfilment: &Fulfilment) -> Result<(String, Vec<u8>, OutboxEvent), RepoError> {
    let json = serde_json::to_vec(fulfilment)
        .map_err(|error| RepoError::Corrupt(format!("fulfilment not serializable: {error}")))?;
    let event = OutboxEvent {
        event_type: fulfilment.state.event_type(),
        subject: fulfilment.saga_id.clone(),
        data: json.clone(),
    };
    Ok((record_key(&fulfilment.saga_id), json, event))
}

fn precondition(expected: &Expected) -> Precondition {
    match expected {
        Expected::Absent => Precondition::Absent,
        Expected::Version(etag) => Precondition::Matches(etag.0.clone()),
    }
}

#[cfg(test)]
mod tests {
    use biz::fulfilment::FulfilmentState;

    use super::*;

    #[test]
    fn a_write_stores_the_record_and_publishes_its_state_change() {
        let cancelled = Fulfilment {
            saga_id: "saga-1".into(),
            state: FulfilmentState::Cancelled,
        };
        let (key, value, event) = record_and_event(&cancelled).unwrap();
        assert_eq!(key, "fulfilment/saga-1");
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&value).unwrap(),
            serde_json::json!({"saga_id": "saga-1", "state": "cancelled"})
        );
        assert_eq!(event.event_type, "order.cancelled");
        assert_eq!(event.subject, "saga-1");
        assert_eq!(event.data, value);
    }

    #[test]
    fn expectations_become_preconditions() {
        assert_eq!(precondition(&Expected::Absent), Precondition::Absent);
        assert_eq!(
            precondition(&Expected::Version(Etag("3".into()))),
            Precondition::Matches("3".into())
        );
    }
}
