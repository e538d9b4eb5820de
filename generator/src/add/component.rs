//! `daprgen add component KIND`: a Dapr component from the repository's catalogue (`components/`
//! at its root, embedded in the binary) copied into the service, its name wired into the
//! configuration.
//!
//! - `components/<name>.yaml`: the catalogue file as it is (byte for byte), or with its
//!   `metadata.name` replaced when `--name` gives another one;
//! - `deploy/dapr/<name>.yaml`: its Kubernetes variant (rendered from
//!   `component/deploy/<folder>/<file>.yaml.hbs`), listed in `deploy/kustomization.yaml`;
//! - the name as a configuration key: `[dapr] <key> = "<name>"` in `config/default.toml`, a field
//!   of `DaprSettings` (so the adapters reach it through the sidecar's settings) and a check in
//!   `Settings::validate`;
//! - files a component needs beside it (the local secret store's `secrets.json`).
//!
//! A service already holding an identical component of that name is left as it is; a different
//! component of that name is refused (a sidecar loads one component per name).

use std::path::PathBuf;

use anyhow::Context;
use heck::ToSnakeCase;
use include_dir::{Dir, include_dir};
use serde::Serialize;

use super::consumer::wiring;
use super::engine::Plan;
use super::names;
use super::service::Service;
use super::templates::Templates;
use crate::bail_input;

static CATALOGUE: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../components");

/// Longest component name: Kubernetes resource names are DNS labels.
pub const MAX_NAME_LEN: usize = 63;

/// Configuration keys of the `[dapr]` section that name no component.
const RESERVED_KEYS: &[&str] = &[
    "grpc_endpoint",
    "http_endpoint",
    "api_token",
    "app_api_token",
    "idempotency_ttl_seconds",
    "sidecar",
];

/// Files a component needs beside it in the service, created empty when missing.
const COMPANIONS: &[(&str, &str, &str)] = &[("secretstore", "local-file", "secrets.json")];

/// `daprgen add component KIND [--name NAME]`.
#[derive(Debug, Clone, clap::Args)]
pub struct ComponentArgs {
    /// The catalogue entry, FOLDER.FILE or FOLDER/FILE: state.redis, state.sqlite, pubsub.redis,
    /// pubsub.in-memory, lock.redis, secretstore.local-file, ...
    pub kind: String,
    /// The component's name in the service (its metadata.name; default: the catalogue's, e.g.
    /// statestore). Give another to run it beside a component of the same kind.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

/// The fields of a Dapr resource that tell it apart: `kind`, `metadata.name`, `spec.type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceHeader {
    /// `Component`, `Resiliency`, `Configuration`, ...
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `spec.type` (components only; empty otherwise), e.g. `state.redis`.
    pub component_type: String,
}

/// Reads the header of a Dapr resource written in block style (as the catalogue and the template
/// write them): top-level `kind:`, the direct `name:` child of `metadata:` and `type:` child of
/// `spec:`. `None` when there is no kind or no name.
pub fn read_header(text: &str) -> Option<ResourceHeader> {
    let mut kind = None;
    let mut name = None;
    let mut component_type = String::new();
    let mut section = "";
    let mut child_indent = None;
    for line in text.lines() {
        let content = line.trim_end();
        if content.trim_start().is_empty() || content.trim_start().starts_with('#') {
            continue;
        }
        let indent = content.len() - content.trim_start().len();
        let Some((key, value)) = content.trim_start().split_once(':') else {
            continue;
        };
        let value = unquote(value.trim());
        if indent == 0 {
            section = key;
            child_indent = None;
            if key == "kind" {
                kind = Some(value.to_owned());
            }
            continue;
        }
        let direct = *child_indent.get_or_insert(indent) == indent;
        match (section, key, direct) {
            ("metadata", "name", true) if name.is_none() => name = Some(value.to_owned()),
            ("spec", "type", true) => component_type = value.to_owned(),
            _ => {}
        }
    }
    Some(ResourceHeader {
        kind: kind?,
        name: name?,
        component_type,
    })
}

fn unquote(value: &str) -> &str {
    let value = value.split(" #").next().unwrap_or(value).trim();
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .unwrap_or(value)
}

/// A Dapr component of the service's `components/`.
#[derive(Debug, Clone)]
pub struct ServiceComponent {
    /// Its file, relative to the service's root.
    pub path: PathBuf,
    /// Its header.
    pub header: ResourceHeader,
    /// Its text.
    pub text: String,
}

/// The components (`kind: Component`) of the service's `components/`, by file name.
pub fn service_components(service: &Service) -> anyhow::Result<Vec<ServiceComponent>> {
    let mut found = Vec::new();
    for (path, text) in service.read_files("components", &["yaml", "yml"])? {
        if let Some(header) = read_header(&text).filter(|header| header.kind == "Component") {
            found.push(ServiceComponent { path, header, text });
        }
    }
    Ok(found)
}

/// One component of the catalogue.
#[derive(Debug, Clone)]
pub struct CatalogueEntry {
    /// Its folder, e.g. `state`.
    pub folder: String,
    /// Its file name without `.yaml`, e.g. `redis-outbox`.
    pub file: String,
    /// Its header.
    pub header: ResourceHeader,
    /// Its text.
    pub text: &'static str,
}

impl CatalogueEntry {
    /// How the command line names it: `state.redis-outbox`.
    pub fn kind(&self) -> String {
        format!("{}.{}", self.folder, self.file)
    }
}

/// Every resource of the catalogue, components or not, sorted by kind.
pub fn catalogue() -> Vec<CatalogueEntry> {
    let mut entries = Vec::new();
    for folder in CATALOGUE.dirs() {
        for file in folder.files() {
            let path = file.path();
            let (Some(folder), Some(stem), Some("yaml")) = (
                path.parent().and_then(|p| p.to_str()),
                path.file_stem().and_then(|s| s.to_str()),
                path.extension().and_then(|e| e.to_str()),
            ) else {
                continue;
            };
            let text = file.contents_utf8().expect("the catalogue is UTF-8");
            let header =
                read_header(text).unwrap_or_else(|| panic!("components/{} has no kind or name", path.display()));
            entries.push(CatalogueEntry {
                folder: folder.to_owned(),
                file: stem.to_owned(),
                header,
                text,
            });
        }
    }
    entries.sort_by_key(CatalogueEntry::kind);
    entries
}

/// The kinds `daprgen add component` accepts.
pub fn component_kinds() -> Vec<String> {
    catalogue()
        .into_iter()
        .filter(|entry| entry.header.kind == "Component")
        .map(|entry| entry.kind())
        .collect()
}

/// The catalogue component `kind` names: `FOLDER.FILE` or `FOLDER/FILE` (`.yaml` may follow).
pub fn resolve(kind: &str) -> anyhow::Result<CatalogueEntry> {
    let available = || component_kinds().join(", ");
    if kind.is_empty() {
        bail_input!(
            "the component kind is empty: name a catalogue entry, one of {}",
            available()
        );
    }
    if kind.contains("..") || kind.starts_with('/') || kind.contains('\\') {
        bail_input!(
            "the component kind {kind:?} is a path outside the catalogue: name a catalogue entry, one of {}",
            available()
        );
    }
    let (folder, file) = match kind.split_once('/') {
        Some((folder, file)) => (folder, file.strip_suffix(".yaml").unwrap_or(file)),
        None => kind.split_once('.').unwrap_or((kind, "")),
    };
    let entries = catalogue();
    let Some(entry) = entries
        .iter()
        .find(|entry| entry.folder == folder && entry.file == file)
    else {
        let in_folder: Vec<String> = entries
            .iter()
            .filter(|entry| entry.folder == folder)
            .map(CatalogueEntry::kind)
            .collect();
        if file.is_empty() && !in_folder.is_empty() {
            bail_input!(
                "the component kind {kind:?} names a folder of the catalogue: name one of its entries, {}",
                in_folder.join(", ")
            );
        }
        bail_input!(
            "the catalogue (components/ of the daprgen repository) has no component {kind:?}: use one of {}",
            available()
        );
    };
    if entry.header.kind != "Component" {
        bail_input!(
            "{kind:?} is a Dapr {} (every service has one from `daprgen new`), not a component: use one of {}",
            entry.header.kind,
            available()
        );
    }
    Ok(entry.clone())
}

/// Refuses a component name Dapr and Kubernetes would not take, or that would make unreadable
/// configuration: lowercase letters, digits and '-', starting with a letter.
pub fn check_component_name(name: &str) -> anyhow::Result<()> {
    const RULE: &str = "a component name is a Kubernetes resource name: lowercase ASCII letters, digits and '-', starting with a letter";
    if name.is_empty() {
        bail_input!("the component name (--name) is empty: {RULE}, e.g. --name cache");
    }
    if name.contains(['/', '\\']) || name.contains("..") {
        bail_input!("the component name {name:?} is a path, not a name: {RULE}, e.g. --name cache");
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        let suggestion = name.to_lowercase().replace(['_', ' ', '.'], "-");
        let fix = if is_component_name(&suggestion) {
            suggestion
        } else {
            "cache".to_owned()
        };
        bail_input!("the component name {name:?} contains {bad:?}: {RULE}, e.g. --name {fix}");
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        bail_input!("the component name {name:?} does not start with a letter: {RULE}, e.g. --name cache");
    }
    if name.ends_with('-') || name.contains("--") {
        bail_input!(
            "the component name {name:?} has a trailing or doubled '-': {RULE}, e.g. --name {}",
            name.trim_end_matches('-').replace("--", "-")
        );
    }
    if name.len() > MAX_NAME_LEN {
        bail_input!(
            "the component name {name:?} has {} characters, more than {MAX_NAME_LEN}: choose a shorter one with --name",
            name.len()
        );
    }
    Ok(())
}

/// Whether `name` passes [`check_component_name`].
fn is_component_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && !name.contains("--")
        && name.len() <= MAX_NAME_LEN
}

/// The configuration key naming component `name`: the template's own keys for its components
/// (`state_store` for `statestore`, ...), otherwise the name in snake_case.
pub fn config_key(name: &str) -> String {
    match name {
        "statestore" => "state_store".to_owned(),
        "lockstore" => "lock_store".to_owned(),
        "secretstore" => "secret_store".to_owned(),
        other => other.to_snake_case(),
    }
}

/// What the component templates are rendered with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentContext {
    /// The catalogue entry, e.g. `state.sqlite`.
    pub kind: String,
    /// The component's name, e.g. `cache`.
    pub name: String,
    /// Its type, e.g. `state.sqlite`.
    pub component_type: String,
    /// What it is, for comments: "state store", "pub/sub", ...
    pub role: String,
    /// Its configuration key, e.g. `cache`.
    pub key: String,
    /// The service's name: its Dapr app id, which scopes the component in Kubernetes.
    pub app_id: String,
    /// Whether the service's pod has the `state` volume (SQLite state stores keep their file there).
    pub state_volume: bool,
    /// Whether this state store is the app's actor state store: only when the service has none
    /// yet (a sidecar with placement refuses a second one, "detected duplicate actor state store").
    pub actor_state_store: bool,
}

fn role(folder: &str) -> String {
    match folder {
        "state" => "state store",
        "pubsub" => "pub/sub",
        "lock" => "lock store",
        "secretstore" => "secret store",
        "bindings" => "binding",
        "configuration" => "configuration store",
        other => other,
    }
    .to_owned()
}

/// The plan of `daprgen add component`: every input is checked first, so bad input writes nothing.
pub fn plan(service: &Service, templates: &Templates, args: &ComponentArgs) -> anyhow::Result<Plan> {
    let entry = resolve(&args.kind)?;
    let name = match &args.name {
        Some(name) => {
            check_component_name(name)?;
            name.clone()
        }
        None => entry.header.name.clone(),
    };
    let key = config_key(&name);
    names::check_identifier(
        &format!("the configuration key of the component {name:?}"),
        &key,
        "cache",
    )?;
    if RESERVED_KEYS.contains(&key.as_str()) {
        bail_input!(
            "the component name {name:?} would become the configuration key dapr.{key}, which is taken by a setting: \
             choose another with --name, e.g. --name {name}-store"
        );
    }
    let existing = service_components(service)?;
    let actor_store = existing
        .iter()
        .find(|component| component.header.name != name && is_actor_state_store(&component.text));
    let mut content = with_name(entry.text, &entry.header.name, &name);
    if name != entry.header.name {
        content = with_own_file(&content, &name);
    }
    if let Some(actor_store) = actor_store {
        content = without_actor_flag(&content, &actor_store.header.name);
    }
    let target = PathBuf::from(format!("components/{name}.yaml"));
    let same_name = existing.iter().find(|component| component.header.name == name);
    let already_there = match same_name {
        Some(component) if component.text == content => true,
        Some(component) => bail_input!(
            "{} already defines the component {name:?} ({}), and it differs from {}: a sidecar loads one component \
             per name. Add this one under another name, e.g. --name {}-{}",
            component.path.display(),
            component.header.component_type,
            entry.kind(),
            entry.file,
            entry.folder
        ),
        None => false,
    };
    if !already_there && service.path(&target).exists() {
        bail_input!(
            "{} exists and holds no component named {name:?}: move it away, or choose another name with --name",
            target.display()
        );
    }

    let context = ComponentContext {
        kind: entry.kind(),
        name: name.clone(),
        component_type: entry.header.component_type.clone(),
        role: role(&entry.folder),
        key: key.clone(),
        app_id: service.info.name.clone(),
        state_volume: service.info.state_store == "sqlite",
        actor_state_store: actor_store.is_none() && is_actor_state_store(entry.text),
    };
    let mut plan = Plan::new(match &args.name {
        Some(name) => format!("add component {} --name {name}", entry.kind()),
        None => format!("add component {}", entry.kind()),
    });
    plan.create(&target, content);
    for (folder, file, companion) in COMPANIONS {
        if entry.folder == *folder && entry.file == *file && !service.path(companion).exists() {
            plan.create(*companion, "{}\n");
        }
    }
    let deploy = PathBuf::from(format!("deploy/dapr/{name}.yaml"));
    let manifest = templates.render(
        &format!("component/deploy/{}/{}.yaml.hbs", entry.folder, entry.file),
        &context,
    )?;
    match std::fs::read_to_string(service.path(&deploy)) {
        // The service deploys its own variant of a component it already has (e.g. from `daprgen new`).
        Ok(existing) if already_there && existing != manifest => {}
        _ => {
            plan.create(&deploy, manifest);
            plan.insert(
                "deploy/kustomization.yaml",
                "kustomize-resources",
                format!("  - dapr/{name}.yaml\n"),
            );
        }
    }
    if !configured(service, &key, &name)? {
        let template = "component/wiring.hbs";
        for (path, anchor, text) in wiring(template, &templates.render(template, &context)?)? {
            plan.insert(path, &anchor, text);
        }
    }
    Ok(plan)
}

/// The catalogue text with `metadata.name` changed from `from` to `to`, everything else as it is.
pub fn with_name(text: &str, from: &str, to: &str) -> String {
    if from == to {
        return text.to_owned();
    }
    let mut in_metadata = false;
    let mut done = false;
    let mut renamed = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if !line.starts_with([' ', '#', '\n']) {
            in_metadata = line.trim_end() == "metadata:";
        }
        let trimmed = line.trim_start();
        if in_metadata && !done && unquote(trimmed.strip_prefix("name:").unwrap_or("").trim()) == from {
            let indent = &line[..line.len() - trimmed.len()];
            renamed.push_str(&format!("{indent}name: {to}\n"));
            done = true;
        } else {
            renamed.push_str(line);
        }
    }
    renamed
}

/// `text` with its SQLite file (`connectionString`, `state.db` in the catalogue) named after the
/// component, so that a second SQLite store does not share the first one's file.
pub fn with_own_file(text: &str, name: &str) -> String {
    let mut renamed = String::with_capacity(text.len());
    let mut lines = text.split_inclusive('\n');
    while let Some(line) = lines.next() {
        renamed.push_str(line);
        if line.trim() == "- name: connectionString"
            && let Some(value) = lines.next()
        {
            let file = unquote(value.trim().strip_prefix("value:").unwrap_or("").trim());
            if file.ends_with(".db") && !file.contains('/') {
                let indent = &value[..value.len() - value.trim_start().len()];
                renamed.push_str(&format!("{indent}value: \"{name}.db\"\n"));
            } else {
                renamed.push_str(value);
            }
        }
    }
    renamed
}

/// Whether the component in `text` declares itself the actor state store (`actorStateStore: "true"`).
pub fn is_actor_state_store(text: &str) -> bool {
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if line == "- name: actorStateStore" {
            return lines
                .next()
                .is_some_and(|value| unquote(value.strip_prefix("value:").unwrap_or("").trim()) == "true");
        }
    }
    false
}

/// `text` without its `actorStateStore` entry, which is replaced by a comment naming `actor_store`,
/// the app's actor state store.
pub fn without_actor_flag(text: &str, actor_store: &str) -> String {
    let mut kept = String::with_capacity(text.len());
    let mut lines = text.split_inclusive('\n');
    while let Some(line) = lines.next() {
        if line.trim() == "- name: actorStateStore" {
            let indent = &line[..line.len() - line.trim_start().len()];
            kept.push_str(&format!(
                "{indent}# No actorStateStore: `{actor_store}` is this app's actor state store, and a sidecar takes one.\n"
            ));
            lines.next();
        } else {
            kept.push_str(line);
        }
    }
    kept
}

/// Whether `config/default.toml` already sets `key` to `name` (the template's own components, or
/// an earlier `add component`); another value for `key` is refused.
fn configured(service: &Service, key: &str, name: &str) -> anyhow::Result<bool> {
    let path = service.path("config/default.toml");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut section = String::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
            section = header.trim().to_owned();
            continue;
        }
        if section != "dapr" {
            continue;
        }
        let Some((found, value)) = line.split_once('=') else {
            continue;
        };
        if found.trim() == key {
            let value = unquote(value.trim());
            if value == name {
                return Ok(true);
            }
            bail_input!(
                "config/default.toml already sets dapr.{key} = {value:?}, another component: choose another name with \
                 --name, e.g. --name {name}-2"
            );
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::add::engine::{self, Change, Mode};
    use crate::add::service::MARKER;
    use crate::error::is_bad_input;

    fn sample(kind: &str, actor_state_store: bool, state_volume: bool) -> ComponentContext {
        let entry = resolve(kind).unwrap();
        ComponentContext {
            kind: entry.kind(),
            name: "cache".into(),
            component_type: entry.header.component_type.clone(),
            role: role(&entry.folder),
            key: "cache".into(),
            app_id: "shop".into(),
            state_volume,
            actor_state_store,
        }
    }

    #[test]
    fn every_catalogue_component_has_a_deploy_template_and_they_render() {
        let templates = Templates::builtin().unwrap();
        for kind in component_kinds() {
            let entry = resolve(&kind).unwrap();
            let name = format!("component/deploy/{}/{}.yaml.hbs", entry.folder, entry.file);
            let rendered = templates.render(&name, &sample(&kind, true, true)).unwrap();
            let header = read_header(&rendered).unwrap_or_else(|| panic!("{name}: no header"));
            assert_eq!(
                (header.kind.as_str(), header.name.as_str()),
                ("Component", "cache"),
                "{name}"
            );
            insta::assert_snapshot!(format!("component_deploy_{}_{}", entry.folder, entry.file), rendered);
        }
        for kind in ["state.sqlite", "state.sqlite-outbox", "state.redis"] {
            let entry = resolve(kind).unwrap();
            let name = format!("component/deploy/{}/{}.yaml.hbs", entry.folder, entry.file);
            let rendered = templates.render(&name, &sample(kind, false, false)).unwrap();
            assert!(!rendered.contains("actorStateStore"), "{name}");
            insta::assert_snapshot!(
                format!("component_deploy_{}_{}_second_store", entry.folder, entry.file),
                rendered
            );
        }
        let wiring = templates
            .render("component/wiring.hbs", &sample("state.sqlite", false, false))
            .unwrap();
        insta::assert_snapshot!("component_wiring", wiring);
    }

    /// A service made with state_store=redis, pubsub=redis, without the lock.
    fn service() -> (tempfile::TempDir, Service) {
        let dir = tempfile::tempdir().unwrap();
        let write = |path: &str, text: &str| {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write(
            MARKER,
            "name = \"shop\"\nservice_snake = \"shop\"\nresource = \"order\"\ntransport = \"both\"\n\
             state_store = \"redis\"\npubsub = \"redis\"\nwith_lock = false\nwith_workflow = true\n",
        );
        write(
            "components/statestore.yaml",
            include_str!("../../../components/state/redis-outbox.yaml"),
        );
        write(
            "components/pubsub.yaml",
            include_str!("../../../components/pubsub/redis.yaml"),
        );
        write(
            "components/resiliency.yaml",
            include_str!("../../../components/resiliency/default.yaml"),
        );
        write(
            "deploy/dapr/statestore.yaml",
            "# the service's own variant\nkind: Component\nmetadata:\n  name: statestore\n",
        );
        write(
            "deploy/kustomization.yaml",
            "resources:\n  - dapr/statestore.yaml\n  # daprgen:anchor kustomize-resources\n",
        );
        write(
            "config/default.toml",
            "[dapr]\nstate_store = \"statestore\"\npubsub = \"pubsub\"\n# daprgen:anchor dapr-keys\n\n[telemetry]\n",
        );
        write(
            "crates/data/src/sidecar.rs",
            "pub struct DaprSettings {\n    // daprgen:anchor dapr-settings-fields\n}\n\
             fn from_variables() -> DaprSettings {\n    DaprSettings {\n        // daprgen:anchor dapr-settings-defaults\n    }\n}\n\
             fn fmt() {\n    // daprgen:anchor dapr-settings-debug\n}\n",
        );
        write(
            "crates/app/src/config.rs",
            "fn validate() {\n    for (key, name) in [\n        // daprgen:anchor dapr-component-checks\n    ] {}\n}\n",
        );
        let service = Service::open(dir.path()).unwrap();
        (dir, service)
    }

    fn args(kind: &str, name: Option<&str>) -> ComponentArgs {
        ComponentArgs {
            kind: kind.into(),
            name: name.map(str::to_owned),
        }
    }

    fn paths(plan: &Plan) -> Vec<String> {
        plan.changes
            .iter()
            .map(|change| match change {
                Change::Create { path, .. } => format!("create {}", path.display()),
                Change::Insert { path, anchor, .. } => format!("insert {} {anchor}", path.display()),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_component_the_service_already_has_changes_nothing() {
        let (_dir, service) = service();
        let templates = Templates::builtin().unwrap();
        let plan = plan(&service, &templates, &args("state/redis-outbox", None)).unwrap();
        assert_eq!(paths(&plan), ["create components/statestore.yaml"]);
        assert!(engine::apply(&service, &plan, Mode::Write).unwrap().unchanged());
    }

    #[test]
    fn a_second_store_is_named_wired_and_deployed_and_is_not_the_actor_store() {
        let (dir, service) = service();
        let templates = Templates::builtin().unwrap();
        let plan = plan(&service, &templates, &args("state.sqlite", Some("cache"))).unwrap();
        assert_eq!(plan.summary, "add component state.sqlite --name cache");
        assert_eq!(
            paths(&plan),
            [
                "create components/cache.yaml",
                "create deploy/dapr/cache.yaml",
                "insert deploy/kustomization.yaml kustomize-resources",
                "insert config/default.toml dapr-keys",
                "insert crates/data/src/sidecar.rs dapr-settings-fields",
                "insert crates/data/src/sidecar.rs dapr-settings-defaults",
                "insert crates/data/src/sidecar.rs dapr-settings-debug",
                "insert crates/app/src/config.rs dapr-component-checks",
            ]
        );
        let outcome = engine::apply(&service, &plan, Mode::Write).unwrap();
        assert_eq!(outcome.created.len(), 2);
        let local = std::fs::read_to_string(dir.path().join("components/cache.yaml")).unwrap();
        assert_eq!(read_header(&local).unwrap().name, "cache");
        assert!(!is_actor_state_store(&local), "{local}");
        assert!(
            local.contains("`statestore` is this app's actor state store"),
            "{local}"
        );
        assert!(local.contains("      value: \"cache.db\"\n"), "its own file: {local}");
        let config = std::fs::read_to_string(dir.path().join("config/default.toml")).unwrap();
        assert!(
            config.contains("cache = \"cache\"\n# daprgen:anchor dapr-keys"),
            "{config}"
        );
        // Again: everything is there already.
        let again = super::plan(&service, &templates, &args("state.sqlite", Some("cache"))).unwrap();
        assert!(engine::apply(&service, &again, Mode::Write).unwrap().unchanged());
    }

    #[test]
    fn a_first_lock_is_wired_under_the_templates_key() {
        let (dir, service) = service();
        let templates = Templates::builtin().unwrap();
        let plan = plan(&service, &templates, &args("lock.redis", None)).unwrap();
        engine::apply(&service, &plan, Mode::Write).unwrap();
        let local = std::fs::read_to_string(dir.path().join("components/lockstore.yaml")).unwrap();
        assert_eq!(
            local,
            resolve("lock.redis").unwrap().text,
            "a catalogue copy, byte for byte"
        );
        let sidecar = std::fs::read_to_string(dir.path().join("crates/data/src/sidecar.rs")).unwrap();
        assert!(sidecar.contains("    pub lock_store: String,\n"), "{sidecar}");
        assert!(sidecar.contains("lock_store: \"lockstore\".into(),\n"), "{sidecar}");
    }

    #[test]
    fn the_local_secret_store_gets_its_secrets_file() {
        let (dir, service) = service();
        let templates = Templates::builtin().unwrap();
        let plan = plan(&service, &templates, &args("secretstore/local-file", None)).unwrap();
        assert!(
            paths(&plan).contains(&"create secrets.json".to_owned()),
            "{:?}",
            paths(&plan)
        );
        engine::apply(&service, &plan, Mode::Write).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("secrets.json")).unwrap(),
            "{}\n"
        );
        std::fs::write(dir.path().join("secrets.json"), "{\"db\": \"s3cret\"}\n").unwrap();
        let again = super::plan(&service, &templates, &args("secretstore/local-file", None)).unwrap();
        assert!(
            engine::apply(&service, &again, Mode::Write).unwrap().unchanged(),
            "the secrets are kept"
        );
    }

    #[test]
    fn clashes_are_refused_naming_the_value_and_the_fix() {
        let (dir, service) = service();
        std::fs::write(dir.path().join("components/notes.yaml"), "# not a component\n").unwrap();
        let config = std::fs::read_to_string(dir.path().join("config/default.toml")).unwrap();
        std::fs::write(
            dir.path().join("config/default.toml"),
            config.replace("[dapr]\n", "[dapr]\naudit = \"other\"\n"),
        )
        .unwrap();
        let templates = Templates::builtin().unwrap();
        let cases = [
            (
                args("state.sqlite", None),
                "components/statestore.yaml already defines the component \"statestore\"",
                "--name sqlite-state",
            ),
            (
                args("pubsub.in-memory", None),
                "already defines the component \"pubsub\"",
                "--name in-memory-pubsub",
            ),
            (
                args("state.sqlite", Some("notes")),
                "components/notes.yaml exists",
                "--name",
            ),
            (
                args("state.sqlite", Some("audit")),
                "already sets dapr.audit = \"other\"",
                "--name audit-2",
            ),
            (
                args("state.sqlite", Some("api-token")),
                "dapr.api_token, which is taken",
                "--name api-token-store",
            ),
            (args("state.sqlite", Some("type")), "\"type\" is a Rust keyword", "e.g."),
            (
                args("state.sqlite", Some("My_Cache")),
                "contains 'M'",
                "--name my-cache",
            ),
            (args("state.nosuch", None), "\"state.nosuch\"", "state.redis"),
        ];
        for (args, expected, fix) in cases {
            let error = plan(&service, &templates, &args).unwrap_err();
            assert!(is_bad_input(&error), "{args:?}: {error:#}");
            let message = error.to_string();
            assert!(message.contains(expected), "{args:?}: {message}");
            assert!(message.contains(fix), "{args:?} gives no fix: {message}");
        }
    }

    #[test]
    fn every_catalogue_resource_has_a_header() {
        let entries = catalogue();
        assert!(entries.len() >= 10, "{entries:?}");
        for entry in &entries {
            assert!(!entry.header.name.is_empty(), "{}", entry.kind());
            if entry.header.kind == "Component" {
                assert!(
                    entry.header.component_type.contains('.'),
                    "{}: {:?}",
                    entry.kind(),
                    entry.header
                );
            }
        }
        let redis = entries.iter().find(|entry| entry.kind() == "state.redis").unwrap();
        assert_eq!(
            redis.header,
            ResourceHeader {
                kind: "Component".into(),
                name: "statestore".into(),
                component_type: "state.redis".into()
            }
        );
    }

    #[test]
    fn kinds_are_found_in_either_spelling() {
        for (kind, expected) in [
            ("state.redis", "state.redis"),
            ("state/redis", "state.redis"),
            ("state/sqlite.yaml", "state.sqlite"),
            ("secretstore.local-file", "secretstore.local-file"),
            ("secretstore/local-file", "secretstore.local-file"),
            ("pubsub.in-memory", "pubsub.in-memory"),
        ] {
            assert_eq!(resolve(kind).unwrap().kind(), expected, "{kind}");
        }
    }

    #[test]
    fn bad_kinds_are_refused_naming_the_value_and_the_choices() {
        let cases = [
            ("", "is empty"),
            ("state.nosuch", "no component \"state.nosuch\""),
            ("../etc/passwd", "is a path"),
            ("/state/redis", "is a path"),
            ("state", "names a folder"),
            ("resiliency.default", "is a Dapr Resiliency"),
            ("configuration/tracing", "is a Dapr Configuration"),
            ("State.Redis", "no component"),
        ];
        for (kind, expected) in cases {
            let error = resolve(kind).unwrap_err();
            assert!(is_bad_input(&error), "{kind:?}");
            let message = error.to_string();
            assert!(message.contains(expected), "{kind:?}: {message}");
            assert!(
                message.contains("state.redis") || message.contains("state.sqlite"),
                "{kind:?} lists no choice: {message}"
            );
        }
    }

    #[test]
    fn bad_names_are_refused_with_a_fix() {
        let cases = [
            ("", "is empty"),
            ("Cache", "contains 'C'"),
            ("my_cache", "e.g. --name my-cache"),
            ("9cache", "does not start with a letter"),
            ("cache-", "trailing or doubled"),
            ("a--b", "trailing or doubled"),
            ("../x", "is a path"),
            ("caché", "contains 'é'"),
            (
                "a-component-name-longer-than-any-dns-label-may-be-which-is-63-chars",
                "more than 63",
            ),
        ];
        for (name, expected) in cases {
            let error = check_component_name(name).unwrap_err();
            assert!(is_bad_input(&error), "{name:?}");
            let message = error.to_string();
            assert!(message.contains(expected), "{name:?}: {message}");
        }
        check_component_name("orders-cache2").unwrap();
    }

    #[test]
    fn configuration_keys_follow_the_template() {
        assert_eq!(config_key("statestore"), "state_store");
        assert_eq!(config_key("lockstore"), "lock_store");
        assert_eq!(config_key("pubsub"), "pubsub");
        assert_eq!(config_key("orders-cache"), "orders_cache");
    }

    #[test]
    fn renaming_changes_only_the_metadata_name() {
        let entry = resolve("state.redis").unwrap();
        let renamed = with_name(entry.text, "statestore", "cache");
        let header = read_header(&renamed).unwrap();
        assert_eq!(
            (header.name.as_str(), header.component_type.as_str()),
            ("cache", "state.redis")
        );
        let changed: Vec<(&str, &str)> = entry
            .text
            .lines()
            .zip(renamed.lines())
            .filter(|(before, after)| before != after)
            .collect();
        assert_eq!(changed, [("  name: statestore", "  name: cache")]);
        assert_eq!(with_name(entry.text, "statestore", "statestore"), entry.text);
    }

    #[test]
    fn headers_ignore_nested_names_comments_and_quotes() {
        let text = "# a comment: with a colon\napiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: \"x\" # why\n\
                    spec:\n  type: 'pubsub.redis'\n  metadata:\n    - name: redisHost\n      value: localhost:6379\n";
        let header = read_header(text).unwrap();
        assert_eq!(
            header,
            ResourceHeader {
                kind: "Component".into(),
                name: "x".into(),
                component_type: "pubsub.redis".into()
            }
        );
        assert_eq!(read_header("kind: Component\n"), None);
    }
}
