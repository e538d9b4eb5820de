//! Transfers between stocks under the distributed lock: each moves quantity exactly once,
//! and concurrent transfers never create or destroy any.

use std::sync::Arc;
use std::time::Duration;

use support::Refusal;

use crate::service;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dapr_integration),
    ignore = "needs a Dapr runtime: run with DAPR_INTEGRATION=1 (tests/integration/README.md)"
)]
async fn a_transfer_moves_quantity_from_one_stock_to_another() {
    let service = service().await;
    let client = service.client().await.unwrap();
    let from = client.create("from", 10).await.unwrap();
    let to = client.create("to", 0).await.unwrap();

    client
        .transfer(&from.id, &to.id, 4)
        .await
        .expect("the transfer");
    assert_eq!(client.get(&from.id).await.unwrap().quantity, 6);
    assert_eq!(client.get(&to.id).await.unwrap().quantity, 4);

    let unknown = uuid::Uuid::new_v4().to_string();
    let refused = [
        (
            "more than there is",
            client.transfer(&from.id, &to.id, 7).await,
        ),
        ("to itself", client.transfer(&from.id, &from.id, 1).await),
        ("nothing", client.transfer(&from.id, &to.id, 0).await),
    ];
    for (what, outcome) in refused {
        assert!(
            matches!(outcome, Err(Refusal::Invalid(_))),
            "a transfer of {what}: {outcome:?}"
        );
    }
    let missing = client.transfer(&from.id, &unknown, 1).await;
    assert_eq!(missing, Err(Refusal::NotFound));
    assert_eq!(
        client.get(&from.id).await.unwrap().quantity,
        6,
        "refused transfers move nothing"
    );
    assert_eq!(
        client.get(&to.id).await.unwrap().quantity,
        4,
        "refused transfers move nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dapr_integration),
    ignore = "needs a Dapr runtime: run with DAPR_INTEGRATION=1 (tests/integration/README.md)"
)]
async fn concurrent_transfers_keep_the_total_constant() {
    const RECORDS: usize = 4;
    const TRANSFERS: usize = 40;
    const START: i64 = 50;
    let service = service().await;
    let client = Arc::new(service.client().await.unwrap());
    let mut ids = Vec::new();
    for n in 0..RECORDS {
        ids.push(client.create(&format!("pool {n}"), START).await.unwrap().id);
    }
    let ids = Arc::new(ids);

    // A ring: transfer n moves 1 to 3 from one stock to the next, so each pair of
    // neighbours is contended by several transfers at once.
    let mut transfers = tokio::task::JoinSet::new();
    for n in 0..TRANSFERS {
        let (client, ids) = (client.clone(), ids.clone());
        transfers.spawn(async move {
            let (from, to, amount) = (n % RECORDS, (n + 1) % RECORDS, 1 + (n % 3) as i64);
            let mut busy = 0;
            loop {
                match client.transfer(&ids[from], &ids[to], amount).await {
                    Ok(()) => return (from, to, amount, busy),
                    Err(Refusal::Conflict(_)) if busy < 500 => {
                        busy += 1;
                        // The lock holder finishes within milliseconds: back off briefly.
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err(refusal) => {
                        panic!("transfer {n} refused after {busy} retries: {refusal:?}")
                    }
                }
            }
        });
    }
    let mut expected = vec![START; RECORDS];
    let mut contended = 0;
    for (from, to, amount, busy) in transfers.join_all().await {
        expected[from] -= amount;
        expected[to] += amount;
        contended += busy;
    }

    let mut actual = Vec::new();
    for id in ids.iter() {
        actual.push(client.get(id).await.unwrap().quantity);
    }
    assert_eq!(
        actual, expected,
        "every transfer moved its amount exactly once ({contended} busy answers)"
    );
    assert_eq!(actual.iter().sum::<i64>(), START * RECORDS as i64);
}
