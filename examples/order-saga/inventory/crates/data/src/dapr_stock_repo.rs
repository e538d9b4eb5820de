//! [`StockRepo`] on the Dapr state API, publishing every change through the outbox.
//!
//! Layout in the state store:
//! - `stock/{id}`: one stock, as JSON;
//! - `stock-index`: the ids of all stocks in creation order, for [`StockRepo::list`];
//! - `stock-last-deleted`: the most recent `stock.deleted` event (see "Deletes").
//!
//! Events: every write is one `ExecuteStateTransaction` that stores the record together with an
//! `outbox.projection` carrying the serialized [`StockEvent`], so subscribers of the outbox
//! topic receive the event (CloudEvent `type` e.g. `stock.created`, `subject` the id,
//! `datacontenttype` `application/json`), never the raw record. The state store component must
//! configure the outbox (`outboxPublishPubsub`, `outboxPublishTopic`): without it the projection
//! would be stored as an ordinary upsert, which redis refuses.
//!
//! Deletes: the outbox publishes upserts only, never deletes (measured: a transaction holding
//! only a delete publishes nothing). A delete therefore also upserts `stock-last-deleted`
//! in the same transaction, and that upsert carries the `stock.deleted` event. One key for
//! all deletes: no per-id tombstones to expire, and an unconditional write that never conflicts.
//!
//! Concurrency: writers of one stock in this process take turns, and a write compares the
//! ETag itself before it starts a transaction, so this process never sends a transaction it could
//! have known to be stale. A transaction refused by the store costs more than a retry with the
//! Dapr outbox (see the `local_lock` module). Writers in other processes are still caught by the
//! store's ETag check, and `modify` retries those conflicts.
//!
//! ETags: a transaction answers no ETag, so after a write the record is read back. If another
//! writer changed it in between (or the read fails), the ETag is reported as unknown (empty): it
//! matches no version, so a client that sends it back gets a stale-version answer and re-reads,
//! instead of overwriting a change it never saw.
//!
//! State store caveats, measured against daprd 1.18:
//! - redis runs a transaction as MULTI/EXEC without rollback: when a write is refused for its
//!   ETag, the transaction's other operations and its outbox marker are still committed, so the
//!   refused write's event is published anyway. This repo compares ETags before writing, so that
//!   takes a race with a writer in another process; use the SQLite (or another transactional)
//!   store where events must match committed state exactly.
//! - redis ignores first-write concurrency inside a transaction (an insert over an existing key
//!   succeeds) and accepts an ETag for a key that no longer exists (the write re-creates it).
//!   Ids are random UUIDs, so inserts cannot collide in practice; a replace racing a delete can
//!   bring the record back on redis. SQLite refuses both.
//!
//! Listing: Dapr's state query API is alpha and unsupported by redis (without RediSearch) and
//! SQLite, so the repo keeps its own index document, updated with an ETag-guarded
//! read-modify-write (this process's updates of it take turns). The id is added before the record is stored and removed after it is
//! deleted, and listing skips ids without a record: a failure between the two steps leaves a
//! harmless dangling id, never a record that no list shows. The trade-off: every create and
//! delete rewrites one document, so they serialise on it, and the document grows with the number
//! of stocks. Right for a template and for thousands of records; at scale use a state store
//! with a query API, or a read model fed by the events.

use std::collections::HashMap;

use async_trait::async_trait;
use biz::error::RepoError;
use biz::page::{Page, PageRequest};
use biz::stock::{Etag, Stock, StockEvent, StockId, Stored};
use biz::stock_repo::{Change, ModifyError, Replacement, RetryPolicy, StockRepo};
use serde::{Deserialize, Serialize};
use shaku::Component;
use tokio::sync::Mutex;

use crate::local_lock::LocalLocks;
use crate::optimistic::retry_on_conflict;
use crate::sidecar::DaprSidecar;
use crate::state::{self, OutboxEvent, Precondition, Transaction};

/// Key of the index document.
const INDEX_KEY: &str = "stock-index";
/// Key whose upserts carry the `stock.deleted` events.
const LAST_DELETED_KEY: &str = "stock-last-deleted";
/// Retries of an index update: concurrent creates all rewrite the index, so they conflict often.
const INDEX_RETRIES: RetryPolicy = RetryPolicy {
    max_attempts: 12,
    base_delay_ms: 5,
};

/// [`StockRepo`] on the Dapr state store.
#[derive(Component)]
#[shaku(interface = StockRepo)]
pub struct DaprStockRepo {
    /// The sidecar whose state store holds the stocks.
    sidecar: DaprSidecar,
    /// Turns of this process's writers, per stock.
    #[shaku(force_default)]
    turns: LocalLocks<StockId>,
    /// Turns of this process's index updates: they would all conflict with each other otherwise.
    #[shaku(force_default)]
    index_turn: Mutex<()>,
}

impl DaprStockRepo {
    /// A repo storing through `sidecar` (shaku builds it the same way).
    pub fn new(sidecar: DaprSidecar) -> Self {
        Self {
            sidecar,
            turns: LocalLocks::default(),
            index_turn: Mutex::new(()),
        }
    }

    /// Checks, during the caller's turn, that the record is at version `etag`.
    async fn check_version(&self, id: StockId, etag: &Etag) -> Result<(), RepoError> {
        match state::get(&self.sidecar, &record_key(id)).await? {
            None => Err(RepoError::NotFound),
            Some(entry) if entry.etag == etag.0 => Ok(()),
            Some(_) => Err(RepoError::Conflict),
        }
    }

    /// Writes `stock` over version `etag` with its event (the caller holds the turn).
    async fn write_over(
        &self,
        stock: &Stock,
        etag: &Etag,
        event: &StockEvent,
    ) -> Result<Etag, RepoError> {
        let mut transaction = Transaction::new();
        transaction.upsert_publishing(
            &record_key(stock.id),
            encode(stock)?,
            Precondition::Matches(etag.0.clone()),
            outbox_event(stock.id, event)?,
        );
        match transaction.commit(&self.sidecar).await {
            Ok(()) => Ok(self.etag_of_written(stock).await),
            Err(RepoError::Conflict) => Err(self.conflict_or_gone(stock.id).await),
            Err(error) => Err(error),
        }
    }

    /// Applies `change` to `current` and writes the result over its version, unless the change
    /// writes nothing (the caller holds the turn).
    async fn apply(
        &self,
        current: Stored<Stock>,
        change: &Change,
    ) -> Result<Stored<Stock>, ModifyError> {
        let mut changed = current.value.clone();
        let Some(event) = change(&mut changed)? else {
            return Ok(current);
        };
        let etag = self.write_over(&changed, &current.etag, &event).await?;
        Ok(Stored {
            value: changed,
            etag,
        })
    }

    /// The ETag `written` is stored under now, or the unknown ETag if it was changed since.
    async fn etag_of_written(&self, written: &Stock) -> Etag {
        match state::get(&self.sidecar, &record_key(written.id)).await {
            Ok(Some(entry))
                if decode::<Stock>(&entry.data).is_ok_and(|stored| stored == *written) =>
            {
                Etag(entry.etag)
            }
            Ok(_) => {
                tracing::debug!(id = %written.id, "stock changed again before its ETag was read back");
                unknown_etag()
            }
            Err(error) => {
                tracing::warn!(id = %written.id, %error, "cannot read the ETag of a stock just written");
                unknown_etag()
            }
        }
    }

    /// After a refused write: [`RepoError::NotFound`] if the record is gone, else the conflict.
    async fn conflict_or_gone(&self, id: StockId) -> RepoError {
        match state::get(&self.sidecar, &record_key(id)).await {
            Ok(None) => RepoError::NotFound,
            Ok(Some(_)) => RepoError::Conflict,
            Err(error) => error,
        }
    }

    async fn read_index(&self) -> Result<Option<(Index, String)>, RepoError> {
        let Some(entry) = state::get(&self.sidecar, INDEX_KEY).await? else {
            return Ok(None);
        };
        Ok(Some((decode(&entry.data)?, entry.etag)))
    }

    /// Applies `edit` to the index (it answers whether it changed anything), retrying on conflict.
    async fn update_index(
        &self,
        edit: impl Fn(&mut Vec<StockId>) -> bool,
    ) -> Result<(), RepoError> {
        let _turn = self.index_turn.lock().await;
        retry_on_conflict(INDEX_RETRIES, || async {
            let (mut index, precondition) = match self.read_index().await? {
                Some((index, etag)) => (index, Precondition::Matches(etag)),
                None => (Index::default(), Precondition::Absent),
            };
            if !edit(&mut index.ids) {
                return Ok(());
            }
            state::save(
                &self.sidecar,
                INDEX_KEY,
                encode(&index)?,
                precondition,
                HashMap::new(),
            )
            .await
        })
        .await
    }
}

#[async_trait]
impl StockRepo for DaprStockRepo {
    async fn get(&self, id: StockId) -> Result<Stored<Stock>, RepoError> {
        let entry = state::get(&self.sidecar, &record_key(id))
            .await?
            .ok_or(RepoError::NotFound)?;
        Ok(Stored {
            value: decode(&entry.data)?,
            etag: Etag(entry.etag),
        })
    }

    async fn list(&self, page: &PageRequest) -> Result<Page<Stock>, RepoError> {
        let token = page.token.as_deref().map(PageToken::parse).transpose()?;
        let ids = self
            .read_index()
            .await?
            .map(|(index, _)| index.ids)
            .unwrap_or_default();
        let mut cursor = token.map_or(0, |token| token.start_in(&ids));
        let mut items = Vec::with_capacity(page.size);
        while items.len() < page.size && cursor < ids.len() {
            let batch = &ids[cursor..ids.len().min(cursor + page.size - items.len())];
            let keys: Vec<String> = batch.iter().map(|id| record_key(*id)).collect();
            for (key, entry) in keys
                .iter()
                .zip(state::get_bulk(&self.sidecar, &keys).await?)
            {
                // No record: deleted, or its insert failed after the index update. Skip it.
                let Some(entry) = entry else { continue };
                match decode(&entry.data) {
                    Ok(stock) => items.push(stock),
                    // One bad record must not make every list fail; `get` still reports it.
                    Err(error) => {
                        tracing::error!(key, %error, "skipping an unreadable stock while listing")
                    }
                }
            }
            cursor += batch.len();
        }
        let next_token = match ids[..cursor].last() {
            Some(last) if cursor < ids.len() => Some(
                PageToken {
                    offset: cursor,
                    after: *last,
                }
                .encode(),
            ),
            _ => None,
        };
        Ok(Page { items, next_token })
    }

    async fn insert(&self, stock: &Stock, event: &StockEvent) -> Result<Etag, RepoError> {
        let id = stock.id;
        // Index first: see the module documentation.
        self.update_index(|ids| {
            let absent = !ids.contains(&id);
            if absent {
                ids.push(id);
            }
            absent
        })
        .await?;
        let mut transaction = Transaction::new();
        transaction.upsert_publishing(
            &record_key(id),
            encode(stock)?,
            Precondition::Absent,
            outbox_event(id, event)?,
        );
        match transaction.commit(&self.sidecar).await {
            Ok(()) => Ok(self.etag_of_written(stock).await),
            // A refused first-write and a failure look alike on some stores: the record tells.
            Err(RepoError::Conflict) => match state::get(&self.sidecar, &record_key(id)).await? {
                Some(_) => Err(RepoError::AlreadyExists),
                None => Err(RepoError::Unavailable(format!(
                    "insert of stock {id} refused, yet no record exists"
                ))),
            },
            Err(error) => Err(error),
        }
    }

    async fn replace(
        &self,
        id: StockId,
        etag: &Etag,
        change: &Change,
    ) -> Result<Stored<Stock>, ModifyError> {
        // One read, under the turn: it checks the version the client named and is what the
        // change applies to, so no other writer of this process can slip in between.
        let _turn = self.turns.lock(&id).await;
        let current = self.get(id).await?;
        if current.etag != *etag {
            return Err(RepoError::Conflict.into());
        }
        self.apply(current, change).await
    }

    async fn replace_all(&self, replacements: &[Replacement]) -> Result<Vec<Etag>, RepoError> {
        if replacements.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<StockId> = replacements
            .iter()
            .map(|replacement| replacement.stock.id)
            .collect();
        let _turns = self.turns.lock_all(&ids).await;
        let keys: Vec<String> = ids.iter().map(|id| record_key(*id)).collect();
        let current = state::get_bulk(&self.sidecar, &keys).await?;
        // A deleted record is a change since the caller read it too: a conflict, not an absence.
        let all_current = replacements
            .iter()
            .zip(&current)
            .all(|(replacement, entry)| {
                entry
                    .as_ref()
                    .is_some_and(|entry| entry.etag == replacement.etag.0)
            });
        if !all_current {
            return Err(RepoError::Conflict);
        }
        let mut transaction = Transaction::new();
        for replacement in replacements {
            let id = replacement.stock.id;
            transaction.upsert_publishing(
                &record_key(id),
                encode(&replacement.stock)?,
                Precondition::Matches(replacement.etag.0.clone()),
                outbox_event(id, &replacement.event)?,
            );
        }
        transaction.commit(&self.sidecar).await?;
        let stored = match state::get_bulk(&self.sidecar, &keys).await {
            Ok(stored) => stored,
            Err(error) => {
                tracing::warn!(%error, "cannot read the ETags of stocks just written");
                return Ok(vec![unknown_etag(); replacements.len()]);
            }
        };
        Ok(replacements
            .iter()
            .zip(stored)
            .map(|(replacement, entry)| match entry {
                Some(entry)
                    if decode::<Stock>(&entry.data)
                        .is_ok_and(|stored| stored == replacement.stock) =>
                {
                    Etag(entry.etag)
                }
                _ => unknown_etag(),
            })
            .collect())
    }

    async fn delete(&self, id: StockId, etag: &Etag, event: &StockEvent) -> Result<(), RepoError> {
        let turn = self.turns.lock(&id).await;
        self.check_version(id, etag).await?;
        let mut transaction = Transaction::new();
        transaction.delete(&record_key(id), Precondition::Matches(etag.0.clone()));
        transaction.upsert_publishing(
            LAST_DELETED_KEY,
            encode(event)?,
            Precondition::None,
            outbox_event(id, event)?,
        );
        match transaction.commit(&self.sidecar).await {
            Ok(()) => {}
            Err(RepoError::Conflict) => return Err(self.conflict_or_gone(id).await),
            Err(error) => return Err(error),
        }
        drop(turn);
        // Record first, index after: a failure here only leaves an id that listing skips.
        if let Err(error) = self
            .update_index(|ids| {
                let before = ids.len();
                ids.retain(|listed| *listed != id);
                ids.len() != before
            })
            .await
        {
            tracing::warn!(%id, %error, "stock deleted, but its id stays in the index (listing skips it)");
        }
        Ok(())
    }

    async fn modify(
        &self,
        id: StockId,
        change: &Change,
        policy: RetryPolicy,
    ) -> Result<Stored<Stock>, ModifyError> {
        retry_on_conflict(policy, || async {
            // The turn is held for one attempt: during the back-off, other writers go ahead.
            let _turn = self.turns.lock(&id).await;
            let current = self.get(id).await?;
            self.apply(current, change).await
        })
        .await
    }
}

/// The ids of all stocks, oldest first.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    ids: Vec<StockId>,
}

/// Where the next page starts: `offset` in the index, right after id `after`. Records are only
/// appended to the index and removed from it, so an id's position can only decrease: looking
/// for `after` at or before `offset` finds the right place even when earlier records were
/// deleted meanwhile; the offset alone is the fallback when `after` itself was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PageToken {
    offset: usize,
    after: StockId,
}

impl PageToken {
    /// Parses a token this repo issued (`<offset>.<id>`).
    fn parse(text: &str) -> Result<Self, RepoError> {
        let invalid =
            || RepoError::InvalidPageToken("not a page token issued by this service".into());
        let (offset, after) = text.split_once('.').ok_or_else(invalid)?;
        Ok(Self {
            offset: offset.parse().map_err(|_| invalid())?,
            after: StockId::parse(after).map_err(|_| invalid())?,
        })
    }

    fn encode(&self) -> String {
        format!("{}.{}", self.offset, self.after)
    }

    /// The position in `ids` where the page starts.
    fn start_in(&self, ids: &[StockId]) -> usize {
        let bound = self.offset.min(ids.len());
        ids[..bound]
            .iter()
            .rposition(|id| *id == self.after)
            .map_or(bound, |position| position + 1)
    }
}

/// The key of one stock.
fn record_key(id: StockId) -> String {
    format!("stock/{id}")
}

/// An ETag that matches no stored version (see the module documentation).
fn unknown_etag() -> Etag {
    Etag(String::new())
}

fn outbox_event(id: StockId, event: &StockEvent) -> Result<OutboxEvent, RepoError> {
    Ok(OutboxEvent {
        event_type: event.event_type(),
        subject: id.to_string(),
        data: encode(event)?,
    })
}

fn encode(value: &impl Serialize) -> Result<Vec<u8>, RepoError> {
    serde_json::to_vec(value).map_err(|error| RepoError::Corrupt(format!("cannot encode: {error}")))
}

fn decode<T: for<'de> Deserialize<'de>>(data: &[u8]) -> Result<T, RepoError> {
    serde_json::from_slice(data).map_err(|error| RepoError::Corrupt(error.to_string()))
}

#[cfg(test)]
mod tests {
    use biz::stock::StockInput;

    use super::*;

    fn ids(count: usize) -> Vec<StockId> {
        (0..count).map(|_| StockId::new()).collect()
    }

    #[test]
    fn keys_are_prefixed_by_the_resource() {
        let id = StockId::new();
        assert_eq!(record_key(id), format!("stock/{id}"));
    }

    #[test]
    fn a_page_token_round_trips() {
        let token = PageToken {
            offset: 40,
            after: StockId::new(),
        };
        assert_eq!(PageToken::parse(&token.encode()).unwrap(), token);
    }

    #[test]
    fn foreign_page_tokens_are_invalid_input() {
        let id = StockId::new();
        for bad in [
            String::new(),
            "12".into(),
            format!("x.{id}"),
            format!("-1.{id}"),
            "3.not-a-uuid".into(),
            format!(".{id}"),
        ] {
            assert!(
                matches!(PageToken::parse(&bad), Err(RepoError::InvalidPageToken(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_page_starts_right_after_its_anchor() {
        let ids = ids(5);
        assert_eq!(
            PageToken {
                offset: 2,
                after: ids[1]
            }
            .start_in(&ids),
            2
        );
    }

    #[test]
    fn deletions_before_the_anchor_do_not_skip_records() {
        let mut ids = ids(6);
        let token = PageToken {
            offset: 4,
            after: ids[3],
        };
        ids.remove(0);
        ids.remove(0);
        // The anchor moved from position 3 to 1: the page starts at what was position 4.
        assert_eq!(token.start_in(&ids), 2);
    }

    #[test]
    fn a_deleted_anchor_falls_back_to_the_offset_within_bounds() {
        let mut ids = ids(4);
        let token = PageToken {
            offset: 2,
            after: ids[1],
        };
        ids.remove(1);
        assert_eq!(token.start_in(&ids), 2);
        assert_eq!(
            PageToken {
                offset: 99,
                after: StockId::new()
            }
            .start_in(&ids),
            ids.len()
        );
    }

    #[test]
    fn records_and_events_encode_as_json_and_undecodable_data_is_corrupt() {
        let stock = Stock::create(
            StockId::new(),
            StockInput {
                name: "a".into(),
                quantity: 1,
            },
        );
        assert_eq!(decode::<Stock>(&encode(&stock).unwrap()).unwrap(), stock);
        let event = StockEvent::Deleted {
            id: stock.id,
            version: 2,
        };
        let published = outbox_event(stock.id, &event).unwrap();
        assert_eq!(
            (published.event_type, published.subject),
            ("stock.deleted", stock.id.to_string())
        );
        assert_eq!(
            serde_json::from_slice::<StockEvent>(&published.data).unwrap(),
            event
        );
        assert!(matches!(
            decode::<Stock>(b"{\"id\":"),
            Err(RepoError::Corrupt(_))
        ));
    }

    #[test]
    fn the_unknown_etag_matches_no_stored_version() {
        assert!(unknown_etag().0.is_empty());
    }
}
