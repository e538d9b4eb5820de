//! The service template, `template/` at the repository root, embedded at build time: the one
//! skeleton that both `cargo generate --path template` and `daprgen new` render.

use std::path::Path;

use anyhow::Context;
use include_dir::{Dir, include_dir};

static TEMPLATE: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../template");

/// Writes the embedded template into `dir`, as cargo-generate expects a template on disk.
pub fn extract_to(dir: &Path) -> anyhow::Result<()> {
    TEMPLATE
        .extract(dir)
        .with_context(|| format!("writing the embedded template to {}", dir.display()))
}

/// The template's `cargo-generate.toml`: its placeholders are what `--define` may set.
pub fn config() -> &'static str {
    TEMPLATE
        .get_file("cargo-generate.toml")
        .and_then(|file| file.contents_utf8())
        .expect("template/cargo-generate.toml is embedded")
}
