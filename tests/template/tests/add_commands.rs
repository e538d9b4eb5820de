//! `daprgen add …` end to end (issue 4): a service made by `daprgen new`, then two entities with
//! mixed field types, a consumer, a saga and a component; every command run twice (the second
//! run changes nothing); then the service passes `cargo fmt --check`, `cargo clippy
//! --all-targets -D warnings` and `cargo test`, and its generated integration tests pass against
//! real sidecars (the runtime `make dapr` installs).
//!
//! Slow like the template matrix, with which it shares its target directory and settings
//! (`TEMPLATE_MATRIX_TARGET`, `TEMPLATE_MATRIX_STEP_TIMEOUT`).

use std::fs;
use std::path::Path;

use daprgen::cli::EXIT_DONE;
use daprgen::new::{NewService, run};
use template_tests::cargo::{cargo, digest, env_duration, progress, seconds, shared_target, tail, work_dir};
use template_tests::{daprgen, tree};

/// The `add` commands, in order, as a user would type them inside the service.
const ADDS: &[&[&str]] = &[
    &[
        "entity",
        "customer",
        "--field",
        "name:string",
        "--field",
        "email:option<string>",
        "--field",
        "tags:list<string>",
        "--field",
        "credit_limit:decimal",
        "--field",
        "active:bool",
        "--field",
        "joined_at:timestamp",
        "--field",
        "age:u32",
    ],
    &[
        "entity",
        "shipment",
        "--field",
        "tracking_id:uuid",
        "--field",
        "weight_kg:f64",
        "--field",
        "parcels:i32",
        "--field",
        "sequence:i64",
        "--field",
        "scans:u64",
        "--field",
        "delivered_at:option<timestamp>",
        "--field",
        "notes:list<string>",
        "--field",
        "fees:list<decimal>",
    ],
    &["consumer", "payment-settled", "--dead-letter", "payment-settled-dead"],
    &[
        "saga",
        "fulfil_order",
        "--step",
        "reserve_stock:release_stock",
        "--step",
        "charge_payment:refund_payment",
    ],
    // A second state store: the local-file secret store would need its secrets.json beside the
    // sidecar the integration tests start in a temporary directory.
    &["component", "state/sqlite", "--name", "cache"],
];

/// A cargo step run in the service: its name, cargo's arguments, extra environment.
type Step = (
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
);

fn add(root: &Path, args: &[&str]) -> (u8, String, String) {
    let mut full = vec!["add"];
    full.extend_from_slice(args);
    full.extend(["--path", root.to_str().expect("UTF-8 path")]);
    daprgen(&full)
}

#[test]
fn new_then_every_add_command_builds_lints_and_passes_its_tests() {
    let target = shared_target(env!("CARGO_TARGET_TMPDIR"));
    let work = work_dir(&target, "add-commands");
    let root = work.join("shop");
    if root.exists() {
        fs::remove_dir_all(&root).expect("removing the previous run's service");
    }
    fs::create_dir_all(&work).expect("work directory");
    run(NewService {
        name: "shop".to_owned(),
        defines: vec!["resource=order".to_owned()],
        destination: Some(work.clone()),
    })
    .expect("daprgen new");

    for args in ADDS {
        let (code, out, err) = add(&root, args);
        assert_eq!(code, EXIT_DONE, "daprgen add {args:?} failed:\n{out}{err}");
        progress(format_args!(
            "[add-commands] daprgen add {}: {}",
            args.join(" "),
            out.lines().last().unwrap_or("")
        ));
        let dry = [&args[..], &["--dry-run"]].concat();
        let (code, out, err) = add(&root, &dry);
        assert_eq!(code, EXIT_DONE, "{err}");
        assert!(
            out.contains("nothing to do"),
            "a dry run after daprgen add {args:?} shows changes:\n{out}"
        );
    }
    let before = tree::snapshot(&root).expect("snapshot");
    for args in ADDS {
        let (code, out, err) = add(&root, args);
        assert_eq!(code, EXIT_DONE, "{err}");
        assert!(out.contains("nothing to do"), "daprgen add {args:?} run twice: {out}");
    }
    assert!(
        tree::snapshot(&root).expect("snapshot") == before,
        "running the commands twice changed the service"
    );

    let timeout = env_duration("TEMPLATE_MATRIX_STEP_TIMEOUT", 1800);
    let steps: &[Step] = &[
        ("fmt", &["fmt", "--all", "--check"], &[]),
        (
            "clippy",
            &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"],
            &[],
        ),
        ("test", &["test", "--workspace"], &[]),
        (
            "integration",
            &["test", "-p", "integration-tests"],
            &[("DAPR_INTEGRATION", "1")],
        ),
    ];
    let mut failures = Vec::new();
    for (name, args, env) in steps {
        let log = work.join(format!("{name}.log"));
        let step = cargo(&root, args, env, &target, &log, timeout);
        progress(format_args!(
            "[add-commands] {name}: {} in {}",
            step.summary,
            seconds(step.duration)
        ));
        if !step.ok {
            failures.push(format!(
                "{name} ({}):\n{}{}",
                step.summary,
                digest(&log, 40),
                tail(&log, 30)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "the service after daprgen add fails:\n{}",
        failures.join("\n")
    );
}
