//! What clients may do with orders: the rules, independent of any transport.

use std::sync::Arc;

use async_trait::async_trait;
use shaku::{Component, Interface};

use crate::error::RepoError;
use crate::order::{Etag, Order, OrderEvent, OrderId, OrderInput, Stored, ValidationError};
use crate::order_repo::{ModifyError, OrderRepo, RetryPolicy};
use crate::page::{Page, PageRequest};

/// Retries of an adjustment when other writers change the same order at the same time.
/// Adjustments commute, so retrying them is always right; 8 attempts with 5 ms base back-off
/// absorb dozens of concurrent writers on one record.
pub const ADJUST_RETRIES: RetryPolicy = RetryPolicy {
    max_attempts: 8,
    base_delay_ms: 5,
};

/// Why a order operation failed, in business terms.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// The input breaks a rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// There is no such order.
    #[error("order {0} not found")]
    NotFound(OrderId),
    /// The version the client based its change on is no longer the current one.
    #[error("order {0} has changed since the version given")]
    StaleVersion(OrderId),
    /// A replacement must name the version it replaces, or it could silently undo another change.
    #[error("replacing order {0} needs the version it replaces (If-Match)")]
    VersionRequired(OrderId),
    /// Other writers kept changing it; the client may try again.
    #[error("order {0} is being changed by others, try again")]
    Contended(OrderId),
    /// Storage failed; details are in the source, for logs only.
    #[error("storage unavailable")]
    Unavailable(#[source] RepoError),
}

/// The order use cases, as the transports call them.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OrderUsecase: Interface {
    /// Creates a order; publishes `order.created`.
    async fn create(&self, input: OrderInput) -> Result<Stored<Order>, OrderError>;
    /// Reads one order with its version.
    async fn get(&self, id: OrderId) -> Result<Stored<Order>, OrderError>;
    /// Lists orders in creation order.
    async fn list(&self, page: PageRequest) -> Result<Page<Order>, OrderError>;
    /// Replaces version `if_match` of a order; publishes `order.updated`.
    async fn update(
        &self,
        id: OrderId,
        input: OrderInput,
        if_match: Option<Etag>,
    ) -> Result<Stored<Order>, OrderError>;
    /// Deletes a order (only version `if_match` when given); publishes `order.deleted`.
    async fn delete(&self, id: OrderId, if_match: Option<Etag>) -> Result<(), OrderError>;
    /// Adds `delta` to the quantity, once per `adjustment_id` however often it is delivered;
    /// publishes `order.adjusted`. Retries by itself when others write at the same time.
    async fn adjust(
        &self,
        id: OrderId,
        adjustment_id: String,
        delta: i64,
    ) -> Result<Stored<Order>, OrderError>;
}

/// The order use cases, on top of the [`OrderRepo`] port.
#[derive(Component)]
#[shaku(interface = OrderUsecase)]
pub struct OrderInteractor {
    #[shaku(inject)]
    repo: Arc<dyn OrderRepo>,
}

impl OrderInteractor {
    /// An interactor over `repo` (shaku builds it the same way).
    pub fn new(repo: Arc<dyn OrderRepo>) -> Self {
        Self { repo }
    }

    async fn current(&self, id: OrderId) -> Result<Stored<Order>, OrderError> {
        self.repo.get(id).await.map_err(|error| match error {
            RepoError::NotFound => OrderError::NotFound(id),
            other => OrderError::Unavailable(other),
        })
    }
}

#[async_trait]
impl OrderUsecase for OrderInteractor {
    async fn create(&self, input: OrderInput) -> Result<Stored<Order>, OrderError> {
        let order = Order::create(OrderId::new(), input.validate()?);
        let event = OrderEvent::Created {
            order: (&order).into(),
        };
        let etag = self
            .repo
            .insert(&order, &event)
            .await
            .map_err(OrderError::Unavailable)?;
        tracing::info!(id = %order.id, "order created");
        Ok(Stored { value: order, etag })
    }

    async fn get(&self, id: OrderId) -> Result<Stored<Order>, OrderError> {
        self.current(id).await
    }

    async fn list(&self, page: PageRequest) -> Result<Page<Order>, OrderError> {
        self.repo.list(&page).await.map_err(|error| match error {
            RepoError::InvalidPageToken(reason) => {
                ValidationError::new("page_token", reason).into()
            }
            other => OrderError::Unavailable(other),
        })
    }

    async fn update(
        &self,
        id: OrderId,
        input: OrderInput,
        if_match: Option<Etag>,
    ) -> Result<Stored<Order>, OrderError> {
        let input = input.validate()?;
        let if_match = if_match.ok_or(OrderError::VersionRequired(id))?;
        // The repo reads the record once and checks `if_match` against it before this runs: a
        // stale client costs one read and no write.
        let change = move |order: &mut Order| {
            order.replace(input.clone());
            Ok(Some(OrderEvent::Updated {
                order: (&*order).into(),
            }))
        };
        match self.repo.replace(id, &if_match, &change).await {
            Ok(stored) => Ok(stored),
            Err(ModifyError::Rejected(invalid)) => Err(invalid.into()),
            Err(ModifyError::Repo(RepoError::Conflict)) => Err(OrderError::StaleVersion(id)),
            Err(ModifyError::Repo(RepoError::NotFound)) => Err(OrderError::NotFound(id)),
            Err(ModifyError::Repo(other)) => Err(OrderError::Unavailable(other)),
        }
    }

    async fn delete(&self, id: OrderId, if_match: Option<Etag>) -> Result<(), OrderError> {
        let current = self.current(id).await?;
        if if_match
            .as_ref()
            .is_some_and(|expected| *expected != current.etag)
        {
            return Err(OrderError::StaleVersion(id));
        }
        let event = OrderEvent::Deleted {
            id,
            version: current.value.version,
        };
        match self.repo.delete(id, &current.etag, &event).await {
            Ok(()) => Ok(()),
            // With If-Match the client named a version that is gone; without, someone changed it
            // between our read and our delete: the client decides again on the new version.
            Err(RepoError::Conflict) if if_match.is_some() => Err(OrderError::StaleVersion(id)),
            Err(RepoError::Conflict) => Err(OrderError::Contended(id)),
            Err(RepoError::NotFound) => Err(OrderError::NotFound(id)),
            Err(other) => Err(OrderError::Unavailable(other)),
        }
    }

    async fn adjust(
        &self,
        id: OrderId,
        adjustment_id: String,
        delta: i64,
    ) -> Result<Stored<Order>, OrderError> {
        // Owned by the closure: the port takes changes that outlive this call frame (`'static`).
        let change = move |order: &mut Order| {
            if order.has_applied(&adjustment_id) {
                return Ok(None);
            }
            order.adjust(&adjustment_id, delta)?;
            Ok(Some(OrderEvent::Adjusted {
                order: (&*order).into(),
                delta,
            }))
        };
        match self.repo.modify(id, &change, ADJUST_RETRIES).await {
            Ok(stored) => Ok(stored),
            Err(ModifyError::Rejected(invalid)) => Err(invalid.into()),
            Err(ModifyError::Repo(RepoError::NotFound)) => Err(OrderError::NotFound(id)),
            Err(ModifyError::Repo(RepoError::Conflict)) => Err(OrderError::Contended(id)),
            Err(ModifyError::Repo(other)) => Err(OrderError::Unavailable(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use mockall::predicate::eq;

    use super::*;
    use crate::order_repo::MockOrderRepo;

    fn input(name: &str, quantity: i64) -> OrderInput {
        OrderInput {
            name: name.into(),
            quantity,
        }
    }

    fn stored(quantity: i64, etag: &str) -> Stored<Order> {
        let mut order = Order::create(OrderId::new(), input("first", quantity));
        order.version = 3;
        Stored {
            value: order,
            etag: Etag(etag.into()),
        }
    }

    fn interactor(repo: MockOrderRepo) -> OrderInteractor {
        OrderInteractor::new(Arc::new(repo))
    }

    #[tokio::test]
    async fn create_validates_stores_and_publishes_created() {
        let mut repo = MockOrderRepo::new();
        repo.expect_insert()
            .withf(|order, event| {
                order.name == "trimmed"
                    && order.version == 1
                    && *event
                        == OrderEvent::Created {
                            order: order.into(),
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
        let repo = MockOrderRepo::new(); // no expectation: any call fails the test
        let usecase = interactor(repo);
        for (bad, field) in [
            (input(" ", 1), "name"),
            (input("ok", -1), "quantity"),
            (input(&"x".repeat(201), 1), "name"),
        ] {
            match usecase.create(bad).await {
                Err(OrderError::Invalid(error)) => assert_eq!(error.field, field),
                other => panic!("expected Invalid({field}), got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn create_reports_storage_failure_as_unavailable() {
        let mut repo = MockOrderRepo::new();
        repo.expect_insert()
            .returning(|_, _| Err(RepoError::Unavailable("sidecar down".into())));
        let error = interactor(repo).create(input("a", 1)).await.unwrap_err();
        assert!(
            matches!(error, OrderError::Unavailable(RepoError::Unavailable(_))),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn get_maps_not_found() {
        let mut repo = MockOrderRepo::new();
        repo.expect_get().returning(|_| Err(RepoError::NotFound));
        let id = OrderId::new();
        assert!(
            matches!(interactor(repo).get(id).await, Err(OrderError::NotFound(missing)) if missing == id)
        );
    }

    #[tokio::test]
    async fn list_passes_the_page_request_through() {
        let mut repo = MockOrderRepo::new();
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
        let mut repo = MockOrderRepo::new();
        repo.expect_list().returning(|_| {
            Err(RepoError::InvalidPageToken(
                "not issued by this service".into(),
            ))
        });
        let page = PageRequest::new(None, Some("garbage".into())).unwrap();
        match interactor(repo).list(page).await {
            Err(OrderError::Invalid(error)) => assert_eq!(error.field, "page_token"),
            other => panic!("expected Invalid(page_token), got {other:?}"),
        }
    }

    #[tokio::test]
    async fn update_without_if_match_is_refused_before_any_read() {
        let repo = MockOrderRepo::new();
        let id = OrderId::new();
        let error = interactor(repo)
            .update(id, input("a", 1), None)
            .await
            .unwrap_err();
        assert!(matches!(error, OrderError::VersionRequired(_)), "{error:?}");
    }

    #[tokio::test]
    async fn update_replaces_the_version_given_and_publishes_updated() {
        let mut repo = MockOrderRepo::new();
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
                    Some(OrderEvent::Updated {
                        order: (&replaced).into()
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
        let repo = MockOrderRepo::new(); // no expectation: any call fails the test
        let error = interactor(repo)
            .update(OrderId::new(), input(" ", 1), Some(Etag("7".into())))
            .await
            .unwrap_err();
        assert!(matches!(error, OrderError::Invalid(_)), "{error:?}");
    }

    #[tokio::test]
    async fn update_maps_every_failure() {
        type Expectation = fn(&OrderError) -> bool;
        let cases: Vec<(ModifyError, Expectation)> = vec![
            (RepoError::Conflict.into(), |e| {
                matches!(e, OrderError::StaleVersion(_))
            }),
            (RepoError::NotFound.into(), |e| {
                matches!(e, OrderError::NotFound(_))
            }),
            (RepoError::Unavailable("down".into()).into(), |e| {
                matches!(e, OrderError::Unavailable(_))
            }),
        ];
        for (failure, expected) in cases {
            let mut repo = MockOrderRepo::new();
            let mut failure = Some(failure);
            repo.expect_replace()
                .times(1)
                .returning(move |_, _, _| Err(failure.take().unwrap()));
            let error = interactor(repo)
                .update(OrderId::new(), input("a", 1), Some(Etag("7".into())))
                .await
                .unwrap_err();
            assert!(expected(&error), "{error:?}");
        }
    }

    #[tokio::test]
    async fn delete_without_if_match_deletes_the_version_it_read() {
        let mut repo = MockOrderRepo::new();
        let current = stored(1, "7");
        let id = current.value.id;
        repo.expect_get().returning(move |_| Ok(current.clone()));
        repo.expect_delete()
            .withf(move |deleted, etag, event| {
                *deleted == id && etag.0 == "7" && *event == OrderEvent::Deleted { id, version: 3 }
            })
            .times(1)
            .returning(|_, _, _| Ok(()));
        interactor(repo).delete(id, None).await.unwrap();
    }

    #[tokio::test]
    async fn delete_conflicts_depend_on_whether_the_client_named_a_version() {
        for (if_match, stale) in [(Some(Etag("7".into())), true), (None, false)] {
            let mut repo = MockOrderRepo::new();
            let current = stored(1, "7");
            let id = current.value.id;
            repo.expect_get().returning(move |_| Ok(current.clone()));
            repo.expect_delete()
                .returning(|_, _, _| Err(RepoError::Conflict));
            let error = interactor(repo).delete(id, if_match).await.unwrap_err();
            if stale {
                assert!(matches!(error, OrderError::StaleVersion(_)), "{error:?}");
            } else {
                assert!(matches!(error, OrderError::Contended(_)), "{error:?}");
            }
        }
    }

    #[tokio::test]
    async fn delete_with_a_stale_if_match_never_writes() {
        let mut repo = MockOrderRepo::new();
        let current = stored(1, "7");
        let id = current.value.id;
        repo.expect_get().returning(move |_| Ok(current.clone()));
        let error = interactor(repo)
            .delete(id, Some(Etag("2".into())))
            .await
            .unwrap_err();
        assert!(matches!(error, OrderError::StaleVersion(_)), "{error:?}");
    }

    #[tokio::test]
    async fn adjust_retries_conflicts_with_the_adjust_policy_and_applies_once() {
        let mut repo = MockOrderRepo::new();
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
                    Some(OrderEvent::Adjusted { delta: -4, .. })
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
        type Expectation = fn(&OrderError) -> bool;
        let cases: Vec<(ModifyError, Expectation)> = vec![
            (ValidationError::new("delta", "below zero").into(), |e| {
                matches!(e, OrderError::Invalid(_))
            }),
            (RepoError::NotFound.into(), |e| {
                matches!(e, OrderError::NotFound(_))
            }),
            (RepoError::Conflict.into(), |e| {
                matches!(e, OrderError::Contended(_))
            }),
            (RepoError::Unavailable("down".into()).into(), |e| {
                matches!(e, OrderError::Unavailable(_))
            }),
        ];
        for (failure, expected) in cases {
            let mut repo = MockOrderRepo::new();
            let mut failure = Some(failure);
            repo.expect_modify()
                .times(1)
                .returning(move |_, _, _| Err(failure.take().unwrap()));
            let error = interactor(repo)
                .adjust(OrderId::new(), "e".into(), 1)
                .await
                .unwrap_err();
            assert!(expected(&error), "{error:?}");
        }
    }
}
