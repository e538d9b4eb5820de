//! `{{Resource}}Service` over the {{resource}} use cases, and the mapping between its messages and the
//! business layer.

use std::sync::Arc;

use api::{{service_snake}}::v1 as pb;
use api::{{service_snake}}::v1::{{resource}}_service_server::{{Resource}}Service;
use api::{{service_snake}}::v1::{{resource}}_service_server::{{Resource}}ServiceServer;
use biz::error::RepoError;
use biz::page::PageRequest;
use biz::{{resource}}::{Etag, Stored, ValidationError, {{Resource}}, {{Resource}}Id, {{Resource}}Input};
{%- if with_lock %}
use biz::{{resource}}_transfer::{TransferError, {{Resource}}Transfers};
{%- endif %}
use biz::{{resource}}_usecase::{{Resource}}Error;
use biz::{{resource}}_usecase::{{Resource}}Usecase;
{%- if with_workflow %}
use biz::workflow::{RestockError, RestockLine, RestockRequest, RestockStatus, Restocks};
{%- endif %}
use tonic::{Request, Response, Status};

use crate::problem::error_chain;
{%- if with_workflow %}
use crate::restock_id::check_restock_id;
{%- endif %}

/// Largest request message accepted by [`{{Resource}}Grpc::into_server`]: 64 KiB, as for HTTP bodies.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// The gRPC face of the {{resource}} use cases.
#[derive(Clone)]
pub struct {{Resource}}Grpc {
    {{resources}}: Arc<dyn {{Resource}}Usecase>,
{%- if with_lock %}
    transfers: Arc<dyn {{Resource}}Transfers>,
{%- endif %}
{%- if with_workflow %}
    restocks: Arc<dyn Restocks>,
{%- endif %}
}

impl {{Resource}}Grpc {
    /// The service over the use cases (built by the app's shaku module).
    pub fn new(
        {{resources}}: Arc<dyn {{Resource}}Usecase>,
{%- if with_lock %}
        transfers: Arc<dyn {{Resource}}Transfers>,
{%- endif %}
{%- if with_workflow %}
        restocks: Arc<dyn Restocks>,
{%- endif %}
    ) -> Self {
        Self {
            {{resources}},
{%- if with_lock %}
            transfers,
{%- endif %}
{%- if with_workflow %}
            restocks,
{%- endif %}
        }
    }

    /// The tonic service to add to a `tonic::transport::Server`, accepting messages up to
    /// [`MAX_MESSAGE_BYTES`] (change it with `max_decoding_message_size`).
    pub fn into_server(self) -> {{Resource}}ServiceServer<Self> {
        {{Resource}}ServiceServer::new(self).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }
}

/// The message of a stored {{resource}}.
fn message(stored: Stored<{{Resource}}>) -> pb::{{Resource}} {
    let Stored { value, etag } = stored;
    pb::{{Resource}} { id: value.id.to_string(), name: value.name, quantity: value.quantity, version: value.version, etag: etag.0 }
}

/// The id in field `field` of a request.
fn parse_id(field: &str, text: &str) -> Result<{{Resource}}Id, Status> {
    {{Resource}}Id::parse(text)
        .map_err(|_| Status::invalid_argument(format!("{field}: {text:?} is not a valid {{resource}} id (a UUID)")))
}

/// An etag field: empty means none.
fn etag(text: String) -> Option<Etag> {
    (!text.is_empty()).then_some(Etag(text))
}

/// A server-side failure: logged in full, reported without detail.
fn server_failure(code: tonic::Code, context: &str, error: &(dyn std::error::Error + 'static)) -> Status {
    tracing::error!(error = %error_chain(error), "{context}");
    match code {
        tonic::Code::Internal => Status::internal("the server failed to process the request"),
        _ => Status::unavailable("a dependency of the service is unavailable; retry later"),
    }
}

fn invalid(error: &ValidationError) -> Status {
    Status::invalid_argument(error.to_string())
}

fn {{resource}}_status(error: {{Resource}}Error) -> Status {
    match &error {
        {{Resource}}Error::Invalid(invalid_input) => invalid(invalid_input),
        {{Resource}}Error::NotFound(_) => Status::not_found(error.to_string()),
        {{Resource}}Error::StaleVersion(_) => Status::aborted(format!("{error}: read it again for its current etag")),
        {{Resource}}Error::VersionRequired(_) => Status::failed_precondition(error.to_string()),
        {{Resource}}Error::Contended(_) => Status::aborted(error.to_string()),
        {{Resource}}Error::Unavailable(RepoError::Corrupt(_)) => {
            server_failure(tonic::Code::Internal, "{{resource}} storage holds corrupt data", &error)
        }
        {{Resource}}Error::Unavailable(_) => server_failure(tonic::Code::Unavailable, "{{resource}} storage failed", &error),
    }
}
{%- if with_lock %}

fn transfer_status(error: TransferError) -> Status {
    match &error {
        TransferError::Invalid(invalid_input) => invalid(invalid_input),
        TransferError::NotFound(_) => Status::not_found(error.to_string()),
        TransferError::Busy(_) => Status::aborted(error.to_string()),
        TransferError::Unavailable(_) => {
            server_failure(tonic::Code::Unavailable, "transfer storage or lock failed", &error)
        }
    }
}
{%- endif %}
{%- if with_workflow %}

fn restock_status(error: RestockError) -> Status {
    match &error {
        RestockError::Invalid(invalid_input) => invalid(invalid_input),
        RestockError::NotFound(_) => Status::not_found(error.to_string()),
        RestockError::Unavailable(_) => server_failure(tonic::Code::Unavailable, "the workflow engine failed", &error),
    }
}
{%- endif %}

#[tonic::async_trait]
impl {{Resource}}Service for {{Resource}}Grpc {
    async fn create(&self, request: Request<pb::CreateRequest>) -> Result<Response<pb::{{Resource}}>, Status> {
        let request = request.into_inner();
        let input = {{Resource}}Input { name: request.name, quantity: request.quantity };
        let stored = self.{{resources}}.create(input).await.map_err({{resource}}_status)?;
        Ok(Response::new(message(stored)))
    }

    async fn get(&self, request: Request<pb::GetRequest>) -> Result<Response<pb::{{Resource}}>, Status> {
        let id = parse_id("id", &request.into_inner().id)?;
        let stored = self.{{resources}}.get(id).await.map_err({{resource}}_status)?;
        Ok(Response::new(message(stored)))
    }

    async fn list(&self, request: Request<pb::ListRequest>) -> Result<Response<pb::ListResponse>, Status> {
        let request = request.into_inner();
        let size = match request.page_size {
            0 => None,
            size => Some(usize::try_from(size).map_err(|_| Status::invalid_argument("page_size must not be negative"))?),
        };
        let token = (!request.page_token.is_empty()).then_some(request.page_token);
        let page = PageRequest::new(size, token).map_err(Status::invalid_argument)?;
        let page = self.{{resources}}.list(page).await.map_err({{resource}}_status)?;
        Ok(Response::new(pb::ListResponse {
            items: page
                .items
                .into_iter()
                // A list carries no etags (the store lists values); Get one for its etag.
                .map(|{{resource}}| message(Stored { value: {{resource}}, etag: Etag(String::new()) }))
                .collect(),
            next_page_token: page.next_token.unwrap_or_default(),
        }))
    }

    async fn update(&self, request: Request<pb::UpdateRequest>) -> Result<Response<pb::{{Resource}}>, Status> {
        let request = request.into_inner();
        let id = parse_id("id", &request.id)?;
        let input = {{Resource}}Input { name: request.name, quantity: request.quantity };
        let stored = self.{{resources}}.update(id, input, etag(request.etag)).await.map_err({{resource}}_status)?;
        Ok(Response::new(message(stored)))
    }

    async fn delete(&self, request: Request<pb::DeleteRequest>) -> Result<Response<pb::DeleteResponse>, Status> {
        let request = request.into_inner();
        let id = parse_id("id", &request.id)?;
        self.{{resources}}.delete(id, request.etag.and_then(etag)).await.map_err({{resource}}_status)?;
        Ok(Response::new(pb::DeleteResponse {}))
    }
{%- if with_lock %}

    async fn transfer(&self, request: Request<pb::TransferRequest>) -> Result<Response<pb::TransferResponse>, Status> {
        let request = request.into_inner();
        let (from, to) = (parse_id("from_id", &request.from_id)?, parse_id("to_id", &request.to_id)?);
        let transfer_id = uuid::Uuid::new_v4().to_string();
        let transfer = self
            .transfers
            .transfer(transfer_id, from, to, request.amount)
            .await
            .map_err(transfer_status)?;
        Ok(Response::new(pb::TransferResponse { from: Some(message(transfer.from)), to: Some(message(transfer.to)) }))
    }
{%- endif %}
{%- if with_workflow %}

    async fn start_restock(
        &self,
        request: Request<pb::StartRestockRequest>,
    ) -> Result<Response<pb::StartRestockResponse>, Status> {
        let lines = request
            .into_inner()
            .lines
            .into_iter()
            .map(|line| {
                let {{resource}}_id = parse_id("{{resource}}_id", &line.{{resource}}_id)?;
                Ok(RestockLine { {{resource}}_id, quantity: line.quantity })
            })
            .collect::<Result<Vec<_>, Status>>()?;
        let id = self.restocks.start(RestockRequest { lines }).await.map_err(restock_status)?;
        Ok(Response::new(pb::StartRestockResponse { id }))
    }

    async fn get_restock(&self, request: Request<pb::GetRestockRequest>) -> Result<Response<pb::Restock>, Status> {
        let id = request.into_inner().id;
        check_restock_id(&id).map_err(Status::invalid_argument)?;
        let status = self.restocks.status(&id).await.map_err(restock_status)?;
        let mut restock = pb::Restock { id, ..Default::default() };
        match status {
            RestockStatus::Running => restock.set_status(pb::restock::Status::Running),
            RestockStatus::Completed(report) => {
                restock.set_status(pb::restock::Status::Completed);
                restock.lines_applied = report.lines_applied as u64;
                restock.quantity_added = report.quantity_added;
            }
            RestockStatus::Failed(error) => {
                restock.set_status(pb::restock::Status::Failed);
                restock.error = error;
            }
        }
        Ok(Response::new(restock))
    }
{%- endif %}
}
