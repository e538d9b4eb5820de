//! What the app's tests share: settings on free ports, and the module with every Dapr adapter
//! replaced by a mock, so that no sidecar is needed.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use biz::idempotency::{IdempotencyStore, MockIdempotencyStore};
use biz::order_repo::{MockOrderRepo, OrderRepo};
use biz::workflow::{MockRestockWorkflow, RestockWorkflow};
// The order_fulfilment saga (daprgen add saga).
use biz::order_fulfilment_saga;
// The order-saga example: the fulfilment of an order.
use biz::fulfilment_repo::{FulfilmentRepo, MockFulfilmentRepo};
// daprgen:anchor test-adapter-imports
use order::Settings;
use order::module::AppModule;

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
    pub repo: MockOrderRepo,
    pub idempotency: MockIdempotencyStore,
    pub workflow: MockRestockWorkflow,
    pub order_fulfilment_saga_workflow: order_fulfilment_saga::MockOrderFulfilmentSagaWorkflow,
    pub order_fulfilment_saga_steps: order_fulfilment_saga::MockOrderFulfilmentSagaSteps,
    pub fulfilment_repo: MockFulfilmentRepo,
    // daprgen:anchor test-adapter-fields
}

impl Adapters {
    /// The application's module over these mocks instead of the Dapr adapters.
    pub fn module(self) -> Arc<AppModule> {
        Arc::new(
            AppModule::builder()
                .with_component_override::<dyn OrderRepo>(Box::new(self.repo))
                .with_component_override::<dyn IdempotencyStore>(Box::new(self.idempotency))
                .with_component_override::<dyn RestockWorkflow>(Box::new(self.workflow))
                .with_component_override::<dyn order_fulfilment_saga::OrderFulfilmentSagaWorkflow>(
                    Box::new(self.order_fulfilment_saga_workflow),
                )
                .with_component_override::<dyn order_fulfilment_saga::OrderFulfilmentSagaSteps>(
                    Box::new(self.order_fulfilment_saga_steps),
                )
                .with_component_override::<dyn FulfilmentRepo>(Box::new(self.fulfilment_repo))
                // daprgen:anchor test-adapter-overrides
                .build(),
        )
    }
}
