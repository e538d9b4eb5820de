//! Mutual exclusion across replicas: a lease on a named resource, taken before a critical
//! section and released on every way out of it. The lease expiry is the safety net for a holder
//! that dies: keep critical sections well below it.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use shaku::Interface;

use crate::error::RepoError;

/// A lock held by this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The locked resource.
    pub resource: String,
    /// The owner id this process took it under (unique per acquisition).
    pub owner: String,
}

/// A distributed lock.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait DistributedLock: Interface {
    /// Tries once to take `resource` for `lease_seconds`. `Ok(None)`: someone else holds it.
    async fn try_acquire(
        &self,
        resource: &str,
        lease_seconds: u32,
    ) -> Result<Option<Lease>, RepoError>;
    /// Gives a lease back. Releasing an expired lease is not an error.
    async fn release(&self, lease: &Lease) -> Result<(), RepoError>;
}

/// Why a critical section did not run.
#[derive(Debug, thiserror::Error)]
pub enum LockError<E> {
    /// Another holder has the resource.
    #[error("{0} is locked by another holder")]
    Busy(String),
    /// The lock store failed.
    #[error("lock store unavailable")]
    Unavailable(#[source] RepoError),
    /// The critical section itself failed.
    #[error(transparent)]
    Inner(E),
}

/// Runs `critical` while holding every resource of `resources` (taken in sorted order, so two
/// callers locking the same set cannot deadlock), and releases them whatever `critical` returns.
pub async fn with_locks<T, E, F>(
    lock: &Arc<dyn DistributedLock>,
    resources: &[String],
    lease_seconds: u32,
    critical: F,
) -> Result<T, LockError<E>>
where
    F: Future<Output = Result<T, E>>,
{
    let mut sorted: Vec<&String> = resources.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut held = Vec::with_capacity(sorted.len());
    let mut outcome = None;
    for resource in sorted {
        match lock.try_acquire(resource, lease_seconds).await {
            Ok(Some(lease)) => held.push(lease),
            Ok(None) => {
                outcome = Some(Err(LockError::Busy(resource.clone())));
                break;
            }
            Err(error) => {
                outcome = Some(Err(LockError::Unavailable(error)));
                break;
            }
        }
    }
    let outcome = match outcome {
        Some(refused) => refused,
        None => critical.await.map_err(LockError::Inner),
    };
    for lease in held.iter().rev() {
        if let Err(error) = lock.release(lease).await {
            // The lease expires on its own; a failed release only delays the next holder.
            tracing::warn!(resource = %lease.resource, %error, "releasing a lock failed");
        }
    }
    outcome
}
