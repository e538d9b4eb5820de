//! [`IdempotencyStore`] on the Dapr state API: one record per key under `idempotency/{key}`,
//! claimed with an insert-if-absent (first-write) save, so of many concurrent requests with the
//! same key exactly one proceeds. Records carry a time to live, so keys are forgotten on their own.
//!
//! Measured against daprd 1.18: a first-write save that loses is `Aborted` on SQLite but
//! `Internal` on redis, worded like some outages. So a refused claim is confirmed by reading the
//! key back: a record there means the key was taken.

use std::collections::HashMap;

use async_trait::async_trait;
use biz::error::RepoError;
use biz::idempotency::{
    Fingerprint, IdempotencyKey, IdempotencyRecord, IdempotencyStore, RecordedResponse,
};
use shaku::Component;

use crate::sidecar::DaprSidecar;
use crate::state::{self, Precondition, TTL_IN_SECONDS};

/// Longest an unfinished claim is kept: far beyond any request's duration, so it only matters
/// when the process died mid-request. Then a retry may proceed after this, instead of being told
/// "still in flight" for the whole retention time.
pub const IN_FLIGHT_TTL_SECONDS: u32 = 600;

/// [`IdempotencyStore`] on the Dapr state store.
#[derive(Component)]
#[shaku(interface = IdempotencyStore)]
pub struct DaprIdempotencyStore {
    /// The sidecar whose state store holds the records.
    sidecar: DaprSidecar,
}

impl DaprIdempotencyStore {
    /// A store writing through `sidecar` (shaku builds it the same way).
    pub fn new(sidecar: DaprSidecar) -> Self {
        Self { sidecar }
    }

    async fn read(&self, key: &str) -> Result<Option<(IdempotencyRecord, String)>, RepoError> {
        let Some(entry) = state::get(&self.sidecar, key).await? else {
            return Ok(None);
        };
        let record = serde_json::from_slice(&entry.data)
            .map_err(|error| RepoError::Corrupt(format!("idempotency record {key}: {error}")))?;
        Ok(Some((record, entry.etag)))
    }
}

#[async_trait]
impl IdempotencyStore for DaprIdempotencyStore {
    async fn claim(
        &self,
        key: &IdempotencyKey,
        fingerprint: &Fingerprint,
    ) -> Result<(), RepoError> {
        let key = record_key(key);
        let record = IdempotencyRecord::InFlight {
            fingerprint: fingerprint.clone(),
        };
        let ttl = IN_FLIGHT_TTL_SECONDS.min(self.sidecar.settings().idempotency_ttl_seconds);
        match state::save(
            &self.sidecar,
            &key,
            encode(&record)?,
            Precondition::Absent,
            ttl_metadata(ttl),
        )
        .await
        {
            Ok(()) => Ok(()),
            // A store failure is not confirmed by the record either: the read then fails too, or
            // finds nothing, and the original error stands.
            Err(error @ (RepoError::Conflict | RepoError::Unavailable(_))) => {
                match state::get(&self.sidecar, &key).await {
                    Ok(Some(_)) => Err(RepoError::AlreadyExists),
                    Ok(None) | Err(_) => Err(match error {
                        RepoError::Conflict => RepoError::Unavailable(format!(
                            "claim of {key} refused, yet no record exists"
                        )),
                        other => other,
                    }),
                }
            }
            Err(error) => Err(error),
        }
    }

    async fn get(&self, key: &IdempotencyKey) -> Result<Option<IdempotencyRecord>, RepoError> {
        Ok(self.read(&record_key(key)).await?.map(|(record, _)| record))
    }

    async fn complete(
        &self,
        key: &IdempotencyKey,
        fingerprint: &Fingerprint,
        response: &RecordedResponse,
    ) -> Result<(), RepoError> {
        let key = record_key(key);
        let record = IdempotencyRecord::Completed {
            fingerprint: fingerprint.clone(),
            response: response.clone(),
        };
        // Over the claim's version: on redis a record written first-write refuses any later write
        // without its ETag. If the claim expired meanwhile, the record is written anew.
        let precondition = match self.read(&key).await? {
            Some((_, etag)) => Precondition::Matches(etag),
            None => Precondition::Absent,
        };
        let ttl = self.sidecar.settings().idempotency_ttl_seconds;
        state::save(
            &self.sidecar,
            &key,
            encode(&record)?,
            precondition,
            ttl_metadata(ttl),
        )
        .await
    }

    async fn release(&self, key: &IdempotencyKey) -> Result<(), RepoError> {
        state::delete(&self.sidecar, &record_key(key), Precondition::None).await
    }
}

/// The state key of an idempotency key.
fn record_key(key: &IdempotencyKey) -> String {
    format!("idempotency/{}", key.as_str())
}

fn ttl_metadata(seconds: u32) -> HashMap<String, String> {
    HashMap::from([(TTL_IN_SECONDS.to_owned(), seconds.to_string())])
}

fn encode(record: &IdempotencyRecord) -> Result<Vec<u8>, RepoError> {
    serde_json::to_vec(record)
        .map_err(|error| RepoError::Corrupt(format!("cannot encode: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_live_under_their_own_prefix() {
        let key = IdempotencyKey::parse("3f2a-retry").unwrap();
        assert_eq!(record_key(&key), "idempotency/3f2a-retry");
    }

    #[test]
    fn the_time_to_live_is_sent_as_state_metadata() {
        assert_eq!(ttl_metadata(600)[TTL_IN_SECONDS], "600");
    }

    #[test]
    fn records_round_trip_as_json() {
        let record = IdempotencyRecord::Completed {
            fingerprint: Fingerprint("abc".into()),
            response: RecordedResponse {
                status: 201,
                headers: vec![("etag".into(), "\"1\"".into())],
                body: b"{}".to_vec(),
            },
        };
        assert_eq!(
            serde_json::from_slice::<IdempotencyRecord>(&encode(&record).unwrap()).unwrap(),
            record
        );
    }
}
