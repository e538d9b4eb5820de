//! `daprgen new` refuses bad names and options before writing anything (BRIEF section 6): each
//! refusal is an error naming the bad value and showing a fix, and the destination directory is
//! byte-for-byte what it was.
//!
//! cargo-generate itself renames project names it finds odd (`My Service` -> `my-service`,
//! `a/b` -> `a-b`, `..` -> the destination itself) before the template's hook sees them, and it
//! creates the service's directory before the hook runs: these tests hold daprgen to refusing
//! the former and cleaning up the latter.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use daprgen::new::{NewService, run};
use template_tests::{template_dir, tree};

/// A destination holding one unrelated file, as a user's directory would.
fn destination() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    fs::write(dir.path().join("notes.txt"), "not ours\n").expect("unrelated file");
    dir
}

/// Renders with `name` and `defines` into a fresh destination; expects a refusal that leaves the
/// destination unchanged. Returns the error message.
fn refused(name: &str, defines: &[&str]) -> String {
    try_refused(name, defines).unwrap_or_else(|problem| panic!("{problem}"))
}

/// [`refused`], reporting an acceptance or a changed destination as `Err`.
fn try_refused(name: &str, defines: &[&str]) -> Result<String, String> {
    let dest = destination();
    let before = tree::snapshot(dest.path()).expect("snapshot before");
    let result = run(NewService {
        name: name.to_owned(),
        defines: defines.iter().map(|d| d.to_string()).collect(),
        destination: Some(dest.path().to_owned()),
    });
    let after = tree::snapshot(dest.path()).expect("snapshot after");
    let message = match result {
        Ok(dir) => {
            return Err(format!(
                "name {name:?} with {defines:?} was accepted: {}",
                dir.display()
            ));
        }
        Err(error) => format!("{error:#}"),
    };
    if before != after {
        return Err(format!(
            "name {name:?} with {defines:?} was refused ({message}) but the destination changed: before {:?}, after {:?}",
            before.keys().collect::<Vec<_>>(),
            after.keys().collect::<Vec<_>>()
        ));
    }
    Ok(message)
}

/// The message names `value` (as given, or quoted with escapes) and shows a fix (an example).
fn assert_names_value_and_fix(message: &str, value: &str) {
    assert!(
        message.contains(&format!("\"{value}\"")) || message.contains(&format!("{value:?}")),
        "the message does not name {value:?}: {message}"
    );
    assert_has_fix(message);
}

fn assert_has_fix(message: &str) {
    assert!(
        message.contains("e.g."),
        "the message shows no fix (an example): {message}"
    );
}

#[test]
fn bad_service_names_are_refused_before_anything_is_written() {
    for name in [
        // Rust keywords: the service's crate could not be named or used.
        "fn",
        "type",
        "self",
        // Crate names cannot start with a digit.
        "1orders",
        // Paths: cargo-generate would flatten them to `a-b` or to the destination itself.
        "a/b",
        "a\\b",
        "..",
        ".",
        // Not ASCII, not lowercase, spaces: cargo-generate would rename the last two silently.
        "commandé",
        "My Service",
        "Orders",
        // Separators cargo-generate would silently drop or merge.
        "orders-",
        "a--b",
        "a_b-c",
        // A crate the service depends on, a crate of its own, a module beside `pub mod <service>`.
        "tokio",
        "biz",
        "http",
        // Not a directory name on Windows.
        "con",
    ] {
        let message = refused(name, &[]);
        assert_names_value_and_fix(&message, name);
    }
}

#[test]
fn an_empty_service_name_is_refused() {
    let message = refused("", &[]);
    assert!(message.contains("empty"), "{message}");
    assert_has_fix(&message);
}

#[test]
fn bad_resource_names_are_refused_before_anything_is_written() {
    for resource in [
        // The placeholder's regex: lowercase snake_case, starting with a letter.
        "Order",
        "order-line",
        "1order",
        "",
        "commandé",
        // Rust keywords.
        "type",
        "self",
        "fn",
        // Not snake_case as given: file names would silently use `order` or `line_item`.
        "order_",
        "line__item",
        // A dependency's name, a module beside the resource's own, a prelude type.
        "uuid",
        "lock",
        "error",
        "option",
        "result",
        "string",
        "default",
    ] {
        let define = format!("resource={resource}");
        let message = refused("orders", &[&define]);
        assert_names_value_and_fix(&message, resource);
    }
}

#[test]
fn bad_options_are_refused_before_anything_is_written() {
    for (define, value) in [
        ("transport=bogus", "bogus"),
        ("transport=HTTP", "HTTP"),
        ("state_store=postgres", "postgres"),
        ("pubsub=kafka", "kafka"),
        ("with_lock=maybe", "maybe"),
        ("with_workflow=", ""),
        // An option the template does not have: cargo-generate would ignore it.
        ("with_lok=false", "with_lok"),
        // Not KEY=VALUE.
        ("resource", "resource"),
    ] {
        let message = refused("orders", &[define]);
        assert_names_value_and_fix(&message, value);
    }
    let message = refused("orders", &["resource=order", "resource=item"]);
    assert!(message.contains("resource"), "{message}");
}

#[test]
fn an_existing_service_directory_is_left_alone() {
    let dest = destination();
    fs::create_dir(dest.path().join("orders")).unwrap();
    fs::write(dest.path().join("orders/precious.rs"), "fn main() {}\n").unwrap();
    let before = tree::snapshot(dest.path()).unwrap();
    let result = run(NewService {
        name: "orders".into(),
        defines: vec![],
        destination: Some(dest.path().to_owned()),
    });
    assert!(result.is_err(), "rendered over an existing directory");
    assert_eq!(tree::snapshot(dest.path()).unwrap(), before);
}

/// The refusals above are not a broken renderer: good input into the same kind of destination
/// adds exactly the service's directory, named as given.
#[test]
fn good_names_only_add_the_service_directory() {
    for (name, resource) in [
        ("orders", "order"),
        ("order-service", "line_item"),
        ("order_service", "category"),
    ] {
        let dest = destination();
        let before = tree::snapshot(dest.path()).unwrap();
        let define = format!("resource={resource}");
        let dir = run(NewService {
            name: name.into(),
            defines: vec![define],
            destination: Some(dest.path().to_owned()),
        })
        .unwrap_or_else(|e| panic!("{name} with resource {resource}: {e:#}"));
        assert_eq!(dir, dest.path().join(name));
        let after = tree::snapshot(dest.path()).unwrap();
        let added: BTreeSet<_> = after.keys().filter(|k| !before.contains_key(*k)).collect();
        assert!(added.iter().all(|p| p.starts_with(name)), "{added:?}");
        assert!(added.contains(&PathBuf::from(name)));
        for (path, entry) in &before {
            assert_eq!(after.get(path), Some(entry), "{} changed", path.display());
        }
        assert!(dir.join(format!("crates/biz/src/{resource}.rs")).is_file());
    }
}

/// Every crate a service is built from or with, as a Rust name: the packages of its workspace and
/// everything in their dependency tables (`[workspace.dependencies]`, `[dependencies]`,
/// `[dev-dependencies]`, `[build-dependencies]`, and the `[target.*]` ones).
fn dependency_crates(template: &Path) -> BTreeSet<String> {
    let mut manifests = Vec::new();
    let mut dirs = vec![template.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && path.file_name().is_some_and(|n| n != "target") {
                dirs.push(path);
            } else if path.file_name().is_some_and(|n| n == "Cargo.toml") {
                manifests.push(path);
            }
        }
    }
    let mut crates = BTreeSet::new();
    for manifest in manifests {
        let text = fs::read_to_string(&manifest).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
        // Crate manifests hold Liquid (`{%- if grpc %}` lines, `name = "{{project-name}}"`): keep the
        // lines that are TOML on their own, which every dependency line is.
        let text: String = text
            .lines()
            .filter(|l| !l.contains("{%") && !l.contains("{{"))
            .map(|l| format!("{l}\n"))
            .collect();
        let doc: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
        if let Some(name) = doc.get("package").and_then(|p| p.get("name")).and_then(|n| n.as_str()) {
            crates.insert(name.replace('-', "_"));
        }
        let mut tables = vec![&doc];
        if let Some(targets) = doc.get("target").and_then(|t| t.as_table()) {
            tables.extend(targets.values().filter_map(|t| t.as_table()));
        }
        for table in tables {
            let mut lists: Vec<&toml::Value> = ["dependencies", "dev-dependencies", "build-dependencies"]
                .iter()
                .filter_map(|key| table.get(*key))
                .collect();
            lists.extend(table.get("workspace").and_then(|w| w.get("dependencies")));
            for list in lists {
                for name in list.as_table().unwrap().keys() {
                    crates.insert(name.replace('-', "_"));
                }
            }
        }
    }
    crates
}

/// Names `placeholder` must not take: in every directory of the template where a file or module
/// is named after it (`{{resource}}.rs`, `{{resource}}_repo.rs`, `pub mod {{service_snake}}`),
/// the names of the modules beside it, with the same prefix and suffix taken off.
fn sibling_modules(template: &Path, placeholder: &str) -> BTreeSet<String> {
    let tag = format!("{{{{{placeholder}}}}}");
    let mut names = BTreeSet::new();
    let mut dirs = vec![template.join("crates")];
    while let Some(dir) = dirs.pop() {
        let mut stems = Vec::new();
        let mut patterns = Vec::new();
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                dirs.push(path.clone());
            }
            let stem = match file_name.strip_suffix(".rs") {
                Some(stem) => stem.to_owned(),
                None if path.is_dir() => file_name.clone(),
                None => continue,
            };
            if let Some((prefix, suffix)) = stem.split_once(&tag) {
                patterns.push((prefix.to_owned(), suffix.to_owned()));
            } else if !stem.contains("{{") && !["lib", "main", "mod", "build"].contains(&stem.as_str()) {
                stems.push(stem);
            }
            if ["lib.rs", "main.rs", "mod.rs"].contains(&file_name.as_str()) {
                let text = fs::read_to_string(&path).unwrap();
                for rest in text.split(&format!("mod {tag}")).skip(1) {
                    let suffix: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    patterns.push((String::new(), suffix));
                }
            }
        }
        for stem in &stems {
            for (prefix, suffix) in &patterns {
                if stem.len() > prefix.len() + suffix.len() && stem.starts_with(prefix) && stem.ends_with(suffix) {
                    names.insert(stem[prefix.len()..stem.len() - suffix.len()].to_owned());
                }
            }
        }
    }
    names
}

#[test]
fn the_hook_knows_every_dependency_and_module_of_the_template() {
    let template = template_dir();
    let crates = dependency_crates(&template);
    assert!(crates.contains("tokio") && crates.contains("serde"), "{crates:?}");
    let resource_modules = sibling_modules(&template, "resource");
    assert!(resource_modules.contains("error"), "{resource_modules:?}");
    let service_modules = sibling_modules(&template, "service_snake");

    // (service name, defines, what to tell the maintainer if it is accepted). Service names that
    // are dependencies go through the same list (CRATES) as resources: a few are checked by
    // bad_service_names_are_refused_before_anything_is_written, all of them here as resources.
    let mut checks: Vec<(String, Vec<String>, String)> = Vec::new();
    for name in &crates {
        checks.push((
            "orders".into(),
            vec![format!("resource={name}")],
            format!("resource {name:?} (a dependency): add it to CRATES"),
        ));
    }
    for name in &resource_modules {
        checks.push((
            "orders".into(),
            vec![format!("resource={name}")],
            format!("resource {name:?} (a module beside the resource's): add it to RESOURCE_MODULES"),
        ));
    }
    for name in &service_modules {
        checks.push((
            name.replace('_', "-"),
            vec![],
            format!("service name {name:?} (a module beside the service's): add it to SERVICE_MODULES"),
        ));
    }
    let missed = in_parallel(&checks, |(name, defines, missing)| {
        let defines: Vec<&str> = defines.iter().map(String::as_str).collect();
        try_refused(name, &defines)
            .err()
            .map(|why| format!("{missing} ({why})"))
    });
    assert!(
        missed.is_empty(),
        "template/hooks/pre.rhai accepts names that collide with the template:\n  {}",
        missed.join("\n  ")
    );
}

/// `check` over `items` on a few threads (each render is mostly waiting on the file system), in
/// order; the `Some`s.
fn in_parallel<T: Sync>(items: &[T], check: impl Fn(&T) -> Option<String> + Sync) -> Vec<String> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let found = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    if let Some(message) = check(item) {
                        found.lock().unwrap().push((i, message));
                    }
                }
            });
        }
    });
    let mut found = found.into_inner().unwrap();
    found.sort();
    found.into_iter().map(|(_, message)| message).collect()
}
