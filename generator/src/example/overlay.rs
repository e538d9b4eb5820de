//! Overlays: the example business logic of `generator/overlays/<example>/<overlay>/`, embedded in
//! daprgen and applied to a generated service through the engine of `daprgen add`.
//!
//! In an overlay directory, every file but `wiring.hbs` is a new file at the same relative path
//! of the service; a file ending in `.hbs` is a Handlebars template (path and content) rendered
//! with the overlay's values, any other is copied as it is. `wiring.hbs` holds the blocks to
//! insert before anchor lines, in the format of `daprgen add`'s own wiring templates
//! (`@@ PATH ANCHOR` header lines). The example's root files are in `<example>/root/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use include_dir::{Dir, include_dir};

use crate::add::consumer::wiring;
use crate::add::engine::{self, Mode, Plan};
use crate::add::service::Service;
use crate::add::templates;

static OVERLAYS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/overlays");

/// The file of an overlay that holds its insertions rather than a new file.
const WIRING: &str = "wiring.hbs";

/// Applies overlay `overlay` of example `example` to the service in `service_dir`.
pub(super) fn apply(example: &str, overlay: &str, service_dir: &Path, values: &[(&str, &str)]) -> anyhow::Result<()> {
    let root = format!("{example}/{overlay}");
    let dir = OVERLAYS
        .get_dir(&root)
        .with_context(|| format!("daprgen has no overlay {root}"))?;
    let values: BTreeMap<&str, &str> = values.iter().copied().collect();
    let registry = templates::registry();
    let render = |name: &str, text: &str| {
        registry
            .render_template(text, &values)
            .with_context(|| format!("rendering overlay file {root}/{name}"))
    };
    let mut plan = Plan::new(format!("overlay {root}"));
    for file in templates::embedded_files(dir) {
        let relative = file
            .path()
            .strip_prefix(&root)
            .expect("an overlay's files are inside its directory");
        let name = relative.to_string_lossy().replace('\\', "/");
        let text = file
            .contents_utf8()
            .with_context(|| format!("overlay file {root}/{name} is not UTF-8"))?;
        if name == WIRING {
            let rendered = render(&name, text)?;
            for (path, anchor, block) in wiring(&format!("{root}/{WIRING}"), &rendered)? {
                plan.insert(path, &anchor, block);
            }
        } else if let Some(template) = name.strip_suffix(".hbs") {
            plan.create(PathBuf::from(render(&name, template)?), render(&name, text)?);
        } else {
            plan.create(relative, text);
        }
    }
    let service = Service::open(service_dir)?;
    engine::apply(&service, &plan, Mode::Write)?;
    Ok(())
}

/// Writes the root file `name` of example `example` into `dir`.
pub(super) fn write_root_file(example: &str, name: &str, dir: &Path) -> anyhow::Result<()> {
    let path = format!("{example}/root/{name}");
    let file = OVERLAYS
        .get_file(&path)
        .with_context(|| format!("daprgen has no file {path}"))?;
    std::fs::write(dir.join(name), file.contents()).with_context(|| format!("writing {}", dir.join(name).display()))
}
