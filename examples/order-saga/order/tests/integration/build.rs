//! Turns `DAPR_INTEGRATION=1` into the `dapr_integration` cfg. Without it every test of this crate
//! is reported as *ignored*, with the command that runs it, instead of passing without having run
//! (see README.md).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(dapr_integration)");
    println!("cargo::rerun-if-env-changed=DAPR_INTEGRATION");
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var_os("DAPR_INTEGRATION").is_some_and(|value| value == "1") {
        println!("cargo::rustc-cfg=dapr_integration");
    }
}
