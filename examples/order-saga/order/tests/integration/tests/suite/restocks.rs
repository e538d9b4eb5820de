//! Restock runs on Dapr Workflow: started over the API, run by the workflow engine to the end.

use std::time::{Duration, Instant};

use support::{Refusal, RestockProgress};

use crate::service;

/// Longest a two-line run may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dapr_integration),
    ignore = "needs a Dapr runtime: run with DAPR_INTEGRATION=1 (tests/integration/README.md)"
)]
async fn a_restock_run_completes_and_applies_every_line() {
    let service = service().await;
    let client = service.client().await.unwrap();
    let first = client.create("first", 1).await.unwrap();
    let second = client.create("second", 2).await.unwrap();

    let run = client
        .start_restock(&[(&first.id, 5), (&second.id, 7)])
        .await
        .expect("the run starts");
    let started = Instant::now();
    let outcome = loop {
        match client.restock(&run).await.expect("the run can be read") {
            RestockProgress::Running if started.elapsed() < RUN_TIMEOUT => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            outcome => break outcome,
        }
    };
    assert_eq!(
        outcome,
        RestockProgress::Completed {
            lines_applied: 2,
            quantity_added: 12
        }
    );
    assert_eq!(client.get(&first.id).await.unwrap().quantity, 6);
    assert_eq!(client.get(&second.id).await.unwrap().quantity, 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dapr_integration),
    ignore = "needs a Dapr runtime: run with DAPR_INTEGRATION=1 (tests/integration/README.md)"
)]
async fn an_invalid_restock_is_refused_before_it_starts() {
    let service = service().await;
    let client = service.client().await.unwrap();
    let stock = client.create("stock", 1).await.unwrap();
    for (what, lines) in [
        ("no lines", vec![]),
        (
            "a quantity that is not positive",
            vec![(stock.id.as_str(), 0)],
        ),
    ] {
        let outcome = client.start_restock(&lines).await;
        assert!(
            matches!(outcome, Err(Refusal::Invalid(_))),
            "a restock of {what}: {outcome:?}"
        );
    }
    assert_eq!(client.restock("no-such-run").await, Err(Refusal::NotFound));
}
