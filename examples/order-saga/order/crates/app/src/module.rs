//! The composition root: which adapter implements which port, and which use cases are built on
//! them. shaku builds every component once, synchronously, and injects `Arc<dyn Port>`s; the
//! Dapr adapters share one [`DaprSidecar`] handle, created before the module and passed in as
//! their parameter. Tests replace any component with `with_component_override`.

use biz::idempotency::IdempotencyGuard;
use biz::order_adjustment::OrderAdjustmentHandler;
use biz::order_usecase::OrderInteractor;
use biz::workflow::RestockInteractor;
use data::dapr_idempotency_store::{DaprIdempotencyStore, DaprIdempotencyStoreParameters};
use data::dapr_order_repo::{DaprOrderRepo, DaprOrderRepoParameters};
use data::dapr_workflow::{DaprRestockWorkflow, DaprRestockWorkflowParameters};
use data::sidecar::DaprSidecar;
use shaku::ModuleBuilder;
// The order_fulfilment saga (daprgen add saga).
use biz::order_fulfilment_saga::OrderFulfilmentSagaInteractor;
use data::dapr_order_fulfilment_saga::{
    DaprOrderFulfilmentSagaSteps, DaprOrderFulfilmentSagaStepsParameters,
    DaprOrderFulfilmentSagaWorkflow, DaprOrderFulfilmentSagaWorkflowParameters,
};
// The order-saga example: the fulfilment of an order.
use biz::fulfilment_usecase::FulfilmentInteractor;
use data::dapr_fulfilment_repo::{DaprFulfilmentRepo, DaprFulfilmentRepoParameters};
// daprgen:anchor module-imports

// Every component of the service: the Dapr adapters (data) and the use cases (biz). (The macro
// takes no doc comment.)
shaku::module! {
    pub AppModule {
        components = [
            DaprOrderRepo,
            DaprIdempotencyStore,
            DaprRestockWorkflow,
            OrderInteractor,
            IdempotencyGuard,
            OrderAdjustmentHandler,
            RestockInteractor,
            DaprOrderFulfilmentSagaWorkflow,
            DaprOrderFulfilmentSagaSteps,
            OrderFulfilmentSagaInteractor,
            DaprFulfilmentRepo,
            FulfilmentInteractor,
            // daprgen:anchor module-components
        ],
        providers = []
    }
}

/// The module builder with every Dapr adapter talking to `sidecar`; call `build()` on it, after
/// overriding components if needed.
pub fn builder(sidecar: &DaprSidecar) -> ModuleBuilder<AppModule> {
    let builder = AppModule::builder()
        .with_component_parameters::<DaprOrderRepo>(DaprOrderRepoParameters {
            sidecar: sidecar.clone(),
        })
        .with_component_parameters::<DaprIdempotencyStore>(DaprIdempotencyStoreParameters {
            sidecar: sidecar.clone(),
        });
    let builder =
        builder.with_component_parameters::<DaprRestockWorkflow>(DaprRestockWorkflowParameters {
            sidecar: sidecar.clone(),
        });
    let builder = builder.with_component_parameters::<DaprOrderFulfilmentSagaWorkflow>(
        DaprOrderFulfilmentSagaWorkflowParameters {
            sidecar: sidecar.clone(),
        },
    );
    let builder = builder.with_component_parameters::<DaprOrderFulfilmentSagaSteps>(
        DaprOrderFulfilmentSagaStepsParameters {
            sidecar: sidecar.clone(),
        },
    );
    let builder =
        builder.with_component_parameters::<DaprFulfilmentRepo>(DaprFulfilmentRepoParameters {
            sidecar: sidecar.clone(),
        });
    // crash_after (failure injection): the saga's steps replaced by a decorator that aborts.
    let builder = crate::startup::crash_after::install(builder, sidecar);
    // daprgen:anchor module-parameters
    builder
}
