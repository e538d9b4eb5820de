//! `Idempotency-Key`: a retried request with the same key gets the first response back instead
//! of a second effect. The key is claimed with the state store's insert-if-absent write, so of
//! many concurrent requests exactly one proceeds.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use shaku::{Component, Interface};

use crate::error::RepoError;
use crate::stock::ValidationError;

/// Longest accepted key.
pub const MAX_KEY_LEN: usize = 255;

/// A client-chosen key naming one logical request (typically a UUID).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Accepts 1 to [`MAX_KEY_LEN`] visible ASCII characters.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        if text.is_empty()
            || text.len() > MAX_KEY_LEN
            || !text.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(ValidationError::new(
                "Idempotency-Key",
                format!("must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// The key as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A digest of the request a key was first used with: the same key with another request is a
/// client bug, not a retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint(pub String);

/// The response given to the first request, replayed to its retries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedResponse {
    /// Status code.
    pub status: u16,
    /// Headers worth replaying (e.g. `ETag`, `Location`).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// What is stored under a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum IdempotencyRecord {
    /// The first request is still being processed.
    InFlight {
        /// Its fingerprint.
        fingerprint: Fingerprint,
    },
    /// The first request finished with `response`.
    Completed {
        /// Its fingerprint.
        fingerprint: Fingerprint,
        /// What it answered.
        response: RecordedResponse,
    },
}

/// Storage of idempotency records; records expire after the store's configured time to live.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait IdempotencyStore: Interface {
    /// Inserts `InFlight` for `key` if no record exists; [`RepoError::AlreadyExists`] otherwise.
    async fn claim(&self, key: &IdempotencyKey, fingerprint: &Fingerprint)
    -> Result<(), RepoError>;
    /// Reads the record of `key`, if any (an expired one is gone).
    async fn get(&self, key: &IdempotencyKey) -> Result<Option<IdempotencyRecord>, RepoError>;
    /// Stores the final response of the request that claimed `key`.
    async fn complete(
        &self,
        key: &IdempotencyKey,
        fingerprint: &Fingerprint,
        response: &RecordedResponse,
    ) -> Result<(), RepoError>;
    /// Forgets `key`, so that a retry can proceed after the first attempt failed.
    async fn release(&self, key: &IdempotencyKey) -> Result<(), RepoError>;
}

/// Whether a request may proceed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// First use of the key: do the work, then [`Idempotency::complete`] or [`Idempotency::release`].
    Proceed,
    /// A retry of a finished request: answer this.
    Replay(RecordedResponse),
}

/// Why a request may not proceed.
#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    /// The key was used before with a different request.
    #[error("this Idempotency-Key was already used with a different request")]
    KeyReused,
    /// The first request with this key is still being processed.
    #[error("a request with this Idempotency-Key is still being processed")]
    InFlight,
    /// Storage failed.
    #[error("idempotency storage unavailable")]
    Unavailable(#[source] RepoError),
}

/// The idempotency rules, as the transports call them.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Idempotency: Interface {
    /// Claims `key` for a request with `fingerprint`, or says why not.
    async fn begin(
        &self,
        key: &IdempotencyKey,
        fingerprint: &Fingerprint,
    ) -> Result<Admission, IdempotencyError>;
    /// Records the response of the request that was admitted.
    async fn complete(
        &self,
        key: &IdempotencyKey,
        fingerprint: &Fingerprint,
        response: &RecordedResponse,
    ) -> Result<(), IdempotencyError>;
    /// Gives the key up after the admitted request failed without effect.
    async fn release(&self, key: &IdempotencyKey) -> Result<(), IdempotencyError>;
}

/// [`Idempotency`] on top of the [`IdempotencyStore`] port.
#[derive(Component)]
#[shaku(interface = Idempotency)]
pub struct IdempotencyGuard {
    #[shaku(inject)]
    store: Arc<dyn IdempotencyStore>,
}

impl IdempotencyGuard {
    /// A guard over `store` (shaku builds it the same way).
    pub fn new(store: Arc<dyn IdempotencyStore>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl Idempotency for IdempotencyGuard {
    async fn begin(
        &self,
        key: &IdempotencyKey,
        fingerprint: &Fingerprint,
    ) -> Result<Admission, IdempotencyError> {
        // Two rounds: a record that expires between our failed claim and our read is claimable again.
        for _ in 0..2 {
            match self.store.claim(key, fingerprint).await {
                Ok(()) => return Ok(Admission::Proceed),
                Err(RepoError::AlreadyExists) => {}
                Err(other) => return Err(IdempotencyError::Unavailable(other)),
            }
            match self
                .store
                .get(key)
                .await
                .map_err(IdempotencyError::Unavailable)?
            {
                Some(IdempotencyRecord::Completed {
                    fingerprint: first,
                    response,
                }) if first == *fingerprint => {
                    return Ok(Admission::Replay(response));
                }
                Some(IdempotencyRecord::InFlight { fingerprint: first })
                    if first == *fingerprint =>
                {
                    return Err(IdempotencyError::InFlight);
                }
                Some(_) => return Err(IdempotencyError::KeyReused),
                None => continue,
            }
        }
        Err(IdempotencyError::InFlight)
    }

    async fn complete(
        &self,
        key: &IdempotencyKey,
        fingerprint: &Fingerprint,
        response: &RecordedResponse,
    ) -> Result<(), IdempotencyError> {
        self.store
            .complete(key, fingerprint, response)
            .await
            .map_err(IdempotencyError::Unavailable)
    }

    async fn release(&self, key: &IdempotencyKey) -> Result<(), IdempotencyError> {
        self.store
            .release(key)
            .await
            .map_err(IdempotencyError::Unavailable)
    }
}

#[cfg(test)]
mod tests {
    use mockall::Sequence;

    use super::*;

    fn key() -> IdempotencyKey {
        IdempotencyKey::parse("3f2a-key").unwrap()
    }

    fn fingerprint(text: &str) -> Fingerprint {
        Fingerprint(text.into())
    }

    fn response() -> RecordedResponse {
        RecordedResponse {
            status: 201,
            headers: vec![("etag".into(), "\"1\"".into())],
            body: b"{}".to_vec(),
        }
    }

    fn guard(store: MockIdempotencyStore) -> IdempotencyGuard {
        IdempotencyGuard::new(Arc::new(store))
    }

    #[test]
    fn keys_are_validated() {
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("with space").is_err());
        assert!(IdempotencyKey::parse("naïve").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(MAX_KEY_LEN + 1)).is_err());
        assert_eq!(
            IdempotencyKey::parse("abc-123").unwrap().as_str(),
            "abc-123"
        );
    }

    #[tokio::test]
    async fn first_use_of_a_key_proceeds() {
        let mut store = MockIdempotencyStore::new();
        store.expect_claim().times(1).returning(|_, _| Ok(()));
        assert_eq!(
            guard(store).begin(&key(), &fingerprint("a")).await.unwrap(),
            Admission::Proceed
        );
    }

    #[tokio::test]
    async fn a_retry_of_a_completed_request_replays_its_response() {
        let mut store = MockIdempotencyStore::new();
        let mut order = Sequence::new();
        store
            .expect_claim()
            .times(1)
            .in_sequence(&mut order)
            .returning(|_, _| Err(RepoError::AlreadyExists));
        store
            .expect_get()
            .times(1)
            .in_sequence(&mut order)
            .returning(|_| {
                Ok(Some(IdempotencyRecord::Completed {
                    fingerprint: fingerprint("a"),
                    response: response(),
                }))
            });
        let admission = guard(store).begin(&key(), &fingerprint("a")).await.unwrap();
        assert_eq!(admission, Admission::Replay(response()));
    }

    #[tokio::test]
    async fn the_same_key_with_another_request_is_refused() {
        for record in [
            IdempotencyRecord::Completed {
                fingerprint: fingerprint("other"),
                response: response(),
            },
            IdempotencyRecord::InFlight {
                fingerprint: fingerprint("other"),
            },
        ] {
            let mut store = MockIdempotencyStore::new();
            store
                .expect_claim()
                .returning(|_, _| Err(RepoError::AlreadyExists));
            store
                .expect_get()
                .returning(move |_| Ok(Some(record.clone())));
            let error = guard(store)
                .begin(&key(), &fingerprint("a"))
                .await
                .unwrap_err();
            assert!(matches!(error, IdempotencyError::KeyReused), "{error:?}");
        }
    }

    #[tokio::test]
    async fn a_duplicate_while_the_first_is_in_flight_is_refused() {
        let mut store = MockIdempotencyStore::new();
        store
            .expect_claim()
            .returning(|_, _| Err(RepoError::AlreadyExists));
        store.expect_get().returning(|_| {
            Ok(Some(IdempotencyRecord::InFlight {
                fingerprint: fingerprint("a"),
            }))
        });
        let error = guard(store)
            .begin(&key(), &fingerprint("a"))
            .await
            .unwrap_err();
        assert!(matches!(error, IdempotencyError::InFlight), "{error:?}");
    }

    #[tokio::test]
    async fn a_record_that_expired_meanwhile_is_claimed_again() {
        let mut store = MockIdempotencyStore::new();
        let mut order = Sequence::new();
        store
            .expect_claim()
            .times(1)
            .in_sequence(&mut order)
            .returning(|_, _| Err(RepoError::AlreadyExists));
        store
            .expect_get()
            .times(1)
            .in_sequence(&mut order)
            .returning(|_| Ok(None));
        store
            .expect_claim()
            .times(1)
            .in_sequence(&mut order)
            .returning(|_, _| Ok(()));
        assert_eq!(
            guard(store).begin(&key(), &fingerprint("a")).await.unwrap(),
            Admission::Proceed
        );
    }

    #[tokio::test]
    async fn storage_failures_are_unavailable() {
        let mut store = MockIdempotencyStore::new();
        store
            .expect_claim()
            .returning(|_, _| Err(RepoError::Unavailable("down".into())));
        store
            .expect_release()
            .returning(|_| Err(RepoError::Unavailable("down".into())));
        let guard = guard(store);
        assert!(matches!(
            guard.begin(&key(), &fingerprint("a")).await,
            Err(IdempotencyError::Unavailable(_))
        ));
        assert!(matches!(
            guard.release(&key()).await,
            Err(IdempotencyError::Unavailable(_))
        ));
    }

    #[tokio::test]
    async fn complete_records_the_response_under_the_key() {
        let mut store = MockIdempotencyStore::new();
        store
            .expect_complete()
            .withf(|k, f, r| *k == key() && *f == fingerprint("a") && *r == response())
            .times(1)
            .returning(|_, _, _| Ok(()));
        guard(store)
            .complete(&key(), &fingerprint("a"), &response())
            .await
            .unwrap();
    }
}
