//! The order-saga example: `order` orchestrates the `order_fulfilment` saga on Dapr Workflow;
//! `inventory` reserves stock and `payment` charges accounts, both called through Dapr service
//! invocation with an `Idempotency-Key`. The steps below are the commands of the example's
//! README, in order.

use super::Step;

/// How the example is made.
pub(super) fn steps() -> Vec<Step> {
    let command = |args: &[&str]| Step::Command(args.iter().map(|arg| (*arg).to_owned()).collect());
    vec![
        // HTTP only: the services talk to each other through their sidecars, over HTTP.
        command(&[
            "new",
            "order",
            "--destination",
            "{dir}",
            "-d",
            "resource=order",
            "-d",
            "transport=http",
            "-d",
            "with_lock=false",
        ]),
        command(&[
            "new",
            "inventory",
            "--destination",
            "{dir}",
            "-d",
            "resource=stock",
            "-d",
            "transport=http",
            "-d",
            "with_workflow=false",
        ]),
        command(&[
            "new",
            "payment",
            "--destination",
            "{dir}",
            "-d",
            "resource=account",
            "-d",
            "transport=http",
            "-d",
            "with_workflow=false",
        ]),
        command(&[
            "add",
            "--path",
            "{dir}/order",
            "saga",
            "order_fulfilment",
            "--step",
            "reserve_stock:release_stock@inventory",
            "--step",
            "charge_payment:refund_payment@payment",
            "--step",
            "confirm_order:cancel_order@order",
        ]),
        // What all three share: failure injection for demos and tests, off by default.
        shared("order"),
        shared("inventory"),
        shared("payment"),
        // Holding stock and money for a saga: one template, two services.
        Step::Overlay {
            service: "inventory",
            overlay: "holds",
            values: vec![
                ("service", "inventory"),
                ("resource", "stock"),
                ("Resource", "Stock"),
                ("resources", "stocks"),
                ("hold", "reservation"),
                ("Hold", "Reservation"),
                ("holds", "reservations"),
                ("Holds", "Reservations"),
                ("held", "reserved"),
                ("Held", "Reserved"),
                ("undone", "released"),
                ("Undone", "Released"),
                ("subject_field", "sku"),
                ("amount_field", "quantity"),
                ("action", "reserve_stock"),
                ("compensation", "release_stock"),
                ("action_method", "reserve-stock"),
                ("compensation_method", "release-stock"),
                ("refusal_status", "409"),
                ("refusal_status_name", "CONFLICT"),
                ("refusal_title", "short stock"),
                ("Refusal_title", "Short stock"),
                ("refusal_slug", "short-stock"),
                ("shortfall_message", "short stock: {available} on hand, {asked} asked"),
                // Failure injection limits charges only (`decline_over`).
                ("limit", "None"),
                ("limit_directive", "none (`decline_over` limits charges only)"),
                ("limit_when_decline_over_500", "None"),
            ],
        },
        Step::Overlay {
            service: "payment",
            overlay: "holds",
            values: vec![
                ("service", "payment"),
                ("resource", "account"),
                ("Resource", "Account"),
                ("resources", "accounts"),
                ("hold", "charge"),
                ("Hold", "Charge"),
                ("holds", "charges"),
                ("Holds", "Charges"),
                ("held", "captured"),
                ("Held", "Captured"),
                ("undone", "refunded"),
                ("Undone", "Refunded"),
                ("subject_field", "account"),
                ("amount_field", "amount"),
                ("action", "charge_payment"),
                ("compensation", "refund_payment"),
                ("action_method", "charge-payment"),
                ("compensation_method", "refund-payment"),
                ("refusal_status", "402"),
                ("refusal_status_name", "PAYMENT_REQUIRED"),
                ("refusal_title", "declined"),
                ("Refusal_title", "Declined"),
                ("refusal_slug", "declined"),
                (
                    "shortfall_message",
                    "declined: insufficient funds (balance {available}, amount {asked})",
                ),
                ("limit", "state.failure_injection.decline_over()"),
                ("limit_directive", "`decline_over`"),
                ("limit_when_decline_over_500", "Some(500)"),
            ],
        },
        // The order's side: confirming and cancelling, and a crash after a chosen step.
        Step::Overlay {
            service: "order",
            overlay: "order",
            values: Vec::new(),
        },
        Step::RootFile("dapr.yaml"),
        Step::RootFile("README.md"),
    ]
}

fn shared(service: &'static str) -> Step {
    Step::Overlay {
        service,
        overlay: "shared",
        values: Vec::new(),
    }
}
