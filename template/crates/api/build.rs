//! Compiles the gRPC contract: every `.proto` file under `proto/` (the first resource's and those
//! `daprgen add entity` adds), in sorted order so the generated code never depends on the order
//! the file system lists them in. `protox` parses them in pure Rust, so building needs no system
//! `protoc`; `tonic-prost-build` turns the descriptors into messages and services.

use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let mut protos = Vec::new();
    collect(Path::new("proto"), &mut protos)?;
    protos.sort();
    let descriptors = protox::compile(&protos, ["proto"])?;
    tonic_prost_build::configure().compile_fds(descriptors)?;
    Ok(())
}

/// Adds every `.proto` file under `dir` to `protos`.
fn collect(dir: &Path, protos: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, protos)?;
        } else if path.extension().is_some_and(|extension| extension == "proto") {
            protos.push(path);
        }
    }
    Ok(())
}
