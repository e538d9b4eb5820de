//! The template matrix (BRIEF section 5): every combination of a pairwise covering set of the
//! template's options, plus the defaults, is rendered with `daprgen new`, checked as files, and
//! then built the way a user would: `cargo fmt --check`, `cargo clippy --all-targets -D warnings`
//! and `cargo test` inside the rendered service.
//!
//! Slow (minutes; the first run compiles the services' dependencies), and part of plain
//! `cargo test --workspace` on purpose. Every combination runs, one after the other, and the test
//! fails at the end listing every failing one. Settings (environment):
//! - `TEMPLATE_MATRIX_TARGET`: the `CARGO_TARGET_DIR` all combinations share, so dependencies
//!   compile once (default: `template-matrix` in this workspace's target directory);
//! - `TEMPLATE_MATRIX_STEP_TIMEOUT`: seconds one cargo command may take (default 1800);
//! - `TEMPLATE_MATRIX_ONLY`: comma-separated combination numbers to run (debugging only: the run
//!   says loudly that it is partial).
//!
//! Progress goes straight to stderr (not captured by the test harness): run with `--nocapture`
//! or not, CI logs show which combination and step is running and how long each took.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use daprgen::new::{NewService, run};
use template_tests::cargo::{cargo, digest, env_duration, progress, seconds, shared_target, tail, work_dir};
use template_tests::pairwise::{Combination, OPTIONS, covering_set};
use template_tests::tree;

/// Resource names the combinations take in turn, with the spellings the hook must derive.
const RESOURCES: &[Resource] = &[
    Resource {
        name: "order",
        plural: "orders",
        pascal: "Order",
    },
    Resource {
        name: "line_item",
        plural: "line_items",
        pascal: "LineItem",
    },
    Resource {
        name: "category",
        plural: "categories",
        pascal: "Category",
    },
];

/// The template's default resource, used by the all-defaults combination.
const DEFAULT_RESOURCE: Resource = Resource {
    name: "item",
    plural: "items",
    pascal: "Item",
};

#[derive(Debug, Clone, Copy)]
struct Resource {
    name: &'static str,
    plural: &'static str,
    pascal: &'static str,
}

/// What to check in the rendered service, in order. Each runs even if an earlier one failed, so a
/// formatting slip does not hide a failing test.
const STEPS: &[(&str, &[&str])] = &[
    ("fmt", &["fmt", "--all", "--check"]),
    (
        "clippy",
        &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"],
    ),
    ("test", &["test", "--workspace"]),
];

/// The generated integration tests against real sidecars, run for the default combination and
/// the first SQLite one (they need the runtime `make dapr` installs, as the rest of CI does).
const INTEGRATION_STEP: (&str, &[&str]) = ("integration", &["test", "-p", "integration-tests"]);

struct Case {
    index: usize,
    combination: Combination,
    resource: Resource,
    /// The all-defaults case passes no `--define` at all, as `cargo generate --name x` would.
    defines: Vec<String>,
    /// Whether its integration tests run against real sidecars too.
    integration: bool,
}

impl Case {
    fn service(&self) -> String {
        format!("svc-{}", self.index)
    }

    fn describe(&self) -> String {
        let how = if self.defines.is_empty() {
            " (defaults, no --define)"
        } else {
            ""
        };
        format!(
            "{} [{} resource={}]{how}",
            self.service(),
            self.combination.describe(OPTIONS),
            self.resource.name
        )
    }

    fn value(&self, option: &str) -> &'static str {
        self.combination.value(OPTIONS, option)
    }
}

fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = covering_set(OPTIONS)
        .into_iter()
        .enumerate()
        .map(|(index, combination)| {
            if index == 0 {
                // covering_set starts with the defaults: render them the way a user gets them.
                Case {
                    index,
                    combination,
                    resource: DEFAULT_RESOURCE,
                    defines: Vec::new(),
                    integration: true,
                }
            } else {
                let resource = RESOURCES[(index - 1) % RESOURCES.len()];
                let mut defines = combination.defines(OPTIONS);
                defines.push(format!("resource={}", resource.name));
                Case {
                    index,
                    combination,
                    resource,
                    defines,
                    integration: false,
                }
            }
        })
        .collect();
    if let Some(sqlite) = cases.iter_mut().find(|case| case.value("state_store") == "sqlite") {
        sqlite.integration = true;
    }
    cases
}

/// A failure of one case: which step, and what it said.
struct Failure {
    step: String,
    detail: String,
}

/// Checks of the rendered files, before anything is built.
fn check_render(dir: &Path, case: &Case) -> Vec<String> {
    let mut problems = Vec::new();
    let files = match tree::files(dir) {
        Ok(files) => files,
        Err(e) => return vec![format!("cannot list {}: {e}", dir.display())],
    };
    let names: Vec<String> = files.iter().map(|p| p.to_string_lossy().replace('\\', "/")).collect();

    match tree::liquid_leftovers(dir) {
        Ok(found) => problems.extend(found.into_iter().map(|f| format!("Liquid left in {f}"))),
        Err(e) => problems.push(format!("cannot read the rendered files: {e}")),
    }
    for name in &names {
        let file_name = name.rsplit('/').next().unwrap_or(name);
        if file_name.ends_with(".rhai") || file_name == "cargo-generate.toml" || name.starts_with("hooks/") {
            problems.push(format!("{name}: template machinery copied into the service"));
        }
    }

    if dir.join("hooks").exists() {
        // cargo-generate drops the hook scripts but not their (then empty) directory.
        problems.push("hooks/: the template's hook directory was copied into the service".into());
    }

    // Files of disabled options are absent; files of enabled ones present.
    let lock_files: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with("crates/") || n.starts_with("components/"))
        .filter(|n| {
            n.rsplit('/')
                .next()
                // local_lock.rs is the data layer's in-process turn-taking of writers, needed
                // with every option.
                .is_some_and(|f| f.contains("lock") && f != "Cargo.lock" && f != "local_lock.rs")
        })
        .collect();
    let workflow_files: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with("crates/") && n.contains("workflow"))
        .collect();
    let grpc_files: Vec<&String> = names
        .iter()
        .filter(|n| {
            n.ends_with(".proto") || n.split('/').any(|c| c == "grpc" || c == "grpc.rs") || *n == "crates/api/build.rs"
        })
        .collect();
    let http_files: Vec<&String> = names
        .iter()
        // api's http.rs holds the problem document the Dapr-facing routes answer with, which
        // every service serves over HTTP (subscriptions, health), gRPC-only ones included.
        .filter(|n| *n != "crates/api/src/http.rs")
        .filter(|n| {
            n.split('/')
                .any(|c| c == "http" || c == "http.rs" || c.starts_with("openapi"))
        })
        .collect();
    let transport = case.value("transport");
    for (option, enabled, found) in [
        ("with_lock", case.value("with_lock") == "true", &lock_files),
        ("with_workflow", case.value("with_workflow") == "true", &workflow_files),
        ("gRPC (transport both or grpc)", transport != "http", &grpc_files),
        ("HTTP (transport both or http)", transport != "grpc", &http_files),
    ] {
        if enabled && found.is_empty() {
            problems.push(format!("{option} is on but the service has none of its files"));
        }
        if !enabled && !found.is_empty() {
            problems.push(format!("{option} is off but the service has {found:?}"));
        }
    }

    // The Dapr components are the chosen ones, and only those.
    let types = component_types(dir);
    let wanted = [
        (format!("state.{}", case.value("state_store")), true),
        (format!("pubsub.{}", case.value("pubsub")), true),
        ("lock.redis".to_owned(), case.value("with_lock") == "true"),
    ];
    for (kind, present) in wanted {
        if present && !types.contains(&kind) {
            problems.push(format!(
                "no Dapr component of type {kind} in components/ (found {types:?})"
            ));
        }
    }
    for kind in &types {
        let chosen = kind == &format!("state.{}", case.value("state_store"))
            || kind == &format!("pubsub.{}", case.value("pubsub"))
            || (kind.starts_with("lock.") && case.value("with_lock") == "true");
        let optional = !(kind.starts_with("state.") || kind.starts_with("pubsub.") || kind.starts_with("lock."));
        if !chosen && !optional {
            problems.push(format!(
                "components/ has a component of type {kind}, which this combination did not choose"
            ));
        }
    }

    // The hook's spellings of the resource reached the files.
    let text = all_text(dir, &files);
    let r = case.resource;
    for (what, spelling) in [("the plural", r.plural), ("the type name", r.pascal)] {
        if !text.contains(spelling) {
            problems.push(format!("{what} of {:?}, {spelling:?}, appears nowhere", r.name));
        }
    }
    let naive = format!("{}s", r.name);
    if naive != r.plural && text.contains(&naive) {
        problems.push(format!(
            "the naive plural {naive:?} appears (the plural of {:?} is {:?})",
            r.name, r.plural
        ));
    }
    problems
}

/// The `type:` of every Dapr component under `components/`.
fn component_types(dir: &Path) -> Vec<String> {
    let mut types = Vec::new();
    let Ok(entries) = fs::read_dir(dir.join("components")) else {
        return types;
    };
    for entry in entries.flatten() {
        let Ok(text) = fs::read_to_string(entry.path()) else {
            continue;
        };
        if !text.contains("kind: Component") {
            continue;
        }
        for line in text.lines() {
            if let Some(kind) = line.trim().strip_prefix("type:") {
                types.push(kind.trim().trim_matches('"').to_owned());
            }
        }
    }
    types.sort();
    types
}

fn all_text(dir: &Path, files: &[PathBuf]) -> String {
    let mut text = String::new();
    for file in files {
        if let Ok(content) = fs::read_to_string(dir.join(file)) {
            text.push_str(&content);
            text.push('\n');
        }
    }
    text
}

fn only() -> Option<Vec<usize>> {
    let list = std::env::var("TEMPLATE_MATRIX_ONLY").ok()?;
    Some(
        list.split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("TEMPLATE_MATRIX_ONLY={list:?}: {n:?} is not a combination number"))
            })
            .collect(),
    )
}

#[test]
fn every_combination_renders_builds_lints_and_passes_its_tests() {
    let target = shared_target(env!("CARGO_TARGET_TMPDIR"));
    let work = work_dir(&target, "template-matrix");
    fs::create_dir_all(&work).expect("work directory");
    let timeout = env_duration("TEMPLATE_MATRIX_STEP_TIMEOUT", 1800);
    let mut cases = cases();
    let total = cases.len();
    if let Some(only) = only() {
        progress(format_args!(
            "[template-matrix] TEMPLATE_MATRIX_ONLY={only:?}: PARTIAL RUN, {} of {total} combinations are skipped",
            total - only.iter().filter(|i| **i < total).count()
        ));
        cases.retain(|c| only.contains(&c.index));
    }
    progress(format_args!(
        "[template-matrix] {} combinations; services in {}, shared CARGO_TARGET_DIR {}",
        cases.len(),
        work.display(),
        target.display()
    ));

    let run_started = Instant::now();
    let mut failures: Vec<(String, Vec<Failure>)> = Vec::new();
    let mut timings: Vec<String> = Vec::new();
    for case in &cases {
        let started = Instant::now();
        let service = case.service();
        progress(format_args!(
            "[template-matrix {}/{}] {}",
            case.index,
            total - 1,
            case.describe()
        ));
        let dir = work.join(&service);
        if dir.exists() {
            fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("removing the previous {}: {e}", dir.display()));
        }
        let mut case_failures = Vec::new();
        let mut timing = format!("{service}:");

        let render_started = Instant::now();
        let rendered = run(NewService {
            name: service.clone(),
            defines: case.defines.clone(),
            destination: Some(work.clone()),
        });
        let render_time = render_started.elapsed();
        let _ = write!(timing, " render {}", seconds(render_time));
        match rendered {
            Err(error) => {
                progress(format_args!(
                    "  render FAILED after {}: {error:#}",
                    seconds(render_time)
                ));
                case_failures.push(Failure {
                    step: "render".into(),
                    detail: format!("    {error:#}\n"),
                });
            }
            Ok(rendered) => {
                assert_eq!(rendered, dir, "daprgen rendered somewhere else");
                let problems = check_render(&dir, case);
                if problems.is_empty() {
                    progress(format_args!("  render + file checks ok ({})", seconds(render_time)));
                } else {
                    let detail: String = problems.iter().map(|p| format!("    {p}\n")).collect();
                    progress(format_args!("  file checks FAILED:\n{detail}"));
                    case_failures.push(Failure {
                        step: "files".into(),
                        detail,
                    });
                }
                let integration = case.integration.then_some(INTEGRATION_STEP);
                for (step, args) in STEPS.iter().copied().chain(integration) {
                    let env: &[(&str, &str)] = if step == "integration" {
                        &[("DAPR_INTEGRATION", "1")]
                    } else {
                        &[]
                    };
                    let log = work.join(format!("{service}.{step}.log"));
                    let shown = format!("cargo {}", args.join(" "));
                    progress(format_args!("  {shown} ..."));
                    let result = cargo(&dir, args, env, &target, &log, timeout);
                    let _ = write!(timing, " {step} {}", seconds(result.duration));
                    if result.ok {
                        progress(format_args!("  {shown}: ok ({})", seconds(result.duration)));
                        let _ = fs::remove_file(&log);
                    } else {
                        let detail = format!(
                            "    `{shown}` in {}: {}; full log {}\n{}    last lines:\n{}",
                            dir.display(),
                            result.summary,
                            log.display(),
                            digest(&log, 30),
                            tail(&log, 15)
                        );
                        progress(format_args!(
                            "  {shown}: FAILED ({}) after {}\n{}",
                            result.summary,
                            seconds(result.duration),
                            tail(&log, 40)
                        ));
                        case_failures.push(Failure {
                            step: (*step).into(),
                            detail,
                        });
                    }
                }
            }
        }
        let _ = write!(timing, " = {}", seconds(started.elapsed()));
        progress(format_args!("  {timing}"));
        timings.push(timing);
        if case_failures.is_empty() {
            let _ = fs::remove_dir_all(&dir);
        } else {
            progress(format_args!("  kept for inspection: {}", dir.display()));
            failures.push((case.describe(), case_failures));
        }
    }

    progress(format_args!(
        "[template-matrix] done in {}:\n  {}",
        seconds(run_started.elapsed()),
        timings.join("\n  ")
    ));
    if !failures.is_empty() {
        let mut report = format!("{} of {} combinations failed:\n", failures.len(), cases.len());
        for (case, steps) in &failures {
            let names: Vec<&str> = steps.iter().map(|f| f.step.as_str()).collect();
            let _ = writeln!(report, "- {case}: {}", names.join(", "));
        }
        for (case, steps) in &failures {
            let _ = writeln!(report, "\n== {case}");
            for failure in steps {
                let _ = write!(report, "  -- {}\n{}", failure.step, failure.detail);
            }
        }
        panic!("{report}");
    }
}
