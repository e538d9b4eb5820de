//! The Rust files `add` writes are formatted with rustfmt, as `cargo fmt` would format them:
//! templates cannot know how long the names a user picks are, so they cannot know where rustfmt
//! breaks a line. The service's own `rustfmt.toml` (or the nearest one above it) applies.
//!
//! Starting rustfmt costs more than formatting a file, so files are formatted together, as copies
//! in a scratch directory, in one run per core at most (a run only when it has enough to do).
//! `skip_children` keeps rustfmt from looking for the file of a module a copy declares (`mod x;`):
//! the copy has no such file beside it. A rustfmt that does not honour it fails on such a copy;
//! then, as on any failure, the files are formatted the slow way: a file declaring an out-of-line
//! module through rustfmt's standard input, one process each, the others together, which also
//! gives the messages that say which file rustfmt refused.
//!
//! `daprgen new` formats the files of a new service here too, in place, the way cargo-generate
//! would ([`format_generated`]), only split over the cores.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
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
    if files.is_empty() {
        return Ok(());
    }
    let config = config(root);
    let config = config.as_deref();
    if let Ok(formatted) = format_copies(root, config, files) {
        for ((_, source), formatted) in files.iter_mut().zip(formatted) {
            **source = formatted;
        }
        return Ok(());
    }
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

/// The fast way: every file as a copy in a scratch directory, formatted in place with
/// `skip_children`, one run per core at most. Any failure is `Err`, for the slow way to redo (and
/// explain).
fn format_copies(root: &Path, config: Option<&Path>, files: &[(&Path, &mut String)]) -> Result<Vec<String>, Failure> {
    let scratch = tempfile::TempDir::with_prefix("daprgen-rustfmt-").map_err(Failure::Io)?;
    let copies: Vec<PathBuf> = (0..files.len())
        .map(|index| scratch.path().join(format!("f{index}.rs")))
        .collect();
    for ((_, source), copy) in files.iter().zip(&copies) {
        std::fs::write(copy, source.as_bytes()).map_err(Failure::Io)?;
    }
    let mut args: Vec<OsString> = ["--edition", "2024", "--config", "skip_children=true"]
        .map(OsString::from)
        .into();
    if let Some(config) = config {
        args.extend([OsString::from("--config-path"), config.into()]);
    }
    let sizes: Vec<usize> = files.iter().map(|(_, source)| source.len()).collect();
    in_place(&program(), &args, &copies, &sizes, Some(root))?;
    copies
        .iter()
        .map(|copy| std::fs::read_to_string(copy).map_err(Failure::Io))
        .collect()
}

/// Why formatting in place did not happen.
#[derive(Debug)]
pub enum Failure {
    /// rustfmt could not be started, or a file could not be written or read.
    Io(std::io::Error),
    /// rustfmt ran and refused; what it said.
    Refused(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io(error) => write!(formatter, "{error}"),
            Self::Refused(message) if message.trim().is_empty() => write!(formatter, "rustfmt reported no reason"),
            Self::Refused(message) => write!(formatter, "{}", message.trim()),
        }
    }
}

/// Below this many bytes of Rust, one more rustfmt process costs more than it saves.
const MIN_SHARE: usize = 24 * 1024;

/// Runs `program` with `args` over `files` (of `sizes` bytes), which it formats in place: split
/// into shares of about the same size, one process per share, all at once. Each file is formatted
/// on its own (`skip_children`), so how they are split changes nothing in the result.
fn in_place(
    program: &Path,
    args: &[OsString],
    files: &[PathBuf],
    sizes: &[usize],
    current_dir: Option<&Path>,
) -> Result<(), Failure> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let total: usize = sizes.iter().sum();
    let shares = shares(sizes, cores.min(total / MIN_SHARE).max(1));
    let run = |share: &[usize]| -> Result<(), Failure> {
        let mut command = Command::new(program);
        command
            .args(args)
            .args(share.iter().map(|&index| files[index].as_os_str()));
        if let Some(dir) = current_dir {
            command.current_dir(dir);
        }
        let output = command.stdin(Stdio::null()).output().map_err(Failure::Io)?;
        if output.status.success() {
            Ok(())
        } else {
            Err(Failure::Refused(String::from_utf8_lossy(&output.stderr).into_owned()))
        }
    };
    let Some((first, others)) = shares.split_first() else {
        return Ok(());
    };
    std::thread::scope(|scope| {
        let jobs: Vec<_> = others.iter().map(|share| scope.spawn(|| run(share))).collect();
        let mut result = run(first);
        for job in jobs {
            let outcome = job.join().expect("a formatting thread does not panic");
            result = result.and(outcome);
        }
        result
    })
}

/// The indexes of `sizes` split into at most `count` non-empty shares of about the same total:
/// the largest first, each into the share that holds least so far.
fn shares(sizes: &[usize], count: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|&index| std::cmp::Reverse(sizes[index]));
    let mut shares: Vec<(usize, Vec<usize>)> = vec![(0, Vec::new()); count.clamp(1, sizes.len().max(1))];
    for index in order {
        let lightest = shares
            .iter_mut()
            .min_by_key(|(total, _)| *total)
            .expect("at least one share");
        lightest.0 += sizes[index];
        lightest.1.push(index);
    }
    shares
        .into_iter()
        .map(|(_, share)| share)
        .filter(|share| !share.is_empty())
        .collect()
}

/// Formats the Rust files of the service cargo-generate has just written to `dir`, in place, as
/// cargo-generate itself would: `rustfmt` from `PATH`, each file against the edition of the
/// package it belongs to, files outside any package left alone, `skip_children`; only split over
/// the cores. A failure is returned for the caller to warn about: like cargo-generate, `daprgen
/// new` does not fail when the service cannot be formatted.
pub fn format_generated(dir: &Path) -> Result<(), Failure> {
    let mut files = Vec::new();
    rust_files(dir, &mut files).map_err(Failure::Io)?;
    files.sort();
    let mut manifests = HashMap::new();
    let mut by_edition: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for file in files {
        if let Some(edition) = edition_of(&file, &mut manifests) {
            by_edition.entry(edition).or_default().push(file);
        }
    }
    let mut result = Ok(());
    for (edition, files) in by_edition {
        let sizes: Vec<usize> = files
            .iter()
            .map(|file| file.metadata().map_or(0, |metadata| metadata.len() as usize))
            .collect();
        let args = ["--edition", &edition, "--config", "skip_children=true"].map(OsString::from);
        result = result.and(in_place(Path::new("rustfmt"), &args, &files, &sizes, None));
    }
    result
}

/// Every `*.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            rust_files(&path, files)?;
        } else if path.extension() == Some(OsStr::new("rs")) {
            files.push(path);
        }
    }
    Ok(())
}

/// The edition cargo-generate formats `file` against: that of the nearest manifest above it
/// which settles one. A package states its edition (none at all: 2015) or inherits it from the
/// `[workspace.package]` of a manifest further up; a virtual manifest settles it only with a
/// `[workspace.package]` edition. `None`: no manifest settles it, the file is left alone.
/// `manifests` keeps the manifests read so far by directory (`None`: none there, or unreadable).
fn edition_of(file: &Path, manifests: &mut HashMap<PathBuf, Option<toml::Table>>) -> Option<String> {
    let mut inherited = false;
    for dir in file.ancestors().skip(1) {
        let manifest = manifests.entry(dir.to_path_buf()).or_insert_with(|| {
            std::fs::read_to_string(dir.join("Cargo.toml"))
                .ok()
                .and_then(|text| toml::from_str::<toml::Table>(&text).ok())
        });
        let Some(manifest) = manifest else {
            continue;
        };
        let workspace = manifest
            .get("workspace")
            .and_then(|workspace| workspace.get("package"))
            .and_then(|package| package.get("edition"))
            .and_then(toml::Value::as_str);
        if inherited {
            match workspace {
                Some(edition) => return Some(edition.to_owned()),
                None => continue,
            }
        }
        match manifest.get("package").map(|package| package.get("edition")) {
            Some(Some(toml::Value::String(edition))) => return Some(edition.clone()),
            Some(Some(_)) => inherited = true,
            Some(None) => return Some("2015".to_owned()),
            None => {
                if let Some(edition) = workspace {
                    return Some(edition.to_owned());
                }
            }
        }
    }
    None
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
    fn files_declaring_out_of_line_modules_are_formatted_in_one_run() {
        let dir = tempfile::tempdir().unwrap();
        let mut with_module = "pub mod customer;\nmod tests;\nstruct   S;\n".to_owned();
        let mut other = "struct   T;\n".to_owned();
        let files = [(Path::new("lib.rs"), &mut with_module), (Path::new("t.rs"), &mut other)];
        let formatted = format_copies(dir.path(), None, &files).unwrap();
        assert_eq!(formatted, ["pub mod customer;\nmod tests;\nstruct S;\n", "struct T;\n"]);
    }

    #[test]
    fn shares_are_balanced_and_cover_every_file_once() {
        let sizes = [50, 10, 40, 30, 20];
        let shares = shares(&sizes, 2);
        assert_eq!(shares.len(), 2);
        let totals: Vec<usize> = shares
            .iter()
            .map(|share| share.iter().map(|&i| sizes[i]).sum())
            .collect();
        assert_eq!(totals, [80, 70]);
        let mut all: Vec<usize> = shares.concat();
        all.sort_unstable();
        assert_eq!(all, [0, 1, 2, 3, 4]);
        assert_eq!(super::shares(&sizes, 9).len(), 5);
        assert_eq!(super::shares(&[7], 0), [vec![0]]);
        assert!(super::shares(&[], 2).is_empty());
    }

    /// Writes `text` to `path` under `root`, creating its directories.
    fn write_file(root: &Path, path: &str, text: &str) {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn generated_files_are_formatted_in_place_against_their_packages_edition() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |path: &str, text: &str| write_file(root, path, text);
        write(
            "Cargo.toml",
            "[workspace]\nmembers = [\"a\"]\n[workspace.package]\nedition = \"2024\"\n",
        );
        write("a/Cargo.toml", "[package]\nname = \"a\"\nedition.workspace = true\n");
        write("a/src/lib.rs", "pub mod   b;\nfn  f() {}\n");
        write("a/src/b.rs", "struct   S;\n");
        write("notes.txt", "fn  f() {}\n");
        format_generated(root).unwrap();
        let read = |path: &str| std::fs::read_to_string(root.join(path)).unwrap();
        assert_eq!(read("a/src/lib.rs"), "pub mod b;\nfn f() {}\n");
        assert_eq!(read("a/src/b.rs"), "struct S;\n");
        assert_eq!(read("notes.txt"), "fn  f() {}\n");
    }

    #[test]
    fn the_edition_comes_from_the_nearest_manifest_that_settles_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |path: &str, text: &str| write_file(root, path, text);
        write("w/Cargo.toml", "[workspace]\n[workspace.package]\nedition = \"2021\"\n");
        write(
            "w/inherits/Cargo.toml",
            "[package]\nname = \"i\"\nedition.workspace = true\n",
        );
        write("w/states/Cargo.toml", "[package]\nname = \"s\"\nedition = \"2018\"\n");
        write("w/none/Cargo.toml", "[package]\nname = \"n\"\n");
        write("w/broken/Cargo.toml", "[package\n");
        let mut manifests = HashMap::new();
        let mut edition = |file: &str| edition_of(&root.join(file), &mut manifests);
        assert_eq!(edition("w/inherits/src/lib.rs").as_deref(), Some("2021"));
        assert_eq!(edition("w/states/src/lib.rs").as_deref(), Some("2018"));
        assert_eq!(edition("w/none/src/lib.rs").as_deref(), Some("2015"));
        assert_eq!(edition("w/broken/src/lib.rs").as_deref(), Some("2021"));
        assert_eq!(edition("w/build.rs").as_deref(), Some("2021"));
        assert_eq!(edition("elsewhere/lib.rs"), None);
    }

    #[test]
    fn invalid_rust_is_reported_with_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut source = "fn f( {\n".to_owned();
        let error = format_all(dir.path(), &mut [(Path::new("src/broken.rs"), &mut source)]).unwrap_err();
        assert!(error.to_string().contains("src/broken.rs"), "{error}");
    }
}
