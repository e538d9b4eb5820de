//! Support for the repository-level tests of `template/`: the template's options and a pairwise
//! covering set of their combinations (`tests/matrix.rs` renders and builds each one), and checks
//! of a directory tree (what a render left behind, Liquid that survived rendering).

pub mod cargo;
pub mod pairwise;
pub mod tree;

use std::path::{Path, PathBuf};

/// `template/` of this repository.
pub fn template_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template")
}
