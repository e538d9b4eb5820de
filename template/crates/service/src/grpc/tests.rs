//! The gRPC service called directly (no network) over mocked use cases: messages in and out, and
//! every business error's status code.

use std::sync::Arc;

use api::{{service_snake}}::v1 as pb;
use api::{{service_snake}}::v1::{{resource}}_service_server::{{Resource}}Service;
use biz::error::RepoError;
use biz::page::Page;
use biz::{{resource}}::{Etag, Stored, ValidationError, {{Resource}}, {{Resource}}Id, {{Resource}}Input};
{%- if with_lock %}
use biz::{{resource}}_transfer::{Mock{{Resource}}Transfers, Transfer, TransferError};
{%- endif %}
use biz::{{resource}}_usecase::{Mock{{Resource}}Usecase, {{Resource}}Error};
{%- if with_workflow %}
use biz::workflow::{MockRestocks, RestockError, RestockReport, RestockStatus};
{%- endif %}
use tonic::{Code, Request};

use super::{{Resource}}Grpc;

const ID: &str = "6f1b2a9e-3c4d-4e5f-8a7b-9c0d1e2f3a4b";

fn id() -> {{Resource}}Id {
    {{Resource}}Id::parse(ID).unwrap()
}

fn stored(etag: &str) -> Stored<{{Resource}}> {
    let input = {{Resource}}Input { name: "Blue widget".into(), quantity: 12 };
    Stored { value: {{Resource}}::create(id(), input), etag: Etag(etag.into()) }
}

#[derive(Default)]
struct Mocks {
    {{resources}}: Mock{{Resource}}Usecase,
{%- if with_lock %}
    transfers: Mock{{Resource}}Transfers,
{%- endif %}
{%- if with_workflow %}
    restocks: MockRestocks,
{%- endif %}
}

impl Mocks {
    fn service(self) -> {{Resource}}Grpc {
        {{Resource}}Grpc::new(
            Arc::new(self.{{resources}}),
{%- if with_lock %}
            Arc::new(self.transfers),
{%- endif %}
{%- if with_workflow %}
            Arc::new(self.restocks),
{%- endif %}
        )
    }
}

fn with_{{resources}}(configure: impl FnOnce(&mut Mock{{Resource}}Usecase)) -> {{Resource}}Grpc {
    let mut mocks = Mocks::default();
    configure(&mut mocks.{{resources}});
    mocks.service()
}

#[tokio::test]
async fn create_answers_the_stored_{{resource}}_with_its_etag() {
    let service = with_{{resources}}(|{{resources}}| {
        {{resources}}
            .expect_create()
            .withf(|input| input.name == "Blue widget" && input.quantity == 12)
            .returning(|_| Ok(stored("1")));
    });
    let request = Request::new(pb::CreateRequest { name: "Blue widget".into(), quantity: 12 });
    let created = service.create(request).await.unwrap().into_inner();
    assert_eq!(
        created,
        pb::{{Resource}} { id: ID.into(), name: "Blue widget".into(), quantity: 12, version: 1, etag: "1".into() }
    );
}

#[tokio::test]
async fn get_answers_the_{{resource}}_and_refuses_a_malformed_id() {
    let service = with_{{resources}}(|{{resources}}| {
        {{resources}}.expect_get().withf(|asked| *asked == id()).returning(|_| Ok(stored("7")));
    });
    let found = service.get(Request::new(pb::GetRequest { id: ID.into() })).await.unwrap().into_inner();
    assert_eq!(found.etag, "7");

    let status = service.get(Request::new(pb::GetRequest { id: "42".into() })).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn list_maps_the_page_both_ways() {
    let service = with_{{resources}}(|{{resources}}| {
        {{resources}}
            .expect_list()
            .withf(|page| page.size == 5 && page.token.as_deref() == Some("abc"))
            .returning(|_| Ok(Page { items: vec![stored("1").value], next_token: None }));
    });
    let request = Request::new(pb::ListRequest { page_size: 5, page_token: "abc".into() });
    let page = service.list(request).await.unwrap().into_inner();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].id, ID);
    assert_eq!(page.next_page_token, "");
}

#[tokio::test]
async fn a_bad_page_size_is_invalid_argument() {
    for page_size in [-1, 101] {
        let request = Request::new(pb::ListRequest { page_size, page_token: String::new() });
        let status = Mocks::default().service().list(request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "page_size {page_size}");
    }
}

#[tokio::test]
async fn update_passes_the_etag_and_an_empty_one_as_none() {
    for (etag, expected) in [("7", Some(Etag("7".into()))), ("", None)] {
        let service = with_{{resources}}(move |{{resources}}| {
            {{resources}}
                .expect_update()
                .withf(move |asked, _, if_match| *asked == id() && *if_match == expected)
                .returning(|_, _, _| Ok(stored("8")));
        });
        let request = Request::new(pb::UpdateRequest { id: ID.into(), name: "x".into(), quantity: 1, etag: etag.into() });
        assert_eq!(service.update(request).await.unwrap().into_inner().etag, "8");
    }
}

#[tokio::test]
async fn delete_passes_the_optional_etag() {
    for (etag, expected) in [(Some("7"), Some(Etag("7".into()))), (None, None), (Some(""), None)] {
        let service = with_{{resources}}(move |{{resources}}| {
            {{resources}}.expect_delete().withf(move |_, if_match| *if_match == expected).returning(|_, _| Ok(()));
        });
        let request = Request::new(pb::DeleteRequest { id: ID.into(), etag: etag.map(str::to_owned) });
        service.delete(request).await.unwrap();
    }
}

#[tokio::test]
async fn {{resource}}_errors_map_to_status_codes_without_leaking_storage_details() {
    let cases: [(fn() -> {{Resource}}Error, Code); 7] = [
        (|| ValidationError::new("name", "must not be empty").into(), Code::InvalidArgument),
        (|| {{Resource}}Error::NotFound(id()), Code::NotFound),
        (|| {{Resource}}Error::StaleVersion(id()), Code::Aborted),
        (|| {{Resource}}Error::VersionRequired(id()), Code::FailedPrecondition),
        (|| {{Resource}}Error::Contended(id()), Code::Aborted),
        (|| {{Resource}}Error::Unavailable(RepoError::Unavailable("redis at 10.0.0.7 refused".into())), Code::Unavailable),
        (|| {{Resource}}Error::Unavailable(RepoError::Corrupt("bad byte at 10.0.0.7".into())), Code::Internal),
    ];
    for (error, code) in cases {
        let service = with_{{resources}}(move |{{resources}}| {
            {{resources}}.expect_update().returning(move |_, _, _| Err(error()));
        });
        let request = Request::new(pb::UpdateRequest { id: ID.into(), name: "x".into(), quantity: 1, etag: "7".into() });
        let status = service.update(request).await.unwrap_err();
        assert_eq!(status.code(), code, "{status:?}");
        assert!(!status.message().contains("10.0.0.7"), "leaked: {status:?}");
    }
}
{%- if with_lock %}

const OTHER: &str = "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d";

#[tokio::test]
async fn transfer_answers_both_{{resources}}() {
    let mut mocks = Mocks::default();
    mocks
        .transfers
        .expect_transfer()
        .withf(|_, from, to, amount| *from == id() && to.to_string() == OTHER && *amount == 3)
        .returning(|_, _, to, _| {
            let mut target = stored("2");
            target.value.id = to;
            Ok(Transfer { from: stored("1"), to: target })
        });
    let request = Request::new(pb::TransferRequest { from_id: ID.into(), to_id: OTHER.into(), amount: 3 });
    let transfer = mocks.service().transfer(request).await.unwrap().into_inner();
    assert_eq!(transfer.from.unwrap().id, ID);
    assert_eq!(transfer.to.unwrap().id, OTHER);
}

#[tokio::test]
async fn transfer_errors_map_to_status_codes() {
    let cases: [(fn() -> TransferError, Code); 4] = [
        (|| ValidationError::new("amount", "must be positive").into(), Code::InvalidArgument),
        (|| TransferError::NotFound(id()), Code::NotFound),
        (|| TransferError::Busy(ID.into()), Code::Aborted),
        (|| TransferError::Unavailable(RepoError::Unavailable("lock store down".into())), Code::Unavailable),
    ];
    for (error, code) in cases {
        let mut mocks = Mocks::default();
        mocks.transfers.expect_transfer().returning(move |_, _, _, _| Err(error()));
        let request = Request::new(pb::TransferRequest { from_id: ID.into(), to_id: OTHER.into(), amount: 3 });
        assert_eq!(mocks.service().transfer(request).await.unwrap_err().code(), code);
    }
    let request = Request::new(pb::TransferRequest { from_id: "x".into(), to_id: OTHER.into(), amount: 3 });
    assert_eq!(Mocks::default().service().transfer(request).await.unwrap_err().code(), Code::InvalidArgument);
}
{%- endif %}
{%- if with_workflow %}

#[tokio::test]
async fn start_restock_answers_the_run_id() {
    let mut mocks = Mocks::default();
    mocks
        .restocks
        .expect_start()
        .withf(|request| request.lines.len() == 1 && request.lines[0].{{resource}}_id == id())
        .returning(|_| Ok("run-1".into()));
    let request = Request::new(pb::StartRestockRequest {
        lines: vec![pb::RestockLine { {{resource}}_id: ID.into(), quantity: 5 }],
    });
    assert_eq!(mocks.service().start_restock(request).await.unwrap().into_inner().id, "run-1");

    let request = Request::new(pb::StartRestockRequest {
        lines: vec![pb::RestockLine { {{resource}}_id: "x".into(), quantity: 5 }],
    });
    let status = Mocks::default().service().start_restock(request).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn get_restock_answers_where_the_run_stands() {
    let completed = RestockStatus::Completed(RestockReport { lines_applied: 2, quantity_added: 9 });
    let mut mocks = Mocks::default();
    mocks.restocks.expect_status().withf(|id| id == "run-1").return_once(move |_| Ok(completed));
    let restock = mocks
        .service()
        .get_restock(Request::new(pb::GetRestockRequest { id: "run-1".into() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(restock.status(), pb::restock::Status::Completed);
    assert_eq!((restock.lines_applied, restock.quantity_added), (2, 9));
}

#[tokio::test]
async fn restock_errors_map_to_status_codes() {
    let cases: [(fn() -> RestockError, Code); 2] = [
        (|| RestockError::NotFound("run-1".into()), Code::NotFound),
        (|| RestockError::Unavailable(RepoError::Unavailable("scheduler down".into())), Code::Unavailable),
    ];
    for (error, code) in cases {
        let mut mocks = Mocks::default();
        mocks.restocks.expect_status().returning(move |_| Err(error()));
        let request = Request::new(pb::GetRestockRequest { id: "run-1".into() });
        assert_eq!(mocks.service().get_restock(request).await.unwrap_err().code(), code);
    }
    for id in ["", "a b"] {
        let request = Request::new(pb::GetRestockRequest { id: id.into() });
        assert_eq!(Mocks::default().service().get_restock(request).await.unwrap_err().code(), Code::InvalidArgument);
    }
}
{%- endif %}
