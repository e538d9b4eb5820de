//! The template is embedded with `include_dir!`, which cargo cannot see into: rebuild whenever a
//! file of it changes, so `daprgen new` never renders a stale copy.

fn main() {
    println!("cargo:rerun-if-changed=../template");
}
