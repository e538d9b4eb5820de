//! What clients may do with {{resources}}: the rules, independent of any transport.

use std::sync::Arc;

use async_trait::async_trait;
use shaku::{Component, Interface};

use crate::error::RepoError;
use crate::page::{Page, PageRequest};
use crate::{{resource}}::{
    Etag, Stored, ValidationError, {{Resource}}, {{Resource}}Event, {{Resource}}Id, {{Resource}}Input,
};
use crate::{{resource}}_repo::{ModifyError, RetryPolicy, {{Resource}}Repo};

/// Retries of an adjustment when other writers change the same {{resource}} at the same time.
/// Adjustments commute, so retrying them is always right; 8 attempts with 5 ms base back-off
/// absorb dozens of concurrent writers on one record.
pub const ADJUST_RETRIES: RetryPolicy = RetryPolicy { max_attempts: 8, base_delay_ms: 5 };

/// Why a {{resource}} operation failed, in business terms.
#[derive(Debug, thiserror::Error)]
pub enum {{Resource}}Error {
    /// The input breaks a rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// There is no such {{resource}}.
    #[error("{{resource}} {0} not found")]
    NotFound({{Resource}}Id),
    /// The version the client based its change on is no longer the current one.
    #[error("{{resource}} {0} has changed since the version given")]
    StaleVersion({{Resource}}Id),
    /// A replacement must name the version it replaces, or it could silently undo another change.
    #[error("replacing {{resource}} {0} needs the version it replaces (If-Match)")]
    VersionRequired({{Resource}}Id),
    /// Other writers kept changing it; the client may try again.
    #[error("{{resource}} {0} is being changed by others, try again")]
    Contended({{Resource}}Id),
    /// Storage failed; details are in the source, for logs only.
    #[error("storage unavailable")]
    Unavailable(#[source] RepoError),
}

/// The {{resource}} use cases, as the transports call them.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait {{Resource}}Usecase: Interface {
    /// Creates a {{resource}}; publishes `{{resource}}.created`.
    async fn create(&self, input: {{Resource}}Input) -> Result<Stored<{{Resource}}>, {{Resource}}Error>;
    /// Reads one {{resource}} with its version.
    async fn get(&self, id: {{Resource}}Id) -> Result<Stored<{{Resource}}>, {{Resource}}Error>;
    /// Lists {{resources}} in creation order.
    async fn list(&self, page: PageRequest) -> Result<Page<{{Resource}}>, {{Resource}}Error>;
    /// Replaces version `if_match` of a {{resource}}; publishes `{{resource}}.updated`.
    async fn update(
        &self,
        id: {{Resource}}Id,
        input: {{Resource}}Input,
        if_match: Option<Etag>,
    ) -> Result<Stored<{{Resource}}>, {{Resource}}Error>;
    /// Deletes a {{resource}} (only version `if_match` when given); publishes `{{resource}}.deleted`.
    async fn delete(&self, id: {{Resource}}Id, if_match: Option<Etag>) -> Result<(), {{Resource}}Error>;
    /// Adds `delta` to the quantity, once per `adjustment_id` however often it is delivered;
    /// publishes `{{resource}}.adjusted`. Retries by itself when others write at the same time.
    async fn adjust(
        &self,
        id: {{Resource}}Id,
        adjustment_id: String,
        delta: i64,
    ) -> Result<Stored<{{Resource}}>, {{Resource}}Error>;
}

/// The {{resource}} use cases, on top of the [`{{Resource}}Repo`] port.
#[derive(Component)]
#[shaku(interface = {{Resource}}Usecase)]
pub struct {{Resource}}Interactor {
    #[shaku(inject)]
    repo: Arc<dyn {{Resource}}Repo>,
}

impl {{Resource}}Interactor {
    /// An interactor over `repo` (shaku builds it the same way).
    pub fn new(repo: Arc<dyn {{Resource}}Repo>) -> Self {
        Self { repo }
    }

    async fn current(&self, id: {{Resource}}Id) -> Result<Stored<{{Resource}}>, {{Resource}}Error> {
        self.repo.get(id).await.map_err(|error| match error {
            RepoError::NotFound => {{Resource}}Error::NotFound(id),
            other => {{Resource}}Error::Unavailable(other),
        })
    }
}

#[async_trait]
impl {{Resource}}Usecase for {{Resource}}Interactor {
    async fn create(&self, input: {{Resource}}Input) -> Result<Stored<{{Resource}}>, {{Resource}}Error> {
        let {{resource}} = {{Resource}}::create({{Resource}}Id::new(), input.validate()?);
        let event = {{Resource}}Event::Created { {{resource}}: (&{{resource}}).into() };
        let etag = self.repo.insert(&{{resource}}, &event).await.map_err({{Resource}}Error::Unavailable)?;
        tracing::info!(id = %{{resource}}.id, "{{resource}} created");
        Ok(Stored { value: {{resource}}, etag })
    }

    async fn get(&self, id: {{Resource}}Id) -> Result<Stored<{{Resource}}>, {{Resource}}Error> {
        self.current(id).await
    }

    async fn list(&self, page: PageRequest) -> Result<Page<{{Resource}}>, {{Resource}}Error> {
        self.repo.list(&page).await.map_err({{Resource}}Error::Unavailable)
    }

    async fn update(
        &self,
        id: {{Resource}}Id,
        input: {{Resource}}Input,
        if_match: Option<Etag>,
    ) -> Result<Stored<{{Resource}}>, {{Resource}}Error> {
        let input = input.validate()?;
        let if_match = if_match.ok_or({{Resource}}Error::VersionRequired(id))?;
        let Stored { value: mut {{resource}}, etag } = self.current(id).await?;
        // Checked here too, not only by the store: a stale client then costs one read, no write.
        if etag != if_match {
            return Err({{Resource}}Error::StaleVersion(id));
        }
        {{resource}}.replace(input);
        let event = {{Resource}}Event::Updated { {{resource}}: (&{{resource}}).into() };
        match self.repo.replace(&{{resource}}, &if_match, &event).await {
            Ok(etag) => Ok(Stored { value: {{resource}}, etag }),
            Err(RepoError::Conflict) => Err({{Resource}}Error::StaleVersion(id)),
            Err(RepoError::NotFound) => Err({{Resource}}Error::NotFound(id)),
            Err(other) => Err({{Resource}}Error::Unavailable(other)),
        }
    }

    async fn delete(&self, id: {{Resource}}Id, if_match: Option<Etag>) -> Result<(), {{Resource}}Error> {
        let current = self.current(id).await?;
        if if_match.as_ref().is_some_and(|expected| *expected != current.etag) {
            return Err({{Resource}}Error::StaleVersion(id));
        }
        let event = {{Resource}}Event::Deleted { id, version: current.value.version };
        match self.repo.delete(id, &current.etag, &event).await {
            Ok(()) => Ok(()),
            // With If-Match the client named a version that is gone; without, someone changed it
            // between our read and our delete: the client decides again on the new version.
            Err(RepoError::Conflict) if if_match.is_some() => Err({{Resource}}Error::StaleVersion(id)),
            Err(RepoError::Conflict) => Err({{Resource}}Error::Contended(id)),
            Err(RepoError::NotFound) => Err({{Resource}}Error::NotFound(id)),
            Err(other) => Err({{Resource}}Error::Unavailable(other)),
        }
    }

    async fn adjust(
        &self,
        id: {{Resource}}Id,
        adjustment_id: String,
        delta: i64,
    ) -> Result<Stored<{{Resource}}>, {{Resource}}Error> {
        // Owned by the closure: the port takes changes that outlive this call frame (`'static`).
        let change = move |{{resource}}: &mut {{Resource}}| {
            if {{resource}}.has_applied(&adjustment_id) {
                return Ok(None);
            }
            {{resource}}.adjust(&adjustment_id, delta)?;
            Ok(Some({{Resource}}Event::Adjusted { {{resource}}: (&*{{resource}}).into(), delta }))
        };
        match self.repo.modify(id, &change, ADJUST_RETRIES).await {
            Ok(stored) => Ok(stored),
            Err(ModifyError::Rejected(invalid)) => Err(invalid.into()),
            Err(ModifyError::Repo(RepoError::NotFound)) => Err({{Resource}}Error::NotFound(id)),
            Err(ModifyError::Repo(RepoError::Conflict)) => Err({{Resource}}Error::Contended(id)),
            Err(ModifyError::Repo(other)) => Err({{Resource}}Error::Unavailable(other)),
        }
    }
}
