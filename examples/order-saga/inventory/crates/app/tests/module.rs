//! The shaku module wires each use case to the adapters behind its ports: built here with mocks
//! in place of the Dapr adapters (no sidecar), every use case reaches the mock it depends on.

mod common;

use std::sync::Arc;

use biz::error::RepoError;
use biz::idempotency::{Fingerprint, Idempotency, IdempotencyKey, IdempotencyRecord};
use biz::stock::StockId;
use biz::stock_adjustment::{Disposition, StockAdjustments};
use biz::stock_transfer::{StockTransfers, TransferError};
use biz::stock_usecase::{StockError, StockUsecase};
use common::Adapters;
use mockall::predicate::eq;
use shaku::HasComponent;

#[tokio::test]
async fn the_stock_use_cases_read_through_the_repo() {
    let id = StockId::new();
    let mut adapters = Adapters::default();
    adapters
        .repo
        .expect_get()
        .with(eq(id))
        .times(1)
        .returning(|_| Err(RepoError::NotFound));
    let module = adapters.module();
    let stocks: Arc<dyn StockUsecase> = module.resolve();
    assert!(matches!(stocks.get(id).await, Err(StockError::NotFound(missing)) if missing == id));
}

#[tokio::test]
async fn idempotency_claims_keys_in_its_store() {
    let key = IdempotencyKey::parse("retry-1").unwrap();
    let fingerprint = Fingerprint("digest".into());
    let mut adapters = Adapters::default();
    adapters
        .idempotency
        .expect_claim()
        .times(1)
        .returning(|_, _| Err(RepoError::AlreadyExists));
    let first = IdempotencyRecord::InFlight {
        fingerprint: fingerprint.clone(),
    };
    adapters
        .idempotency
        .expect_get()
        .times(1)
        .returning(move |_| Ok(Some(first.clone())));
    let idempotency: Arc<dyn Idempotency> = adapters.module().resolve();
    assert!(
        idempotency.begin(&key, &fingerprint).await.is_err(),
        "a request in flight holds the key"
    );
}

#[tokio::test]
async fn adjustment_events_reach_the_use_case_and_its_repo() {
    let mut adapters = Adapters::default();
    adapters
        .repo
        .expect_modify()
        .times(1)
        .returning(|_, _, _| Err(RepoError::NotFound.into()));
    let adjustments: Arc<dyn StockAdjustments> = adapters.module().resolve();
    let request = serde_json::json!({ "stock_id": StockId::new().to_string(), "delta": 1 });
    assert_eq!(
        adjustments.handle("event-1", &request).await,
        Disposition::Drop
    );
}

#[tokio::test]
async fn transfers_take_the_lock_before_touching_the_repo() {
    let mut adapters = Adapters::default();
    adapters
        .lock
        .expect_try_acquire()
        .times(1)
        .returning(|_, _| Ok(None));
    adapters.repo.expect_get().never();
    let transfers: Arc<dyn StockTransfers> = adapters.module().resolve();
    let outcome = transfers
        .transfer("transfer-1".into(), StockId::new(), StockId::new(), 1)
        .await;
    assert!(
        matches!(outcome, Err(TransferError::Busy(_))),
        "{outcome:?}"
    );
}
