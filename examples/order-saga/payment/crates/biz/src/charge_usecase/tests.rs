//! The rules of `charge_payment` and `refund_payment` over mocked repos and lock: what is written,
//! in one commit, under which locks, and what is refused without writing anything.

use std::sync::Mutex;
use std::time::Duration;

use mockall::predicate::eq;

use super::*;
use crate::account::Account;
use crate::account::AccountInput;
use crate::account::Etag;
use crate::account_repo::MockAccountRepo;
use crate::charge_repo::MockChargeRepo;
use crate::lock::{Lease, MockDistributedLock};

fn saga() -> SagaId {
    SagaId::parse("saga-7").unwrap()
}

fn account(quantity: i64) -> Stored<Account> {
    let input = AccountInput {
        name: "n".into(),
        quantity,
    };
    Stored {
        value: Account::create(AccountId::new(), input),
        etag: Etag("s1".into()),
    }
}

fn request(stored: &Stored<Account>, amount: i64) -> ChargeRequest {
    ChargeRequest {
        account: stored.value.id,
        amount,
    }
}

fn stored_record(request: &ChargeRequest, state: ChargeState) -> Stored<Charge> {
    Stored {
        value: Charge::new(saga(), request, state),
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
fn locked_both(id: AccountId) -> Vec<String> {
    let mut resources = [lock_resource(id), charge_lock_resource(&saga())];
    resources.sort();
    let [first, second] = resources;
    vec![
        format!("take {first}"),
        format!("take {second}"),
        format!("give {second}"),
        format!("give {first}"),
    ]
}

fn record_repo(record: Option<Stored<Charge>>) -> MockChargeRepo {
    let mut repo = MockChargeRepo::new();
    repo.expect_get()
        .with(eq(saga()))
        .times(1)
        .returning(move |_| Ok(record.clone()));
    repo
}

fn account_repo(stored: &Stored<Account>) -> MockAccountRepo {
    let stored = stored.clone();
    let mut repo = MockAccountRepo::new();
    repo.expect_get()
        .with(eq(stored.value.id))
        .times(1)
        .returning(move |_| Ok(stored.clone()));
    repo
}

fn interactor(
    repo: MockChargeRepo,
    accounts: MockAccountRepo,
    log: &Arc<Mutex<Vec<String>>>,
) -> ChargeInteractor {
    ChargeInteractor::new(
        Arc::new(repo),
        Arc::new(accounts),
        Arc::new(recording_lock(log)),
    )
}

#[tokio::test]
async fn charge_payment_takes_under_both_locks_in_one_commit() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let current = account(10);
    let asked = request(&current, 4);
    let mut repo = record_repo(None);
    let id = current.value.id;
    repo.expect_commit()
        .withf(move |write| {
            let taken = write.account.as_ref().expect("the account changes");
            taken.etag.0 == "s1"
                && taken.account.quantity == 6
                && matches!(taken.event, AccountEvent::Adjusted { delta: -4, .. })
                && write.over.is_none()
                && write.charge.state == ChargeState::Captured
                && write.charge.account == id
                && matches!(write.event, ChargeEvent::Captured { .. })
        })
        .times(1)
        .returning(|_| Ok(()));
    let usecase = interactor(repo, account_repo(&current), &log);
    let done = usecase.charge_payment(saga(), asked, None).await.unwrap();
    assert_eq!((done.charge.amount, done.replayed), (4, false));
    assert_eq!(*log.lock().unwrap(), locked_both(id));
}

#[tokio::test]
async fn a_retried_charge_payment_is_replayed_without_a_second_effect() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let current = account(10);
    let asked = request(&current, 4);
    let repo = record_repo(Some(stored_record(&asked, ChargeState::Captured)));
    let usecase = interactor(repo, MockAccountRepo::new(), &log);
    let done = usecase.charge_payment(saga(), asked, None).await.unwrap();
    assert!(done.replayed);
    assert_eq!(done.charge.state, ChargeState::Captured);
}

#[tokio::test]
async fn another_request_under_the_same_saga_is_a_mismatch() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let current = account(10);
    let repo = record_repo(Some(stored_record(
        &request(&current, 4),
        ChargeState::Captured,
    )));
    let usecase = interactor(repo, MockAccountRepo::new(), &log);
    let error = usecase
        .charge_payment(saga(), request(&current, 5), None)
        .await
        .unwrap_err();
    assert!(matches!(error, ChargeError::Mismatch(_, 4, _)), "{error:?}");
}

#[tokio::test]
async fn a_late_charge_payment_after_refund_payment_is_refused() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let current = account(10);
    let asked = request(&current, 4);
    let repo = record_repo(Some(stored_record(&asked, ChargeState::Refunded)));
    let usecase = interactor(repo, MockAccountRepo::new(), &log);
    let error = usecase
        .charge_payment(saga(), asked, None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ChargeError::AlreadyRefunded(_)),
        "{error:?}"
    );
    assert_eq!(*log.lock().unwrap(), locked_both(current.value.id));
}

#[tokio::test]
async fn a_shortfall_is_refused_with_what_there_is_and_nothing_is_written() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let current = account(3);
    let asked = request(&current, 5);
    let usecase = interactor(record_repo(None), account_repo(&current), &log);
    let error = usecase
        .charge_payment(saga(), asked, None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ChargeError::Short {
                available: 3,
                asked: 5
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().starts_with("declined: "), "{error}");
    assert_eq!(log.lock().unwrap().len(), 4, "the locks are given back");
}

#[tokio::test]
async fn more_than_the_limit_is_refused_before_reading_the_account() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let current = account(1000);
    let asked = request(&current, 300);
    let usecase = interactor(record_repo(None), MockAccountRepo::new(), &log);
    let error = usecase
        .charge_payment(saga(), asked, Some(200))
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "declined: amount 300 over the limit 200");
}

#[tokio::test]
async fn an_unknown_account_is_not_found() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let id = AccountId::new();
    let mut accounts = MockAccountRepo::new();
    accounts
        .expect_get()
        .returning(|_| Err(RepoError::NotFound));
    let usecase = interactor(record_repo(None), accounts, &log);
    let asked = ChargeRequest {
        account: id,
        amount: 1,
    };
    let error = usecase
        .charge_payment(saga(), asked, None)
        .await
        .unwrap_err();
    assert!(matches!(error, ChargeError::AccountNotFound(missing) if missing == id));
}

#[tokio::test]
async fn a_lost_race_with_another_writer_is_busy() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let current = account(10);
    let mut repo = record_repo(None);
    repo.expect_commit().returning(|_| Err(RepoError::Conflict));
    let usecase = interactor(repo, account_repo(&current), &log);
    let error = usecase
        .charge_payment(saga(), request(&current, 1), None)
        .await
        .unwrap_err();
    assert!(matches!(error, ChargeError::Busy(_)), "{error:?}");
}

#[tokio::test]
async fn a_busy_lock_is_waited_for() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let current = account(10);
    let asked = request(&current, 4);
    let first = {
        let mut resources = [
            lock_resource(current.value.id),
            charge_lock_resource(&saga()),
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
    let repo = record_repo(Some(stored_record(&asked, ChargeState::Captured)));
    let usecase = ChargeInteractor::new(
        Arc::new(repo),
        Arc::new(MockAccountRepo::new()),
        Arc::new(lock),
    );
    let done = usecase.charge_payment(saga(), asked, None).await.unwrap();
    assert!(done.replayed);
    assert_eq!(log.lock().unwrap()[0], first);
}

#[tokio::test]
async fn a_lock_busy_for_longer_than_the_wait_is_busy_and_nothing_is_read() {
    let current = account(10);
    let mut lock = MockDistributedLock::new();
    lock.expect_try_acquire().returning(|_, _| Ok(None));
    let usecase = ChargeInteractor::new(
        Arc::new(MockChargeRepo::new()),
        Arc::new(MockAccountRepo::new()),
        Arc::new(lock),
    )
    .with_lock_wait(Duration::from_millis(30));
    let error = usecase
        .refund_payment(saga(), request(&current, 1))
        .await
        .unwrap_err();
    assert!(matches!(error, ChargeError::Busy(_)), "{error:?}");
}

#[tokio::test]
async fn invalid_amounts_are_refused_before_locking() {
    let current = account(10);
    let usecase = ChargeInteractor::new(
        Arc::new(MockChargeRepo::new()),
        Arc::new(MockAccountRepo::new()),
        Arc::new(MockDistributedLock::new()),
    );
    for amount in [0, -1] {
        let error = usecase
            .charge_payment(saga(), request(&current, amount), None)
            .await
            .unwrap_err();
        assert!(matches!(error, ChargeError::Invalid(_)), "{error:?}");
    }
}

#[tokio::test]
async fn refund_payment_gives_back_and_marks_the_record_in_one_commit() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let current = account(6);
    let asked = request(&current, 4);
    let mut repo = record_repo(Some(stored_record(&asked, ChargeState::Captured)));
    repo.expect_commit()
        .withf(|write| {
            let given = write.account.as_ref().expect("the account changes");
            given.account.quantity == 10
                && matches!(given.event, AccountEvent::Adjusted { delta: 4, .. })
                && write.over == Some(Etag("h1".into()))
                && write.charge.state == ChargeState::Refunded
                && matches!(write.event, ChargeEvent::Refunded { returned: true, .. })
        })
        .times(1)
        .returning(|_| Ok(()));
    let usecase = interactor(repo, account_repo(&current), &log);
    let done = usecase.refund_payment(saga(), asked).await.unwrap();
    assert_eq!(
        (done.charge.state, done.replayed),
        (ChargeState::Refunded, false)
    );
    assert_eq!(*log.lock().unwrap(), locked_both(current.value.id));
}

#[tokio::test]
async fn refund_payment_without_a_charge_writes_a_tombstone() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let current = account(6);
    let mut repo = record_repo(None);
    repo.expect_commit()
        .withf(|write| {
            write.account.is_none()
                && write.over.is_none()
                && write.charge.state == ChargeState::Refunded
                && matches!(
                    write.event,
                    ChargeEvent::Refunded {
                        returned: false,
                        ..
                    }
                )
        })
        .times(1)
        .returning(|_| Ok(()));
    // The account is never read: there is nothing to give back.
    let usecase = interactor(repo, MockAccountRepo::new(), &log);
    let done = usecase
        .refund_payment(saga(), request(&current, 4))
        .await
        .unwrap();
    assert_eq!(
        (done.charge.state, done.replayed),
        (ChargeState::Refunded, false)
    );
}

#[tokio::test]
async fn a_retried_refund_payment_is_replayed_without_a_second_effect() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let current = account(6);
    let asked = request(&current, 4);
    let repo = record_repo(Some(stored_record(&asked, ChargeState::Refunded)));
    let usecase = interactor(repo, MockAccountRepo::new(), &log);
    let done = usecase.refund_payment(saga(), asked).await.unwrap();
    assert!(done.replayed);
}

#[tokio::test]
async fn refund_payment_of_a_deleted_account_still_marks_the_record() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let current = account(6);
    let asked = request(&current, 4);
    let mut repo = record_repo(Some(stored_record(&asked, ChargeState::Captured)));
    repo.expect_commit()
        .withf(|write| {
            write.account.is_none()
                && write.over.is_some()
                && matches!(
                    write.event,
                    ChargeEvent::Refunded {
                        returned: false,
                        ..
                    }
                )
        })
        .times(1)
        .returning(|_| Ok(()));
    let mut accounts = MockAccountRepo::new();
    accounts
        .expect_get()
        .returning(|_| Err(RepoError::NotFound));
    let usecase = interactor(repo, accounts, &log);
    usecase.refund_payment(saga(), asked).await.unwrap();
}

#[tokio::test]
async fn get_answers_the_record_or_not_found() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let current = account(6);
    let asked = request(&current, 4);
    let usecase = interactor(
        record_repo(Some(stored_record(&asked, ChargeState::Captured))),
        MockAccountRepo::new(),
        &log,
    );
    assert_eq!(usecase.get(saga()).await.unwrap().amount, 4);
    let usecase = interactor(record_repo(None), MockAccountRepo::new(), &log);
    assert!(matches!(
        usecase.get(saga()).await,
        Err(ChargeError::NotFound(_))
    ));
}
