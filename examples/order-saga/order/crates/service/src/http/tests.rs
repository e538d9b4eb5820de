//! The public API over mocked use cases: every route's success, every error's mapping, the
//! ETag/If-Match rules, idempotency, and bad input of every kind (always 4xx problem details).

use axum::http::StatusCode;
use biz::error::RepoError;
use biz::idempotency::{Admission, IdempotencyError, RecordedResponse};
use biz::order::{Etag, Order, OrderId, OrderInput, Stored, ValidationError};
use biz::order_usecase::OrderError;
use biz::page::{DEFAULT_PAGE_SIZE, Page};
use serde_json::json;

use super::IDEMPOTENT_REPLAYED;
use crate::router::HttpLimits;
use crate::test_support::{Mocks, call, empty, json};

const ID: &str = "6f1b2a9e-3c4d-4e5f-8a7b-9c0d1e2f3a4b";

fn id() -> OrderId {
    OrderId::parse(ID).unwrap()
}

fn stored(etag: &str) -> Stored<Order> {
    let input = OrderInput {
        name: "Blue widget".into(),
        quantity: 12,
    };
    Stored {
        value: Order::create(id(), input),
        etag: Etag(etag.into()),
    }
}

fn with_if_match(
    mut request: axum::http::Request<axum::body::Body>,
    value: &str,
) -> axum::http::Request<axum::body::Body> {
    request
        .headers_mut()
        .insert("if-match", value.parse().unwrap());
    request
}

fn with_key(
    mut request: axum::http::Request<axum::body::Body>,
    key: &str,
) -> axum::http::Request<axum::body::Body> {
    request
        .headers_mut()
        .insert("idempotency-key", key.parse().unwrap());
    request
}

fn unavailable() -> OrderError {
    OrderError::Unavailable(RepoError::Unavailable(
        "redis at 10.0.0.7:6379: connection refused".into(),
    ))
}

/// An error a mocked use case returns, and the status and problem type it must be answered with.
type ErrorCase<E> = (fn() -> E, StatusCode, &'static str);

const BODY: &str = r#"{"name": "Blue widget", "quantity": 12}"#;

// --- create -------------------------------------------------------------------------------

#[tokio::test]
async fn create_answers_201_with_location_etag_and_body() {
    let mut mocks = Mocks::new();
    mocks
        .orders
        .expect_create()
        .withf(|input| input.name == "Blue widget" && input.quantity == 12)
        .times(1)
        .returning(|_| Ok(stored("1")));
    let answer = call(mocks.router(), json("POST", "/orders", BODY)).await;
    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!(
        answer.header("location"),
        Some(format!("/orders/{ID}").as_str())
    );
    assert_eq!(answer.header("etag"), Some("\"1\""));
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(
        answer.json(),
        json!({ "id": ID, "name": "Blue widget", "quantity": 12, "version": 1 })
    );
}

#[tokio::test]
async fn create_with_invalid_input_is_422_problem() {
    let mut mocks = Mocks::new();
    mocks
        .orders
        .expect_create()
        .returning(|_| Err(ValidationError::new("name", "must not be empty").into()));
    let answer = call(
        mocks.router(),
        json("POST", "/orders", r#"{"name": " ", "quantity": 1}"#),
    )
    .await;
    let problem = answer.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert_eq!(problem["detail"], "invalid name: must not be empty");
}

#[tokio::test]
async fn storage_failures_are_503_problem_without_details() {
    let mut mocks = Mocks::new();
    mocks
        .orders
        .expect_create()
        .returning(|_| Err(unavailable()));
    let answer = call(mocks.router(), json("POST", "/orders", BODY)).await;
    let problem = answer.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    assert!(
        !problem.to_string().contains("10.0.0.7"),
        "leaked: {problem}"
    );
}

#[tokio::test]
async fn corrupt_data_is_500_problem_without_details() {
    let mut mocks = Mocks::new();
    mocks.orders.expect_get().returning(|_| {
        Err(OrderError::Unavailable(RepoError::Corrupt(
            "expected `name` at byte 17".into(),
        )))
    });
    let answer = call(mocks.router(), empty("GET", &format!("/orders/{ID}"))).await;
    let problem = answer.assert_problem(StatusCode::INTERNAL_SERVER_ERROR, "internal");
    assert!(
        !problem.to_string().contains("byte 17"),
        "leaked: {problem}"
    );
}

// --- bad bodies: the framework's refusals are problem details too ---------------------------

#[tokio::test]
async fn malformed_json_is_400_problem() {
    for body in ["{\"name\": ", "not json", ""] {
        let answer = call(Mocks::new().router(), json("POST", "/orders", body)).await;
        answer.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
    }
}

#[tokio::test]
async fn json_of_the_wrong_shape_is_422_problem() {
    for body in [
        r#"{"name": "x", "quantity": "twelve"}"#,
        r#"{"name": "x"}"#,
        r#"{"name": "x", "quantity": 1, "colour": "blue"}"#,
        r#"{"name": "x", "quantity": 1.5}"#,
        r#"[1, 2]"#,
    ] {
        let answer = call(Mocks::new().router(), json("POST", "/orders", body)).await;
        answer.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body");
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415_problem() {
    let mut request = empty("POST", "/orders");
    *request.body_mut() = BODY.into();
    let answer = call(Mocks::new().router(), request).await;
    answer.assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type");

    let mut request = json("POST", "/orders", BODY);
    request
        .headers_mut()
        .insert("content-type", "text/plain".parse().unwrap());
    let answer = call(Mocks::new().router(), request).await;
    answer.assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type");
}

#[tokio::test]
async fn json_with_a_charset_or_a_json_suffix_is_accepted() {
    for content_type in [
        "application/json; charset=utf-8",
        "application/merge-patch+json",
    ] {
        let mut mocks = Mocks::new();
        mocks.orders.expect_create().returning(|_| Ok(stored("1")));
        let mut request = json("POST", "/orders", BODY);
        request
            .headers_mut()
            .insert("content-type", content_type.parse().unwrap());
        assert_eq!(
            call(mocks.router(), request).await.status,
            StatusCode::CREATED,
            "{content_type}"
        );
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_problem() {
    let body = json!({ "name": "x".repeat(70 * 1024), "quantity": 1 }).to_string();
    let answer = call(Mocks::new().router(), json("POST", "/orders", body.clone())).await;
    answer.assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large");

    let mut mocks = Mocks::new();
    mocks.limits = HttpLimits {
        body_limit_bytes: 16,
        ..HttpLimits::default()
    };
    let answer = call(mocks.router(), json("PUT", &format!("/orders/{ID}"), BODY)).await;
    answer.assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large");
}

// --- idempotency ----------------------------------------------------------------------------

#[tokio::test]
async fn a_first_request_with_a_key_runs_and_records_its_answer() {
    let mut mocks = Mocks::new();
    let mut sequence = mockall::Sequence::new();
    mocks
        .idempotency
        .expect_begin()
        .withf(|key, _| key.as_str() == "key-1")
        .times(1)
        .in_sequence(&mut sequence)
        .returning(|_, _| Ok(Admission::Proceed));
    mocks
        .orders
        .expect_create()
        .times(1)
        .in_sequence(&mut sequence)
        .returning(|_| Ok(stored("1")));
    mocks
        .idempotency
        .expect_complete()
        .withf(|key, _, response| {
            key.as_str() == "key-1"
                && response.status == 201
                && response
                    .headers
                    .iter()
                    .any(|(name, value)| name == "etag" && value == "\"1\"")
                && response.headers.iter().any(|(name, _)| name == "location")
        })
        .times(1)
        .in_sequence(&mut sequence)
        .returning(|_, _, _| Ok(()));
    let answer = call(
        mocks.router(),
        with_key(json("POST", "/orders", BODY), "key-1"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!(answer.header(IDEMPOTENT_REPLAYED), None);
}

#[tokio::test]
async fn a_retry_gets_the_recorded_answer_without_running_again() {
    let mut mocks = Mocks::new();
    mocks.idempotency.expect_begin().returning(|_, _| {
        Ok(Admission::Replay(RecordedResponse {
            status: 201,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("etag".into(), "\"1\"".into()),
                ("location".into(), format!("/orders/{ID}")),
            ],
            body: br#"{"recorded":true}"#.to_vec(),
        }))
    });
    let answer = call(
        mocks.router(),
        with_key(json("POST", "/orders", BODY), "key-1"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!(answer.header("etag"), Some("\"1\""));
    assert_eq!(answer.header(IDEMPOTENT_REPLAYED), Some("true"));
    assert_eq!(answer.json(), json!({ "recorded": true }));
}

#[tokio::test]
async fn the_same_request_gives_the_same_fingerprint_and_another_body_another() {
    let fingerprints = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut mocks = Mocks::new();
    let seen = fingerprints.clone();
    mocks
        .idempotency
        .expect_begin()
        .times(3)
        .returning(move |_, fingerprint| {
            seen.lock().unwrap().push(fingerprint.clone());
            Err(IdempotencyError::InFlight)
        });
    let router = mocks.router();
    for body in [BODY, BODY, r#"{"name": "Red widget", "quantity": 12}"#] {
        call(
            router.clone(),
            with_key(json("POST", "/orders", body), "key-1"),
        )
        .await;
    }
    let fingerprints = fingerprints.lock().unwrap();
    assert_eq!(fingerprints[0], fingerprints[1]);
    assert_ne!(fingerprints[0], fingerprints[2]);
    assert_eq!(fingerprints[0].0.len(), 64, "a hex SHA-256");
}

#[tokio::test]
async fn a_key_reused_with_another_request_is_422_problem() {
    let mut mocks = Mocks::new();
    mocks
        .idempotency
        .expect_begin()
        .returning(|_, _| Err(IdempotencyError::KeyReused));
    let answer = call(
        mocks.router(),
        with_key(json("POST", "/orders", BODY), "key-1"),
    )
    .await;
    answer.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "idempotency-key-reused");
}

#[tokio::test]
async fn a_retry_while_the_first_runs_is_409_problem() {
    let mut mocks = Mocks::new();
    mocks
        .idempotency
        .expect_begin()
        .returning(|_, _| Err(IdempotencyError::InFlight));
    let answer = call(
        mocks.router(),
        with_key(json("POST", "/orders", BODY), "key-1"),
    )
    .await;
    answer.assert_problem(StatusCode::CONFLICT, "request-in-flight");
}

#[tokio::test]
async fn idempotency_storage_failure_is_503_problem() {
    let mut mocks = Mocks::new();
    mocks.idempotency.expect_begin().returning(|_, _| {
        Err(IdempotencyError::Unavailable(RepoError::Unavailable(
            "down".into(),
        )))
    });
    let answer = call(
        mocks.router(),
        with_key(json("POST", "/orders", BODY), "key-1"),
    )
    .await;
    answer.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
}

#[tokio::test]
async fn a_failed_request_releases_its_key_and_records_nothing() {
    let mut mocks = Mocks::new();
    mocks
        .idempotency
        .expect_begin()
        .returning(|_, _| Ok(Admission::Proceed));
    mocks
        .orders
        .expect_create()
        .returning(|_| Err(unavailable()));
    mocks
        .idempotency
        .expect_release()
        .withf(|key| key.as_str() == "key-1")
        .times(1)
        .returning(|_| Ok(()));
    mocks.idempotency.expect_complete().never();
    let answer = call(
        mocks.router(),
        with_key(json("POST", "/orders", BODY), "key-1"),
    )
    .await;
    answer.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
}

#[tokio::test]
async fn a_failure_to_record_still_answers_the_success() {
    let mut mocks = Mocks::new();
    mocks
        .idempotency
        .expect_begin()
        .returning(|_, _| Ok(Admission::Proceed));
    mocks.orders.expect_create().returning(|_| Ok(stored("1")));
    mocks.idempotency.expect_complete().returning(|_, _, _| {
        Err(IdempotencyError::Unavailable(RepoError::Unavailable(
            "down".into(),
        )))
    });
    let answer = call(
        mocks.router(),
        with_key(json("POST", "/orders", BODY), "key-1"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_malformed_key_is_400_problem_and_claims_nothing() {
    for key in ["", &"k".repeat(300), "two words"] {
        let answer = call(
            Mocks::new().router(),
            with_key(json("POST", "/orders", BODY), key),
        )
        .await;
        answer.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
    }
}

#[tokio::test]
async fn a_malformed_body_claims_no_key() {
    let answer = call(
        Mocks::new().router(),
        with_key(json("POST", "/orders", "{"), "key-1"),
    )
    .await;
    answer.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
}

// --- list -----------------------------------------------------------------------------------

#[tokio::test]
async fn list_passes_the_page_and_answers_items_and_next_token() {
    let mut mocks = Mocks::new();
    mocks
        .orders
        .expect_list()
        .withf(|page| page.size == 2 && page.token.as_deref() == Some("abc"))
        .returning(|_| {
            Ok(Page {
                items: vec![stored("1").value],
                next_token: Some("def".into()),
            })
        });
    let answer = call(
        mocks.router(),
        empty("GET", "/orders?page_size=2&page_token=abc"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.json(),
        json!({ "items": [{ "id": ID, "name": "Blue widget", "quantity": 12, "version": 1 }], "next_page_token": "def" })
    );
}

#[tokio::test]
async fn list_defaults_the_page_and_omits_the_token_on_the_last_page() {
    let mut mocks = Mocks::new();
    mocks
        .orders
        .expect_list()
        .withf(|page| page.size == DEFAULT_PAGE_SIZE && page.token.is_none())
        .returning(|_| {
            Ok(Page {
                items: vec![],
                next_token: None,
            })
        });
    let answer = call(mocks.router(), empty("GET", "/orders?page_token=")).await;
    assert_eq!(answer.json(), json!({ "items": [] }));
}

#[tokio::test]
async fn a_bad_page_query_is_400_problem() {
    for query in [
        "page_size=0",
        "page_size=101",
        "page_size=abc",
        "page_size=-1",
    ] {
        let answer = call(
            Mocks::new().router(),
            empty("GET", &format!("/orders?{query}")),
        )
        .await;
        answer.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
    }
    let mut mocks = Mocks::new();
    mocks.orders.expect_list().returning(|_| {
        Err(ValidationError::new("page_token", "not issued by this service").into())
    });
    let answer = call(mocks.router(), empty("GET", "/orders?page_token=forged")).await;
    answer.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
}

// --- get ------------------------------------------------------------------------------------

#[tokio::test]
async fn get_answers_the_order_with_its_etag() {
    let mut mocks = Mocks::new();
    mocks
        .orders
        .expect_get()
        .withf(|asked| *asked == id())
        .returning(|_| Ok(stored("7")));
    let answer = call(mocks.router(), empty("GET", &format!("/orders/{ID}"))).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("etag"), Some("\"7\""));
    assert_eq!(answer.json()["id"], ID);
}

#[tokio::test]
async fn an_id_that_is_not_a_uuid_is_400_problem() {
    for path in ["/orders/42", "/orders/not-a-uuid", "/orders/%FF"] {
        for method in ["GET", "DELETE"] {
            let answer = call(Mocks::new().router(), empty(method, path)).await;
            answer.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
        }
        let answer = call(
            Mocks::new().router(),
            with_if_match(json("PUT", path, BODY), "\"1\""),
        )
        .await;
        answer.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
    }
}

#[tokio::test]
async fn an_unknown_order_is_404_problem() {
    let mut mocks = Mocks::new();
    mocks
        .orders
        .expect_get()
        .returning(|id| Err(OrderError::NotFound(id)));
    let answer = call(mocks.router(), empty("GET", &format!("/orders/{ID}"))).await;
    answer.assert_problem(StatusCode::NOT_FOUND, "not-found");
}

// --- update: If-Match required --------------------------------------------------------------

#[tokio::test]
async fn update_replaces_the_version_named_in_if_match() {
    let mut mocks = Mocks::new();
    mocks
        .orders
        .expect_update()
        .withf(|asked, input, if_match| {
            *asked == id() && input.name == "Blue widget" && *if_match == Some(Etag("7".into()))
        })
        .times(1)
        .returning(|_, _, _| Ok(stored("8")));
    let request = with_if_match(json("PUT", &format!("/orders/{ID}"), BODY), "\"7\"");
    let answer = call(mocks.router(), request).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("etag"), Some("\"8\""));
    assert_eq!(answer.header("location"), None);
}

#[tokio::test]
async fn update_without_if_match_is_428_problem() {
    for if_match in [None, Some("*")] {
        let mut mocks = Mocks::new();
        mocks
            .orders
            .expect_update()
            .withf(|_, _, if_match| if_match.is_none())
            .returning(|id, _, _| Err(OrderError::VersionRequired(id)));
        let mut request = json("PUT", &format!("/orders/{ID}"), BODY);
        if let Some(value) = if_match {
            request = with_if_match(request, value);
        }
        let answer = call(mocks.router(), request).await;
        answer.assert_problem(StatusCode::PRECONDITION_REQUIRED, "version-required");
    }
}

#[tokio::test]
async fn update_with_a_stale_version_is_412_problem() {
    let mut mocks = Mocks::new();
    mocks
        .orders
        .expect_update()
        .returning(|id, _, _| Err(OrderError::StaleVersion(id)));
    let request = with_if_match(json("PUT", &format!("/orders/{ID}"), BODY), "\"6\"");
    let answer = call(mocks.router(), request).await;
    answer.assert_problem(StatusCode::PRECONDITION_FAILED, "stale-version");
}

#[tokio::test]
async fn a_weak_if_match_never_matches() {
    let request = with_if_match(json("PUT", &format!("/orders/{ID}"), BODY), "W/\"7\"");
    let answer = call(Mocks::new().router(), request).await;
    answer.assert_problem(StatusCode::PRECONDITION_FAILED, "stale-version");
    let request = with_if_match(empty("DELETE", &format!("/orders/{ID}")), "W/\"7\"");
    let answer = call(Mocks::new().router(), request).await;
    answer.assert_problem(StatusCode::PRECONDITION_FAILED, "stale-version");
}

#[tokio::test]
async fn a_malformed_if_match_is_400_problem() {
    for value in ["7", "\"7", "\"\"", "\"7\", \"8\""] {
        let request = with_if_match(json("PUT", &format!("/orders/{ID}"), BODY), value);
        let answer = call(Mocks::new().router(), request).await;
        answer.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
    }
}

#[tokio::test]
async fn update_with_invalid_input_is_422_problem() {
    let mut mocks = Mocks::new();
    mocks
        .orders
        .expect_update()
        .returning(|_, _, _| Err(ValidationError::new("quantity", "must not be negative").into()));
    let request = with_if_match(
        json(
            "PUT",
            &format!("/orders/{ID}"),
            r#"{"name": "x", "quantity": -1}"#,
        ),
        "\"7\"",
    );
    let answer = call(mocks.router(), request).await;
    answer.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
}

// --- delete: If-Match optional --------------------------------------------------------------

#[tokio::test]
async fn delete_passes_if_match_when_given_and_answers_204() {
    for (if_match, expected) in [
        (Some("\"7\""), Some(Etag("7".into()))),
        (None, None),
        (Some("*"), None),
    ] {
        let mut mocks = Mocks::new();
        mocks
            .orders
            .expect_delete()
            .withf(move |asked, given| *asked == id() && *given == expected)
            .times(1)
            .returning(|_, _| Ok(()));
        let mut request = empty("DELETE", &format!("/orders/{ID}"));
        if let Some(value) = if_match {
            request = with_if_match(request, value);
        }
        let answer = call(mocks.router(), request).await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT);
        assert!(answer.body.is_empty());
    }
}

#[tokio::test]
async fn delete_errors_map_to_problems() {
    let cases: [ErrorCase<OrderError>; 4] = [
        (
            || OrderError::StaleVersion(id()),
            StatusCode::PRECONDITION_FAILED,
            "stale-version",
        ),
        (
            || OrderError::Contended(id()),
            StatusCode::CONFLICT,
            "contended",
        ),
        (
            || OrderError::NotFound(id()),
            StatusCode::NOT_FOUND,
            "not-found",
        ),
        (unavailable, StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    ];
    for (error, status, slug) in cases {
        let mut mocks = Mocks::new();
        mocks
            .orders
            .expect_delete()
            .returning(move |_, _| Err(error()));
        let answer = call(mocks.router(), empty("DELETE", &format!("/orders/{ID}"))).await;
        answer.assert_problem(status, slug);
    }
}

// --- restocks -------------------------------------------------------------------------------

mod restocks {
    use axum::http::StatusCode;
    use biz::error::RepoError;
    use biz::workflow::{RestockError, RestockReport, RestockStatus};
    use serde_json::json;

    use super::{ErrorCase, ID, id};
    use crate::test_support::{Mocks, call, empty, json};

    #[tokio::test]
    async fn start_answers_202_with_the_location_of_the_run() {
        let mut mocks = Mocks::new();
        mocks
            .restocks
            .expect_start()
            .withf(|request| {
                request.lines.len() == 1
                    && request.lines[0].order_id == id()
                    && request.lines[0].quantity == 5
            })
            .times(1)
            .returning(|_| Ok("run-1".into()));
        let body = json!({ "lines": [{ "order_id": ID, "quantity": 5 }] }).to_string();
        let answer = call(mocks.router(), json("POST", "/restocks", body)).await;
        assert_eq!(answer.status, StatusCode::ACCEPTED);
        assert_eq!(answer.header("location"), Some("/restocks/run-1"));
        assert_eq!(answer.json(), json!({ "id": "run-1", "status": "running" }));
    }

    #[tokio::test]
    async fn a_line_naming_a_non_uuid_is_422_problem() {
        let body = json!({ "lines": [{ "order_id": "x", "quantity": 5 }] }).to_string();
        let answer = call(Mocks::new().router(), json("POST", "/restocks", body)).await;
        answer.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    }

    #[tokio::test]
    async fn an_invalid_restock_is_422_and_an_engine_failure_503() {
        let cases: [ErrorCase<RestockError>; 2] = [
            (
                || biz::order::ValidationError::new("lines", "must hold 1 to 100 lines").into(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
            ),
            (
                || RestockError::Unavailable(RepoError::Unavailable("scheduler down".into())),
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
            ),
        ];
        for (error, status, slug) in cases {
            let mut mocks = Mocks::new();
            mocks
                .restocks
                .expect_start()
                .returning(move |_| Err(error()));
            let answer = call(
                mocks.router(),
                json("POST", "/restocks", r#"{"lines": []}"#),
            )
            .await;
            answer.assert_problem(status, slug);
        }
    }

    #[tokio::test]
    async fn status_answers_where_the_run_stands() {
        let cases = [
            (
                RestockStatus::Running,
                json!({ "id": "run-1", "status": "running" }),
            ),
            (
                RestockStatus::Completed(RestockReport {
                    lines_applied: 2,
                    quantity_added: 9,
                }),
                json!({ "id": "run-1", "status": "completed", "lines_applied": 2, "quantity_added": 9 }),
            ),
            (
                RestockStatus::Failed("order gone".into()),
                json!({ "id": "run-1", "status": "failed", "error": "order gone" }),
            ),
        ];
        for (status, expected) in cases {
            let mut mocks = Mocks::new();
            mocks
                .restocks
                .expect_status()
                .withf(|id| id == "run-1")
                .return_once(move |_| Ok(status));
            let answer = call(mocks.router(), empty("GET", "/restocks/run-1")).await;
            assert_eq!(answer.status, StatusCode::OK);
            assert_eq!(answer.json(), expected);
        }
    }

    #[tokio::test]
    async fn an_unknown_run_is_404_and_a_malformed_id_400() {
        let mut mocks = Mocks::new();
        mocks
            .restocks
            .expect_status()
            .returning(|id| Err(RestockError::NotFound(id.to_owned())));
        let answer = call(mocks.router(), empty("GET", "/restocks/run-2")).await;
        answer.assert_problem(StatusCode::NOT_FOUND, "not-found");

        for id in ["a%20b", "run.1", &"r".repeat(129)] {
            let answer = call(
                Mocks::new().router(),
                empty("GET", &format!("/restocks/{id}")),
            )
            .await;
            answer.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
        }
    }
}

// --- the document ---------------------------------------------------------------------------

#[tokio::test]
async fn the_openapi_document_is_served() {
    let answer = call(Mocks::new().router(), empty("GET", "/openapi.json")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(
        String::from_utf8(answer.body.to_vec()).unwrap(),
        super::openapi::document()
    );
}

#[tokio::test]
async fn the_public_api_needs_no_app_token() {
    let mut mocks = Mocks::new();
    mocks.app_api_token = Some("sidecar-secret".into());
    mocks.orders.expect_get().returning(|_| Ok(stored("1")));
    let answer = call(mocks.router(), empty("GET", &format!("/orders/{ID}"))).await;
    assert_eq!(answer.status, StatusCode::OK);
}
