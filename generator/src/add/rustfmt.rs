//! The Rust files `add` writes are formatted with rustfmt, as `cargo fmt` would format them:
//! templates cannot know how long the names a user picks are, so they cannot know where rustfmt
//! breaks a line. The service's own `rustfmt.toml` applies.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;

/// The rustfmt to run: `$RUSTFMT`, else `rustfmt` from `PATH`.
fn program() -> PathBuf {
    std::env::var_os("RUSTFMT").map_or_else(|| PathBuf::from("rustfmt"), PathBuf::from)
}

/// Formats each `(path, source)`, all at once (one rustfmt process per file, in parallel), with
/// the configuration of the service at `root`. `path` only names the file in messages.
pub fn format_all(root: &Path, files: &mut [(&Path, &mut String)]) -> anyhow::Result<()> {
    let config = ["rustfmt.toml", ".rustfmt.toml"]
        .iter()
        .map(|name| root.join(name))
        .find(|path| path.is_file());
    std::thread::scope(|scope| {
        let jobs: Vec<_> = files
            .iter_mut()
            .map(|(path, source)| {
                let config = config.as_deref();
                let path = *path;
                scope.spawn(move || -> anyhow::Result<()> {
                    **source = format(root, config, path, source)?;
                    Ok(())
                })
            })
            .collect();
        jobs.into_iter()
            .try_for_each(|job| job.join().expect("a formatting thread does not panic"))
    })
}

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
        .context(
            "cannot run rustfmt, which formats the code daprgen adds: install it with `rustup component add \
             rustfmt` (or point RUSTFMT at it)",
        )?;
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
    fn invalid_rust_is_reported_with_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut source = "fn f( {\n".to_owned();
        let error = format_all(dir.path(), &mut [(Path::new("src/broken.rs"), &mut source)]).unwrap_err();
        assert!(error.to_string().contains("src/broken.rs"), "{error}");
    }
}
