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

/// Whether cargo-generate formats what the template renders: unless its `cargo-generate.toml`
/// says `[template] fmt = false` without asking for the `fmt` post hook.
pub fn formatted() -> bool {
    let Ok(config) = toml::from_str::<toml::Table>(config()) else {
        return true;
    };
    let hooked = config
        .get("hooks")
        .and_then(|hooks| hooks.get("post"))
        .and_then(toml::Value::as_array)
        .is_some_and(|post| post.iter().any(|hook| hook.as_str() == Some("fmt")));
    hooked
        || config
            .get("template")
            .and_then(|template| template.get("fmt"))
            .and_then(toml::Value::as_bool)
            .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    /// `daprgen new` formats the service itself (over all the cores) on the grounds that
    /// cargo-generate would.
    #[test]
    fn cargo_generate_formats_the_template() {
        assert!(super::formatted());
    }
}
