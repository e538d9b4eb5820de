//! The Handlebars templates of `daprgen add`, embedded from `generator/templates/`. A service may
//! override any of them with a file of the same relative path under `.daprgen/templates/`
//! (e.g. `.daprgen/templates/entity/biz/usecase.rs.hbs`): that is how a team changes what
//! `add` produces without forking daprgen.

use std::cell::RefCell;
use std::collections::BTreeMap;
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
///
/// daprgen's own templates are parsed when first rendered: a command renders a few of them, and
/// parsing all of them would cost more than the rest of the command. Overrides are parsed when
/// they are loaded, so a broken one is refused whichever command runs.
pub struct Templates {
    registry: RefCell<Handlebars<'static>>,
    /// daprgen's own templates by name, registered with `registry` when first rendered.
    builtin: BTreeMap<String, &'static include_dir::File<'static>>,
    overridden: Vec<String>,
}

impl Templates {
    /// daprgen's own templates only.
    pub fn builtin() -> anyhow::Result<Self> {
        let builtin = embedded_files(&BUILTIN)
            .into_iter()
            .filter(|file| file.path().extension().is_some_and(|ext| ext == "hbs"))
            .map(|file| (file.path().to_string_lossy().replace('\\', "/"), file))
            .collect();
        Ok(Self {
            registry: RefCell::new(registry()),
            builtin,
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
                if !self.builtin.contains_key(&name) {
                    anyhow::bail!(
                        "{} overrides no template: daprgen has no template {name:?}. Name it like one of \
                         daprgen's (`daprgen templates` lists them) or remove it",
                        path.display()
                    );
                }
                let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
                self.registry
                    .get_mut()
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
        self.register_builtin(name)?;
        self.registry
            .borrow()
            .render(name, context)
            .with_context(|| format!("rendering {origin}"))
    }

    /// Parses daprgen's template `name` unless it is registered already (parsed before, or
    /// overridden). An unknown name is left to `render` to report.
    fn register_builtin(&self, name: &str) -> anyhow::Result<()> {
        if self.registry.borrow().has_template(name) {
            return Ok(());
        }
        let Some(file) = self.builtin.get(name) else {
            return Ok(());
        };
        let text = file
            .contents_utf8()
            .with_context(|| format!("template {name} is not UTF-8"))?;
        self.registry
            .borrow_mut()
            .register_template_string(name, text)
            .with_context(|| format!("daprgen's template {name} does not parse"))
    }

    /// The names of every template, sorted.
    pub fn names(&self) -> Vec<String> {
        self.builtin.keys().cloned().collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Templates are parsed when first rendered, so this is where a broken one shows up.
    #[test]
    fn every_builtin_template_parses() {
        let templates = Templates::builtin().unwrap();
        let names = templates.names();
        assert!(names.contains(&"entity/biz/usecase.rs.hbs".to_owned()), "{names:?}");
        assert!(names.is_sorted());
        for name in &names {
            templates.register_builtin(name).unwrap();
        }
        assert_eq!(templates.registry.borrow().get_templates().len(), names.len());
    }

    #[test]
    fn an_unknown_template_is_an_error() {
        let templates = Templates::builtin().unwrap();
        let error = templates.render("entity/nothing.rs.hbs", &()).unwrap_err();
        assert!(format!("{error:#}").contains("entity/nothing.rs.hbs"), "{error:#}");
    }
}
