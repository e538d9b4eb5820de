//! [`DistributedLock`] on the Dapr lock API (alpha: `TryLockAlpha1` / `UnlockAlpha1`).
//!
//! Measured against daprd 1.18 with `lock.redis`: a held lock answers `success: false`, not an
//! error, and is not re-entrant even for its owner; unlocking answers `LOCK_DOES_NOT_EXIST` for a
//! lock that expired and `LOCK_BELONGS_TO_OTHERS` once another owner took it after expiry. Keys
//! are prefixed with the app id unless the component sets `keyPrefix`, so replicas of one app
//! contend, and different apps only with a shared prefix.

use async_trait::async_trait;
use biz::error::RepoError;
use biz::lock::{DistributedLock, Lease};
use dapr::dapr::proto::runtime::v1::unlock_response::Status as UnlockStatus;
use dapr::dapr::proto::runtime::v1::{TryLockRequest, UnlockRequest};
use shaku::Component;
use uuid::Uuid;

use crate::sidecar::DaprSidecar;
use crate::state::repo_error;

/// [`DistributedLock`] on the Dapr lock component named in the settings.
#[derive(Component)]
#[shaku(interface = DistributedLock)]
pub struct DaprLock {
    /// The sidecar whose lock component holds the locks.
    sidecar: DaprSidecar,
}

impl DaprLock {
    /// A lock on `sidecar` (shaku builds it the same way).
    pub fn new(sidecar: DaprSidecar) -> Self {
        Self { sidecar }
    }
}

#[async_trait]
impl DistributedLock for DaprLock {
    async fn try_acquire(
        &self,
        resource: &str,
        lease_seconds: u32,
    ) -> Result<Option<Lease>, RepoError> {
        // A fresh owner per acquisition: two holders in one process must not release each other's lock.
        let owner = Uuid::new_v4().to_string();
        let response = self
            .sidecar
            .grpc()
            .try_lock_alpha1(TryLockRequest {
                store_name: self.sidecar.settings().lock_store.clone(),
                resource_id: resource.to_owned(),
                lock_owner: owner.clone(),
                expiry_in_seconds: i32::try_from(lease_seconds).unwrap_or(i32::MAX),
            })
            .await
            .map_err(|status| repo_error(&status, false))?
            .into_inner();
        Ok(response.success.then(|| Lease {
            resource: resource.to_owned(),
            owner,
        }))
    }

    async fn release(&self, lease: &Lease) -> Result<(), RepoError> {
        let response = self
            .sidecar
            .grpc()
            .unlock_alpha1(UnlockRequest {
                store_name: self.sidecar.settings().lock_store.clone(),
                resource_id: lease.resource.clone(),
                lock_owner: lease.owner.clone(),
            })
            .await
            .map_err(|status| repo_error(&status, false))?
            .into_inner();
        match UnlockStatus::try_from(response.status) {
            Ok(UnlockStatus::Success) => Ok(()),
            Ok(UnlockStatus::LockDoesNotExist) => {
                tracing::debug!(resource = %lease.resource, "lock had expired before its release");
                Ok(())
            }
            Ok(UnlockStatus::LockBelongsToOthers) => {
                // Not an error of the release, but of the critical section: it outlived its lease,
                // and another holder may have run concurrently with it. Keep sections shorter.
                tracing::warn!(resource = %lease.resource, "lock expired and was taken by another holder before its release");
                Ok(())
            }
            Ok(UnlockStatus::InternalError) | Err(_) => Err(RepoError::Unavailable(format!(
                "unlocking {} failed (status {})",
                lease.resource, response.status
            ))),
        }
    }
}
