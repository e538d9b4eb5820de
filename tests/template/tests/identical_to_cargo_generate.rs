//! `daprgen new` renders exactly what `cargo generate --path template` renders, for the same
//! values: every path, every byte, every executable bit.
//!
//! The reference is the real cargo-generate CLI, the release daprgen links as a library, installed
//! by `make tools` (tools/cargo-generate/install.sh) into ~/.cache/daprgen/tools/bin, or wherever
//! `DAPRGEN_CARGO_GENERATE` points. Without it this test fails and says how to install it: a
//! skipped comparison would prove nothing.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use template_tests::pairwise::{OPTIONS, covering_set};
use template_tests::template_dir;
use template_tests::tree::{Entry, snapshot};

/// A name with a dash: cargo-generate derives the crate name and other spellings from it.
const NAME: &str = "shop-orders";

/// The cargo-generate version daprgen links, from the workspace's Cargo.lock.
fn linked_version() -> String {
    let lock = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock")).unwrap();
    let lock: toml::Table = lock.parse().unwrap();
    lock["package"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"].as_str() == Some("cargo-generate"))
        .and_then(|p| p["version"].as_str())
        .expect("Cargo.lock has cargo-generate")
        .to_owned()
}

/// The cargo-generate CLI to compare with, checked to be the version daprgen links.
fn cargo_generate() -> PathBuf {
    let version = linked_version();
    let install = format!(
        "run `make tools` (or tools/cargo-generate/install.sh) at the repository root to install cargo-generate \
         {version}, or set DAPRGEN_CARGO_GENERATE to a cargo-generate {version} binary"
    );
    let binary = match std::env::var_os("DAPRGEN_CARGO_GENERATE") {
        Some(path) => PathBuf::from(path),
        None => {
            let cache = std::env::var_os("DAPRGEN_CACHE").map(PathBuf::from).unwrap_or_else(|| {
                std::env::var_os("XDG_CACHE_HOME")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache"))
                    .join("daprgen")
            });
            cache.join("tools/bin/cargo-generate")
        }
    };
    assert!(binary.is_file(), "no cargo-generate at {}: {install}", binary.display());
    let output = Command::new(&binary)
        .args(["generate", "--version"])
        .output()
        .unwrap_or_else(|e| panic!("running {} failed ({e}): {install}", binary.display()));
    let reported = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        reported.split_whitespace().last(),
        Some(version.as_str()),
        "{} reports {:?}, not {version}: {install}",
        binary.display(),
        reported.trim()
    );
    binary
}

/// cargo-generate needs `$USER`; daprgen sets it to this when it is missing.
fn user() -> OsString {
    std::env::var_os("USER").unwrap_or_else(|| "daprgen".into())
}

/// Renders with the CLI, as a user would: `cargo generate --path template --name NAME --define …`.
fn render_with_cli(binary: &Path, defines: &[String], parent: &Path) -> PathBuf {
    let mut command = Command::new(binary);
    command
        .arg("generate")
        .arg("--path")
        .arg(template_dir())
        .args(["--name", NAME, "--silent", "--vcs", "none"])
        .args(defines.iter().flat_map(|d| ["--define", d.as_str()]))
        .current_dir(parent)
        .env("USER", user());
    let output = command.output().expect("cargo-generate runs");
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    parent.join(NAME)
}

fn render_with_daprgen(defines: &[String], parent: &Path) -> PathBuf {
    daprgen::new::run(daprgen::new::NewService {
        name: NAME.to_owned(),
        defines: defines.to_vec(),
        destination: Some(parent.to_owned()),
    })
    .unwrap_or_else(|e| panic!("daprgen new {NAME} {defines:?}: {e:#}"))
}

/// A tree entry as this comparison sees it: kind, bytes, and whether it is executable. The
/// other permission bits come from the umask, the same for both renderings.
fn comparable(entry: &Entry) -> (u8, Vec<u8>, bool) {
    match entry {
        Entry::Dir { mode } => (0, Vec::new(), mode & 0o111 != 0),
        Entry::File { mode, bytes } => (1, bytes.clone(), mode & 0o111 != 0),
        Entry::Symlink { target } => (2, target.as_os_str().as_encoded_bytes().to_vec(), false),
    }
}

/// The first difference between two trees, described; `None` when they are identical.
fn first_difference(expected: &BTreeMap<PathBuf, Entry>, actual: &BTreeMap<PathBuf, Entry>) -> Option<String> {
    let paths: std::collections::BTreeSet<&PathBuf> = expected.keys().chain(actual.keys()).collect();
    for path in paths {
        let shown = path.display();
        let (e, a) = match (expected.get(path), actual.get(path)) {
            (Some(_), None) => return Some(format!("{shown}: rendered by cargo generate, missing from daprgen new")),
            (None, Some(_)) => return Some(format!("{shown}: rendered by daprgen new only")),
            (Some(e), Some(a)) => (comparable(e), comparable(a)),
            (None, None) => unreachable!("the path came from one of the trees"),
        };
        if e.0 != a.0 {
            return Some(format!(
                "{shown}: a different kind of entry ({:?} vs {:?})",
                expected[path], actual[path]
            ));
        }
        if e.1 != a.1 {
            return Some(format!(
                "{shown}: contents differ\n{}",
                first_differing_line(&e.1, &a.1)
            ));
        }
        if e.2 != a.2 {
            return Some(format!(
                "{shown}: executable for {} only",
                if e.2 { "cargo generate" } else { "daprgen new" }
            ));
        }
    }
    None
}

fn first_differing_line(expected: &[u8], actual: &[u8]) -> String {
    let (expected, actual) = (String::from_utf8_lossy(expected), String::from_utf8_lossy(actual));
    let mut e_lines = expected.split_inclusive('\n');
    let mut a_lines = actual.split_inclusive('\n');
    for n in 1.. {
        match (e_lines.next(), a_lines.next()) {
            (e, a) if e == a && e.is_some() => continue,
            (e, a) => {
                return format!("  line {n}:\n    cargo generate: {e:?}\n    daprgen new:    {a:?}");
            }
        }
    }
    unreachable!()
}

/// Renders `defines` both ways in fresh directories and returns the first difference, if any.
fn compare(binary: &Path, defines: &[String]) -> Option<String> {
    let cli_parent = tempfile::tempdir().unwrap();
    let daprgen_parent = tempfile::tempdir().unwrap();
    // Outside any Cargo workspace, cargo generate adds the service to none (daprgen never does).
    for dir in cli_parent.path().ancestors() {
        assert!(
            !dir.join("Cargo.toml").exists(),
            "{} is inside the Cargo project {}: set TMPDIR elsewhere",
            cli_parent.path().display(),
            dir.display()
        );
    }
    let cli = snapshot(&render_with_cli(binary, defines, cli_parent.path())).unwrap();
    let ours = snapshot(&render_with_daprgen(defines, daprgen_parent.path())).unwrap();
    assert!(cli.len() > 20, "cargo generate rendered only {} entries", cli.len());
    first_difference(&cli, &ours).map(|difference| format!("with {defines:?}: {difference}"))
}

#[test]
fn daprgen_new_renders_what_cargo_generate_renders() {
    let binary = cargo_generate();
    let mut cases: Vec<Vec<String>> = vec![
        // No --define at all: the template's own defaults.
        Vec::new(),
        [
            "resource=order",
            "transport=grpc",
            "state_store=sqlite",
            "with_lock=false",
        ]
        .map(String::from)
        .to_vec(),
    ];
    // Every pair of option values, with another resource name.
    cases.extend(covering_set(OPTIONS).iter().map(|combination| {
        let mut defines = combination.defines(OPTIONS);
        defines.push("resource=stock_item".to_owned());
        defines
    }));
    let differences: Vec<String> = cases.iter().filter_map(|defines| compare(&binary, defines)).collect();
    assert!(
        differences.is_empty(),
        "daprgen new differs from {} in {} of {} cases:\n{}",
        binary.display(),
        differences.len(),
        cases.len(),
        differences.join("\n")
    );
}

#[test]
fn a_difference_is_reported_with_its_first_differing_file() {
    let file = |bytes: &str, mode| Entry::File {
        mode,
        bytes: bytes.as_bytes().to_vec(),
    };
    let tree = |entries: Vec<(&str, Entry)>| -> BTreeMap<PathBuf, Entry> {
        entries.into_iter().map(|(p, e)| (PathBuf::from(p), e)).collect()
    };
    let expected = tree(vec![
        ("a.txt", file("one\ntwo\n", 0o644)),
        ("b.sh", file("#!/bin/sh\n", 0o755)),
    ]);
    assert_eq!(first_difference(&expected, &expected.clone()), None);
    // Only the permission bits the umask decides differ: not a difference.
    let umask = tree(vec![
        ("a.txt", file("one\ntwo\n", 0o600)),
        ("b.sh", file("#!/bin/sh\n", 0o700)),
    ]);
    assert_eq!(first_difference(&expected, &umask), None);

    let changed = tree(vec![
        ("a.txt", file("one\nTWO\n", 0o644)),
        ("b.sh", file("#!/bin/sh\n", 0o755)),
    ]);
    let report = first_difference(&expected, &changed).unwrap();
    assert!(report.starts_with("a.txt: contents differ"), "{report}");
    assert!(report.contains("line 2:"), "{report}");
    assert!(report.contains(r#"daprgen new:    Some("TWO\n")"#), "{report}");

    let not_executable = tree(vec![
        ("a.txt", file("one\ntwo\n", 0o644)),
        ("b.sh", file("#!/bin/sh\n", 0o644)),
    ]);
    assert_eq!(
        first_difference(&expected, &not_executable).unwrap(),
        "b.sh: executable for cargo generate only"
    );

    let missing = tree(vec![("b.sh", file("#!/bin/sh\n", 0o755))]);
    assert_eq!(
        first_difference(&expected, &missing).unwrap(),
        "a.txt: rendered by cargo generate, missing from daprgen new"
    );
    let extra = tree(vec![
        ("a.txt", file("one\ntwo\n", 0o644)),
        ("b.sh", file("#!/bin/sh\n", 0o755)),
        ("c", Entry::Dir { mode: 0o755 }),
    ]);
    assert_eq!(
        first_difference(&expected, &extra).unwrap(),
        "c: rendered by daprgen new only"
    );
}
