//! An order as the saga sees it (its input), and how a saga ended as the order service reports it.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The saga's input: the JSON body of `POST /sagas/order-fulfilment`, passed to every operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderInput {
    /// The stock record (its id) to take from.
    pub sku: String,
    /// Units to take.
    pub quantity: i64,
    /// The account (its id) to charge.
    pub account: String,
    /// Cents to charge.
    pub amount: i64,
    /// Failure injection: operation name -> how many of its first attempts are answered 503.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failures: BTreeMap<String, u32>,
}

/// An order to place: its input, and what it asks for in words (for the outcome table).
#[derive(Debug, Clone)]
pub struct Order {
    /// What it asks for, e.g. `2 x SKU-1, 15.00 from alice`.
    pub label: String,
    /// The saga's input.
    pub input: OrderInput,
}

impl Order {
    /// An order of `quantity` units of `sku` for `amount` cents from `account`; `sku_name` and
    /// `account_name` are for the label.
    pub fn new(sku: (&str, &str), quantity: i64, account: (&str, &str), amount: i64) -> Order {
        let ((sku, sku_name), (account, account_name)) = (sku, account);
        Order {
            label: format!("{quantity} x {sku_name}, {} from {account_name}", cents(amount)),
            input: OrderInput {
                sku: sku.to_owned(),
                quantity,
                account: account.to_owned(),
                amount,
                failures: BTreeMap::new(),
            },
        }
    }

    /// The same order, with the first `attempts` attempts of `operation` failing (503).
    pub fn failing(mut self, operation: &str, attempts: u32) -> Order {
        self.input.failures.insert(operation.to_owned(), attempts);
        self.label.push_str(&format!(", {operation} fails {attempts}x"));
        self
    }
}

/// `1234` cents as `12.34`.
pub fn cents(amount: i64) -> String {
    let sign = if amount < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", amount.abs() / 100, amount.abs() % 100)
}

/// A saga as `GET /sagas/order-fulfilment/{id}` answers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SagaView {
    /// The saga id.
    pub id: String,
    /// `running`, `completed`, `compensated`, `compensation_failed` or `failed`.
    pub status: String,
    /// Actions that succeeded, in order.
    #[serde(default)]
    pub done: Vec<String>,
    /// Compensations that succeeded, in order.
    #[serde(default)]
    pub compensated: Vec<String>,
    /// The action that failed, if one did.
    #[serde(default)]
    pub failure: Option<Failure>,
    /// Compensations that failed for good.
    #[serde(default)]
    pub compensation_failures: Vec<Failure>,
    /// Why the engine stopped the saga (status `failed`).
    #[serde(default)]
    pub error: Option<String>,
}

/// An operation that failed for good.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Failure {
    /// The operation, e.g. `charge_payment`.
    pub operation: String,
    /// Refused by the other side (true), or unavailable after every retry (false).
    pub refused: bool,
    /// Why.
    pub reason: String,
}

impl SagaView {
    /// Whether the saga has finished, one way or another.
    pub fn is_finished(&self) -> bool {
        self.status != "running"
    }

    /// How the order ended.
    pub fn order_status(&self) -> OrderStatus {
        match self.status.as_str() {
            "running" => OrderStatus::Running,
            "completed" => OrderStatus::Completed,
            "compensated" => OrderStatus::Cancelled,
            "compensation_failed" => OrderStatus::CompensationFailed,
            _ => OrderStatus::Failed,
        }
    }

    /// Why it did not complete, in one line: the failed action and its reason, then any failed
    /// compensation, or the engine's error.
    pub fn failure_reason(&self) -> String {
        let mut parts: Vec<String> = self.failure.iter().map(Failure::to_string).collect();
        parts.extend(
            self.compensation_failures
                .iter()
                .map(|failure| format!("then {failure}")),
        );
        parts.extend(self.error.clone());
        parts.join("; ")
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = if self.refused { "refused" } else { "unavailable" };
        // Reasons may carry a whole problem document over several lines: keep the table flat.
        let reason = self.reason.split_whitespace().collect::<Vec<_>>().join(" ");
        write!(f, "{} {how}: {reason}", self.operation)
    }
}

/// How an order ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OrderStatus {
    /// Not finished (yet).
    Running,
    /// Every step done: stock taken, payment captured, order confirmed.
    Completed,
    /// A step failed and everything done before it was undone.
    Cancelled,
    /// A step failed and undoing an earlier one failed too: needs a person.
    CompensationFailed,
    /// The workflow engine stopped the saga outside of any step.
    Failed,
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OrderStatus::Running => "RUNNING",
            OrderStatus::Completed => "COMPLETED",
            OrderStatus::Cancelled => "CANCELLED",
            OrderStatus::CompensationFailed => "COMPENSATION_FAILED",
            OrderStatus::Failed => "FAILED",
        })
    }
}

/// One placed order and how its saga ended.
#[derive(Debug, Clone)]
pub struct OrderResult {
    /// The order placed.
    pub order: Order,
    /// The saga's last state.
    pub saga: SagaView,
    /// From the start request until the saga was seen finished (to within the poll interval).
    pub latency: Duration,
}

impl OrderResult {
    /// How the order ended.
    pub fn status(&self) -> OrderStatus {
        self.saga.order_status()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_compensated_saga_is_a_cancelled_order_with_its_reasons() {
        let saga: SagaView = serde_json::from_value(json!({
            "id": "s", "status": "compensated", "done": ["reserve_stock"], "compensated": ["release_stock"],
            "failure": {"operation": "charge_payment", "refused": true, "reason": "declined:\n  insufficient funds"},
            "compensation_failures": [],
        }))
        .unwrap();
        assert_eq!(saga.order_status(), OrderStatus::Cancelled);
        assert_eq!(
            saga.failure_reason(),
            "charge_payment refused: declined: insufficient funds"
        );
        assert_eq!(cents(-1205), "-12.05");
    }

    #[test]
    fn the_input_carries_failures_only_when_there_are_some() {
        let order = Order::new(("sku-id", "SKU-1"), 2, ("acct-id", "alice"), 1500);
        assert_eq!(order.label, "2 x SKU-1, 15.00 from alice");
        let body = serde_json::to_value(&order.input).unwrap();
        assert_eq!(
            body,
            json!({"sku": "sku-id", "quantity": 2, "account": "acct-id", "amount": 1500})
        );
        let failing = serde_json::to_value(order.failing("charge_payment", 2).input).unwrap();
        assert_eq!(failing["failures"], json!({"charge_payment": 2}));
    }
}
