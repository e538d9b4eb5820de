//! The composition root: which adapter implements which port, and which use cases are built on
//! them. shaku builds every component once, synchronously, and injects `Arc<dyn Port>`s; the
//! Dapr adapters share one [`DaprSidecar`] handle, created before the module and passed in as
//! their parameter. Tests replace any component with `with_component_override`.

use biz::account_adjustment::AccountAdjustmentHandler;
use biz::account_transfer::AccountTransferInteractor;
use biz::account_usecase::AccountInteractor;
use biz::idempotency::IdempotencyGuard;
use data::dapr_account_repo::{DaprAccountRepo, DaprAccountRepoParameters};
use data::dapr_idempotency_store::{DaprIdempotencyStore, DaprIdempotencyStoreParameters};
use data::dapr_lock::{DaprLock, DaprLockParameters};
use data::sidecar::DaprSidecar;
use shaku::ModuleBuilder;
// The order-saga example: charges of accounts by sagas.
use biz::charge_usecase::ChargeInteractor;
use data::dapr_charge_repo::{DaprChargeRepo, DaprChargeRepoParameters};
// daprgen:anchor module-imports

// Every component of the service: the Dapr adapters (data) and the use cases (biz). (The macro
// takes no doc comment.)
shaku::module! {
    pub AppModule {
        components = [
            DaprAccountRepo,
            DaprIdempotencyStore,
            DaprLock,
            AccountInteractor,
            IdempotencyGuard,
            AccountAdjustmentHandler,
            AccountTransferInteractor,
            DaprChargeRepo,
            ChargeInteractor,
            // daprgen:anchor module-components
        ],
        providers = []
    }
}

/// The module builder with every Dapr adapter talking to `sidecar`; call `build()` on it, after
/// overriding components if needed.
pub fn builder(sidecar: &DaprSidecar) -> ModuleBuilder<AppModule> {
    let builder = AppModule::builder()
        .with_component_parameters::<DaprAccountRepo>(DaprAccountRepoParameters {
            sidecar: sidecar.clone(),
        })
        .with_component_parameters::<DaprIdempotencyStore>(DaprIdempotencyStoreParameters {
            sidecar: sidecar.clone(),
        });
    let builder = builder.with_component_parameters::<DaprLock>(DaprLockParameters {
        sidecar: sidecar.clone(),
    });
    let builder = builder.with_component_parameters::<DaprChargeRepo>(DaprChargeRepoParameters {
        sidecar: sidecar.clone(),
    });
    // daprgen:anchor module-parameters
    builder
}
