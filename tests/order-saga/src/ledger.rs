//! What was seeded, and whether stock and money still add up after a batch of orders.

use std::collections::BTreeMap;

use crate::client::{Record, SagaClient};
use crate::order::{OrderResult, OrderStatus, cents};

/// The states of a charge that mean "the money was taken". Payment names it `captured`; `charged`
/// is accepted too, as the contract leaves the word open.
const CAPTURED: [&str; 2] = ["captured", "charged"];

/// The stock records and accounts a scenario created, with their initial quantities.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    stocks: BTreeMap<String, (String, i64)>,
    accounts: BTreeMap<String, (String, i64)>,
}

/// The outcome of [`Ledger::check`].
#[derive(Debug, Clone, Default)]
pub struct LedgerCheck {
    /// Each stock and account: initial, now, and what completed orders took.
    pub summary: Vec<String>,
    /// Every broken invariant, in words; empty when all hold.
    pub violations: Vec<String>,
}

impl LedgerCheck {
    /// Ok when every invariant holds, else an error listing the broken ones.
    pub fn into_result(self) -> anyhow::Result<()> {
        if self.violations.is_empty() {
            Ok(())
        } else {
            anyhow::bail!(
                "{} invariant(s) broken:\n  {}",
                self.violations.len(),
                self.violations.join("\n  ")
            )
        }
    }
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// Creates stock `name` with `quantity` on hand and remembers it; returns its id.
    pub async fn seed_stock(&mut self, client: &SagaClient, name: &str, quantity: i64) -> anyhow::Result<String> {
        let id = client.create_stock(name, quantity).await?;
        self.stocks.insert(id.clone(), (name.to_owned(), quantity));
        Ok(id)
    }

    /// Creates account `name` with a balance of `cents` and remembers it; returns its id.
    pub async fn seed_account(&mut self, client: &SagaClient, name: &str, cents: i64) -> anyhow::Result<String> {
        let id = client.create_account(name, cents).await?;
        self.accounts.insert(id.clone(), (name.to_owned(), cents));
        Ok(id)
    }

    /// Checks, after `results` (every order placed against this ledger's stock and accounts, all
    /// finished):
    /// - stock on hand + units of completed orders == initial stock, per SKU;
    /// - balance + amounts of completed orders == initial balance, per account;
    /// - a completed order has its stock reserved, its charge captured and its fulfilment
    ///   confirmed (one record each per saga, so a retried step cannot have taken effect twice);
    /// - a cancelled order has no reservation or a released one, no charge or a refunded one, and
    ///   no fulfilment or a cancelled one.
    pub async fn check(&self, client: &SagaClient, results: &[OrderResult]) -> anyhow::Result<LedgerCheck> {
        let mut check = LedgerCheck::default();
        let completed = || {
            results
                .iter()
                .filter(|result| result.status() == OrderStatus::Completed)
        };
        for (id, (name, initial)) in &self.stocks {
            let taken: i64 = completed()
                .filter(|result| &result.order.input.sku == id)
                .map(|result| result.order.input.quantity)
                .sum();
            let on_hand = client.stock(id).await?;
            check
                .summary
                .push(format!("stock {name}: {initial} -> {on_hand} on hand ({taken} sold)"));
            if on_hand + taken != *initial {
                check.violations.push(format!(
                    "stock {name}: {on_hand} on hand + {taken} sold != {initial} at the start"
                ));
            }
        }
        for (id, (name, initial)) in &self.accounts {
            let charged: i64 = completed()
                .filter(|result| &result.order.input.account == id)
                .map(|result| result.order.input.amount)
                .sum();
            let balance = client.balance(id).await?;
            check.summary.push(format!(
                "account {name}: {} -> {} ({} charged)",
                cents(*initial),
                cents(balance),
                cents(charged)
            ));
            if balance + charged != *initial {
                check.violations.push(format!(
                    "account {name}: balance {balance} + {charged} charged != {initial} at the start"
                ));
            }
        }
        for result in results {
            check.violations.extend(records_of(client, result).await?);
        }
        Ok(check)
    }
}

/// What is wrong with the per-saga records of one finished order.
async fn records_of(client: &SagaClient, result: &OrderResult) -> anyhow::Result<Vec<String>> {
    let id = &result.saga.id;
    let (reservation, charge, fulfilment) = (
        client.reservation(id).await?,
        client.charge(id).await?,
        client.fulfilment(id).await?,
    );
    let state = |record: &Option<Record>| record.as_ref().map(|record| record.state.clone());
    let mut wrong = Vec::new();
    let mut expect = |what: &str, record: &Option<Record>, allowed: &[Option<&str>]| {
        let found = state(record);
        if !allowed.contains(&found.as_deref()) {
            wrong.push(format!(
                "order {id} ({}) ended {}, but its {what} is {}",
                result.order.label,
                result.status(),
                found.map_or("missing".to_owned(), |state| format!("{state:?}"))
            ));
        }
    };
    match result.status() {
        OrderStatus::Completed => {
            expect("reservation", &reservation, &[Some("reserved")]);
            expect("charge", &charge, &CAPTURED.map(Some));
            expect("fulfilment", &fulfilment, &[Some("confirmed")]);
        }
        OrderStatus::Cancelled => {
            expect("reservation", &reservation, &[None, Some("released")]);
            expect("charge", &charge, &[None, Some("refunded")]);
            expect("fulfilment", &fulfilment, &[None, Some("cancelled")]);
        }
        // Nothing is promised about those; the caller judges the status itself.
        OrderStatus::Running | OrderStatus::CompensationFailed | OrderStatus::Failed => {}
    }
    Ok(wrong)
}
