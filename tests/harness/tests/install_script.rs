//! `make dapr` (tools/dapr/install.sh) stops with a message naming what is missing.

use std::path::Path;
use std::process::Command;

fn install_script() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tools/dapr/install.sh"))
}

#[test]
fn without_go_it_says_go_is_missing() {
    let dapr_home = tempfile::tempdir().unwrap();
    let output = Command::new("bash")
        .arg(install_script())
        .env("PATH", "/usr/bin:/bin")
        .env("DAPR_HOME", dapr_home.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Go is not installed"), "{stderr}");
    assert!(!dapr_home.path().join("bin").exists(), "nothing installed");
}

#[test]
fn without_the_module_proxy_it_names_the_module_it_could_not_get() {
    let scratch = tempfile::tempdir().unwrap();
    let output = Command::new("bash")
        .arg(install_script())
        .env("DAPR_HOME", scratch.path().join("dapr"))
        .env("DAPRGEN_CACHE", scratch.path().join("cache"))
        // An empty module cache and no proxy: exactly what a machine without registry access sees.
        .env("GOMODCACHE", scratch.path().join("gomod"))
        .env("GOPROXY", "off")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot download github.com/dapr/dapr@v"), "{stderr}");
    assert!(stderr.contains("GOPROXY"), "{stderr}");
}
