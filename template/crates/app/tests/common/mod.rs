//! What the app's tests share: settings on free ports, and the module with every Dapr adapter
//! replaced by a mock, so that no sidecar is needed.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use biz::idempotency::{IdempotencyStore, MockIdempotencyStore};
{%- if with_lock %}
use biz::lock::{DistributedLock, MockDistributedLock};
{%- endif %}
{%- if with_workflow %}
use biz::workflow::{MockRestockWorkflow, RestockWorkflow};
{%- endif %}
use biz::{{resource}}_repo::{Mock{{Resource}}Repo, {{Resource}}Repo};
// daprgen:anchor test-adapter-imports
use {{service_snake}}::Settings;
use {{service_snake}}::module::AppModule;

/// The shipped configuration, with `overrides` (`APP__…` variables) applied.
#[allow(dead_code)] // not every test file uses every helper
pub fn settings(overrides: &[(&str, &str)]) -> Settings {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/default.toml");
    let env: HashMap<String, String> =
        overrides.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect();
    Settings::load_from(&file, env).expect("valid test settings")
}

/// The mocks standing in for the Dapr adapters; set expectations, then [`Adapters::module`].
#[derive(Default)]
pub struct Adapters {
    pub repo: Mock{{Resource}}Repo,
    pub idempotency: MockIdempotencyStore,
{%- if with_lock %}
    pub lock: MockDistributedLock,
{%- endif %}
{%- if with_workflow %}
    pub workflow: MockRestockWorkflow,
{%- endif %}
    // daprgen:anchor test-adapter-fields
}

impl Adapters {
    /// The application's module over these mocks instead of the Dapr adapters.
    pub fn module(self) -> Arc<AppModule> {
        Arc::new(
            AppModule::builder()
                .with_component_override::<dyn {{Resource}}Repo>(Box::new(self.repo))
                .with_component_override::<dyn IdempotencyStore>(Box::new(self.idempotency))
{%- if with_lock %}
                .with_component_override::<dyn DistributedLock>(Box::new(self.lock))
{%- endif %}
{%- if with_workflow %}
                .with_component_override::<dyn RestockWorkflow>(Box::new(self.workflow))
{%- endif %}
                // daprgen:anchor test-adapter-overrides
                .build(),
        )
    }
}
