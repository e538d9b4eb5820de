//! Adjustment requests arriving as events: each applied once, however often it is delivered,
//! and answered so that the broker knows whether to retry, drop or forget it.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use shaku::{Component, Interface};

use crate::stock::StockId;
use crate::stock_usecase::StockError;
use crate::stock_usecase::StockUsecase;

/// What the broker should do with a delivered event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Handled (or already handled before): forget it.
    Success,
    /// A passing failure: deliver it again later.
    Retry,
    /// It can never succeed: send it to the dead-letter topic for a human to look at.
    Drop,
}

/// The payload of an adjustment request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentRequest {
    /// The stock to adjust.
    pub stock_id: String,
    /// What to add to its quantity (negative to take away).
    pub delta: i64,
}

/// Handles adjustment requests.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait StockAdjustments: Interface {
    /// Applies the request in `data`, delivered as event `event_id`.
    async fn handle(&self, event_id: &str, data: &serde_json::Value) -> Disposition;
}

/// Applies adjustment requests through the stock use cases; the event id is the
/// adjustment id, so a redelivery has no second effect.
#[derive(Component)]
#[shaku(interface = StockAdjustments)]
pub struct StockAdjustmentHandler {
    #[shaku(inject)]
    usecase: Arc<dyn StockUsecase>,
}

impl StockAdjustmentHandler {
    /// A handler over `usecase` (shaku builds it the same way).
    pub fn new(usecase: Arc<dyn StockUsecase>) -> Self {
        Self { usecase }
    }
}

#[async_trait]
impl StockAdjustments for StockAdjustmentHandler {
    async fn handle(&self, event_id: &str, data: &serde_json::Value) -> Disposition {
        let request = match AdjustmentRequest::deserialize(data) {
            Ok(request) => request,
            Err(error) => {
                tracing::warn!(event_id, %error, "malformed adjustment request, dropping it");
                return Disposition::Drop;
            }
        };
        let id = match StockId::parse(&request.stock_id) {
            Ok(id) => id,
            Err(error) => {
                tracing::warn!(event_id, %error, "adjustment request names no valid stock, dropping it");
                return Disposition::Drop;
            }
        };
        match self
            .usecase
            .adjust(id, event_id.to_owned(), request.delta)
            .await
        {
            Ok(_) => Disposition::Success,
            // Retrying cannot fix these: the request itself is wrong for the current state.
            Err(error @ (StockError::Invalid(_) | StockError::NotFound(_))) => {
                tracing::warn!(event_id, %error, "adjustment refused, dropping it");
                Disposition::Drop
            }
            Err(error) => {
                tracing::warn!(event_id, error = %error, source = ?std::error::Error::source(&error), "adjustment failed, will retry");
                Disposition::Retry
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::error::RepoError;
    use crate::stock::{Etag, Stock, StockInput, Stored, ValidationError};
    use crate::stock_usecase::MockStockUsecase;

    fn handler(usecase: MockStockUsecase) -> StockAdjustmentHandler {
        StockAdjustmentHandler::new(Arc::new(usecase))
    }

    #[tokio::test]
    async fn the_event_id_is_the_adjustment_id() {
        let id = StockId::new();
        let mut usecase = MockStockUsecase::new();
        usecase
            .expect_adjust()
            .withf(move |target, adjustment_id, delta| {
                *target == id && adjustment_id == "evt-1" && *delta == 3
            })
            .times(1)
            .returning(move |_, _, _| {
                let stock = Stock::create(
                    id,
                    StockInput {
                        name: "a".into(),
                        quantity: 3,
                    },
                );
                Ok(Stored {
                    value: stock,
                    etag: Etag("2".into()),
                })
            });
        let data = json!({"stock_id": id.to_string(), "delta": 3});
        assert_eq!(
            handler(usecase).handle("evt-1", &data).await,
            Disposition::Success
        );
    }

    #[tokio::test]
    async fn malformed_requests_are_dropped_without_calling_the_usecase() {
        let usecase = MockStockUsecase::new();
        let handler = handler(usecase);
        for data in [
            json!("not an object"),
            json!({"delta": 1}),
            json!({"stock_id": "not-a-uuid", "delta": 1}),
            json!({"stock_id": StockId::new().to_string(), "delta": "one"}),
            json!({"stock_id": StockId::new().to_string(), "delta": 1, "extra": true}),
        ] {
            assert_eq!(
                handler.handle("evt", &data).await,
                Disposition::Drop,
                "{data}"
            );
        }
    }

    #[tokio::test]
    async fn dispositions_follow_the_error_kind() {
        type MakeError = fn(StockId) -> StockError;
        let cases: Vec<(MakeError, Disposition)> = vec![
            (
                |_| ValidationError::new("delta", "below zero").into(),
                Disposition::Drop,
            ),
            (StockError::NotFound, Disposition::Drop),
            (StockError::Contended, Disposition::Retry),
            (
                |_| StockError::Unavailable(RepoError::Unavailable("down".into())),
                Disposition::Retry,
            ),
        ];
        for (error, expected) in cases {
            let mut usecase = MockStockUsecase::new();
            usecase
                .expect_adjust()
                .times(1)
                .returning(move |id, _, _| Err(error(id)));
            let data = json!({"stock_id": StockId::new().to_string(), "delta": -1});
            assert_eq!(handler(usecase).handle("evt", &data).await, expected);
        }
    }
}
