//! The contracts of {{project-name}}, as clients see them: {% if grpc %}the gRPC protocol
//! (`proto/`, compiled by `build.rs`) and {% endif %}the bodies of the HTTP API. Nothing here
//! holds a business rule; the `service` crate maps these types to and from the business layer.

pub mod http;
{%- if grpc %}

/// The gRPC protocol, generated from `proto/{{service_snake}}/v1/{{resource}}.proto`.
pub mod {{service_snake}} {
    /// Version 1 of the protocol.
    pub mod v1 {
        // Generated code: its style is prost's and tonic's, not ours.
        #![allow(clippy::all)]
        tonic::include_proto!("{{service_snake}}.v1");
    }
}
{%- endif %}
// daprgen:anchor api-exports
