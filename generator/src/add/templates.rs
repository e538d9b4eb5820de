//! The Handlebars templates of `daprgen add`, embedded from `generator/templates/`. A service may
//! override any of them with a file of the same relative path under `.daprgen/templates/`
//! (e.g. `.daprgen/templates/entity/biz/usecase.rs.hbs`): that is how a team changes what
//! `add` produces without forking daprgen.

use std::path::Path;

use anyhow::Context;
use handlebars::Handlebars;
use include_dir::{Dir, include_dir};
use serde::Serialize;

use super::service::Service;

static BUILTIN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");

/// Where a service keeps its overrides, relative to its root.
pub const OVERRIDES: &str = ".daprgen/templates";

/// An empty registry set up for generated code: strict (a missing value is a bug in the
/// command, not an empty string in generated code) and without HTML escaping.
pub fn registry() -> Handlebars<'static> {
    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    registry.register_escape_fn(handlebars::no_escape);
    registry
}

/// The templates a command renders, each either daprgen's own or the service's override.
pub struct Templates {
    registry: Handlebars<'static>,
    overridden: Vec<String>,
}

impl Templates {
    /// daprgen's own templates only.
    pub fn builtin() -> anyhow::Result<Self> {
        let mut registry = registry();
        let templates = embedded_files(&BUILTIN)
            .into_iter()
            .filter(|file| file.path().extension().is_some_and(|ext| ext == "hbs"));
        for file in templates {
            let name = file.path().to_string_lossy().replace('\\', "/");
            let text = file
                .contents_utf8()
                .with_context(|| format!("template {name} is not UTF-8"))?;
            registry
                .register_template_string(&name, text)
                .with_context(|| format!("daprgen's template {name} does not parse"))?;
        }
        Ok(Self {
            registry,
            overridden: Vec::new(),
        })
    }

    /// daprgen's templates, with the service's overrides from `.daprgen/templates/` in their place.
    /// An override that replaces no template is refused: it would silently do nothing.
    pub fn load(service: &Service) -> anyhow::Result<Self> {
        let mut templates = Self::builtin()?;
        let dir = service.path(OVERRIDES);
        if dir.is_dir() {
            templates.override_from(&dir)?;
        }
        Ok(templates)
    }

    fn override_from(&mut self, dir: &Path) -> anyhow::Result<()> {
        let mut pending = vec![dir.to_path_buf()];
        while let Some(current) = pending.pop() {
            for entry in std::fs::read_dir(&current).with_context(|| format!("reading {}", current.display()))? {
                let path = entry?.path();
                if path.is_dir() {
                    pending.push(path);
                    continue;
                }
                let name = path
                    .strip_prefix(dir)
                    .expect("walked from dir")
                    .to_string_lossy()
                    .replace('\\', "/");
                if !self.registry.has_template(&name) {
                    anyhow::bail!(
                        "{} overrides no template: daprgen has no template {name:?}. Name it like one of \
                         daprgen's (`daprgen templates` lists them) or remove it",
                        path.display()
                    );
                }
                let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
                self.registry
                    .register_template_string(&name, text)
                    .with_context(|| format!("the template override {} does not parse", path.display()))?;
                self.overridden.push(name);
            }
        }
        self.overridden.sort();
        Ok(())
    }

    /// Renders template `name` (its path under `generator/templates/`) with `context`.
    pub fn render(&self, name: &str, context: &impl Serialize) -> anyhow::Result<String> {
        let origin = if self.overridden.iter().any(|overridden| overridden == name) {
            format!("the service's override {OVERRIDES}/{name}")
        } else {
            format!("daprgen's template {name}")
        };
        self.registry
            .render(name, context)
            .with_context(|| format!("rendering {origin}"))
    }

    /// The names of every template, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.registry.get_templates().keys().cloned().collect();
        names.sort();
        names
    }

    /// The templates the service overrides, sorted.
    pub fn overridden(&self) -> &[String] {
        &self.overridden
    }
}

/// Every file of an embedded directory, recursively.
pub fn embedded_files(dir: &'static Dir<'static>) -> Vec<&'static include_dir::File<'static>> {
    let mut files: Vec<_> = dir.files().collect();
    for sub in dir.dirs() {
        files.extend(embedded_files(sub));
    }
    files
}
