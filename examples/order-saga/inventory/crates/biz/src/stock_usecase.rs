//! What clients may do with stocks: the rules, independent of any transport.

use std::sync::Arc;

use async_trait::async_trait;
use shaku::{Component, Interface};

use crate::error::RepoError;
use crate::page::{Page, PageRequest};
use crate::stock::{Etag, Stock, StockEvent, StockId, StockInput, Stored, ValidationError};
use crate::stock_repo::{ModifyError, RetryPolicy, StockRepo};

/// Retries of an adjustment when other writers change the same stock at the same time.
/// Adjustments commute, so retrying them is always right; 8 attempts with 5 ms base back-off
/// absorb dozens of concurrent writers on one record.
pub const ADJUST_RETRIES: RetryPolicy = RetryPolicy {
    max_attempts: 8,
    base_delay_ms: 5,
};

/// Why a stock operation failed, in business terms.
#[derive(Debug, thiserror::Error)]
pub enum StockError {
    /// The input breaks a rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// There is no such stock.
    #[error("stock {0} not found")]
    NotFound(StockId),
    /// The version the client based its change on is no longer the current one.
    #[error("stock {0} has changed since the version given")]
    StaleVersion(StockId),
    /// A replacement must name the version it replaces, or it could silently undo another change.
    #[error("replacing stock {0} needs the version it replaces (If-Match)")]
    VersionRequired(StockId),
    /// Other writers kept changing it; the client may try again.
    #[error("stock {0} is being changed by others, try again")]
    Contended(StockId),
    /// Storage failed; details are in the source, for logs only.
    #[error("storage unavailable")]
    Unavailable(#[source] RepoError),
}

/// The stock use cases, as the transports call them.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait StockUsecase: Interface {
    /// Creates a stock; publishes `stock.created`.
    async fn create(&self, input: StockInput) -> Result<Stored<Stock>, StockError>;
    /// Reads one stock with its version.
    async fn get(&self, id: StockId) -> Result<Stored<Stock>, StockError>;
    /// Lists stocks in creation order.
    async fn list(&self, page: PageRequest) -> Result<Page<Stock>, StockError>;
    /// Replaces version `if_match` of a stock; publishes `stock.updated`.
    async fn update(
        &self,
        id: StockId,
        input: StockInput,
        if_match: Option<Etag>,
    ) -> Result<Stored<Stock>, StockError>;
    /// Deletes a stock (only version `if_match` when given); publishes `stock.deleted`.
    async fn delete(&self, id: StockId, if_match: Option<Etag>) -> Result<(), StockError>;
    /// Adds `delta` to the quantity, once per `adjustment_id` however often it is delivered;
    /// publishes `stock.adjusted`. Retries by itself when others write at the same time.
    async fn adjust(
        &self,
        id: StockId,
        adjustment_id: String,
        delta: i64,
    ) -> Result<Stored<Stock>, StockError>;
}

/// The stock use cases, on top of the [`StockRepo`] port.
#[derive(Component)]
#[shaku(interface = StockUsecase)]
pub struct StockInteractor {
    #[shaku(inject)]
    repo: Arc<dyn StockRepo>,
}

impl StockInteractor {
    /// An interactor over `repo` (shaku builds it the same way).
    pub fn new(repo: Arc<dyn StockRepo>) -> Self {
        Self { repo }
    }

    async fn current(&self, id: StockId) -> Result<Stored<Stock>, StockError> {
        self.repo.get(id).await.map_err(|error| match error {
            RepoError::NotFound => StockError::NotFound(id),
            other => StockError::Unavailable(other),
        })
    }
}

#[async_trait]
impl StockUsecase for StockInteractor {
    async fn create(&self, input: StockInput) -> Result<Stored<Stock>, StockError> {
        let stock = Stock::create(StockId::new(), input.validate()?);
        let event = StockEvent::Created {
            stock: (&stock).into(),
        };
        let etag = self
            .repo
            .insert(&stock, &event)
            .await
            .map_err(StockError::Unavailable)?;
        tracing::info!(id = %stock.id, "stock created");
        Ok(Stored { value: stock, etag })
    }

    async fn get(&self, id: StockId) -> Result<Stored<Stock>, StockError> {
        self.current(id).await
    }

    async fn list(&self, page: PageRequest) -> Result<Page<Stock>, StockError> {
        self.repo.list(&page).await.map_err(|error| match error {
            RepoError::InvalidPageToken(reason) => {
                ValidationError::new("page_token", reason).into()
            }
            other => StockError::Unavailable(other),
        })
    }

    async fn update(
        &self,
        id: StockId,
        input: StockInput,
        if_match: Option<Etag>,
    ) -> Result<Stored<Stock>, StockError> {
        let input = input.validate()?;
        let if_match = if_match.ok_or(StockError::VersionRequired(id))?;
        // The repo reads the record once and checks `if_match` against it before this runs: a
        // stale client costs one read and no write.
        let change = move |stock: &mut Stock| {
            stock.replace(input.clone());
            Ok(Some(StockEvent::Updated {
                stock: (&*stock).into(),
            }))
        };
        match self.repo.replace(id, &if_match, &change).await {
            Ok(stored) => Ok(stored),
            Err(ModifyError::Rejected(invalid)) => Err(invalid.into()),
            Err(ModifyError::Repo(RepoError::Conflict)) => Err(StockError::StaleVersion(id)),
            Err(ModifyError::Repo(RepoError::NotFound)) => Err(StockError::NotFound(id)),
            Err(ModifyError::Repo(other)) => Err(StockError::Unavailable(other)),
        }
    }

    async fn delete(&self, id: StockId, if_match: Option<Etag>) -> Result<(), StockError> {
        let current = self.current(id).await?;
        if if_match
            .as_ref()
            .is_some_and(|expected| *expected != current.etag)
        {
            return Err(StockError::StaleVersion(id));
        }
        let event = StockEvent::Deleted {
            id,
            version: current.value.version,
        };
        match self.repo.delete(id, &current.etag, &event).await {
            Ok(()) => Ok(()),
            // With If-Match the client named a version that is gone; without, someone changed it
            // between our read and our delete: the client decides again on the new version.
            Err(RepoError::Conflict) if if_match.is_some() => Err(StockError::StaleVersion(id)),
            Err(RepoError::Conflict) => Err(StockError::Contended(id)),
            Err(RepoError::NotFound) => Err(StockError::NotFound(id)),
            Err(other) => Err(StockError::Unavailable(other)),
        }
    }

    async fn adjust(
        &self,
        id: StockId,
        adjustment_id: String,
        delta: i64,
    ) -> Result<Stored<Stock>, StockError> {
        // Owned by the closure: the port takes changes that outlive this call frame (`'static`).
        let change = move |stock: &mut Stock| {
            if stock.has_applied(&adjustment_id) {
                return Ok(None);
            }
            stock.adjust(&adjustment_id, delta)?;
            Ok(Some(StockEvent::Adjusted {
                stock: (&*stock).into(),
                delta,
            }))
        };
        match self.repo.modify(id, &change, ADJUST_RETRIES).await {
            Ok(stored) => Ok(stored),
            Err(ModifyError::Rejected(invalid)) => Err(invalid.into()),
            Err(ModifyError::Repo(RepoError::NotFound)) => Err(StockError::NotFound(id)),
            Err(ModifyError::Repo(RepoError::Conflict)) => Err(StockError::Contended(id)),
            Err(ModifyError::Repo(other)) => Err(StockError::Unavailable(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use mockall::predicate::eq;

    use super::*;
    use crate::stock_repo::MockStockRepo;

    fn input(name: &str, quantity: i64) -> StockInput {
        StockInput {
            name: name.into(),
            quantity,
        }
    }

    fn stored(quantity: i64, etag: &str) -> Stored<Stock> {
        let mut stock = Stock::create(StockId::new(), input("first", quantity));
        stock.version = 3;
        Stored {
            value: stock,
            etag: Etag(etag.into()),
        }
    }

    fn interactor(repo: MockStockRepo) -> StockInteractor {
        StockInteractor::new(Arc::new(repo))
    }

    #[tokio::test]
    async fn create_validates_stores_and_publishes_created() {
        let mut repo = MockStockRepo::new();
        repo.expect_insert()
            .withf(|stock, event| {
                stock.name == "trimmed"
                    && stock.version == 1
                    && *event
                        == StockEvent::Created {
                            stock: stock.into(),
                        }
            })
            .times(1)
            .returning(|_, _| Ok(Etag("1".into())));
        let created = interactor(repo)
            .create(input("  trimmed ", 5))
            .await
            .unwrap();
        assert_eq!(
            (created.value.quantity, created.etag),
            (5, Etag("1".into()))
        );
    }

    #[tokio::test]
    async fn create_refuses_invalid_input_without_touching_storage() {
        let repo = MockStockRepo::new(); // no expectation: any call fails the test
        let usecase = interactor(repo);
        for (bad, field) in [
            (input(" ", 1), "name"),
            (input("ok", -1), "quantity"),
            (input(&"x".repeat(201), 1), "name"),
        ] {
            match usecase.create(bad).await {
                Err(StockError::Invalid(error)) => assert_eq!(error.field, field),
                other => panic!("expected Invalid({field}), got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn create_reports_storage_failure_as_unavailable() {
        let mut repo = MockStockRepo::new();
        repo.expect_insert()
            .returning(|_, _| Err(RepoError::Unavailable("sidecar down".into())));
        let error = interactor(repo).create(input("a", 1)).await.unwrap_err();
        assert!(
            matches!(error, StockError::Unavailable(RepoError::Unavailable(_))),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn get_maps_not_found() {
        let mut repo = MockStockRepo::new();
        repo.expect_get().returning(|_| Err(RepoError::NotFound));
        let id = StockId::new();
        assert!(
            matches!(interactor(repo).get(id).await, Err(StockError::NotFound(missing)) if missing == id)
        );
    }

    #[tokio::test]
    async fn list_passes_the_page_request_through() {
        let mut repo = MockStockRepo::new();
        let page = PageRequest::new(Some(2), Some("4".into())).unwrap();
        repo.expect_list()
            .with(eq(page.clone()))
            .times(1)
            .returning(|_| {
                Ok(Page {
                    items: vec![],
                    next_token: None,
                })
            });
        assert_eq!(interactor(repo).list(page).await.unwrap().items, vec![]);
    }

    #[tokio::test]
    async fn list_reports_a_foreign_page_token_as_invalid_input() {
        let mut repo = MockStockRepo::new();
        repo.expect_list().returning(|_| {
            Err(RepoError::InvalidPageToken(
                "not issued by this service".into(),
            ))
        });
        let page = PageRequest::new(None, Some("garbage".into())).unwrap();
        match interactor(repo).list(page).await {
            Err(StockError::Invalid(error)) => assert_eq!(error.field, "page_token"),
            other => panic!("expected Invalid(page_token), got {other:?}"),
        }
    }

    #[tokio::test]
    async fn update_without_if_match_is_refused_before_any_read() {
        let repo = MockStockRepo::new();
        let id = StockId::new();
        let error = interactor(repo)
            .update(id, input("a", 1), None)
            .await
            .unwrap_err();
        assert!(matches!(error, StockError::VersionRequired(_)), "{error:?}");
    }

    #[tokio::test]
    async fn update_replaces_the_version_given_and_publishes_updated() {
        let mut repo = MockStockRepo::new();
        let current = stored(1, "7");
        let id = current.value.id;
        repo.expect_replace()
            .withf(move |target, etag, _| *target == id && etag.0 == "7")
            .times(1)
            .returning(move |_, _, change| {
                // Run the change as the adapter would, on the version it read.
                let mut replaced = current.value.clone();
                let event = change(&mut replaced).unwrap();
                assert_eq!(
                    (replaced.name.as_str(), replaced.quantity, replaced.version),
                    ("renamed", 9, 4)
                );
                assert_eq!(
                    event,
                    Some(StockEvent::Updated {
                        stock: (&replaced).into()
                    })
                );
                Ok(Stored {
                    value: replaced,
                    etag: Etag("8".into()),
                })
            });
        let updated = interactor(repo)
            .update(id, input("renamed", 9), Some(Etag("7".into())))
            .await
            .unwrap();
        assert_eq!(
            (updated.value.quantity, updated.etag),
            (9, Etag("8".into()))
        );
    }

    #[tokio::test]
    async fn update_refuses_invalid_input_without_touching_storage() {
        let repo = MockStockRepo::new(); // no expectation: any call fails the test
        let error = interactor(repo)
            .update(StockId::new(), input(" ", 1), Some(Etag("7".into())))
            .await
            .unwrap_err();
        assert!(matches!(error, StockError::Invalid(_)), "{error:?}");
    }

    #[tokio::test]
    async fn update_maps_every_failure() {
        type Expectation = fn(&StockError) -> bool;
        let cases: Vec<(ModifyError, Expectation)> = vec![
            (RepoError::Conflict.into(), |e| {
                matches!(e, StockError::StaleVersion(_))
            }),
            (RepoError::NotFound.into(), |e| {
                matches!(e, StockError::NotFound(_))
            }),
            (RepoError::Unavailable("down".into()).into(), |e| {
                matches!(e, StockError::Unavailable(_))
            }),
        ];
        for (failure, expected) in cases {
            let mut repo = MockStockRepo::new();
            let mut failure = Some(failure);
            repo.expect_replace()
                .times(1)
                .returning(move |_, _, _| Err(failure.take().unwrap()));
            let error = interactor(repo)
                .update(StockId::new(), input("a", 1), Some(Etag("7".into())))
                .await
                .unwrap_err();
            assert!(expected(&error), "{error:?}");
        }
    }

    #[tokio::test]
    async fn delete_without_if_match_deletes_the_version_it_read() {
        let mut repo = MockStockRepo::new();
        let current = stored(1, "7");
        let id = current.value.id;
        repo.expect_get().returning(move |_| Ok(current.clone()));
        repo.expect_delete()
            .withf(move |deleted, etag, event| {
                *deleted == id && etag.0 == "7" && *event == StockEvent::Deleted { id, version: 3 }
            })
            .times(1)
            .returning(|_, _, _| Ok(()));
        interactor(repo).delete(id, None).await.unwrap();
    }

    #[tokio::test]
    async fn delete_conflicts_depend_on_whether_the_client_named_a_version() {
        for (if_match, stale) in [(Some(Etag("7".into())), true), (None, false)] {
            let mut repo = MockStockRepo::new();
            let current = stored(1, "7");
            let id = current.value.id;
            repo.expect_get().returning(move |_| Ok(current.clone()));
            repo.expect_delete()
                .returning(|_, _, _| Err(RepoError::Conflict));
            let error = interactor(repo).delete(id, if_match).await.unwrap_err();
            if stale {
                assert!(matches!(error, StockError::StaleVersion(_)), "{error:?}");
            } else {
                assert!(matches!(error, StockError::Contended(_)), "{error:?}");
            }
        }
    }

    #[tokio::test]
    async fn delete_with_a_stale_if_match_never_writes() {
        let mut repo = MockStockRepo::new();
        let current = stored(1, "7");
        let id = current.value.id;
        repo.expect_get().returning(move |_| Ok(current.clone()));
        let error = interactor(repo)
            .delete(id, Some(Etag("2".into())))
            .await
            .unwrap_err();
        assert!(matches!(error, StockError::StaleVersion(_)), "{error:?}");
    }

    #[tokio::test]
    async fn adjust_retries_conflicts_with_the_adjust_policy_and_applies_once() {
        let mut repo = MockStockRepo::new();
        let current = stored(10, "7");
        let id = current.value.id;
        repo.expect_modify()
            .withf(move |target, _, policy| *target == id && *policy == ADJUST_RETRIES)
            .times(1)
            .returning(move |_, change, _| {
                // Run the change as the adapter would: once on a fresh record, once on a record
                // that already carries this adjustment (a redelivery).
                let mut fresh = current.value.clone();
                let event = change(&mut fresh).unwrap();
                assert!(matches!(
                    event,
                    Some(StockEvent::Adjusted { delta: -4, .. })
                ));
                assert_eq!((fresh.quantity, fresh.version), (6, 4));
                let mut again = fresh.clone();
                assert_eq!(
                    change(&mut again).unwrap(),
                    None,
                    "a redelivery changes nothing"
                );
                assert_eq!(again, fresh);
                Ok(Stored {
                    value: fresh,
                    etag: Etag("8".into()),
                })
            });
        let adjusted = interactor(repo)
            .adjust(id, "event-1".into(), -4)
            .await
            .unwrap();
        assert_eq!(adjusted.value.quantity, 6);
    }

    #[tokio::test]
    async fn adjust_maps_every_failure() {
        type Expectation = fn(&StockError) -> bool;
        let cases: Vec<(ModifyError, Expectation)> = vec![
            (ValidationError::new("delta", "below zero").into(), |e| {
                matches!(e, StockError::Invalid(_))
            }),
            (RepoError::NotFound.into(), |e| {
                matches!(e, StockError::NotFound(_))
            }),
            (RepoError::Conflict.into(), |e| {
                matches!(e, StockError::Contended(_))
            }),
            (RepoError::Unavailable("down".into()).into(), |e| {
                matches!(e, StockError::Unavailable(_))
            }),
        ];
        for (failure, expected) in cases {
            let mut repo = MockStockRepo::new();
            let mut failure = Some(failure);
            repo.expect_modify()
                .times(1)
                .returning(move |_, _, _| Err(failure.take().unwrap()));
            let error = interactor(repo)
                .adjust(StockId::new(), "e".into(), 1)
                .await
                .unwrap_err();
            assert!(expected(&error), "{error:?}");
        }
    }
}
