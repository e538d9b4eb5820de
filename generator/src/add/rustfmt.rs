//! The Rust files `add` writes are formatted with rustfmt, as `cargo fmt` would format them:
//! templates cannot know how long the names a user picks are, so they cannot know where rustfmt
//! breaks a line. The service's own `rustfmt.toml` (or the nearest one above it) applies.
//!
//! Starting rustfmt costs more than formatting a file, so files are formatted together in one
//! run, as copies in a scratch directory. A file declaring an out-of-line module (`mod x;`)
//! cannot be: rustfmt would go looking for `x.rs` beside the copy. Those go through rustfmt's
//! standard input, one process each, in parallel.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;

/// The rustfmt to run: `$RUSTFMT`, else `rustfmt` from `PATH`.
fn program() -> PathBuf {
    std::env::var_os("RUSTFMT").map_or_else(|| PathBuf::from("rustfmt"), PathBuf::from)
}

/// The rustfmt configuration `cargo fmt` would use for the service at `root`.
fn config(root: &Path) -> Option<PathBuf> {
    root.ancestors()
        .flat_map(|dir| ["rustfmt.toml", ".rustfmt.toml"].map(|name| dir.join(name)))
        .find(|path| path.is_file())
}

/// Whether `source` declares a module whose body is in another file.
fn declares_outer_module(source: &str) -> bool {
    source.lines().any(|line| {
        let line = line.trim_start();
        let line = line
            .strip_prefix("pub(crate) ")
            .or_else(|| line.strip_prefix("pub "))
            .unwrap_or(line);
        line.strip_prefix("mod ")
            .is_some_and(|rest| rest.trim_end().ends_with(';') && !rest.contains('{'))
    })
}

/// Formats each `(path, source)` with the configuration of the service at `root`. `path` only
/// names the file in messages.
pub fn format_all(root: &Path, files: &mut [(&Path, &mut String)]) -> anyhow::Result<()> {
    let config = config(root);
    let config = config.as_deref();
    let (alone, together): (Vec<_>, Vec<_>) = files.iter_mut().partition(|(_, source)| declares_outer_module(source));
    std::thread::scope(|scope| {
        let jobs: Vec<_> = alone
            .into_iter()
            .map(|(path, source)| {
                let path = *path;
                scope.spawn(move || -> anyhow::Result<()> {
                    **source = format(root, config, path, source)?;
                    Ok(())
                })
            })
            .collect();
        let batch = format_together(config, together);
        jobs.into_iter()
            .map(|job| job.join().expect("a formatting thread does not panic"))
            .chain([batch])
            .collect::<anyhow::Result<()>>()
    })
}

/// Formats `files` in one rustfmt run, as copies in a scratch directory.
fn format_together(config: Option<&Path>, files: Vec<&mut (&Path, &mut String)>) -> anyhow::Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    let scratch = tempfile::TempDir::with_prefix("daprgen-rustfmt-")?;
    let copies: Vec<PathBuf> = (0..files.len())
        .map(|index| scratch.path().join(format!("f{index}.rs")))
        .collect();
    for ((_, source), copy) in files.iter().zip(&copies) {
        std::fs::write(copy, source.as_bytes()).with_context(|| format!("writing {}", copy.display()))?;
    }
    let mut command = Command::new(program());
    command.args(["--edition", "2024"]);
    if let Some(config) = config {
        command.arg("--config-path").arg(config);
    }
    let output = command
        .args(&copies)
        .current_dir(scratch.path())
        .stdin(Stdio::null())
        .output()
        .context(MISSING)?;
    if !output.status.success() {
        let names: Vec<String> = files.iter().map(|(path, _)| path.display().to_string()).collect();
        let mut message = String::from_utf8_lossy(&output.stderr).into_owned();
        for (copy, name) in copies.iter().zip(&names) {
            message = message.replace(&copy.display().to_string(), name);
        }
        anyhow::bail!(
            "rustfmt refused the code daprgen generated (a daprgen bug, or a template override that is not \
             valid Rust): {}",
            message.trim()
        );
    }
    for ((_, source), copy) in files.into_iter().zip(&copies) {
        **source = std::fs::read_to_string(copy).with_context(|| format!("reading {}", copy.display()))?;
    }
    Ok(())
}

const MISSING: &str = "cannot run rustfmt, which formats the code daprgen adds: install it with `rustup component add \
                       rustfmt` (or point RUSTFMT at it)";

fn format(root: &Path, config: Option<&Path>, path: &Path, source: &str) -> anyhow::Result<String> {
    let mut command = Command::new(program());
    command.args(["--edition", "2024", "--emit", "stdout"]);
    if let Some(config) = config {
        command.arg("--config-path").arg(config);
    }
    let mut child = command
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context(MISSING)?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = source.to_owned();
    // Written from another thread: rustfmt may fill its stdout pipe before it has read everything.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().context("waiting for rustfmt")?;
    let written = writer.join().expect("the writer thread does not panic");
    if !output.status.success() {
        anyhow::bail!(
            "rustfmt refused the code daprgen generated for {} (a daprgen bug, or a template override that \
             is not valid Rust): {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    written.with_context(|| format!("giving {} to rustfmt", path.display()))?;
    String::from_utf8(output.stdout).context("rustfmt wrote something that is not UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_broken_as_cargo_fmt_breaks_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut source = "fn f() { let x = some_function_with_a_long_name(first_argument_value, second_argument_value, third_argument_value); }\n".to_owned();
        format_all(dir.path(), &mut [(Path::new("src/f.rs"), &mut source)]).unwrap();
        assert_eq!(
            source,
            "fn f() {\n    let x = some_function_with_a_long_name(\n        first_argument_value,\n        second_argument_value,\n        third_argument_value,\n    );\n}\n"
        );
    }

    #[test]
    fn the_services_rustfmt_toml_applies() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rustfmt.toml"), "max_width = 140\n").unwrap();
        let line = "fn f() {\n    let x = some_function_with_a_long_name(first_argument_value, second_argument_value, third_argument_value);\n}\n";
        let mut source = line.to_owned();
        format_all(dir.path(), &mut [(Path::new("src/f.rs"), &mut source)]).unwrap();
        assert_eq!(source, line);
    }

    #[test]
    fn files_with_and_without_out_of_line_modules_are_formatted_alike() {
        let dir = tempfile::tempdir().unwrap();
        let long = "fn f() { let x = some_function_with_a_long_name(first_argument_value, second_argument_value, third_argument_value); }\n";
        let mut plain = long.to_owned();
        let mut with_module = format!("pub mod customer;\n{long}");
        let mut second = "struct   S;\n".to_owned();
        format_all(
            dir.path(),
            &mut [
                (Path::new("a.rs"), &mut plain),
                (Path::new("lib.rs"), &mut with_module),
                (Path::new("b.rs"), &mut second),
            ],
        )
        .unwrap();
        assert!(
            plain.starts_with("fn f() {\n    let x = some_function_with_a_long_name(\n"),
            "{plain}"
        );
        assert_eq!(with_module, format!("pub mod customer;\n{plain}"));
        assert_eq!(second, "struct S;\n");
        assert!(declares_outer_module("pub(crate) mod x;\n") && !declares_outer_module("mod tests {\n"));
    }

    #[test]
    fn invalid_rust_is_reported_with_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut source = "fn f( {\n".to_owned();
        let error = format_all(dir.path(), &mut [(Path::new("src/broken.rs"), &mut source)]).unwrap_err();
        assert!(error.to_string().contains("src/broken.rs"), "{error}");
    }
}
