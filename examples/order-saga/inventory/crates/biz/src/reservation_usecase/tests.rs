//! The rules of `reserve_stock` and `release_stock` over mocked repos and lock: what is written,
//! in one commit, under which locks, and what is refused without writing anything.

use std::sync::Mutex;
use std::time::Duration;

use mockall::predicate::eq;

use super::*;
use crate::lock::{Lease, MockDistributedLock};
use crate::reservation_repo::MockReservationRepo;
use crate::stock::Etag;
use crate::stock::Stock;
use crate::stock::StockInput;
use crate::stock_repo::MockStockRepo;

fn saga() -> SagaId {
    SagaId::parse("saga-7").unwrap()
}

fn stock(quantity: i64) -> Stored<Stock> {
    let input = StockInput {
        name: "n".into(),
        quantity,
    };
    Stored {
        value: Stock::create(StockId::new(), input),
        etag: Etag("s1".into()),
    }
}

fn request(stored: &Stored<Stock>, quantity: i64) -> ReservationRequest {
    ReservationRequest {
        sku: stored.value.id,
        quantity,
    }
}

fn stored_record(request: &ReservationRequest, state: ReservationState) -> Stored<Reservation> {
    Stored {
        value: Reservation::new(saga(), request, state),
        etag: Etag("h1".into()),
    }
}

/// A lock that grants every resource and records which ones were taken and given back.
fn recording_lock(log: &Arc<Mutex<Vec<String>>>) -> MockDistributedLock {
    let mut lock = MockDistributedLock::new();
    let taken = log.clone();
    lock.expect_try_acquire()
        .withf(|_, lease| *lease == LEASE_SECONDS)
        .returning(move |resource, _| {
            taken.lock().unwrap().push(format!("take {resource}"));
            Ok(Some(Lease {
                resource: resource.into(),
                owner: "me".into(),
            }))
        });
    let given = log.clone();
    lock.expect_release().returning(move |lease| {
        given
            .lock()
            .unwrap()
            .push(format!("give {}", lease.resource));
        Ok(())
    });
    lock
}

/// The lock log of one operation on `id` for [`saga`]: both resources, sorted, given back in
/// reverse order.
fn locked_both(id: StockId) -> Vec<String> {
    let mut resources = [lock_resource(id), reservation_lock_resource(&saga())];
    resources.sort();
    let [first, second] = resources;
    vec![
        format!("take {first}"),
        format!("take {second}"),
        format!("give {second}"),
        format!("give {first}"),
    ]
}

fn record_repo(record: Option<Stored<Reservation>>) -> MockReservationRepo {
    let mut repo = MockReservationRepo::new();
    repo.expect_get()
        .with(eq(saga()))
        .times(1)
        .returning(move |_| Ok(record.clone()));
    repo
}

fn stock_repo(stored: &Stored<Stock>) -> MockStockRepo {
    let stored = stored.clone();
    let mut repo = MockStockRepo::new();
    repo.expect_get()
        .with(eq(stored.value.id))
        .times(1)
        .returning(move |_| Ok(stored.clone()));
    repo
}

fn interactor(
    repo: MockReservationRepo,
    stocks: MockStockRepo,
    log: &Arc<Mutex<Vec<String>>>,
) -> ReservationInteractor {
    ReservationInteractor::new(
        Arc::new(repo),
        Arc::new(stocks),
        Arc::new(recording_lock(log)),
    )
}

#[tokio::test]
async fn reserve_stock_takes_under_both_locks_in_one_commit() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let current = stock(10);
    let asked = request(&current, 4);
    let mut repo = record_repo(None);
    let id = current.value.id;
    repo.expect_commit()
        .withf(move |write| {
            let taken = write.stock.as_ref().expect("the stock changes");
            taken.etag.0 == "s1"
                && taken.stock.quantity == 6
                && matches!(taken.event, StockEvent::Adjusted { delta: -4, .. })
                && write.over.is_none()
                && write.reservation.state == ReservationState::Reserved
                && write.reservation.sku == id
                && matches!(write.event, ReservationEvent::Reserved { .. })
        })
        .times(1)
        .returning(|_| Ok(()));
    let usecase = interactor(repo, stock_repo(&current), &log);
    let done = usecase.reserve_stock(saga(), asked, None).await.unwrap();
    assert_eq!((done.reservation.quantity, done.replayed), (4, false));
    assert_eq!(*log.lock().unwrap(), locked_both(id));
}

#[tokio::test]
async fn a_retried_reserve_stock_is_replayed_without_a_second_effect() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let current = stock(10);
    let asked = request(&current, 4);
    let repo = record_repo(Some(stored_record(&asked, ReservationState::Reserved)));
    let usecase = interactor(repo, MockStockRepo::new(), &log);
    let done = usecase.reserve_stock(saga(), asked, None).await.unwrap();
    assert!(done.replayed);
    assert_eq!(done.reservation.state, ReservationState::Reserved);
}

#[tokio::test]
async fn another_request_under_the_same_saga_is_a_mismatch() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let current = stock(10);
    let repo = record_repo(Some(stored_record(
        &request(&current, 4),
        ReservationState::Reserved,
    )));
    let usecase = interactor(repo, MockStockRepo::new(), &log);
    let error = usecase
        .reserve_stock(saga(), request(&current, 5), None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ReservationError::Mismatch(_, 4, _)),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_late_reserve_stock_after_release_stock_is_refused() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let current = stock(10);
    let asked = request(&current, 4);
    let repo = record_repo(Some(stored_record(&asked, ReservationState::Released)));
    let usecase = interactor(repo, MockStockRepo::new(), &log);
    let error = usecase
        .reserve_stock(saga(), asked, None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ReservationError::AlreadyReleased(_)),
        "{error:?}"
    );
    assert_eq!(*log.lock().unwrap(), locked_both(current.value.id));
}

#[tokio::test]
async fn a_shortfall_is_refused_with_what_there_is_and_nothing_is_written() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let current = stock(3);
    let asked = request(&current, 5);
    let usecase = interactor(record_repo(None), stock_repo(&current), &log);
    let error = usecase
        .reserve_stock(saga(), asked, None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ReservationError::Short {
                available: 3,
                asked: 5
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().starts_with("short stock: "), "{error}");
    assert_eq!(log.lock().unwrap().len(), 4, "the locks are given back");
}

#[tokio::test]
async fn more_than_the_limit_is_refused_before_reading_the_stock() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let current = stock(1000);
    let asked = request(&current, 300);
    let usecase = interactor(record_repo(None), MockStockRepo::new(), &log);
    let error = usecase
        .reserve_stock(saga(), asked, Some(200))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "short stock: quantity 300 over the limit 200"
    );
}

#[tokio::test]
async fn an_unknown_stock_is_not_found() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let id = StockId::new();
    let mut stocks = MockStockRepo::new();
    stocks.expect_get().returning(|_| Err(RepoError::NotFound));
    let usecase = interactor(record_repo(None), stocks, &log);
    let asked = ReservationRequest {
        sku: id,
        quantity: 1,
    };
    let error = usecase
        .reserve_stock(saga(), asked, None)
        .await
        .unwrap_err();
    assert!(matches!(error, ReservationError::StockNotFound(missing) if missing == id));
}

#[tokio::test]
async fn a_lost_race_with_another_writer_is_busy() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let current = stock(10);
    let mut repo = record_repo(None);
    repo.expect_commit().returning(|_| Err(RepoError::Conflict));
    let usecase = interactor(repo, stock_repo(&current), &log);
    let error = usecase
        .reserve_stock(saga(), request(&current, 1), None)
        .await
        .unwrap_err();
    assert!(matches!(error, ReservationError::Busy(_)), "{error:?}");
}

#[tokio::test]
async fn a_busy_lock_is_waited_for() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let current = stock(10);
    let asked = request(&current, 4);
    let first = {
        let mut resources = [
            lock_resource(current.value.id),
            reservation_lock_resource(&saga()),
        ];
        resources.sort();
        resources[0].clone()
    };
    let mut lock = MockDistributedLock::new();
    let mut order = mockall::Sequence::new();
    // Busy twice (the first resource, so nothing is held meanwhile), then granted.
    lock.expect_try_acquire()
        .times(2)
        .in_sequence(&mut order)
        .returning(|_, _| Ok(None));
    let taken = log.clone();
    lock.expect_try_acquire()
        .times(2)
        .in_sequence(&mut order)
        .returning(move |resource, _| {
            taken.lock().unwrap().push(resource.to_owned());
            Ok(Some(Lease {
                resource: resource.into(),
                owner: "me".into(),
            }))
        });
    lock.expect_release().times(2).returning(|_| Ok(()));
    let repo = record_repo(Some(stored_record(&asked, ReservationState::Reserved)));
    let usecase = ReservationInteractor::new(
        Arc::new(repo),
        Arc::new(MockStockRepo::new()),
        Arc::new(lock),
    );
    let done = usecase.reserve_stock(saga(), asked, None).await.unwrap();
    assert!(done.replayed);
    assert_eq!(log.lock().unwrap()[0], first);
}

#[tokio::test]
async fn a_lock_busy_for_longer_than_the_wait_is_busy_and_nothing_is_read() {
    let current = stock(10);
    let mut lock = MockDistributedLock::new();
    lock.expect_try_acquire().returning(|_, _| Ok(None));
    let usecase = ReservationInteractor::new(
        Arc::new(MockReservationRepo::new()),
        Arc::new(MockStockRepo::new()),
        Arc::new(lock),
    )
    .with_lock_wait(Duration::from_millis(30));
    let error = usecase
        .release_stock(saga(), request(&current, 1))
        .await
        .unwrap_err();
    assert!(matches!(error, ReservationError::Busy(_)), "{error:?}");
}

#[tokio::test]
async fn invalid_amounts_are_refused_before_locking() {
    let current = stock(10);
    let usecase = ReservationInteractor::new(
        Arc::new(MockReservationRepo::new()),
        Arc::new(MockStockRepo::new()),
        Arc::new(MockDistributedLock::new()),
    );
    for quantity in [0, -1] {
        let error = usecase
            .reserve_stock(saga(), request(&current, quantity), None)
            .await
            .unwrap_err();
        assert!(matches!(error, ReservationError::Invalid(_)), "{error:?}");
    }
}

#[tokio::test]
async fn release_stock_gives_back_and_marks_the_record_in_one_commit() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let current = stock(6);
    let asked = request(&current, 4);
    let mut repo = record_repo(Some(stored_record(&asked, ReservationState::Reserved)));
    repo.expect_commit()
        .withf(|write| {
            let given = write.stock.as_ref().expect("the stock changes");
            given.stock.quantity == 10
                && matches!(given.event, StockEvent::Adjusted { delta: 4, .. })
                && write.over == Some(Etag("h1".into()))
                && write.reservation.state == ReservationState::Released
                && matches!(
                    write.event,
                    ReservationEvent::Released { returned: true, .. }
                )
        })
        .times(1)
        .returning(|_| Ok(()));
    let usecase = interactor(repo, stock_repo(&current), &log);
    let done = usecase.release_stock(saga(), asked).await.unwrap();
    assert_eq!(
        (done.reservation.state, done.replayed),
        (ReservationState::Released, false)
    );
    assert_eq!(*log.lock().unwrap(), locked_both(current.value.id));
}

#[tokio::test]
async fn release_stock_without_a_reservation_writes_a_tombstone() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let current = stock(6);
    let mut repo = record_repo(None);
    repo.expect_commit()
        .withf(|write| {
            write.stock.is_none()
                && write.over.is_none()
                && write.reservation.state == ReservationState::Released
                && matches!(
                    write.event,
                    ReservationEvent::Released {
                        returned: false,
                        ..
                    }
                )
        })
        .times(1)
        .returning(|_| Ok(()));
    // The stock is never read: there is nothing to give back.
    let usecase = interactor(repo, MockStockRepo::new(), &log);
    let done = usecase
        .release_stock(saga(), request(&current, 4))
        .await
        .unwrap();
    assert_eq!(
        (done.reservation.state, done.replayed),
        (ReservationState::Released, false)
    );
}

#[tokio::test]
async fn a_retried_release_stock_is_replayed_without_a_second_effect() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let current = stock(6);
    let asked = request(&current, 4);
    let repo = record_repo(Some(stored_record(&asked, ReservationState::Released)));
    let usecase = interactor(repo, MockStockRepo::new(), &log);
    let done = usecase.release_stock(saga(), asked).await.unwrap();
    assert!(done.replayed);
}

#[tokio::test]
async fn release_stock_of_a_deleted_stock_still_marks_the_record() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let current = stock(6);
    let asked = request(&current, 4);
    let mut repo = record_repo(Some(stored_record(&asked, ReservationState::Reserved)));
    repo.expect_commit()
        .withf(|write| {
            write.stock.is_none()
                && write.over.is_some()
                && matches!(
                    write.event,
                    ReservationEvent::Released {
                        returned: false,
                        ..
                    }
                )
        })
        .times(1)
        .returning(|_| Ok(()));
    let mut stocks = MockStockRepo::new();
    stocks.expect_get().returning(|_| Err(RepoError::NotFound));
    let usecase = interactor(repo, stocks, &log);
    usecase.release_stock(saga(), asked).await.unwrap();
}

#[tokio::test]
async fn get_answers_the_record_or_not_found() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let current = stock(6);
    let asked = request(&current, 4);
    let usecase = interactor(
        record_repo(Some(stored_record(&asked, ReservationState::Reserved))),
        MockStockRepo::new(),
        &log,
    );
    assert_eq!(usecase.get(saga()).await.unwrap().quantity, 4);
    let usecase = interactor(record_repo(None), MockStockRepo::new(), &log);
    assert!(matches!(
        usecase.get(saga()).await,
        Err(ReservationError::NotFound(_))
    ));
}
