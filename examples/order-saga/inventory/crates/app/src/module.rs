//! The composition root: which adapter implements which port, and which use cases are built on
//! them. shaku builds every component once, synchronously, and injects `Arc<dyn Port>`s; the
//! Dapr adapters share one [`DaprSidecar`] handle, created before the module and passed in as
//! their parameter. Tests replace any component with `with_component_override`.

use biz::idempotency::IdempotencyGuard;
use biz::stock_adjustment::StockAdjustmentHandler;
use biz::stock_transfer::StockTransferInteractor;
use biz::stock_usecase::StockInteractor;
use data::dapr_idempotency_store::{DaprIdempotencyStore, DaprIdempotencyStoreParameters};
use data::dapr_lock::{DaprLock, DaprLockParameters};
use data::dapr_stock_repo::{DaprStockRepo, DaprStockRepoParameters};
use data::sidecar::DaprSidecar;
use shaku::ModuleBuilder;
// The order-saga example: reservations of stocks by sagas.
use biz::reservation_usecase::ReservationInteractor;
use data::dapr_reservation_repo::{DaprReservationRepo, DaprReservationRepoParameters};
// daprgen:anchor module-imports

// Every component of the service: the Dapr adapters (data) and the use cases (biz). (The macro
// takes no doc comment.)
shaku::module! {
    pub AppModule {
        components = [
            DaprStockRepo,
            DaprIdempotencyStore,
            DaprLock,
            StockInteractor,
            IdempotencyGuard,
            StockAdjustmentHandler,
            StockTransferInteractor,
            DaprReservationRepo,
            ReservationInteractor,
            // daprgen:anchor module-components
        ],
        providers = []
    }
}

/// The module builder with every Dapr adapter talking to `sidecar`; call `build()` on it, after
/// overriding components if needed.
pub fn builder(sidecar: &DaprSidecar) -> ModuleBuilder<AppModule> {
    let builder = AppModule::builder()
        .with_component_parameters::<DaprStockRepo>(DaprStockRepoParameters {
            sidecar: sidecar.clone(),
        })
        .with_component_parameters::<DaprIdempotencyStore>(DaprIdempotencyStoreParameters {
            sidecar: sidecar.clone(),
        });
    let builder = builder.with_component_parameters::<DaprLock>(DaprLockParameters {
        sidecar: sidecar.clone(),
    });
    let builder =
        builder.with_component_parameters::<DaprReservationRepo>(DaprReservationRepoParameters {
            sidecar: sidecar.clone(),
        });
    // daprgen:anchor module-parameters
    builder
}
