//! Compiles the gRPC contract. `protox` parses the `.proto` files in pure Rust, so building
//! needs no system `protoc`; `tonic-prost-build` turns the descriptors into messages and services.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/{{service_snake}}/v1/{{resource}}.proto";
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile([proto], ["proto"])?;
    tonic_prost_build::configure().compile_fds(descriptors)?;
    Ok(())
}
