//! The shaku module wires each use case to the adapters behind its ports: built here with mocks
//! in place of the Dapr adapters (no sidecar), every use case reaches the mock it depends on.

mod common;

use std::sync::Arc;

use biz::error::RepoError;
use biz::idempotency::{Fingerprint, Idempotency, IdempotencyKey, IdempotencyRecord};
use biz::order::OrderId;
use biz::order_adjustment::{Disposition, OrderAdjustments};
use biz::order_usecase::{OrderError, OrderUsecase};
use biz::workflow::{RestockError, Restocks};
use common::Adapters;
use mockall::predicate::eq;
use shaku::HasComponent;

#[tokio::test]
async fn the_order_use_cases_read_through_the_repo() {
    let id = OrderId::new();
    let mut adapters = Adapters::default();
    adapters
        .repo
        .expect_get()
        .with(eq(id))
        .times(1)
        .returning(|_| Err(RepoError::NotFound));
    let module = adapters.module();
    let orders: Arc<dyn OrderUsecase> = module.resolve();
    assert!(matches!(orders.get(id).await, Err(OrderError::NotFound(missing)) if missing == id));
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
    let adjustments: Arc<dyn OrderAdjustments> = adapters.module().resolve();
    let request = serde_json::json!({ "order_id": OrderId::new().to_string(), "delta": 1 });
    assert_eq!(
        adjustments.handle("event-1", &request).await,
        Disposition::Drop
    );
}

#[tokio::test]
async fn restocks_run_on_the_workflow_adapter() {
    let mut adapters = Adapters::default();
    adapters
        .workflow
        .expect_status()
        .with(eq("run-1"))
        .times(1)
        .returning(|_| Ok(None));
    let restocks: Arc<dyn Restocks> = adapters.module().resolve();
    assert!(
        matches!(restocks.status("run-1").await, Err(RestockError::NotFound(id)) if id == "run-1")
    );
}
