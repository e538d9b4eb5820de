//! Bodies of the HTTP API: what clients send and receive, as JSON. The OpenAPI document
//! (`openapi.json`) describes them through their `ToSchema` derives, so the doc comments here
//! are what clients read.
//!
//! Request bodies refuse unknown fields: a misspelt field is an error, not silently ignored.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The fields of a new stock, or the replacement of a stored one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockBody {
    /// Display name, 1 to 200 characters after trimming.
    #[schema(example = "Blue widget")]
    pub name: String,
    /// Quantity on hand, not negative.
    #[schema(example = 12)]
    pub quantity: i64,
}

/// A stored stock. Its current version tag is in the `ETag` response header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StockDto {
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

/// One page of stocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StockPage {
    /// The stocks, in creation order.
    pub items: Vec<StockDto>,
    /// Pass it as `page_token` to get the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// Moves quantity from one stock to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    /// Id of the stock to take from.
    #[schema(format = Uuid)]
    pub from: String,
    /// Id of the stock to add to; must differ from `from`.
    #[schema(format = Uuid)]
    pub to: String,
    /// How much to move, positive.
    #[schema(example = 3)]
    pub amount: i64,
}

/// Both stocks after a transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TransferDto {
    /// The stock taken from.
    pub from: StockDto,
    /// The stock added to.
    pub to: StockDto,
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
