//! `examples/order-saga/` is exactly what `daprgen example order-saga` makes — a hand edit there
//! would be lost the next time it is regenerated, so it fails here — and each of its three
//! services passes `cargo fmt --check`, `cargo clippy -D warnings` and its own tests (the mockall
//! unit tests of the saga and of the example business logic).
//!
//! The end-to-end tests of the example, on real sidecars, are in `tests/order-saga`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use template_tests::cargo::{cargo, env_duration, progress, seconds, shared_target, tail, work_dir};
use template_tests::daprgen;
use template_tests::tree::{Entry, snapshot};

/// The example's services, in the order they are built.
const SERVICES: [&str; 3] = ["order", "inventory", "payment"];

/// What building or running a service leaves beside its sources; not part of the example.
const BUILD_LEFTOVERS: [&str; 3] = ["target", ".dapr", "Cargo.lock"];

fn committed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/order-saga")
}

/// `root`'s entries, without build leftovers.
fn example_tree(root: &Path) -> std::collections::BTreeMap<PathBuf, Entry> {
    let mut tree = snapshot(root).unwrap_or_else(|e| panic!("reading {}: {e}", root.display()));
    tree.retain(|path, _| {
        !path
            .components()
            .any(|part| BUILD_LEFTOVERS.iter().any(|leftover| part.as_os_str() == *leftover))
    });
    tree
}

#[test]
fn the_committed_example_is_what_daprgen_example_makes() {
    let scratch = tempfile::tempdir().unwrap();
    let made = scratch.path().join("order-saga");
    let (code, out, err) = daprgen(&["example", "order-saga", made.to_str().unwrap()]);
    assert_eq!(code, 0, "daprgen example failed:\n{out}\n{err}");

    let (expected, actual) = (example_tree(&made), example_tree(&committed()));
    let paths: BTreeSet<&PathBuf> = expected.keys().chain(actual.keys()).collect();
    let differences: Vec<String> = paths
        .into_iter()
        .filter_map(|path| match (expected.get(path), actual.get(path)) {
            (Some(made), Some(there)) if made == there => None,
            (Some(_), Some(_)) => Some(format!("differs: {}", path.display())),
            (Some(_), None) => Some(format!("missing from examples/order-saga: {}", path.display())),
            (None, _) => Some(format!("not made by daprgen: {}", path.display())),
        })
        .collect();
    assert!(
        differences.is_empty(),
        "examples/order-saga is not what `daprgen example order-saga` makes ({} differences):\n  {}\n\
         Change generator/overlays/order-saga (or the templates) instead, then regenerate:\n  \
         rm -rf examples/order-saga && cargo run -p daprgen -- example order-saga examples/order-saga",
        differences.len(),
        differences.iter().take(30).cloned().collect::<Vec<_>>().join("\n  ")
    );
}

/// A copy of `service` of the committed example, at a path that stays the same from run to run.
fn copy_service(service: &str, target: &Path) -> PathBuf {
    let dir = work_dir(target, &format!("example-order-saga-{service}"));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    for (relative, entry) in example_tree(&committed().join(service)) {
        let path = dir.join(&relative);
        match entry {
            Entry::Dir { .. } => std::fs::create_dir_all(&path).unwrap(),
            Entry::File { bytes, .. } => {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, bytes).unwrap();
            }
            Entry::Symlink { target } => panic!("{} is a symlink to {}", relative.display(), target.display()),
        }
    }
    dir
}

#[test]
fn each_example_service_passes_fmt_clippy_and_its_tests() {
    let target = shared_target(env!("CARGO_TARGET_TMPDIR"));
    let logs = tempfile::tempdir().unwrap();
    let timeout = env_duration("TEMPLATE_STEP_TIMEOUT_SECS", 1800);
    let started = Instant::now();
    for service in SERVICES {
        let dir = copy_service(service, &target);
        // The three services' layer crates have the same names and relative paths, so cargo gives
        // them the same artifacts in a shared target directory: clear the previous service's.
        let steps: [(&str, &[&str]); 4] = [
            (
                "clean",
                &[
                    "clean",
                    "-p",
                    "api",
                    "-p",
                    "biz",
                    "-p",
                    "data",
                    "-p",
                    "service",
                    "-p",
                    "integration-tests",
                    "-p",
                    service,
                ],
            ),
            ("fmt", &["fmt", "--all", "--check"]),
            (
                "clippy",
                &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"],
            ),
            ("test", &["test", "--workspace"]),
        ];
        for (step, args) in steps {
            let log = logs.path().join(format!("{service}-{step}.log"));
            let result = cargo(&dir, args, &[], &target, &log, timeout);
            progress(format_args!(
                "example {service}: {step} {} ({})",
                result.summary,
                seconds(result.duration)
            ));
            assert!(
                result.ok,
                "examples/order-saga/{service}: cargo {} failed ({}):\n{}",
                args.join(" "),
                result.summary,
                tail(&log, 60)
            );
        }
    }
    progress(format_args!(
        "example services checked in {}",
        seconds(started.elapsed())
    ));
}

#[test]
fn a_directory_with_files_is_refused_and_left_as_it_was() {
    let scratch = tempfile::tempdir().unwrap();
    std::fs::write(scratch.path().join("notes.txt"), "mine\n").unwrap();
    let before = snapshot(scratch.path()).unwrap();
    let (code, _, err) = daprgen(&["example", "order-saga", scratch.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is not empty"), "{err}");
    assert_eq!(snapshot(scratch.path()).unwrap(), before);

    let (code, _, err) = daprgen(&["example", "order_saga", scratch.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("possible values: order-saga"), "{err}");
}
