//! The full local stack a workflow-capable sidecar needs: redis, placement and scheduler.

use crate::control_plane::{Placement, Scheduler};
use crate::daprd::{Daprd, DaprdBuilder};
use crate::redis::Redis;

/// redis + placement + scheduler, started together and stopped together.
#[derive(Debug)]
pub struct Stack {
    /// The stack's own redis, for state, pub/sub and lock components.
    pub redis: Redis,
    /// Placement, for actors and workflows.
    pub placement: Placement,
    /// Scheduler, for workflows, jobs and reminders.
    pub scheduler: Scheduler,
}

impl Stack {
    /// Starts the three services concurrently and waits until each is healthy.
    pub async fn start() -> anyhow::Result<Self> {
        let (redis, placement, scheduler) = tokio::try_join!(Redis::start(), Placement::start(), Scheduler::start())?;
        Ok(Self {
            redis,
            placement,
            scheduler,
        })
    }

    /// A sidecar builder already pointed at this stack's redis, placement and scheduler.
    pub fn daprd(&self, app_id: impl Into<String>) -> DaprdBuilder {
        Daprd::builder(app_id)
            .redis(&self.redis)
            .placement(&self.placement)
            .scheduler(&self.scheduler)
    }
}
