//! Applies what a command wants to change in a service: new files, blocks inserted at anchors,
//! keys merged into JSON documents. Everything is computed in memory first, so a command either
//! changes every file it means to or none: a missing anchor, a conflicting file or an unwritable
//! tree leaves the service byte-for-byte as it was.
//!
//! An anchor is a line whose trimmed text is `// daprgen:anchor NAME` (or `# daprgen:anchor
//! NAME`); blocks go immediately before it, so blocks added later land after earlier ones.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use anyhow::Context;
use serde_json::{Map, Value};

use super::rustfmt;
use super::service::Service;

/// One change to a service, with paths relative to its root.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A new file. Already there with the same content: nothing to do; with other content: a
    /// conflict, reported before anything is written.
    Create { path: PathBuf, content: String },
    /// `text` inserted right before the anchor `anchor` of `path`, unless `path` already holds it.
    Insert {
        path: PathBuf,
        anchor: String,
        text: String,
    },
    /// Keys added to the JSON object at `pointer` (RFC 6901) of the document `path`.
    MergeJson {
        path: PathBuf,
        pointer: String,
        entries: Map<String, Value>,
    },
    /// Items appended to the JSON array at `pointer` of the document `path`, each unless an equal
    /// item is already there.
    AppendJson {
        path: PathBuf,
        pointer: String,
        items: Vec<Value>,
    },
}

/// What a command wants to change, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// What the command does, for messages: "add entity customer".
    pub summary: String,
    /// The changes, applied in this order.
    pub changes: Vec<Change>,
}

impl Plan {
    /// An empty plan for the command described by `summary`.
    pub fn new(summary: impl Into<String>) -> Self {
        Self {
            summary: summary.into(),
            changes: Vec::new(),
        }
    }

    /// Adds a new file.
    pub fn create(&mut self, path: impl Into<PathBuf>, content: impl Into<String>) -> &mut Self {
        self.changes.push(Change::Create {
            path: path.into(),
            content: content.into(),
        });
        self
    }

    /// Inserts `text` before the anchor `anchor` of `path`.
    pub fn insert(&mut self, path: impl Into<PathBuf>, anchor: &str, text: impl Into<String>) -> &mut Self {
        self.changes.push(Change::Insert {
            path: path.into(),
            anchor: anchor.to_owned(),
            text: text.into(),
        });
        self
    }

    /// Merges `entries` into the object at `pointer` of the JSON document `path`.
    pub fn merge_json(&mut self, path: impl Into<PathBuf>, pointer: &str, entries: Map<String, Value>) -> &mut Self {
        self.changes.push(Change::MergeJson {
            path: path.into(),
            pointer: pointer.to_owned(),
            entries,
        });
        self
    }

    /// The paths of the files the plan creates, in order.
    pub fn created(&self) -> Vec<String> {
        self.changes
            .iter()
            .filter_map(|change| match change {
                Change::Create { path, .. } => Some(path.display().to_string()),
                _ => None,
            })
            .collect()
    }

    /// Appends `items` to the array at `pointer` of the JSON document `path`.
    pub fn append_json(&mut self, path: impl Into<PathBuf>, pointer: &str, items: Vec<Value>) -> &mut Self {
        self.changes.push(Change::AppendJson {
            path: path.into(),
            pointer: pointer.to_owned(),
            items,
        });
        self
    }
}

/// Whether [`apply`] writes or only shows what it would write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Write the files.
    Write,
    /// Write nothing; [`Outcome::diff`] holds the unified diff.
    DryRun,
}

/// What [`apply`] did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// New files, relative to the service's root.
    pub created: Vec<PathBuf>,
    /// Changed existing files.
    pub updated: Vec<PathBuf>,
    /// The unified diff of every change (dry runs only).
    pub diff: String,
}

impl Outcome {
    /// True when the service already had everything the plan adds.
    pub fn unchanged(&self) -> bool {
        self.created.is_empty() && self.updated.is_empty()
    }
}

/// A file as the plan leaves it.
struct Edited {
    /// Its content on disk; `None` for a new file.
    original: Option<String>,
    current: String,
    /// The plan creates it: if it is already there, it must be exactly what the plan writes.
    created: bool,
}

/// Applies `plan` to `service`, all or nothing.
pub fn apply(service: &Service, plan: &Plan, mode: Mode) -> anyhow::Result<Outcome> {
    let files = edit_in_memory(service, plan)?;
    let mut outcome = Outcome::default();
    let changed: Vec<(&PathBuf, &Edited)> = files
        .iter()
        .filter(|(_, file)| file.original.as_deref() != Some(file.current.as_str()))
        .collect();
    for (path, file) in &changed {
        match file.original {
            None => outcome.created.push((*path).clone()),
            Some(_) => outcome.updated.push((*path).clone()),
        }
    }
    match mode {
        Mode::DryRun => {
            for (path, file) in &changed {
                outcome
                    .diff
                    .push_str(&unified_diff(path, file.original.as_deref(), &file.current));
            }
        }
        Mode::Write => write_all(service, &changed)?,
    }
    Ok(outcome)
}

fn edit_in_memory(service: &Service, plan: &Plan) -> anyhow::Result<BTreeMap<PathBuf, Edited>> {
    let mut files: BTreeMap<PathBuf, Edited> = BTreeMap::new();
    for change in &plan.changes {
        let path = match change {
            Change::Create { path, .. }
            | Change::Insert { path, .. }
            | Change::MergeJson { path, .. }
            | Change::AppendJson { path, .. } => path,
        };
        check_relative(path)?;
        if !files.contains_key(path) {
            let on_disk = service.path(path);
            let original = match std::fs::read_to_string(&on_disk) {
                Ok(text) => Some(text),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
                Err(error) => return Err(error).with_context(|| format!("reading {}", on_disk.display())),
            };
            let current = original.clone().unwrap_or_default();
            files.insert(
                path.clone(),
                Edited {
                    original,
                    current,
                    created: false,
                },
            );
        }
        let file = files.get_mut(path).expect("inserted above");
        match change {
            Change::Create { content, .. } => {
                file.created = true;
                file.current = content.clone();
            }
            Change::Insert { anchor, text, .. } => {
                if file.original.is_none() && file.current.is_empty() {
                    anyhow::bail!(
                        "{}: the file is missing, so its anchor `daprgen:anchor {anchor}` is too. Restore the \
                         file (from version control, or from a service made by `daprgen new` with the same \
                         options), then run `daprgen {}` again",
                        path.display(),
                        plan.summary
                    );
                }
                file.current = insert_at_anchor(path, &file.current, anchor, text, &plan.summary)?;
            }
            Change::MergeJson { pointer, entries, .. } => {
                file.current = edit_json(path, &file.current, pointer, &plan.summary, |target| {
                    merge_entries(target, entries).map_err(|key| {
                        anyhow::anyhow!(
                            "{}: {pointer}/{key} already exists and differs from what `daprgen {}` adds; it was \
                             added before with other input. Choose another name, or remove that entry and run the \
                             command again",
                            path.display(),
                            plan.summary
                        )
                    })
                })?;
            }
            Change::AppendJson { pointer, items, .. } => {
                file.current = edit_json(path, &file.current, pointer, &plan.summary, |target| {
                    let array = target.as_array_mut().ok_or_else(|| {
                        anyhow::anyhow!("{}: {pointer} is not a JSON array; restore the file", path.display())
                    })?;
                    let mut changed = false;
                    for item in items {
                        if !array.contains(item) {
                            array.push(item.clone());
                            changed = true;
                        }
                    }
                    Ok(changed)
                })?;
            }
        }
    }
    let mut rust: Vec<(&Path, &mut String)> = files
        .iter_mut()
        .filter(|(path, file)| {
            path.extension().is_some_and(|ext| ext == "rs") && file.original.as_deref() != Some(file.current.as_str())
        })
        .map(|(path, file)| (path.as_path(), &mut file.current))
        .collect();
    rustfmt::format_all(&service.root, &mut rust)?;
    for (path, file) in &files {
        if file.created {
            check_creation(path, file, &plan.summary)?;
        }
    }
    Ok(files)
}

fn check_relative(path: &Path) -> anyhow::Result<()> {
    let inside = path
        .components()
        .all(|component| matches!(component, Component::Normal(_)));
    anyhow::ensure!(
        inside && !path.as_os_str().is_empty(),
        "daprgen bug: {} is not a path inside the service",
        path.display()
    );
    Ok(())
}

/// A file the plan creates may already exist only with exactly the content the plan writes.
fn check_creation(path: &Path, file: &Edited, summary: &str) -> anyhow::Result<()> {
    match &file.original {
        Some(existing) if *existing != file.current => anyhow::bail!(
            "{} already exists and differs from what `daprgen {summary}` writes: it was added before with \
             other input, or is hand-written. Choose another name, or move that file away and run the command again",
            path.display()
        ),
        _ => Ok(()),
    }
}

/// `text` inserted before the line `// daprgen:anchor NAME` (or `# …`) of `content`; `content`
/// unchanged when it already holds `text`.
pub fn insert_at_anchor(path: &Path, content: &str, anchor: &str, text: &str, summary: &str) -> anyhow::Result<String> {
    if !text.is_empty() && holds_block(&squash(content), &squash(text)) {
        return Ok(content.to_owned());
    }
    let is_anchor = |line: &str| {
        let line = line.trim();
        let marker = line.strip_prefix("//").or_else(|| line.strip_prefix('#'));
        marker
            .and_then(|rest| rest.trim().strip_prefix("daprgen:anchor"))
            .map(str::trim)
            == Some(anchor)
    };
    let mut offset = 0;
    let mut found = Vec::new();
    for line in content.split_inclusive('\n') {
        if is_anchor(line) {
            found.push(offset);
        }
        offset += line.len();
    }
    match found.as_slice() {
        [at] => {
            let mut updated = String::with_capacity(content.len() + text.len());
            updated.push_str(&content[..*at]);
            updated.push_str(text);
            updated.push_str(&content[*at..]);
            Ok(updated)
        }
        [] => anyhow::bail!(
            "{}: the anchor line `daprgen:anchor {anchor}` is missing (as a `//` or `#` comment on a line of its \
             own), so `daprgen {summary}` does not know where its code goes. Restore that line where it was (a \
             service made by `daprgen new` with the same options shows where), then run the command again",
            path.display()
        ),
        _ => anyhow::bail!(
            "{}: the anchor `daprgen:anchor {anchor}` appears {} times; keep only the one where `daprgen {summary}` \
             should insert its code",
            path.display(),
            found.len()
        ),
    }
}

/// `text` without what rustfmt may change in a block once it is in a file: whitespace, and
/// trailing commas before a closing bracket. Whether a file already holds a block is decided on
/// these, so a block that rustfmt re-wrapped after an earlier run is still recognised.
fn squash(text: &str) -> String {
    let identifier = |c: char| c.is_alphanumeric() || c == '_';
    let mut squashed = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            pending_space = true;
            continue;
        }
        // Whitespace between two words stays one space: `dyn Orders`, or the end of one line and
        // the start of the next, which must not glue into one longer name.
        if pending_space && identifier(c) && squashed.chars().next_back().is_some_and(identifier) {
            squashed.push(' ');
        }
        pending_space = false;
        squashed.push(c);
    }
    for close in [")", "}", "]", ">"] {
        squashed = squashed.replace(&format!(",{close}"), close);
    }
    squashed
}

/// Whether `haystack` holds `block` as a whole: not as the tail of a longer name (`sub_orders:`
/// does not hold `orders:`) nor the head of one.
fn holds_block(haystack: &str, block: &str) -> bool {
    let identifier = |c: char| c.is_alphanumeric() || c == '_';
    haystack.match_indices(block).any(|(at, _)| {
        let before = haystack[..at].chars().next_back();
        let after = haystack[at + block.len()..].chars().next();
        let glued_before = before.is_some_and(identifier) && block.starts_with(identifier);
        let glued_after = after.is_some_and(identifier) && block.ends_with(identifier);
        !glued_before && !glued_after
    })
}

/// `content`, a JSON document, with `edit` applied to the value at `pointer`; `content` itself
/// when `edit` reports no change. Changed documents are written back pretty-printed, as
/// `serde_json` (and utoipa, which writes `openapi.json`) does.
fn edit_json(
    path: &Path,
    content: &str,
    pointer: &str,
    summary: &str,
    edit: impl FnOnce(&mut Value) -> anyhow::Result<bool>,
) -> anyhow::Result<String> {
    let mut document: Value = serde_json::from_str(content).with_context(|| {
        format!(
            "{} is not valid JSON; restore it before `daprgen {summary}`",
            path.display()
        )
    })?;
    let target = document
        .pointer_mut(pointer)
        .ok_or_else(|| anyhow::anyhow!("{} has nothing at {pointer:?}; restore the file", path.display()))?;
    if !edit(target)? {
        return Ok(content.to_owned());
    }
    let mut text = serde_json::to_string_pretty(&document).expect("a JSON value serializes");
    text.push('\n');
    Ok(text)
}

/// Adds `entries` to the object `target`: whether anything was added, or the first key that is
/// already there with another value.
fn merge_entries(target: &mut Value, entries: &Map<String, Value>) -> Result<bool, String> {
    let Some(target) = target.as_object_mut() else {
        return Err("(not an object)".to_owned());
    };
    let mut changed = false;
    for (key, value) in entries {
        match target.get(key) {
            Some(existing) if existing == value => {}
            Some(_) => return Err(key.clone()),
            None => {
                target.insert(key.clone(), value.clone());
                changed = true;
            }
        }
    }
    Ok(changed)
}

/// Writes every changed file: first each next to its target under a temporary name, then renames
/// them into place. A failure in the first phase (a read-only directory, a full disk) removes
/// what it wrote; the rare failure of a rename puts back the files already replaced.
fn write_all(service: &Service, changed: &[(&PathBuf, &Edited)]) -> anyhow::Result<()> {
    let mut made_dirs: Vec<PathBuf> = Vec::new();
    let mut staged: Vec<(PathBuf, PathBuf)> = Vec::new();
    let staging = (|| -> anyhow::Result<()> {
        for (path, file) in changed {
            let target = service.path(path);
            let parent = target.parent().expect("a file inside the service has a parent");
            for dir in parent
                .ancestors()
                .take_while(|dir| !dir.exists())
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
            {
                std::fs::create_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
                made_dirs.push(dir.to_path_buf());
            }
            let name = target.file_name().expect("a file has a name").to_string_lossy();
            let temporary = parent.join(format!(".{name}.daprgen-new"));
            std::fs::write(&temporary, &file.current).with_context(|| format!("writing {}", temporary.display()))?;
            staged.push((temporary.clone(), target.clone()));
            if let Ok(metadata) = std::fs::metadata(&target) {
                std::fs::set_permissions(&temporary, metadata.permissions())
                    .with_context(|| format!("copying the permissions of {}", target.display()))?;
            }
        }
        Ok(())
    })();
    if let Err(error) = staging {
        for (temporary, _) in &staged {
            let _ = std::fs::remove_file(temporary);
        }
        for dir in made_dirs.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
        return Err(error.context("nothing was changed"));
    }
    for (index, (temporary, target)) in staged.iter().enumerate() {
        if let Err(error) = std::fs::rename(temporary, target) {
            // Put back what was already replaced, so the service stays as it was.
            for ((_, restored), (_, file)) in staged.iter().zip(changed).take(index) {
                let _ = match &file.original {
                    Some(original) => std::fs::write(restored, original),
                    None => std::fs::remove_file(restored),
                };
            }
            for (temporary, _) in &staged[index..] {
                let _ = std::fs::remove_file(temporary);
            }
            for dir in made_dirs.iter().rev() {
                let _ = std::fs::remove_dir(dir);
            }
            return Err(anyhow::Error::from(error).context(format!(
                "replacing {}; the files already replaced were restored",
                target.display()
            )));
        }
    }
    Ok(())
}

fn unified_diff(path: &Path, original: Option<&str>, current: &str) -> String {
    let name = path.to_string_lossy().replace('\\', "/");
    let old_header = if original.is_some() {
        format!("a/{name}")
    } else {
        "/dev/null".to_owned()
    };
    let diff = similar::TextDiff::from_lines(original.unwrap_or(""), current);
    let mut text = String::new();
    let _ = write!(
        text,
        "{}",
        diff.unified_diff()
            .context_radius(3)
            .header(&old_header, &format!("b/{name}"))
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::add::service::MARKER;

    fn service() -> (tempfile::TempDir, Service) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".daprgen")).unwrap();
        std::fs::write(
            dir.path().join(MARKER),
            "name = \"s\"\nservice_snake = \"s\"\nresource = \"item\"\ntransport = \"both\"\nstate_store = \"redis\"\n\
             pubsub = \"redis\"\nwith_lock = true\nwith_workflow = true\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/lib.rs"), "pub mod a;\n// daprgen:anchor modules\n").unwrap();
        std::fs::write(
            dir.path().join("api.json"),
            "{\n  \"paths\": {\n    \"/a\": {}\n  }\n}\n",
        )
        .unwrap();
        let service = Service::open(dir.path()).unwrap();
        (dir, service)
    }

    fn plan() -> Plan {
        let mut plan = Plan::new("add thing b");
        plan.create("src/b.rs", "pub fn b() {}\n")
            .insert("src/lib.rs", "modules", "pub mod b;\n")
            .merge_json(
                "api.json",
                "/paths",
                Map::from_iter([("/b".to_owned(), serde_json::json!({"get": {}}))]),
            );
        plan
    }

    fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut files = BTreeMap::new();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(current) = pending.pop() {
            for entry in std::fs::read_dir(&current).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    files.insert(
                        path.strip_prefix(dir).unwrap().to_path_buf(),
                        std::fs::read(&path).unwrap(),
                    );
                }
            }
        }
        files
    }

    #[test]
    fn a_plan_is_applied_once_and_then_changes_nothing() {
        let (dir, service) = service();
        let first = apply(&service, &plan(), Mode::Write).unwrap();
        assert_eq!(first.created, [PathBuf::from("src/b.rs")]);
        assert_eq!(first.updated, [PathBuf::from("api.json"), PathBuf::from("src/lib.rs")]);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("src/lib.rs")).unwrap(),
            "pub mod a;\npub mod b;\n// daprgen:anchor modules\n"
        );
        let api: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("api.json")).unwrap()).unwrap();
        assert_eq!(
            api["paths"].as_object().unwrap().keys().collect::<Vec<_>>(),
            ["/a", "/b"]
        );
        let before = snapshot(dir.path());
        assert!(apply(&service, &plan(), Mode::Write).unwrap().unchanged());
        assert_eq!(snapshot(dir.path()), before);
    }

    #[test]
    fn a_dry_run_shows_the_diff_and_writes_nothing() {
        let (dir, service) = service();
        let before = snapshot(dir.path());
        let outcome = apply(&service, &plan(), Mode::DryRun).unwrap();
        assert_eq!(snapshot(dir.path()), before);
        assert!(
            outcome.diff.contains("--- /dev/null\n+++ b/src/b.rs\n"),
            "{}",
            outcome.diff
        );
        assert!(outcome.diff.contains("+pub mod b;\n"), "{}", outcome.diff);
        assert_eq!(outcome.created.len() + outcome.updated.len(), 3);
    }

    #[test]
    fn a_missing_anchor_stops_everything_and_names_file_and_anchor() {
        let (dir, service) = service();
        std::fs::write(dir.path().join("src/lib.rs"), "pub mod a;\n").unwrap();
        let before = snapshot(dir.path());
        let error = apply(&service, &plan(), Mode::Write).unwrap_err().to_string();
        assert!(
            error.contains("src/lib.rs") && error.contains("daprgen:anchor modules"),
            "{error}"
        );
        assert_eq!(snapshot(dir.path()), before);
    }

    #[test]
    fn a_conflicting_file_stops_everything() {
        let (dir, service) = service();
        std::fs::write(dir.path().join("src/b.rs"), "// hand-written\n").unwrap();
        let before = snapshot(dir.path());
        let error = apply(&service, &plan(), Mode::Write).unwrap_err().to_string();
        assert!(error.contains("src/b.rs already exists"), "{error}");
        assert_eq!(snapshot(dir.path()), before);
    }

    #[test]
    fn a_conflicting_json_entry_stops_everything() {
        let (dir, service) = service();
        std::fs::write(dir.path().join("api.json"), "{\"paths\": {\"/b\": {\"post\": {}}}}\n").unwrap();
        let before = snapshot(dir.path());
        let error = apply(&service, &plan(), Mode::Write).unwrap_err().to_string();
        assert!(error.contains("/paths//b already exists"), "{error}");
        assert_eq!(snapshot(dir.path()), before);
    }

    #[test]
    fn a_block_rustfmt_rewrapped_is_still_recognised_but_not_inside_a_longer_name() {
        let path = Path::new("src/lib.rs");
        let content = "struct S {\n    sub_orders: Arc<dyn Orders>,\n    customers: Arc<\n        dyn Customers,\n    >,\n    // daprgen:anchor fields\n}\n";
        let rewrapped = "    customers: Arc<dyn Customers>,\n";
        assert_eq!(
            insert_at_anchor(path, content, "fields", rewrapped, "add").unwrap(),
            content
        );
        let inside_longer = "    orders: Arc<dyn Orders>,\n";
        let updated = insert_at_anchor(path, content, "fields", inside_longer, "add").unwrap();
        assert!(
            updated.contains("    orders: Arc<dyn Orders>,\n    // daprgen:anchor"),
            "{updated}"
        );
    }

    #[test]
    fn a_block_after_a_line_ending_in_a_word_is_recognised() {
        let path = Path::new("Cargo.toml");
        let content = "[dependencies]\nutoipa.workspace = true\nprost-types.workspace = true\n# daprgen:anchor deps\n";
        assert_eq!(
            insert_at_anchor(path, content, "deps", "prost-types.workspace = true\n", "add").unwrap(),
            content
        );
    }

    #[test]
    fn json_arrays_get_each_item_once() {
        let (dir, service) = service();
        std::fs::write(dir.path().join("api.json"), "{\"tags\": [{\"name\": \"a\"}]}\n").unwrap();
        let mut plan = Plan::new("add tag b");
        plan.append_json(
            "api.json",
            "/tags",
            vec![serde_json::json!({"name": "a"}), serde_json::json!({"name": "b"})],
        );
        assert_eq!(apply(&service, &plan, Mode::Write).unwrap().updated.len(), 1);
        let api: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("api.json")).unwrap()).unwrap();
        assert_eq!(api["tags"], serde_json::json!([{"name": "a"}, {"name": "b"}]));
        assert!(apply(&service, &plan, Mode::Write).unwrap().unchanged());
    }

    #[test]
    fn an_anchor_may_be_a_hash_comment_and_must_be_unique() {
        let path = Path::new("Cargo.toml");
        let toml = "[dependencies]\n  # daprgen:anchor deps\n";
        assert_eq!(
            insert_at_anchor(path, toml, "deps", "x = \"1\"\n", "add x").unwrap(),
            "[dependencies]\nx = \"1\"\n  # daprgen:anchor deps\n"
        );
        let twice = "# daprgen:anchor deps\n# daprgen:anchor deps\n";
        let error = insert_at_anchor(path, twice, "deps", "x\n", "add x")
            .unwrap_err()
            .to_string();
        assert!(error.contains("appears 2 times"), "{error}");
        // A longer anchor name is another anchor.
        let other = "# daprgen:anchor deps-dev\n";
        assert!(insert_at_anchor(path, other, "deps", "x\n", "add x").is_err());
    }

    /// Makes `dir` unwritable, for root too (`chattr +i`: root ignores permission bits).
    #[cfg(unix)]
    fn make_read_only(dir: &Path) -> impl Drop + use<> {
        use std::os::unix::fs::PermissionsExt;
        struct Restore(PathBuf);
        impl Drop for Restore {
            fn drop(&mut self) {
                let _ = std::process::Command::new("chattr").arg("-i").arg(&self.0).status();
                let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o755));
            }
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        let restore = Restore(dir.to_path_buf());
        let probe = dir.join(".probe");
        if std::fs::write(&probe, "").is_ok() {
            std::fs::remove_file(&probe).unwrap();
            let status = std::process::Command::new("chattr").arg("+i").arg(dir).status();
            assert!(
                status.is_ok_and(|status| status.success()),
                "cannot make {} read-only",
                dir.display()
            );
            assert!(
                std::fs::write(&probe, "").is_err(),
                "{} is still writable",
                dir.display()
            );
        }
        restore
    }

    #[cfg(unix)]
    #[test]
    fn a_read_only_tree_is_left_unchanged() {
        let (dir, service) = service();
        let before = snapshot(dir.path());
        let error = {
            let _read_only = make_read_only(&dir.path().join("src"));
            format!("{:#}", apply(&service, &plan(), Mode::Write).unwrap_err())
        };
        assert!(error.contains("nothing was changed"), "{error}");
        assert_eq!(snapshot(dir.path()), before);
    }
}
