//! `daprgen add …` refuses bad input (BRIEF section 6): each refusal exits non-zero with a message
//! naming the bad value and the fix, and the service is byte-for-byte what it was.

use std::path::Path;

use daprgen::cli::{EXIT_BAD_USAGE, EXIT_DONE, EXIT_FAILED};
use daprgen::new::{NewService, run};
use template_tests::{daprgen, tree};

/// A freshly generated service (default options) in a temporary directory.
fn service() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let root = run(NewService {
        name: "shop".to_owned(),
        defines: vec!["resource=order".to_owned()],
        destination: Some(dir.path().to_owned()),
    })
    .expect("daprgen new");
    (dir, root)
}

/// Runs the command against `root`, expecting a refusal with `code` that leaves `root` unchanged
/// and names `value`; returns the message.
fn refused(root: &Path, args: &[&str], code: u8, value: &str) -> String {
    let before = tree::snapshot(root).expect("snapshot before");
    let mut full: Vec<&str> = args.to_vec();
    let root_text = root.to_str().expect("UTF-8 path");
    full.extend(["--path", root_text]);
    let (actual, out, err) = daprgen(&full);
    let after = tree::snapshot(root).expect("snapshot after");
    assert_eq!(
        actual, code,
        "{args:?}: exit code {actual}, expected {code}; stdout {out:?}, stderr {err:?}"
    );
    assert!(before == after, "{args:?} was refused ({err}) but changed the service");
    assert!(
        err.contains(value),
        "{args:?}: the message does not name {value:?}: {err}"
    );
    err
}

/// The message says what to do: an example, or the action that fixes it.
fn assert_has_fix(message: &str) {
    let fixes = [
        "e.g.",
        "restore",
        "Restore",
        "choose",
        "Choose",
        "Run ",
        "run ",
        "give ",
        "pass ",
        "remove",
        "use one of",
    ];
    assert!(
        fixes.iter().any(|fix| message.contains(fix)),
        "the message shows no fix: {message}"
    );
}

#[test]
fn bad_entity_and_field_names_are_refused_and_write_nothing() {
    let (_dir, root) = service();
    let cases: &[(&[&str], &str)] = &[
        (&["add", "entity", "fn", "--field", "name:string"], "\"fn\""),
        (&["add", "entity", "9lives", "--field", "name:string"], "\"9lives\""),
        (&["add", "entity", "crème", "--field", "name:string"], "\"crème\""),
        (&["add", "entity", "a/b", "--field", "name:string"], "\"a/b\""),
        (&["add", "entity", "..", "--field", "name:string"], "\"..\""),
        (&["add", "entity", "", "--field", "name:string"], "empty"),
        // The first resource under another spelling: same types, same modules.
        (&["add", "entity", "Order", "--field", "name:string"], "Order"),
        (&["add", "entity", "order", "--field", "name:string"], "order"),
        (&["add", "entity", "customer", "--field", "name:strng"], "strng"),
        (&["add", "entity", "customer", "--field", "type:string"], "\"type\""),
        (&["add", "entity", "customer", "--field", "name"], "name"),
        (
            &[
                "add",
                "entity",
                "customer",
                "--field",
                "name:string",
                "--field",
                "name:bool",
            ],
            "name",
        ),
        (&["add", "consumer", "bad topic!"], "bad topic!"),
        (&["add", "saga", "fulfil", "--step", "reserve:reserve"], "reserve"),
        (&["add", "saga", "9fulfil", "--step", "reserve:release"], "9fulfil"),
        (&["add", "component", "state.nosuch"], "state.nosuch"),
    ];
    for (args, value) in cases {
        let message = refused(&root, args, EXIT_BAD_USAGE, value);
        assert_has_fix(&message);
    }
}

#[test]
fn a_duplicate_entity_is_refused_and_an_identical_rerun_changes_nothing() {
    let (_dir, root) = service();
    let path = root.to_str().unwrap();
    let add = ["add", "entity", "customer", "--field", "name:string", "--path", path];
    let (code, out, err) = daprgen(&add);
    assert_eq!(code, EXIT_DONE, "{out}{err}");
    let before = tree::snapshot(&root).unwrap();
    let (code, out, _) = daprgen(&add);
    assert_eq!(code, EXIT_DONE);
    assert!(out.contains("nothing to do"), "{out}");
    assert!(
        tree::snapshot(&root).unwrap() == before,
        "an identical rerun changed the service"
    );
    let message = refused(
        &root,
        &["add", "entity", "customer", "--field", "name:bool"],
        EXIT_BAD_USAGE,
        "customer",
    );
    assert_has_fix(&message);
}

#[test]
fn a_directory_that_is_not_a_service_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a service\n").unwrap();
    let message = refused(
        dir.path(),
        &["add", "entity", "customer", "--field", "name:string"],
        EXIT_FAILED,
        ".daprgen/service.toml",
    );
    assert_has_fix(&message);
}

#[test]
fn a_removed_anchor_stops_the_command_naming_file_and_anchor() {
    let (_dir, root) = service();
    let lib = root.join("crates/biz/src/lib.rs");
    let text = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, text.replace("// daprgen:anchor biz-modules\n", "")).unwrap();
    let message = refused(
        &root,
        &["add", "entity", "customer", "--field", "name:string"],
        EXIT_FAILED,
        "crates/biz/src/lib.rs",
    );
    assert!(message.contains("daprgen:anchor biz-modules"), "{message}");
    assert_has_fix(&message);
}

#[cfg(unix)]
#[test]
fn a_read_only_tree_is_refused_and_left_unchanged() {
    let (_dir, root) = service();
    let _read_only = tree::ReadOnly::new(&root).expect("making the service read-only");
    let message = refused(
        &root,
        &["add", "entity", "customer", "--field", "name:string"],
        EXIT_FAILED,
        "nothing was changed",
    );
    assert!(message.contains("customer") || message.contains("crates/"), "{message}");
}
