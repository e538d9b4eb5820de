//! Support for the repository-level tests of `template/`: the template's options and a pairwise
//! covering set of their combinations (`tests/matrix.rs` renders and builds each one), and checks
//! of a directory tree (what a render left behind, Liquid that survived rendering).

pub mod cargo;
pub mod pairwise;
pub mod tree;

use std::path::{Path, PathBuf};

/// Runs `daprgen args…` in-process, without colours; returns (exit code, stdout, stderr).
pub fn daprgen(args: &[&str]) -> (u8, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = daprgen::cli::run(
        std::iter::once("daprgen").chain(args.iter().copied()),
        &mut out,
        &mut err,
        false,
    );
    (
        code,
        String::from_utf8(out).expect("daprgen prints UTF-8"),
        String::from_utf8(err).expect("daprgen prints UTF-8"),
    )
}

/// `template/` of this repository.
pub fn template_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template")
}
