//! Adjustment requests arriving as events: each applied once, however often it is delivered,
//! and answered so that the broker knows whether to retry, drop or forget it.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use shaku::{Component, Interface};

use crate::{{resource}}::{{Resource}}Id;
use crate::{{resource}}_usecase::{{Resource}}Error;
use crate::{{resource}}_usecase::{{Resource}}Usecase;

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
    /// The {{resource}} to adjust.
    pub {{resource}}_id: String,
    /// What to add to its quantity (negative to take away).
    pub delta: i64,
}

/// Handles adjustment requests.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait {{Resource}}Adjustments: Interface {
    /// Applies the request in `data`, delivered as event `event_id`.
    async fn handle(&self, event_id: &str, data: &serde_json::Value) -> Disposition;
}

/// Applies adjustment requests through the {{resource}} use cases; the event id is the
/// adjustment id, so a redelivery has no second effect.
#[derive(Component)]
#[shaku(interface = {{Resource}}Adjustments)]
pub struct {{Resource}}AdjustmentHandler {
    #[shaku(inject)]
    usecase: Arc<dyn {{Resource}}Usecase>,
}

impl {{Resource}}AdjustmentHandler {
    /// A handler over `usecase` (shaku builds it the same way).
    pub fn new(usecase: Arc<dyn {{Resource}}Usecase>) -> Self {
        Self { usecase }
    }
}

#[async_trait]
impl {{Resource}}Adjustments for {{Resource}}AdjustmentHandler {
    async fn handle(&self, event_id: &str, data: &serde_json::Value) -> Disposition {
        let request = match AdjustmentRequest::deserialize(data) {
            Ok(request) => request,
            Err(error) => {
                tracing::warn!(event_id, %error, "malformed adjustment request, dropping it");
                return Disposition::Drop;
            }
        };
        let id = match {{Resource}}Id::parse(&request.{{resource}}_id) {
            Ok(id) => id,
            Err(error) => {
                tracing::warn!(event_id, %error, "adjustment request names no valid {{resource}}, dropping it");
                return Disposition::Drop;
            }
        };
        match self.usecase.adjust(id, event_id.to_owned(), request.delta).await {
            Ok(_) => Disposition::Success,
            // Retrying cannot fix these: the request itself is wrong for the current state.
            Err(error @ ({{Resource}}Error::Invalid(_) | {{Resource}}Error::NotFound(_))) => {
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
    use crate::{{resource}}::{Etag, Stored, ValidationError, {{Resource}}, {{Resource}}Input};
    use crate::{{resource}}_usecase::Mock{{Resource}}Usecase;

    fn handler(usecase: Mock{{Resource}}Usecase) -> {{Resource}}AdjustmentHandler {
        {{Resource}}AdjustmentHandler::new(Arc::new(usecase))
    }

    #[tokio::test]
    async fn the_event_id_is_the_adjustment_id() {
        let id = {{Resource}}Id::new();
        let mut usecase = Mock{{Resource}}Usecase::new();
        usecase
            .expect_adjust()
            .withf(move |target, adjustment_id, delta| *target == id && adjustment_id == "evt-1" && *delta == 3)
            .times(1)
            .returning(move |_, _, _| {
                let {{resource}} = {{Resource}}::create(id, {{Resource}}Input { name: "a".into(), quantity: 3 });
                Ok(Stored { value: {{resource}}, etag: Etag("2".into()) })
            });
        let data = json!({"{{resource}}_id": id.to_string(), "delta": 3});
        assert_eq!(handler(usecase).handle("evt-1", &data).await, Disposition::Success);
    }

    #[tokio::test]
    async fn malformed_requests_are_dropped_without_calling_the_usecase() {
        let usecase = Mock{{Resource}}Usecase::new();
        let handler = handler(usecase);
        for data in [
            json!("not an object"),
            json!({"delta": 1}),
            json!({"{{resource}}_id": "not-a-uuid", "delta": 1}),
            json!({"{{resource}}_id": {{Resource}}Id::new().to_string(), "delta": "one"}),
            json!({"{{resource}}_id": {{Resource}}Id::new().to_string(), "delta": 1, "extra": true}),
        ] {
            assert_eq!(handler.handle("evt", &data).await, Disposition::Drop, "{data}");
        }
    }

    #[tokio::test]
    async fn dispositions_follow_the_error_kind() {
        type MakeError = fn({{Resource}}Id) -> {{Resource}}Error;
        let cases: Vec<(MakeError, Disposition)> = vec![
            (|_| ValidationError::new("delta", "below zero").into(), Disposition::Drop),
            ({{Resource}}Error::NotFound, Disposition::Drop),
            ({{Resource}}Error::Contended, Disposition::Retry),
            (|_| {{Resource}}Error::Unavailable(RepoError::Unavailable("down".into())), Disposition::Retry),
        ];
        for (error, expected) in cases {
            let mut usecase = Mock{{Resource}}Usecase::new();
            usecase.expect_adjust().times(1).returning(move |id, _, _| Err(error(id)));
            let data = json!({"{{resource}}_id": {{Resource}}Id::new().to_string(), "delta": -1});
            assert_eq!(handler(usecase).handle("evt", &data).await, expected);
        }
    }
}
