//! The public API over mocked use cases: every route's success, every error's mapping, the
//! ETag/If-Match rules, idempotency, and bad input of every kind (always 4xx problem details).

use axum::http::StatusCode;
use biz::error::RepoError;
use biz::idempotency::{Admission, IdempotencyError, RecordedResponse};
use biz::page::{DEFAULT_PAGE_SIZE, Page};
use biz::stock::{Etag, Stock, StockId, StockInput, Stored, ValidationError};
use biz::stock_usecase::StockError;
use serde_json::json;

use super::IDEMPOTENT_REPLAYED;
use crate::router::HttpLimits;
use crate::test_support::{Mocks, call, empty, json};

const ID: &str = "6f1b2a9e-3c4d-4e5f-8a7b-9c0d1e2f3a4b";

fn id() -> StockId {
    StockId::parse(ID).unwrap()
}

fn stored(etag: &str) -> Stored<Stock> {
    let input = StockInput {
        name: "Blue widget".into(),
        quantity: 12,
    };
    Stored {
        value: Stock::create(id(), input),
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

fn unavailable() -> StockError {
    StockError::Unavailable(RepoError::Unavailable(
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
        .stocks
        .expect_create()
        .withf(|input| input.name == "Blue widget" && input.quantity == 12)
        .times(1)
        .returning(|_| Ok(stored("1")));
    let answer = call(mocks.router(), json("POST", "/stocks", BODY)).await;
    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!(
        answer.header("location"),
        Some(format!("/stocks/{ID}").as_str())
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
        .stocks
        .expect_create()
        .returning(|_| Err(ValidationError::new("name", "must not be empty").into()));
    let answer = call(
        mocks.router(),
        json("POST", "/stocks", r#"{"name": " ", "quantity": 1}"#),
    )
    .await;
    let problem = answer.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert_eq!(problem["detail"], "invalid name: must not be empty");
}

#[tokio::test]
async fn storage_failures_are_503_problem_without_details() {
    let mut mocks = Mocks::new();
    mocks
        .stocks
        .expect_create()
        .returning(|_| Err(unavailable()));
    let answer = call(mocks.router(), json("POST", "/stocks", BODY)).await;
    let problem = answer.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    assert!(
        !problem.to_string().contains("10.0.0.7"),
        "leaked: {problem}"
    );
}

#[tokio::test]
async fn corrupt_data_is_500_problem_without_details() {
    let mut mocks = Mocks::new();
    mocks.stocks.expect_get().returning(|_| {
        Err(StockError::Unavailable(RepoError::Corrupt(
            "expected `name` at byte 17".into(),
        )))
    });
    let answer = call(mocks.router(), empty("GET", &format!("/stocks/{ID}"))).await;
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
        let answer = call(Mocks::new().router(), json("POST", "/stocks", body)).await;
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
        let answer = call(Mocks::new().router(), json("POST", "/stocks", body)).await;
        answer.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body");
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415_problem() {
    let mut request = empty("POST", "/stocks");
    *request.body_mut() = BODY.into();
    let answer = call(Mocks::new().router(), request).await;
    answer.assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type");

    let mut request = json("POST", "/stocks", BODY);
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
        mocks.stocks.expect_create().returning(|_| Ok(stored("1")));
        let mut request = json("POST", "/stocks", BODY);
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
    let answer = call(Mocks::new().router(), json("POST", "/stocks", body.clone())).await;
    answer.assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large");

    let mut mocks = Mocks::new();
    mocks.limits = HttpLimits {
        body_limit_bytes: 16,
        ..HttpLimits::default()
    };
    let answer = call(mocks.router(), json("PUT", &format!("/stocks/{ID}"), BODY)).await;
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
        .stocks
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
        with_key(json("POST", "/stocks", BODY), "key-1"),
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
                ("location".into(), format!("/stocks/{ID}")),
            ],
            body: br#"{"recorded":true}"#.to_vec(),
        }))
    });
    let answer = call(
        mocks.router(),
        with_key(json("POST", "/stocks", BODY), "key-1"),
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
            with_key(json("POST", "/stocks", body), "key-1"),
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
        with_key(json("POST", "/stocks", BODY), "key-1"),
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
        with_key(json("POST", "/stocks", BODY), "key-1"),
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
        with_key(json("POST", "/stocks", BODY), "key-1"),
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
        .stocks
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
        with_key(json("POST", "/stocks", BODY), "key-1"),
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
    mocks.stocks.expect_create().returning(|_| Ok(stored("1")));
    mocks.idempotency.expect_complete().returning(|_, _, _| {
        Err(IdempotencyError::Unavailable(RepoError::Unavailable(
            "down".into(),
        )))
    });
    let answer = call(
        mocks.router(),
        with_key(json("POST", "/stocks", BODY), "key-1"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_malformed_key_is_400_problem_and_claims_nothing() {
    for key in ["", &"k".repeat(300), "two words"] {
        let answer = call(
            Mocks::new().router(),
            with_key(json("POST", "/stocks", BODY), key),
        )
        .await;
        answer.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
    }
}

#[tokio::test]
async fn a_malformed_body_claims_no_key() {
    let answer = call(
        Mocks::new().router(),
        with_key(json("POST", "/stocks", "{"), "key-1"),
    )
    .await;
    answer.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
}

// --- list -----------------------------------------------------------------------------------

#[tokio::test]
async fn list_passes_the_page_and_answers_items_and_next_token() {
    let mut mocks = Mocks::new();
    mocks
        .stocks
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
        empty("GET", "/stocks?page_size=2&page_token=abc"),
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
        .stocks
        .expect_list()
        .withf(|page| page.size == DEFAULT_PAGE_SIZE && page.token.is_none())
        .returning(|_| {
            Ok(Page {
                items: vec![],
                next_token: None,
            })
        });
    let answer = call(mocks.router(), empty("GET", "/stocks?page_token=")).await;
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
            empty("GET", &format!("/stocks?{query}")),
        )
        .await;
        answer.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
    }
    let mut mocks = Mocks::new();
    mocks.stocks.expect_list().returning(|_| {
        Err(ValidationError::new("page_token", "not issued by this service").into())
    });
    let answer = call(mocks.router(), empty("GET", "/stocks?page_token=forged")).await;
    answer.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
}

// --- get ------------------------------------------------------------------------------------

#[tokio::test]
async fn get_answers_the_stock_with_its_etag() {
    let mut mocks = Mocks::new();
    mocks
        .stocks
        .expect_get()
        .withf(|asked| *asked == id())
        .returning(|_| Ok(stored("7")));
    let answer = call(mocks.router(), empty("GET", &format!("/stocks/{ID}"))).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("etag"), Some("\"7\""));
    assert_eq!(answer.json()["id"], ID);
}

#[tokio::test]
async fn an_id_that_is_not_a_uuid_is_400_problem() {
    for path in ["/stocks/42", "/stocks/not-a-uuid", "/stocks/%FF"] {
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
async fn an_unknown_stock_is_404_problem() {
    let mut mocks = Mocks::new();
    mocks
        .stocks
        .expect_get()
        .returning(|id| Err(StockError::NotFound(id)));
    let answer = call(mocks.router(), empty("GET", &format!("/stocks/{ID}"))).await;
    answer.assert_problem(StatusCode::NOT_FOUND, "not-found");
}

// --- update: If-Match required --------------------------------------------------------------

#[tokio::test]
async fn update_replaces_the_version_named_in_if_match() {
    let mut mocks = Mocks::new();
    mocks
        .stocks
        .expect_update()
        .withf(|asked, input, if_match| {
            *asked == id() && input.name == "Blue widget" && *if_match == Some(Etag("7".into()))
        })
        .times(1)
        .returning(|_, _, _| Ok(stored("8")));
    let request = with_if_match(json("PUT", &format!("/stocks/{ID}"), BODY), "\"7\"");
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
            .stocks
            .expect_update()
            .withf(|_, _, if_match| if_match.is_none())
            .returning(|id, _, _| Err(StockError::VersionRequired(id)));
        let mut request = json("PUT", &format!("/stocks/{ID}"), BODY);
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
        .stocks
        .expect_update()
        .returning(|id, _, _| Err(StockError::StaleVersion(id)));
    let request = with_if_match(json("PUT", &format!("/stocks/{ID}"), BODY), "\"6\"");
    let answer = call(mocks.router(), request).await;
    answer.assert_problem(StatusCode::PRECONDITION_FAILED, "stale-version");
}

#[tokio::test]
async fn a_weak_if_match_never_matches() {
    let request = with_if_match(json("PUT", &format!("/stocks/{ID}"), BODY), "W/\"7\"");
    let answer = call(Mocks::new().router(), request).await;
    answer.assert_problem(StatusCode::PRECONDITION_FAILED, "stale-version");
    let request = with_if_match(empty("DELETE", &format!("/stocks/{ID}")), "W/\"7\"");
    let answer = call(Mocks::new().router(), request).await;
    answer.assert_problem(StatusCode::PRECONDITION_FAILED, "stale-version");
}

#[tokio::test]
async fn a_malformed_if_match_is_400_problem() {
    for value in ["7", "\"7", "\"\"", "\"7\", \"8\""] {
        let request = with_if_match(json("PUT", &format!("/stocks/{ID}"), BODY), value);
        let answer = call(Mocks::new().router(), request).await;
        answer.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
    }
}

#[tokio::test]
async fn update_with_invalid_input_is_422_problem() {
    let mut mocks = Mocks::new();
    mocks
        .stocks
        .expect_update()
        .returning(|_, _, _| Err(ValidationError::new("quantity", "must not be negative").into()));
    let request = with_if_match(
        json(
            "PUT",
            &format!("/stocks/{ID}"),
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
            .stocks
            .expect_delete()
            .withf(move |asked, given| *asked == id() && *given == expected)
            .times(1)
            .returning(|_, _| Ok(()));
        let mut request = empty("DELETE", &format!("/stocks/{ID}"));
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
    let cases: [ErrorCase<StockError>; 4] = [
        (
            || StockError::StaleVersion(id()),
            StatusCode::PRECONDITION_FAILED,
            "stale-version",
        ),
        (
            || StockError::Contended(id()),
            StatusCode::CONFLICT,
            "contended",
        ),
        (
            || StockError::NotFound(id()),
            StatusCode::NOT_FOUND,
            "not-found",
        ),
        (unavailable, StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    ];
    for (error, status, slug) in cases {
        let mut mocks = Mocks::new();
        mocks
            .stocks
            .expect_delete()
            .returning(move |_, _| Err(error()));
        let answer = call(mocks.router(), empty("DELETE", &format!("/stocks/{ID}"))).await;
        answer.assert_problem(status, slug);
    }
}

// --- transfers ------------------------------------------------------------------------------

const OTHER: &str = "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d";

fn transfer_body(from: &str, to: &str, amount: i64) -> String {
    json!({ "from": from, "to": to, "amount": amount }).to_string()
}

#[tokio::test]
async fn transfer_answers_both_stocks() {
    let mut mocks = Mocks::new();
    mocks
        .transfers
        .expect_transfer()
        .withf(|transfer_id, from, to, amount| {
            !transfer_id.is_empty() && *from == id() && to.to_string() == OTHER && *amount == 3
        })
        .times(1)
        .returning(|_, _, to, _| {
            let mut target = stored("2");
            target.value.id = to;
            Ok(biz::stock_transfer::Transfer {
                from: stored("1"),
                to: target,
            })
        });
    let answer = call(
        mocks.router(),
        json("POST", "/stocks/transfers", transfer_body(ID, OTHER, 3)),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let body = answer.json();
    assert_eq!(body["from"]["id"], ID);
    assert_eq!(body["to"]["id"], OTHER);
}

#[tokio::test]
async fn a_transfer_naming_a_non_uuid_is_422_problem() {
    let answer = call(
        Mocks::new().router(),
        json("POST", "/stocks/transfers", transfer_body("x", OTHER, 3)),
    )
    .await;
    let problem = answer.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert!(
        problem["detail"].as_str().unwrap().contains("from"),
        "{problem}"
    );
}

#[tokio::test]
async fn transfer_errors_map_to_problems() {
    use biz::stock_transfer::TransferError;
    let cases: [ErrorCase<TransferError>; 4] = [
        (
            || ValidationError::new("amount", "must be positive").into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
        (
            || TransferError::NotFound(id()),
            StatusCode::NOT_FOUND,
            "not-found",
        ),
        (
            || TransferError::Busy(ID.into()),
            StatusCode::CONFLICT,
            "contended",
        ),
        (
            || TransferError::Unavailable(RepoError::Unavailable("lock store down".into())),
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
        ),
    ];
    for (error, status, slug) in cases {
        let mut mocks = Mocks::new();
        mocks
            .transfers
            .expect_transfer()
            .returning(move |_, _, _, _| Err(error()));
        let answer = call(
            mocks.router(),
            json("POST", "/stocks/transfers", transfer_body(ID, OTHER, 3)),
        )
        .await;
        answer.assert_problem(status, slug);
    }
}

#[tokio::test]
async fn a_retried_transfer_is_replayed_not_redone() {
    let mut mocks = Mocks::new();
    mocks.idempotency.expect_begin().returning(|_, _| {
        Ok(Admission::Replay(RecordedResponse {
            status: 200,
            headers: vec![],
            body: b"{}".to_vec(),
        }))
    });
    let request = with_key(
        json("POST", "/stocks/transfers", transfer_body(ID, OTHER, 3)),
        "key-1",
    );
    let answer = call(mocks.router(), request).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header(IDEMPOTENT_REPLAYED), Some("true"));
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
    mocks.stocks.expect_get().returning(|_| Ok(stored("1")));
    let answer = call(mocks.router(), empty("GET", &format!("/stocks/{ID}"))).await;
    assert_eq!(answer.status, StatusCode::OK);
}
