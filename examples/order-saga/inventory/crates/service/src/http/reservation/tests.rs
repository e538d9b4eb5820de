//! The saga operation routes over a mocked use case: what reaches the use case, and how each
//! outcome is answered (the saga retries 5xx and compensates other 4xx).

use axum::http::StatusCode;
use biz::error::RepoError;
use biz::failure_injection::{FailureInjection, FailureInjectionSettings};
use biz::reservation::Reservation;
use biz::reservation::ReservationRequest;
use biz::reservation::ReservationState;
use biz::reservation::SagaId;
use biz::reservation_usecase::ReservationError;
use biz::reservation_usecase::ReservationOutcome;
use biz::stock::StockId;
use serde_json::json;

use crate::http::IDEMPOTENT_REPLAYED;
use crate::test_support::{Mocks, call, empty, json};

const ID: &str = "6f1b2a9e-3c4d-4e5f-8a7b-9c0d1e2f3a4b";
const ACTION_KEY: &str = "saga-1:reserve_stock";
const COMPENSATION_KEY: &str = "saga-1:release_stock";

fn id() -> StockId {
    StockId::parse(ID).unwrap()
}

fn saga() -> SagaId {
    SagaId::parse("saga-1").unwrap()
}

/// The whole saga input, as every operation of the saga receives it.
fn body(extra: serde_json::Value) -> String {
    let mut input = json!({
        "sku": ID, "quantity": 2, "account": ID, "amount": 2,
    });
    for (name, value) in extra.as_object().cloned().unwrap_or_default() {
        input[name] = value;
    }
    input.to_string()
}

fn post(
    uri: &str,
    key: Option<&str>,
    extra: serde_json::Value,
) -> axum::http::Request<axum::body::Body> {
    let mut request = json("POST", uri, body(extra));
    if let Some(key) = key {
        request
            .headers_mut()
            .insert("idempotency-key", key.parse().unwrap());
    }
    request
}

fn record(state: ReservationState) -> Reservation {
    let request = ReservationRequest {
        sku: id(),
        quantity: 2,
    };
    Reservation::new(saga(), &request, state)
}

fn outcome(state: ReservationState, replayed: bool) -> ReservationOutcome {
    ReservationOutcome {
        reservation: record(state),
        replayed,
    }
}

#[tokio::test]
async fn reserve_stock_answers_the_reservation() {
    let mut mocks = Mocks::new();
    mocks
        .reservations
        .expect_reserve_stock()
        .withf(|saga_id, request, limit| {
            *saga_id == saga() && request.sku == id() && request.quantity == 2 && limit.is_none()
        })
        .times(1)
        .returning(|_, _, _| Ok(outcome(ReservationState::Reserved, false)));
    let answer = call(
        mocks.router(),
        post("/reserve-stock", Some(ACTION_KEY), json!({})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.json(),
        json!({"sku": ID, "quantity": 2, "state": "reserved"})
    );
    assert_eq!(answer.header(IDEMPOTENT_REPLAYED), None);
}

#[tokio::test]
async fn a_retry_done_before_is_marked_replayed() {
    let mut mocks = Mocks::new();
    mocks
        .reservations
        .expect_reserve_stock()
        .returning(|_, _, _| Ok(outcome(ReservationState::Reserved, true)));
    let answer = call(
        mocks.router(),
        post("/reserve-stock", Some(ACTION_KEY), json!({})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header(IDEMPOTENT_REPLAYED), Some("true"));
}

#[tokio::test]
async fn release_stock_answers_the_reservation_released() {
    let mut mocks = Mocks::new();
    mocks
        .reservations
        .expect_release_stock()
        .withf(|saga_id, request| *saga_id == saga() && request.sku == id())
        .times(1)
        .returning(|_, _| Ok(outcome(ReservationState::Released, false)));
    let answer = call(
        mocks.router(),
        post("/release-stock", Some(COMPENSATION_KEY), json!({})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json()["state"], "released");
}

#[tokio::test]
async fn the_key_is_required_and_must_name_the_operation() {
    for (uri, key) in [
        ("/reserve-stock", None),
        ("/reserve-stock", Some(COMPENSATION_KEY)),
        ("/release-stock", Some(ACTION_KEY)),
        ("/reserve-stock", Some("reserve_stock")),
    ] {
        // The mocked use case has no expectations: reaching it would fail the test.
        let answer = call(Mocks::new().router(), post(uri, key, json!({}))).await;
        answer.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
    }
}

#[tokio::test]
async fn a_sku_that_is_not_a_uuid_is_422() {
    let answer = call(
        Mocks::new().router(),
        post("/reserve-stock", Some(ACTION_KEY), json!({"sku": "nope"})),
    )
    .await;
    let problem = answer.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert!(
        problem["detail"].as_str().unwrap().contains("sku"),
        "{problem}"
    );
}

/// An error of the mocked use case, and the status and problem type it must be answered with.
type ErrorCase = (fn() -> ReservationError, StatusCode, &'static str);

/// Each refusal of the use case, and the status and problem type the saga must read.
#[tokio::test]
async fn refusals_are_4xx_and_transient_failures_503() {
    let cases: [ErrorCase; 7] = [
        (
            || ReservationError::Short {
                available: 1,
                asked: 2,
            },
            StatusCode::CONFLICT,
            "short-stock",
        ),
        (
            || ReservationError::OverLimit { asked: 2, limit: 1 },
            StatusCode::CONFLICT,
            "short-stock",
        ),
        (
            || ReservationError::AlreadyReleased(saga()),
            StatusCode::CONFLICT,
            "already-released",
        ),
        (
            || ReservationError::StockNotFound(id()),
            StatusCode::NOT_FOUND,
            "not-found",
        ),
        (
            || ReservationError::Mismatch(saga(), 3, id()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
        (
            || ReservationError::Busy("stock/x".into()),
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
        ),
        (
            || ReservationError::Unavailable(RepoError::Unavailable("redis down".into())),
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
        ),
    ];
    for (error, status, slug) in cases {
        let mut mocks = Mocks::new();
        mocks
            .reservations
            .expect_reserve_stock()
            .returning(move |_, _, _| Err(error()));
        let answer = call(
            mocks.router(),
            post("/reserve-stock", Some(ACTION_KEY), json!({})),
        )
        .await;
        let problem = answer.assert_problem(status, slug);
        if status != StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(problem["detail"], error().to_string());
        }
    }
}

#[tokio::test]
async fn the_shortfall_detail_says_what_there_is() {
    let mut mocks = Mocks::new();
    mocks
        .reservations
        .expect_reserve_stock()
        .returning(|_, _, _| {
            Err(ReservationError::Short {
                available: 1,
                asked: 2,
            })
        });
    let answer = call(
        mocks.router(),
        post("/reserve-stock", Some(ACTION_KEY), json!({})),
    )
    .await;
    let problem = answer.assert_problem(StatusCode::CONFLICT, "short-stock");
    assert_eq!(problem["title"], "Short stock");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with("short stock: ")
    );
}

#[tokio::test]
async fn failures_are_refused_while_injection_is_off() {
    let answer = call(
        Mocks::new().router(),
        post(
            "/reserve-stock",
            Some(ACTION_KEY),
            json!({"failures": {"reserve_stock": 1}}),
        ),
    )
    .await;
    let problem = answer.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("failure injection is off")
    );
}

#[tokio::test]
async fn injected_failures_are_503_until_the_count_is_reached() {
    let mut mocks = Mocks::new();
    mocks.failure_injection = FailureInjection::on(FailureInjectionSettings::default());
    mocks
        .reservations
        .expect_reserve_stock()
        .times(1)
        .returning(|_, _, _| Ok(outcome(ReservationState::Reserved, false)));
    let router = mocks.router();
    let failures = json!({"failures": {"reserve_stock": 2, "release_stock": 5}});
    for _ in 0..2 {
        let request = post("/reserve-stock", Some(ACTION_KEY), failures.clone());
        let answer = call(router.clone(), request).await;
        answer.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    }
    let request = post("/reserve-stock", Some(ACTION_KEY), failures);
    assert_eq!(call(router, request).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_limit_of_failure_injection_reaches_the_use_case() {
    let mut mocks = Mocks::new();
    mocks.failure_injection = FailureInjection::on(FailureInjectionSettings {
        decline_over: Some(500),
        ..Default::default()
    });
    // decline_over limits charges only.
    let expected: Option<i64> = None;
    mocks
        .reservations
        .expect_reserve_stock()
        .withf(move |_, _, limit| *limit == expected)
        .times(1)
        .returning(|_, _, _| Ok(outcome(ReservationState::Reserved, false)));
    let answer = call(
        mocks.router(),
        post("/reserve-stock", Some(ACTION_KEY), json!({})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn get_answers_the_reservation_or_404() {
    let mut mocks = Mocks::new();
    mocks
        .reservations
        .expect_get()
        .withf(|saga_id| *saga_id == saga())
        .returning(|_| Ok(record(ReservationState::Released)));
    let answer = call(mocks.router(), empty("GET", "/reservations/saga-1")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json()["state"], "released");

    let mut mocks = Mocks::new();
    mocks
        .reservations
        .expect_get()
        .returning(|saga_id| Err(ReservationError::NotFound(saga_id)));
    let answer = call(mocks.router(), empty("GET", "/reservations/saga-2")).await;
    answer.assert_problem(StatusCode::NOT_FOUND, "not-found");

    let answer = call(
        Mocks::new().router(),
        empty("GET", "/reservations/not%20a%20saga"),
    )
    .await;
    answer.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
}

#[tokio::test]
async fn the_operations_are_the_sidecars_and_the_record_is_public() {
    for (uri, key) in [
        ("/reserve-stock", ACTION_KEY),
        ("/release-stock", COMPENSATION_KEY),
    ] {
        let mut mocks = Mocks::new();
        mocks.app_api_token = Some("secret".into());
        let answer = call(mocks.router(), post(uri, Some(key), json!({}))).await;
        answer.assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let mut mocks = Mocks::new();
    mocks.app_api_token = Some("secret".into());
    mocks
        .reservations
        .expect_get()
        .returning(|_| Ok(record(ReservationState::Reserved)));
    let answer = call(mocks.router(), empty("GET", "/reservations/saga-1")).await;
    assert_eq!(answer.status, StatusCode::OK);
}
