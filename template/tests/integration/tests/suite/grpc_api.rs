//! The gRPC API against a real sidecar: the whole round trip, versions, and bad input.

use api::{{service_snake}}::v1::{
    CreateRequest, DeleteRequest, GetRequest, ListRequest, UpdateRequest, {{Resource}}, {{resource}}_service_client::{{Resource}}ServiceClient,
};
use support::TestService;
use tonic::Code;
use tonic::transport::Channel;

{%- unless http %}

use crate::back_off;
{%- endunless %}
use crate::service;

async fn service_and_client() -> (TestService, {{Resource}}ServiceClient<Channel>) {
    let service = service().await;
    let client = service.grpc_client().await.expect("a gRPC connection to the service");
    (service, client)
}

fn update(id: &str, name: &str, quantity: i64, etag: &str) -> UpdateRequest {
    UpdateRequest { id: id.to_owned(), name: name.to_owned(), quantity, etag: etag.to_owned() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(dapr_integration), ignore = "needs a Dapr runtime: run with DAPR_INTEGRATION=1 (tests/integration/README.md)")]
async fn create_read_update_delete_round_trip() {
    let (_service, mut client) = service_and_client().await;

    let created = client.create(CreateRequest { name: " Blue widget ".into(), quantity: 3 }).await.unwrap().into_inner();
    assert_eq!((created.name.as_str(), created.quantity, created.version), ("Blue widget", 3, 1));
    assert!(!created.etag.is_empty(), "every {{resource}} carries its etag");

    let read = client.get(GetRequest { id: created.id.clone() }).await.unwrap().into_inner();
    assert_eq!(read, created);

    let updated = client.update(update(&created.id, "Red widget", 7, &created.etag)).await.unwrap().into_inner();
    assert_eq!((updated.name.as_str(), updated.quantity, updated.version), ("Red widget", 7, 2));
    assert_ne!(updated.etag, created.etag);

    let page = client.list(ListRequest { page_size: 0, page_token: String::new() }).await.unwrap().into_inner();
    // A list carries no etags (the store lists values): Get one for its etag.
    let listed = {{Resource}} { etag: String::new(), ..updated.clone() };
    assert_eq!(page.items, [listed]);
    assert!(page.next_page_token.is_empty());

    client.delete(DeleteRequest { id: created.id.clone(), etag: Some(updated.etag) }).await.unwrap();
    let gone = client.get(GetRequest { id: created.id.clone() }).await.unwrap_err();
    assert_eq!(gone.code(), Code::NotFound, "{gone:?}");
    let page = client.list(ListRequest { page_size: 0, page_token: String::new() }).await.unwrap().into_inner();
    assert!(page.items.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(dapr_integration), ignore = "needs a Dapr runtime: run with DAPR_INTEGRATION=1 (tests/integration/README.md)")]
async fn an_update_needs_the_current_etag() {
    let (_service, mut client) = service_and_client().await;
    let created = client.create(CreateRequest { name: "widget".into(), quantity: 1 }).await.unwrap().into_inner();

    let missing = client.update(update(&created.id, "no etag", 2, "")).await.unwrap_err();
    assert_eq!(missing.code(), Code::FailedPrecondition, "{missing:?}");
    let second = client.update(update(&created.id, "second", 2, &created.etag)).await.unwrap().into_inner();
    let stale = client.update(update(&created.id, "lost update", 3, &created.etag)).await.unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
    let stale_delete = client
        .delete(DeleteRequest { id: created.id.clone(), etag: Some(created.etag.clone()) })
        .await
        .unwrap_err();
    assert_eq!(stale_delete.code(), Code::Aborted, "{stale_delete:?}");

    let read = client.get(GetRequest { id: created.id.clone() }).await.unwrap().into_inner();
    assert_eq!(read, second, "refused writes change nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(dapr_integration), ignore = "needs a Dapr runtime: run with DAPR_INTEGRATION=1 (tests/integration/README.md)")]
async fn bad_input_is_invalid_argument() {
    let (_service, mut client) = service_and_client().await;
    let created = client.create(CreateRequest { name: "target".into(), quantity: 1 }).await.unwrap().into_inner();

    let statuses = [
        ("get of an id that is not a UUID", client.get(GetRequest { id: "not-a-uuid".into() }).await.map(drop)),
        ("create with a blank name", client.create(CreateRequest { name: "  ".into(), quantity: 1 }).await.map(drop)),
        ("create with a negative quantity", client.create(CreateRequest { name: "a".into(), quantity: -1 }).await.map(drop)),
        (
            "create with an overlong name",
            client.create(CreateRequest { name: "x".repeat(10_000), quantity: 1 }).await.map(drop),
        ),
        ("update of an id that is not a UUID", client.update(update("42", "a", 1, &created.etag)).await.map(drop)),
        ("delete of an empty id", client.delete(DeleteRequest { id: String::new(), etag: None }).await.map(drop)),
        ("list with a negative page size", client.list(ListRequest { page_size: -1, page_token: String::new() }).await.map(drop)),
        ("list with a huge page size", client.list(ListRequest { page_size: 100_000, page_token: String::new() }).await.map(drop)),
        ("list with a forged page token", client.list(ListRequest { page_size: 0, page_token: "forged".into() }).await.map(drop)),
    ];
    for (what, outcome) in statuses {
        let status = outcome.expect_err(what);
        assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
    }
    // An etag is opaque to the service: only the store can tell a malformed one from a stale one.
    let forged = client.update(update(&created.id, "a", 1, "not an etag")).await.unwrap_err();
    assert!(matches!(forged.code(), Code::InvalidArgument | Code::Aborted), "update with a forged etag: {forged:?}");

    let read = client.get(GetRequest { id: created.id.clone() }).await.unwrap().into_inner();
    assert_eq!(read, created, "no bad request changed the {{resource}}");
}
{%- unless http %}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(dapr_integration), ignore = "needs a Dapr runtime: run with DAPR_INTEGRATION=1 (tests/integration/README.md)")]
async fn concurrent_writers_never_lose_an_increment() {
{%- if pubsub == "in-memory" %}
    // With the in-memory pub/sub, daprd 1.18 holds every outbox transaction after the first for
    // about a second (measured against the bare sidecar), so 64 x 20 would take over 20 minutes.
    // Eight writers still contend on every write.
    const WRITERS: i64 = 8;
    const INCREMENTS: i64 = 3;
{%- else %}
    const WRITERS: i64 = 64;
    const INCREMENTS: i64 = 20;
{%- endif %}
    let (_service, mut client) = service_and_client().await;
    let created = client.create(CreateRequest { name: "counter".into(), quantity: 0 }).await.unwrap().into_inner();

    let mut writers = tokio::task::JoinSet::new();
    for _ in 0..WRITERS {
        let (mut client, id) = (client.clone(), created.id.clone());
        writers.spawn(async move {
            let mut conflicts = 0u64;
            for _ in 0..INCREMENTS {
                let mut in_a_row = 0;
                loop {
                    let current = client.get(GetRequest { id: id.clone() }).await.unwrap().into_inner();
                    match client.update(update(&id, "counter", current.quantity + 1, &current.etag)).await {
                        Ok(_) => break,
                        Err(status) if status.code() == Code::Aborted => {
                            conflicts += 1;
                            in_a_row += 1;
                            back_off(in_a_row).await;
                        }
                        Err(status) => panic!("an increment failed: {status:?}"),
                    }
                }
            }
            conflicts
        });
    }
    let conflicts: u64 = writers.join_all().await.into_iter().sum();

    let last = client.get(GetRequest { id: created.id.clone() }).await.unwrap().into_inner();
    assert_eq!(last.quantity, WRITERS * INCREMENTS, "after {conflicts} refused stale writes");
    assert_eq!(last.version, (WRITERS * INCREMENTS + 1) as u64);
    assert!(conflicts > 0, "the writers never contended: the test proves nothing");
}
{%- endunless %}
