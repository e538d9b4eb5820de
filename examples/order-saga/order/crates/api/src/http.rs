//! Bodies of the HTTP API: what clients send and receive, as JSON. The OpenAPI document
//! (`openapi.json`) describes them through their `ToSchema` derives, so the doc comments here
//! are what clients read.
//!
//! Request bodies refuse unknown fields: a misspelt field is an error, not silently ignored.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The fields of a new order, or the replacement of a stored one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderBody {
    /// Display name, 1 to 200 characters after trimming.
    #[schema(example = "Blue widget")]
    pub name: String,
    /// Quantity on hand, not negative.
    #[schema(example = 12)]
    pub quantity: i64,
}

/// A stored order. Its current version tag is in the `ETag` response header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderDto {
    /// Its identity.
    #[schema(format = Uuid)]
    pub id: String,
    /// Display name.
    pub name: String,
    /// Quantity on hand.
    pub quantity: i64,
    /// Incremented by every change.
    pub version: u64,
}

/// One page of orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderPage {
    /// The orders, in creation order.
    pub items: Vec<OrderDto>,
    /// Pass it as `page_token` to get the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// One order to restock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestockLineBody {
    /// Id of the order.
    #[schema(format = Uuid)]
    pub order_id: String,
    /// How much to add, positive.
    #[schema(example = 5)]
    pub quantity: i64,
}

/// Starts a restock run: quantity additions applied in order, durably (a restart resumes the run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestockBody {
    /// The lines, 1 to 100 of them.
    pub lines: Vec<RestockLineBody>,
}

/// Progress of a restock run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RestockState {
    /// Started, not finished.
    Running,
    /// Finished; every line applied.
    Completed,
    /// Stopped on a line that could not be applied; earlier lines stay applied.
    Failed,
}

/// Where a restock run stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RestockDto {
    /// Its instance id.
    pub id: String,
    /// Its progress.
    pub status: RestockState,
    /// Lines applied (`completed` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines_applied: Option<u64>,
    /// Quantity added over all lines (`completed` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity_added: Option<i64>,
    /// Why it stopped (`failed` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Progress of a saga.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SagaState {
    /// Started, not finished.
    Running,
    /// Finished; every action done.
    Completed,
    /// An action failed; every step that had (or may have) taken effect was undone.
    Compensated,
    /// An action failed, and so did a compensation, after its retries: some effects are still in
    /// place, for a person to undo.
    CompensationFailed,
    /// Stopped outside of any step (terminated, or a fault of the saga's own code).
    Failed,
}

/// An operation of a saga that failed for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SagaFailureDto {
    /// The action or compensation.
    pub operation: String,
    /// Whether the other side refused it (it did not take effect); otherwise it could not be
    /// completed (it may have).
    pub refused: bool,
    /// What went wrong.
    pub reason: String,
}

/// Where a saga stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SagaDto {
    /// Its id.
    pub id: String,
    /// Its progress.
    pub status: SagaState,
    /// The actions done, in order.
    pub done: Vec<String>,
    /// The compensations done, in order.
    pub compensated: Vec<String>,
    /// The action that failed (`compensated`, `compensation_failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<SagaFailureDto>,
    /// The compensations that failed (`compensation_failed`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compensation_failures: Vec<SagaFailureDto>,
    /// Why it stopped (`failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
// daprgen:anchor http-bodies

/// An error, as RFC 9457 "Problem Details for HTTP APIs" (`application/problem+json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// Identifies the kind of problem, e.g. `urn:problem-type:stale-version`: switch on this, not
    /// on `title`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, in words a person can act on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}
