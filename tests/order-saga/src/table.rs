//! The outcome table: one row per order, plain text, aligned.

use crate::order::OrderResult;

/// How much of a saga id the table shows: enough to tell orders apart, and to grep the logs.
const SHORT_ID: usize = 8;

/// One row per order: id (short), what it asked, status, steps done, compensations, failure reason.
pub fn outcome_table(results: &[OrderResult]) -> String {
    let header = ["order", "asked", "status", "done", "compensated", "reason"];
    let rows: Vec<[String; 6]> = results
        .iter()
        .map(|result| {
            let saga = &result.saga;
            [
                saga.id.chars().take(SHORT_ID).collect(),
                result.order.label.clone(),
                result.status().to_string(),
                list(&saga.done),
                list(&saga.compensated),
                saga.failure_reason(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 6]| {
        let mut text = String::new();
        for (index, (cell, width)) in cells.iter().zip(widths).enumerate() {
            if index + 1 == cells.len() {
                // The last column is not padded: no trailing blanks.
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  "));
            }
        }
        text.trim_end().to_owned()
    };
    let mut table = vec![
        line(header),
        line(widths.map(|width| "-".repeat(width)).each_ref().map(String::as_str)),
    ];
    table.extend(rows.iter().map(|row| line(row.each_ref().map(String::as_str))));
    table.join("\n") + "\n"
}

/// `a, b` or `-` when empty.
fn list(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::outcome_table;
    use crate::order::{Order, OrderResult};

    #[test]
    fn rows_are_aligned_under_their_headers() {
        let result = |saga| OrderResult {
            order: Order::new(("s", "SKU-1"), 2, ("a", "alice"), 1500),
            saga: serde_json::from_value(saga).unwrap(),
            latency: Duration::ZERO,
        };
        let table = outcome_table(&[
            result(json!({"id": "0123456789", "status": "completed",
                       "done": ["reserve_stock", "charge_payment", "confirm_order"], "compensated": []})),
            result(json!({"id": "abc", "status": "compensated", "done": ["reserve_stock"],
                       "compensated": ["release_stock"],
                       "failure": {"operation": "charge_payment", "refused": true, "reason": "declined"}})),
        ]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert!(
            lines[2].starts_with("01234567  2 x SKU-1, 15.00 from alice  COMPLETED  "),
            "{table}"
        );
        let status_column = lines[0].find("status").unwrap();
        assert_eq!(lines[3].find("CANCELLED"), Some(status_column), "{table}");
        assert!(lines[3].ends_with("charge_payment refused: declined"), "{table}");
    }
}
