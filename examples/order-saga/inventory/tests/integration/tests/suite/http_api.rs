//! The HTTP API against a real sidecar: the whole round trip, versions (`ETag` / `If-Match`),
//! concurrent writers, idempotent creates, and bad input.

use std::collections::HashSet;
use std::sync::Arc;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, ETAG, IF_MATCH, LOCATION};
use serde_json::{Value, json};
use support::TestService;

use crate::{back_off, service};

const PROBLEM_JSON: &str = "application/problem+json";

/// Creates a stock and returns its body and ETag.
async fn create(service: &TestService, name: &str, quantity: i64) -> (Value, String) {
    let response = service
        .http()
        .post(service.url("/stocks"))
        .json(&json!({"name": name, "quantity": quantity}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{:?}",
        response.text().await
    );
    let etag = header(&response, ETAG);
    (response.json().await.unwrap(), etag)
}

fn header(response: &reqwest::Response, name: reqwest::header::HeaderName) -> String {
    response
        .headers()
        .get(&name)
        .unwrap_or_else(|| panic!("no {name} header in {response:?}"))
        .to_str()
        .unwrap()
        .to_owned()
}

/// Asserts a problem details answer with `status`, and returns its body.
async fn assert_problem(response: reqwest::Response, status: StatusCode, what: &str) -> Value {
    assert_eq!(response.status(), status, "{what}");
    assert_eq!(
        response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok()),
        Some(PROBLEM_JSON),
        "{what}: content type"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["status"], status.as_u16(), "{what}: {problem}");
    assert!(
        problem["type"].is_string() && problem["title"].is_string(),
        "{what}: {problem}"
    );
    problem
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dapr_integration),
    ignore = "needs a Dapr runtime: run with DAPR_INTEGRATION=1 (tests/integration/README.md)"
)]
async fn create_read_update_delete_round_trip() {
    let service = service().await;
    let http = service.http();

    let (created, created_etag) = create(&service, "  Blue widget ", 3).await;
    assert_eq!(created["name"], "Blue widget", "names are trimmed");
    assert_eq!(
        (created["quantity"].as_i64(), created["version"].as_u64()),
        (Some(3), Some(1))
    );
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/stocks/{id}");

    let read = http.get(service.url(&path)).send().await.unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(
        header(&read, ETAG),
        created_etag,
        "a read returns the version created"
    );
    assert_eq!(read.json::<Value>().await.unwrap(), created);

    let updated = http
        .put(service.url(&path))
        .header(IF_MATCH, &created_etag)
        .json(&json!({"name": "Red widget", "quantity": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), StatusCode::OK);
    let updated_etag = header(&updated, ETAG);
    assert_ne!(updated_etag, created_etag, "an update makes a new version");
    let updated: Value = updated.json().await.unwrap();
    assert_eq!(
        (updated["name"].as_str(), updated["quantity"].as_i64()),
        (Some("Red widget"), Some(7))
    );
    assert_eq!(updated["version"], 2);

    let page: Value = http
        .get(service.url("/stocks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        page["items"],
        json!([updated]),
        "the list holds the updated stock"
    );

    let deleted = http.delete(service.url(&path)).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = http.get(service.url(&path)).send().await.unwrap();
    assert_problem(gone, StatusCode::NOT_FOUND, "read after delete").await;
    let page: Value = http
        .get(service.url("/stocks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"], json!([]), "the list forgets deleted stocks");
    let again = http.delete(service.url(&path)).send().await.unwrap();
    assert_problem(again, StatusCode::NOT_FOUND, "delete after delete").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dapr_integration),
    ignore = "needs a Dapr runtime: run with DAPR_INTEGRATION=1 (tests/integration/README.md)"
)]
async fn the_list_pages_through_every_stock_once_in_creation_order() {
    let service = service().await;
    let mut created = Vec::new();
    for n in 0..5 {
        let (body, _) = create(&service, &format!("item {n}"), n).await;
        created.push(body["id"].as_str().unwrap().to_owned());
    }
    let mut listed = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut request = service
            .http()
            .get(service.url("/stocks"))
            .query(&[("page_size", "2")]);
        if let Some(token) = &token {
            request = request.query(&[("page_token", token)]);
        }
        let page: Value = request.send().await.unwrap().json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2, "page_size is honoured: {page}");
        listed.extend(
            items
                .iter()
                .map(|item| item["id"].as_str().unwrap().to_owned()),
        );
        match page["next_page_token"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
        assert!(
            listed.len() <= created.len(),
            "more pages than stocks: {listed:?}"
        );
    }
    assert_eq!(listed, created);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dapr_integration),
    ignore = "needs a Dapr runtime: run with DAPR_INTEGRATION=1 (tests/integration/README.md)"
)]
async fn an_update_needs_the_current_version() {
    let service = service().await;
    let http = service.http();
    let (created, first_etag) = create(&service, "widget", 1).await;
    let path = format!("/stocks/{}", created["id"].as_str().unwrap());

    let missing = http
        .put(service.url(&path))
        .json(&json!({"name": "no version", "quantity": 2}))
        .send()
        .await
        .unwrap();
    assert_problem(
        missing,
        StatusCode::PRECONDITION_REQUIRED,
        "PUT without If-Match",
    )
    .await;

    let current = http
        .put(service.url(&path))
        .header(IF_MATCH, &first_etag)
        .json(&json!({"name": "second", "quantity": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(current.status(), StatusCode::OK);
    let second_etag = header(&current, ETAG);

    let stale = http
        .put(service.url(&path))
        .header(IF_MATCH, &first_etag)
        .json(&json!({"name": "lost update", "quantity": 3}))
        .send()
        .await
        .unwrap();
    assert_problem(
        stale,
        StatusCode::PRECONDITION_FAILED,
        "PUT with a stale If-Match",
    )
    .await;

    let stale_delete = http
        .delete(service.url(&path))
        .header(IF_MATCH, &first_etag)
        .send()
        .await
        .unwrap();
    assert_problem(
        stale_delete,
        StatusCode::PRECONDITION_FAILED,
        "DELETE with a stale If-Match",
    )
    .await;

    let read = http.get(service.url(&path)).send().await.unwrap();
    assert_eq!(
        header(&read, ETAG),
        second_etag,
        "refused writes change nothing"
    );
    let read: Value = read.json().await.unwrap();
    assert_eq!(
        (read["name"].as_str(), read["version"].as_u64()),
        (Some("second"), Some(2))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dapr_integration),
    ignore = "needs a Dapr runtime: run with DAPR_INTEGRATION=1 (tests/integration/README.md)"
)]
async fn concurrent_writers_never_lose_an_increment() {
    const WRITERS: i64 = 64;
    const INCREMENTS: i64 = 20;
    let service = Arc::new(service().await);
    let (created, _) = create(&service, "counter", 0).await;
    let path = Arc::new(format!("/stocks/{}", created["id"].as_str().unwrap()));

    let mut writers = tokio::task::JoinSet::new();
    for _ in 0..WRITERS {
        let (service, path) = (service.clone(), path.clone());
        writers.spawn(async move {
            let mut conflicts = 0u64;
            for _ in 0..INCREMENTS {
                let mut in_a_row = 0;
                loop {
                    let read = service.http().get(service.url(&path)).send().await.unwrap();
                    assert_eq!(read.status(), StatusCode::OK);
                    let etag = header(&read, ETAG);
                    let current: Value = read.json().await.unwrap();
                    let write = service
                        .http()
                        .put(service.url(&path))
                        .header(IF_MATCH, etag)
                        .json(&json!({"name": "counter", "quantity": current["quantity"].as_i64().unwrap() + 1}))
                        .send()
                        .await
                        .unwrap();
                    match write.status() {
                        StatusCode::OK => break,
                        StatusCode::PRECONDITION_FAILED => {
                            conflicts += 1;
                            in_a_row += 1;
                            back_off(in_a_row).await;
                        }
                        other => panic!("an increment answered {other}: {:?}", write.text().await),
                    }
                }
            }
            conflicts
        });
    }
    let conflicts: u64 = writers.join_all().await.into_iter().sum();

    let last: Value = service
        .http()
        .get(service.url(&path))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        last["quantity"],
        WRITERS * INCREMENTS,
        "after {conflicts} refused stale writes"
    );
    assert_eq!(last["version"], WRITERS * INCREMENTS + 1);
    assert!(
        conflicts > 0,
        "the writers never contended: the test proves nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dapr_integration),
    ignore = "needs a Dapr runtime: run with DAPR_INTEGRATION=1 (tests/integration/README.md)"
)]
async fn concurrent_creates_with_one_idempotency_key_make_one_stock() {
    const REQUESTS: usize = 50;
    let service = Arc::new(service().await);
    let key = uuid::Uuid::new_v4().to_string();
    let body = json!({"name": "once", "quantity": 5});

    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..REQUESTS {
        let (service, key, body) = (service.clone(), key.clone(), body.clone());
        requests.spawn(async move {
            let response = service
                .http()
                .post(service.url("/stocks"))
                .header("Idempotency-Key", key)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let location = response
                .headers()
                .get(LOCATION)
                .map(|value| value.to_str().unwrap().to_owned());
            (status, location, response.text().await.unwrap())
        });
    }
    let answers = requests.join_all().await;
    let created: Vec<_> = answers
        .iter()
        .filter(|(status, ..)| *status == StatusCode::CREATED)
        .collect();
    assert!(
        !created.is_empty(),
        "no request created the stock: {answers:#?}"
    );
    for (status, location, body) in &answers {
        match *status {
            StatusCode::CREATED => assert_eq!(
                (location, body),
                (&created[0].1, &created[0].2),
                "every 201 is the first answer"
            ),
            StatusCode::CONFLICT => {
                let problem: Value = serde_json::from_str(body).unwrap();
                assert_eq!(problem["status"], 409, "{body}");
            }
            other => panic!("a request with the shared Idempotency-Key answered {other}: {body}"),
        }
    }

    let page: Value = service
        .http()
        .get(service.url("/stocks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        1,
        "exactly one stock: {page}"
    );

    let retry = service
        .http()
        .post(service.url("/stocks"))
        .header("Idempotency-Key", &key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        retry.status(),
        StatusCode::CREATED,
        "a later retry replays the first answer"
    );
    assert_eq!(
        retry
            .headers()
            .get(LOCATION)
            .map(|value| value.to_str().unwrap().to_owned()),
        created[0].1
    );
    assert_eq!(retry.text().await.unwrap(), created[0].2);

    let reused = service
        .http()
        .post(service.url("/stocks"))
        .header("Idempotency-Key", &key)
        .json(&json!({"name": "another request", "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_problem(
        reused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the key reused with another body",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dapr_integration),
    ignore = "needs a Dapr runtime: run with DAPR_INTEGRATION=1 (tests/integration/README.md)"
)]
async fn bad_input_is_answered_4xx_problem_details_never_5xx() {
    let service = service().await;
    let http = service.http();
    let (created, etag) = create(&service, "target", 1).await;
    let path = format!("/stocks/{}", created["id"].as_str().unwrap());
    let oversized = json!({"name": "x".repeat(256 * 1024), "quantity": 1});
    let json_body = |method: reqwest::Method, path: &str, body: &str| {
        http.request(method, service.url(path))
            .header(CONTENT_TYPE, "application/json")
            .header(IF_MATCH, &etag)
            .body(body.to_owned())
    };
    use reqwest::Method;
    let cases: Vec<(&str, reqwest::RequestBuilder, StatusCode)> = vec![
        (
            "malformed JSON",
            json_body(Method::POST, "/stocks", r#"{"name": "#),
            StatusCode::BAD_REQUEST,
        ),
        (
            "not an object",
            json_body(Method::POST, "/stocks", "[1, 2]"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "wrong types",
            json_body(
                Method::POST,
                "/stocks",
                r#"{"name": 5, "quantity": "five"}"#,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "missing field",
            json_body(Method::POST, "/stocks", r#"{"name": "a"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "unknown field",
            json_body(
                Method::POST,
                "/stocks",
                r#"{"name": "a", "quantity": 1, "colour": "red"}"#,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "quantity beyond i64",
            json_body(
                Method::POST,
                "/stocks",
                r#"{"name": "a", "quantity": 1e30}"#,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "negative quantity",
            json_body(Method::POST, "/stocks", r#"{"name": "a", "quantity": -1}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "blank name",
            json_body(Method::POST, "/stocks", r#"{"name": "   ", "quantity": 1}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "not JSON",
            http.post(service.url("/stocks"))
                .header(CONTENT_TYPE, "text/plain")
                .body("name=a"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "invalid Idempotency-Key",
            http.post(service.url("/stocks"))
                .header("Idempotency-Key", "")
                .json(&json!({"name": "a", "quantity": 1})),
            StatusCode::BAD_REQUEST,
        ),
        (
            "invalid id on GET",
            http.get(service.url("/stocks/not-a-uuid")),
            StatusCode::BAD_REQUEST,
        ),
        (
            "invalid id on PUT",
            json_body(Method::PUT, "/stocks/42", r#"{"name": "a", "quantity": 1}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            "invalid id on DELETE",
            http.delete(service.url("/stocks/%00")),
            StatusCode::BAD_REQUEST,
        ),
        (
            "malformed If-Match",
            json_body(Method::PUT, &path, r#"{"name": "a", "quantity": 1}"#)
                .header(IF_MATCH, "no quotes"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "page_size zero",
            http.get(service.url("/stocks?page_size=0")),
            StatusCode::BAD_REQUEST,
        ),
        (
            "page_size not a number",
            http.get(service.url("/stocks?page_size=ten")),
            StatusCode::BAD_REQUEST,
        ),
        (
            "page_size too large",
            http.get(service.url("/stocks?page_size=100000")),
            StatusCode::BAD_REQUEST,
        ),
        (
            "forged page_token",
            http.get(service.url("/stocks?page_token=forged")),
            StatusCode::BAD_REQUEST,
        ),
        (
            "unknown path",
            http.get(service.url("/nothing-here")),
            StatusCode::NOT_FOUND,
        ),
        (
            "wrong method",
            http.patch(service.url("/stocks")),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        // On a connection of its own: the server answers before reading the whole body and may
        // then close the connection, which would fail a request that reuses it.
        (
            "oversized body",
            reqwest::Client::new()
                .post(service.url("/stocks"))
                .json(&oversized),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (what, request, status) in cases {
        let response = request
            .send()
            .await
            .unwrap_or_else(|error| panic!("{what}: {error}"));
        assert!(
            !response.status().is_server_error(),
            "{what} answered {}",
            response.status()
        );
        assert_problem(response, status, what).await;
    }

    let read: Value = http
        .get(service.url(&path))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read, created, "no bad request changed the stock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dapr_integration),
    ignore = "needs a Dapr runtime: run with DAPR_INTEGRATION=1 (tests/integration/README.md)"
)]
async fn the_openapi_document_describes_the_api() {
    let service = service().await;
    let response = service
        .http()
        .get(service.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let document: Value = response.json().await.unwrap();
    let paths: HashSet<&str> = document["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert!(
        paths.contains("/stocks") && paths.contains("/stocks/{id}"),
        "{paths:?}"
    );
}
