//! What the app's tests share: settings on free ports, and the module with every Dapr adapter
//! replaced by a mock, so that no sidecar is needed.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use biz::idempotency::{IdempotencyStore, MockIdempotencyStore};
use biz::lock::{DistributedLock, MockDistributedLock};
use biz::stock_repo::{MockStockRepo, StockRepo};
// The order-saga example: reservations of stocks by sagas.
use biz::reservation_repo;
// daprgen:anchor test-adapter-imports
use inventory::Settings;
use inventory::module::AppModule;

/// The shipped configuration, with `overrides` (`APP__…` variables) applied.
#[allow(dead_code)] // not every test file uses every helper
pub fn settings(overrides: &[(&str, &str)]) -> Settings {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/default.toml");
    let env: HashMap<String, String> = overrides
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    Settings::load_from(&file, env).expect("valid test settings")
}

/// The mocks standing in for the Dapr adapters; set expectations, then [`Adapters::module`].
#[derive(Default)]
pub struct Adapters {
    pub repo: MockStockRepo,
    pub idempotency: MockIdempotencyStore,
    pub lock: MockDistributedLock,
    pub reservations: reservation_repo::MockReservationRepo,
    // daprgen:anchor test-adapter-fields
}

impl Adapters {
    /// The application's module over these mocks instead of the Dapr adapters.
    pub fn module(self) -> Arc<AppModule> {
        Arc::new(
            AppModule::builder()
                .with_component_override::<dyn StockRepo>(Box::new(self.repo))
                .with_component_override::<dyn IdempotencyStore>(Box::new(self.idempotency))
                .with_component_override::<dyn DistributedLock>(Box::new(self.lock))
                .with_component_override::<dyn reservation_repo::ReservationRepo>(Box::new(
                    self.reservations,
                ))
                // daprgen:anchor test-adapter-overrides
                .build(),
        )
    }
}
