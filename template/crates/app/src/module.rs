//! The composition root: which adapter implements which port, and which use cases are built on
//! them. shaku builds every component once, synchronously, and injects `Arc<dyn Port>`s; the
//! Dapr adapters share one [`DaprSidecar`] handle, created before the module and passed in as
//! their parameter. Tests replace any component with `with_component_override`.

use biz::idempotency::IdempotencyGuard;
{%- if with_lock %}
use biz::{{resource}}_transfer::{{Resource}}TransferInteractor;
{%- endif %}
use biz::{{resource}}_adjustment::{{Resource}}AdjustmentHandler;
use biz::{{resource}}_usecase::{{Resource}}Interactor;
{%- if with_workflow %}
use biz::workflow::RestockInteractor;
{%- endif %}
use data::dapr_idempotency_store::{DaprIdempotencyStore, DaprIdempotencyStoreParameters};
{%- if with_lock %}
use data::dapr_lock::{DaprLock, DaprLockParameters};
{%- endif %}
{%- if with_workflow %}
use data::dapr_workflow::{DaprRestockWorkflow, DaprRestockWorkflowParameters};
{%- endif %}
use data::dapr_{{resource}}_repo::{Dapr{{Resource}}Repo, Dapr{{Resource}}RepoParameters};
use data::sidecar::DaprSidecar;
use shaku::ModuleBuilder;
// daprgen:anchor module-imports

// Every component of the service: the Dapr adapters (data) and the use cases (biz). (The macro
// takes no doc comment.)
shaku::module! {
    pub AppModule {
        components = [
            Dapr{{Resource}}Repo,
            DaprIdempotencyStore,
{%- if with_lock %}
            DaprLock,
{%- endif %}
{%- if with_workflow %}
            DaprRestockWorkflow,
{%- endif %}
            {{Resource}}Interactor,
            IdempotencyGuard,
            {{Resource}}AdjustmentHandler,
{%- if with_lock %}
            {{Resource}}TransferInteractor,
{%- endif %}
{%- if with_workflow %}
            RestockInteractor,
{%- endif %}
            // daprgen:anchor module-components
        ],
        providers = []
    }
}

/// The module builder with every Dapr adapter talking to `sidecar`; call `build()` on it, after
/// overriding components if needed.
pub fn builder(sidecar: &DaprSidecar) -> ModuleBuilder<AppModule> {
    let builder = AppModule::builder()
        .with_component_parameters::<Dapr{{Resource}}Repo>(Dapr{{Resource}}RepoParameters { sidecar: sidecar.clone() })
        .with_component_parameters::<DaprIdempotencyStore>(DaprIdempotencyStoreParameters { sidecar: sidecar.clone() });
{%- if with_lock %}
    let builder = builder.with_component_parameters::<DaprLock>(DaprLockParameters { sidecar: sidecar.clone() });
{%- endif %}
{%- if with_workflow %}
    let builder =
        builder.with_component_parameters::<DaprRestockWorkflow>(DaprRestockWorkflowParameters { sidecar: sidecar.clone() });
{%- endif %}
    // daprgen:anchor module-parameters
    builder
}
