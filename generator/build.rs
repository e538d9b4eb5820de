//! The template, the `add` templates and the component catalogue are embedded with
//! `include_dir!`, which cargo cannot see into: rebuild whenever a file of them changes, so
//! `daprgen` never renders a stale copy.

fn main() {
    println!("cargo:rerun-if-changed=../template");
    println!("cargo:rerun-if-changed=templates");
    println!("cargo:rerun-if-changed=../components");
}
