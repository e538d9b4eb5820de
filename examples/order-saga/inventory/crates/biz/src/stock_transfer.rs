//! Moving quantity from one stock to another: two records that must change together. The
//! distributed lock keeps concurrent transfers touching the same stocks from interleaving
//! (a state store transaction alone is not enough: on redis a transaction is not rolled back
//! when one of its writes meets a stale ETag).

use std::sync::Arc;

use async_trait::async_trait;
use shaku::{Component, Interface};

use crate::error::RepoError;
use crate::lock::{DistributedLock, LockError, with_locks};
use crate::stock::{Stock, StockEvent, StockId, Stored, ValidationError};
use crate::stock_repo::{Replacement, StockRepo};

/// How long a transfer may hold its locks. Far longer than a transfer takes; only matters when
/// the process dies while holding them.
pub const TRANSFER_LEASE_SECONDS: u32 = 10;

/// Why a transfer did not happen.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The request breaks a rule (same stock twice, amount not positive, not enough quantity).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// One of the stocks does not exist.
    #[error("stock {0} not found")]
    NotFound(StockId),
    /// Another transfer holds one of the stocks, or a concurrent write intervened: try again.
    #[error("stock {0} is busy, try again")]
    Busy(String),
    /// Storage or the lock store failed.
    #[error("storage unavailable")]
    Unavailable(#[source] RepoError),
}

/// The completed transfer: both stocks as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Transfer {
    /// The stock the quantity was taken from.
    pub from: Stored<Stock>,
    /// The stock it was added to.
    pub to: Stored<Stock>,
}

/// Transfers quantity between stocks.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait StockTransfers: Interface {
    /// Moves `amount` from `from` to `to`, atomically for every other transfer.
    async fn transfer(
        &self,
        transfer_id: String,
        from: StockId,
        to: StockId,
        amount: i64,
    ) -> Result<Transfer, TransferError>;
}

/// [`StockTransfers`] on top of the repo and the lock ports.
#[derive(Component)]
#[shaku(interface = StockTransfers)]
pub struct StockTransferInteractor {
    #[shaku(inject)]
    repo: Arc<dyn StockRepo>,
    #[shaku(inject)]
    lock: Arc<dyn DistributedLock>,
}

impl StockTransferInteractor {
    /// An interactor over `repo` and `lock` (shaku builds it the same way).
    pub fn new(repo: Arc<dyn StockRepo>, lock: Arc<dyn DistributedLock>) -> Self {
        Self { repo, lock }
    }

    async fn read(&self, id: StockId) -> Result<Stored<Stock>, TransferError> {
        self.repo.get(id).await.map_err(|error| match error {
            RepoError::NotFound => TransferError::NotFound(id),
            other => TransferError::Unavailable(other),
        })
    }

    async fn transfer_locked(
        &self,
        transfer_id: &str,
        from: StockId,
        to: StockId,
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
        let etags = self
            .repo
            .replace_all(&replacements)
            .await
            .map_err(|error| match error {
                RepoError::Conflict => TransferError::Busy(from.to_string()),
                other => TransferError::Unavailable(other),
            })?;
        let [taken, given] = replacements;
        Ok(Transfer {
            from: Stored {
                value: taken.stock,
                etag: etags[0].clone(),
            },
            to: Stored {
                value: given.stock,
                etag: etags[1].clone(),
            },
        })
    }
}

fn replacement(stock: Stock, etag: crate::stock::Etag, delta: i64) -> Replacement {
    let event = StockEvent::Adjusted {
        stock: (&stock).into(),
        delta,
    };
    Replacement { stock, etag, event }
}

/// The lock resource name of a stock.
pub fn lock_resource(id: StockId) -> String {
    format!("stock/{id}")
}

#[async_trait]
impl StockTransfers for StockTransferInteractor {
    async fn transfer(
        &self,
        transfer_id: String,
        from: StockId,
        to: StockId,
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

#[cfg(test)]
mod tests {
    use mockall::Sequence;

    use super::*;
    use crate::lock::{Lease, MockDistributedLock};
    use crate::stock::{Etag, StockInput};
    use crate::stock_repo::MockStockRepo;

    fn stored(quantity: i64, etag: &str) -> Stored<Stock> {
        let stock = Stock::create(
            StockId::new(),
            StockInput {
                name: "n".into(),
                quantity,
            },
        );
        Stored {
            value: stock,
            etag: Etag(etag.into()),
        }
    }

    fn lease(resource: &str) -> Lease {
        Lease {
            resource: resource.into(),
            owner: "me".into(),
        }
    }

    /// A lock that grants everything, in sequence, and expects every lease back in reverse order.
    fn granting_lock(resources: &[String], order: &mut Sequence) -> MockDistributedLock {
        let mut sorted = resources.to_vec();
        sorted.sort();
        let mut lock = MockDistributedLock::new();
        for resource in &sorted {
            let name = resource.clone();
            lock.expect_try_acquire()
                .withf(move |r, lease| *r == name && *lease == TRANSFER_LEASE_SECONDS)
                .times(1)
                .in_sequence(order)
                .returning(|r, _| Ok(Some(lease(r))));
        }
        lock
    }

    fn expect_releases(lock: &mut MockDistributedLock, resources: &[String], order: &mut Sequence) {
        let mut sorted = resources.to_vec();
        sorted.sort();
        for resource in sorted.into_iter().rev() {
            lock.expect_release()
                .withf(move |lease| lease.resource == resource)
                .times(1)
                .in_sequence(order)
                .returning(|_| Ok(()));
        }
    }

    #[tokio::test]
    async fn transfer_locks_both_reads_writes_once_and_releases_in_reverse() {
        let (source, target) = (stored(10, "s1"), stored(1, "t1"));
        let (from, to) = (source.value.id, target.value.id);
        let resources = [lock_resource(from), lock_resource(to)];
        let mut order = Sequence::new();
        let mut lock = granting_lock(&resources, &mut order);
        let mut repo = MockStockRepo::new();
        repo.expect_get()
            .with(mockall::predicate::eq(from))
            .times(1)
            .in_sequence(&mut order)
            .returning(move |_| Ok(source.clone()));
        repo.expect_get()
            .with(mockall::predicate::eq(to))
            .times(1)
            .in_sequence(&mut order)
            .returning(move |_| Ok(target.clone()));
        repo.expect_replace_all()
            .withf(|all| {
                all.len() == 2
                    && all[0].etag.0 == "s1"
                    && all[0].stock.quantity == 6
                    && all[1].etag.0 == "t1"
                    && all[1].stock.quantity == 5
                    && matches!(all[0].event, StockEvent::Adjusted { delta: -4, .. })
                    && matches!(all[1].event, StockEvent::Adjusted { delta: 4, .. })
            })
            .times(1)
            .in_sequence(&mut order)
            .returning(|_| Ok(vec![Etag("s2".into()), Etag("t2".into())]));
        expect_releases(&mut lock, &resources, &mut order);

        let usecase = StockTransferInteractor::new(Arc::new(repo), Arc::new(lock));
        let done = usecase.transfer("tr-1".into(), from, to, 4).await.unwrap();
        assert_eq!((done.from.value.quantity, done.to.value.quantity), (6, 5));
        assert!(done.from.value.has_applied("tr-1") && done.to.value.has_applied("tr-1"));
    }

    #[tokio::test]
    async fn insufficient_quantity_is_refused_and_the_locks_are_still_released() {
        let (source, target) = (stored(2, "s1"), stored(1, "t1"));
        let (from, to) = (source.value.id, target.value.id);
        let resources = [lock_resource(from), lock_resource(to)];
        let mut order = Sequence::new();
        let mut lock = granting_lock(&resources, &mut order);
        let mut repo = MockStockRepo::new();
        repo.expect_get()
            .with(mockall::predicate::eq(from))
            .returning(move |_| Ok(source.clone()));
        repo.expect_get()
            .with(mockall::predicate::eq(to))
            .returning(move |_| Ok(target.clone()));
        expect_releases(&mut lock, &resources, &mut order);
        let usecase = StockTransferInteractor::new(Arc::new(repo), Arc::new(lock));
        let error = usecase
            .transfer("tr".into(), from, to, 5)
            .await
            .unwrap_err();
        assert!(matches!(error, TransferError::Invalid(_)), "{error:?}");
    }

    #[tokio::test]
    async fn a_held_lock_means_busy_and_only_what_was_taken_is_released() {
        let (from, to) = (StockId::new(), StockId::new());
        let mut resources = [lock_resource(from), lock_resource(to)];
        resources.sort();
        let mut order = Sequence::new();
        let mut lock = MockDistributedLock::new();
        let first = resources[0].clone();
        lock.expect_try_acquire()
            .withf(move |r, _| *r == first)
            .times(1)
            .in_sequence(&mut order)
            .returning(|r, _| Ok(Some(lease(r))));
        lock.expect_try_acquire()
            .times(1)
            .in_sequence(&mut order)
            .returning(|_, _| Ok(None));
        let taken = resources[0].clone();
        lock.expect_release()
            .withf(move |lease| lease.resource == taken)
            .times(1)
            .in_sequence(&mut order)
            .returning(|_| Ok(()));
        let usecase = StockTransferInteractor::new(Arc::new(MockStockRepo::new()), Arc::new(lock));
        let error = usecase
            .transfer("tr".into(), from, to, 1)
            .await
            .unwrap_err();
        assert!(
            matches!(error, TransferError::Busy(ref r) if *r == resources[1]),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn bad_requests_are_refused_before_locking() {
        let usecase = StockTransferInteractor::new(
            Arc::new(MockStockRepo::new()),
            Arc::new(MockDistributedLock::new()),
        );
        let id = StockId::new();
        assert!(matches!(
            usecase.transfer("t".into(), id, id, 1).await,
            Err(TransferError::Invalid(_))
        ));
        let other = StockId::new();
        assert!(matches!(
            usecase.transfer("t".into(), id, other, 0).await,
            Err(TransferError::Invalid(_))
        ));
    }
}
