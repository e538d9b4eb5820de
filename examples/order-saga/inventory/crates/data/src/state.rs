//! The state API as the adapters use it: reads, guarded writes, transactions that publish
//! through the outbox, and the one place where gRPC statuses become [`RepoError`]s.
//!
//! Facts this module relies on, measured against daprd 1.18 (see `docs/HARNESS.md` of the
//! generator repository):
//! - a stale ETag on `SaveState`/`DeleteState` is `Aborted`; a first-write save of an existing
//!   key is `Aborted` on SQLite but `Internal` on redis;
//! - `ExecuteStateTransaction` reports every refusal as `Internal`: "possible etag mismatch" on
//!   SQLite, the refusal of redis's guard script ("ERR user_script:…: failed to set key …" or
//!   "… failed to delete …") on redis. The same words without "user_script" come from a redis
//!   connection failure ("failed to set key k: dial tcp …"), which is no conflict;
//! - only upserts made through `ExecuteStateTransaction` are published by the outbox.

use std::collections::HashMap;

use biz::error::RepoError;
use dapr::dapr::proto::common::v1::state_options::StateConcurrency;
use dapr::dapr::proto::common::v1::{Etag, StateItem, StateOptions};
use dapr::dapr::proto::runtime::v1::{
    DeleteStateRequest, ExecuteStateTransactionRequest, GetBulkStateRequest, GetStateRequest,
    SaveStateRequest, TransactionalStateOperation,
};
use tonic::{Code, Status};

use crate::sidecar::DaprSidecar;

/// Metadata that makes an upsert the outbox projection of the upsert of the same key: the event
/// carries the projection's value, the store keeps the other one.
const OUTBOX_PROJECTION: &str = "outbox.projection";
/// Per-operation metadata naming the value's content type.
const CONTENT_TYPE: &str = "contentType";
/// Metadata giving a record a time to live, in seconds (redis, SQLite and most stores honour it).
pub(crate) const TTL_IN_SECONDS: &str = "ttlInSeconds";

/// A stored value and its ETag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The value's bytes.
    pub(crate) data: Vec<u8>,
    /// Its version.
    pub(crate) etag: String,
}

/// What a write requires of the current record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Precondition {
    /// Nothing: the write wins whatever is there.
    None,
    /// No record may exist (first-write concurrency without an ETag).
    Absent,
    /// The record must be at exactly this version.
    Matches(String),
}

impl Precondition {
    fn etag(&self) -> Option<Etag> {
        match self {
            Self::Matches(etag) => Some(Etag {
                value: etag.clone(),
            }),
            Self::None | Self::Absent => None,
        }
    }

    fn options(&self) -> Option<StateOptions> {
        match self {
            Self::None => None,
            // First-write is Dapr's name for "check the ETag" as well as for "insert if absent".
            Self::Absent | Self::Matches(_) => Some(StateOptions {
                concurrency: StateConcurrency::ConcurrencyFirstWrite as i32,
                consistency: 0,
            }),
        }
    }

    fn guards(&self) -> bool {
        !matches!(self, Self::None)
    }
}

/// The failure of a call to the sidecar, in port terms. `guarded` says whether the call carried
/// a precondition: only then can an `Internal` status mean "refused by the precondition".
pub(crate) fn repo_error(status: &Status, guarded: bool) -> RepoError {
    match status.code() {
        Code::Aborted => RepoError::Conflict,
        Code::Internal if guarded && is_precondition_refusal(status.message()) => {
            RepoError::Conflict
        }
        code => RepoError::Unavailable(format!("{code:?}: {}", status.message())),
    }
}

/// Whether an `Internal` message is a store refusing a write for its precondition (see the
/// module documentation for where each text comes from).
fn is_precondition_refusal(message: &str) -> bool {
    message.contains("etag mismatch")
        || (message.contains("user_script")
            && (message.contains("failed to set key") || message.contains("failed to delete")))
}

/// Reads `key`; `None` when there is no such record (the state API answers an empty value).
pub(crate) async fn get(sidecar: &DaprSidecar, key: &str) -> Result<Option<Entry>, RepoError> {
    let response = sidecar
        .grpc()
        .get_state(GetStateRequest {
            store_name: sidecar.settings().state_store.clone(),
            key: key.to_owned(),
            ..Default::default()
        })
        .await
        .map_err(|status| repo_error(&status, false))?
        .into_inner();
    Ok((!response.data.is_empty()).then_some(Entry {
        data: response.data,
        etag: response.etag,
    }))
}

/// Reads several keys in one call; the answer has one entry per key, in the order given.
pub(crate) async fn get_bulk(
    sidecar: &DaprSidecar,
    keys: &[String],
) -> Result<Vec<Option<Entry>>, RepoError> {
    let response = sidecar
        .grpc()
        .get_bulk_state(GetBulkStateRequest {
            store_name: sidecar.settings().state_store.clone(),
            keys: keys.to_vec(),
            ..Default::default()
        })
        .await
        .map_err(|status| repo_error(&status, false))?
        .into_inner();
    let mut found: HashMap<String, Entry> = HashMap::with_capacity(response.items.len());
    for item in response.items {
        if !item.error.is_empty() {
            return Err(RepoError::Unavailable(format!(
                "reading {}: {}",
                item.key, item.error
            )));
        }
        if !item.data.is_empty() {
            found.insert(
                item.key,
                Entry {
                    data: item.data,
                    etag: item.etag,
                },
            );
        }
    }
    Ok(keys.iter().map(|key| found.remove(key)).collect())
}

/// Writes `value` under `key` if `precondition` holds ([`RepoError::Conflict`] otherwise).
/// Not published by the outbox: for bookkeeping records, never for domain state.
pub(crate) async fn save(
    sidecar: &DaprSidecar,
    key: &str,
    value: Vec<u8>,
    precondition: Precondition,
    metadata: HashMap<String, String>,
) -> Result<(), RepoError> {
    sidecar
        .grpc()
        .save_state(SaveStateRequest {
            store_name: sidecar.settings().state_store.clone(),
            states: vec![StateItem {
                key: key.to_owned(),
                value,
                etag: precondition.etag(),
                options: precondition.options(),
                metadata,
            }],
        })
        .await
        .map(drop)
        .map_err(|status| repo_error(&status, precondition.guards()))
}

/// Deletes `key` if `precondition` holds. Deleting a missing key is no error.
pub(crate) async fn delete(
    sidecar: &DaprSidecar,
    key: &str,
    precondition: Precondition,
) -> Result<(), RepoError> {
    sidecar
        .grpc()
        .delete_state(DeleteStateRequest {
            store_name: sidecar.settings().state_store.clone(),
            key: key.to_owned(),
            etag: precondition.etag(),
            options: precondition.options(),
            metadata: HashMap::new(),
        })
        .await
        .map(drop)
        .map_err(|status| repo_error(&status, precondition.guards()))
}

/// The CloudEvent an upsert publishes through the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OutboxEvent {
    /// CloudEvent `type`, e.g. `stock.created`.
    pub(crate) event_type: &'static str,
    /// CloudEvent `subject`: the id of the record the event is about.
    pub(crate) subject: String,
    /// The event's JSON: the CloudEvent `data`.
    pub(crate) data: Vec<u8>,
}

/// The operations of one `ExecuteStateTransaction`, committed together.
#[derive(Debug, Default)]
pub(crate) struct Transaction {
    operations: Vec<TransactionalStateOperation>,
    guarded: bool,
}

impl Transaction {
    /// An empty transaction.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Stores `value` under `key` if `precondition` holds, and publishes `event` (not `value`)
    /// through the outbox.
    pub(crate) fn upsert_publishing(
        &mut self,
        key: &str,
        value: Vec<u8>,
        precondition: Precondition,
        event: OutboxEvent,
    ) {
        // The projection goes FIRST: daprd 1.18 removes projections from the operation list while
        // iterating over it (pkg/runtime/pubsub/outbox.go), which skips the operation right after
        // each one it removes. Skipping a stored upsert is harmless; skipping the next projection
        // would store and publish it as a record. Projection-then-upsert pairs are safe for any
        // number of pairs.
        let projection_metadata = HashMap::from([
            (OUTBOX_PROJECTION.to_owned(), "true".to_owned()),
            // Only the projection names a content type: the projection never reaches the store,
            // while redis refuses a stored upsert that says `application/json` (it would need
            // RedisJSON). Subscribers then get `data` as a JSON object instead of a string.
            (CONTENT_TYPE.to_owned(), "application/json".to_owned()),
        ]);
        self.operations.push(upsert_operation(
            key,
            event.data,
            &Precondition::None,
            projection_metadata,
        ));
        // The outbox copies every metadata entry of the stored upsert into the CloudEvent.
        let event_metadata = HashMap::from([
            ("type".to_owned(), event.event_type.to_owned()),
            ("subject".to_owned(), event.subject),
        ]);
        self.operations
            .push(upsert_operation(key, value, &precondition, event_metadata));
        self.guarded |= precondition.guards();
    }

    /// Deletes `key` if `precondition` holds.
    pub(crate) fn delete(&mut self, key: &str, precondition: Precondition) {
        self.operations.push(TransactionalStateOperation {
            operation_type: "delete".into(),
            request: Some(StateItem {
                key: key.to_owned(),
                etag: precondition.etag(),
                options: precondition.options(),
                ..Default::default()
            }),
        });
        self.guarded |= precondition.guards();
    }

    /// Commits the operations; [`RepoError::Conflict`] when a precondition does not hold.
    pub(crate) async fn commit(self, sidecar: &DaprSidecar) -> Result<(), RepoError> {
        sidecar
            .grpc()
            .execute_state_transaction(ExecuteStateTransactionRequest {
                store_name: sidecar.settings().state_store.clone(),
                operations: self.operations,
                metadata: HashMap::new(),
            })
            .await
            .map(drop)
            .map_err(|status| repo_error(&status, self.guarded))
    }
}

fn upsert_operation(
    key: &str,
    value: Vec<u8>,
    precondition: &Precondition,
    metadata: HashMap<String, String>,
) -> TransactionalStateOperation {
    TransactionalStateOperation {
        operation_type: "upsert".into(),
        request: Some(StateItem {
            key: key.to_owned(),
            value,
            etag: precondition.etag(),
            options: precondition.options(),
            metadata,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Messages as daprd 1.18.2 answers them (captured against a real sidecar).
    const REDIS_TX_STALE_SET: &str = "error while executing state transaction: ERR user_script:14: failed to set key \
                                      orders||stock/1 script: d908b9553add63a82e03589b5c6d01a7654ef0f2, on @user_script:14.";
    const REDIS_TX_STALE_DELETE: &str = "error while executing state transaction: ERR user_script:6: failed to delete \
                                         orders||stock/1 script: 2446db0de2c963f100727b388f03ead01d18c265, on @user_script:6.";
    const REDIS_FIRST_WRITE_LOST: &str = "failed saving state in state store statestore: failed to set key orders||k: ERR \
                                          user_script:14: failed to set key orders||k script: d908b9553add63a82e03589b5c6d01a7654ef0f2, on @user_script:14.";
    const REDIS_DOWN_SAVE: &str = "failed saving state in state store statestore: failed to set key orders||k: dial tcp \
                                   127.0.0.1:6379: connect: connection refused";
    const REDIS_DOWN_TX: &str = "error while executing state transaction: dial tcp 127.0.0.1:6379: connect: connection refused";
    const SQLITE_TX_STALE: &str =
        "error while executing state transaction: possible etag mismatch. error from state store";

    #[test]
    fn aborted_is_a_conflict() {
        assert!(matches!(
            repo_error(&Status::aborted("possible etag mismatch"), true),
            RepoError::Conflict
        ));
    }

    #[test]
    fn refusals_of_guarded_writes_reported_as_internal_are_conflicts() {
        for message in [
            REDIS_TX_STALE_SET,
            REDIS_TX_STALE_DELETE,
            REDIS_FIRST_WRITE_LOST,
            SQLITE_TX_STALE,
        ] {
            assert!(
                matches!(
                    repo_error(&Status::internal(message), true),
                    RepoError::Conflict
                ),
                "{message}"
            );
        }
    }

    #[test]
    fn a_store_outage_is_never_a_conflict() {
        // "failed to set key" alone also prefixes connection failures: they must stay retryable outages.
        for message in [REDIS_DOWN_SAVE, REDIS_DOWN_TX] {
            match repo_error(&Status::internal(message), true) {
                RepoError::Unavailable(detail) => {
                    assert!(detail.contains("connection refused"), "{detail}")
                }
                other => panic!("{message}: expected Unavailable, got {other:?}"),
            }
        }
    }

    #[test]
    fn an_unguarded_write_has_no_conflict_to_report() {
        assert!(matches!(
            repo_error(&Status::internal(SQLITE_TX_STALE), false),
            RepoError::Unavailable(_)
        ));
    }

    #[test]
    fn other_statuses_are_outages_that_keep_their_code() {
        for status in [
            Status::unavailable("connection refused"),
            Status::unauthenticated("no token"),
            Status::deadline_exceeded("slow"),
        ] {
            match repo_error(&status, true) {
                RepoError::Unavailable(detail) => {
                    assert!(detail.contains(&format!("{:?}", status.code())), "{detail}")
                }
                other => panic!("expected Unavailable, got {other:?}"),
            }
        }
    }

    #[test]
    fn preconditions_become_etags_and_first_write_concurrency() {
        assert_eq!(
            (Precondition::None.etag(), Precondition::None.options()),
            (None, None)
        );
        let first_write = Some(StateConcurrency::ConcurrencyFirstWrite as i32);
        assert_eq!(Precondition::Absent.etag(), None);
        assert_eq!(
            Precondition::Absent
                .options()
                .map(|options| options.concurrency),
            first_write
        );
        let matches = Precondition::Matches("7".into());
        assert_eq!(matches.etag(), Some(Etag { value: "7".into() }));
        assert_eq!(
            matches.options().map(|options| options.concurrency),
            first_write
        );
    }

    #[test]
    fn a_published_upsert_is_its_projection_then_the_stored_value() {
        let mut transaction = Transaction::new();
        let event = OutboxEvent {
            event_type: "stock.updated",
            subject: "1".into(),
            data: b"{\"event\":1}".to_vec(),
        };
        transaction.upsert_publishing(
            "stock/1",
            b"{\"record\":1}".to_vec(),
            Precondition::Matches("3".into()),
            event,
        );
        let [projection, stored] = &transaction.operations[..] else {
            panic!("two operations expected")
        };
        let (projection, stored) = (
            projection.request.as_ref().unwrap(),
            stored.request.as_ref().unwrap(),
        );
        assert_eq!(
            (projection.key.as_str(), stored.key.as_str()),
            ("stock/1", "stock/1")
        );
        assert_eq!(projection.value, b"{\"event\":1}");
        assert_eq!(projection.metadata[OUTBOX_PROJECTION], "true");
        assert_eq!(projection.etag, None);
        assert_eq!(stored.value, b"{\"record\":1}");
        assert_eq!(stored.etag, Some(Etag { value: "3".into() }));
        assert_eq!(
            (
                stored.metadata["type"].as_str(),
                stored.metadata["subject"].as_str()
            ),
            ("stock.updated", "1")
        );
        assert!(
            !stored.metadata.contains_key(CONTENT_TYPE),
            "redis refuses stored JSON content types"
        );
        assert!(transaction.guarded);
    }
}
