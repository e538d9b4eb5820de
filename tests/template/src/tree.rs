//! Directory trees: an exact snapshot (to prove a refused command wrote nothing) and the
//! checks a freshly rendered service must pass.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// What is at one path of a tree, compared byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Dir { mode: u32 },
    File { mode: u32, bytes: Vec<u8> },
    Symlink { target: PathBuf },
}

/// Every entry under `root` (not `root` itself), keyed by its path relative to `root`.
pub fn snapshot(root: &Path) -> io::Result<BTreeMap<PathBuf, Entry>> {
    let mut entries = BTreeMap::new();
    walk(root, root, &mut |relative, path, meta| {
        let entry = if meta.file_type().is_symlink() {
            Entry::Symlink {
                target: fs::read_link(path)?,
            }
        } else if meta.is_dir() {
            Entry::Dir { mode: mode(meta) }
        } else {
            Entry::File {
                mode: mode(meta),
                bytes: fs::read(path)?,
            }
        };
        entries.insert(relative.to_owned(), entry);
        Ok(())
    })?;
    Ok(entries)
}

/// The paths, relative to `root`, of every file (not directory) under it, sorted.
pub fn files(root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    walk(root, root, &mut |relative, _, meta| {
        if !meta.is_dir() {
            files.push(relative.to_owned());
        }
        Ok(())
    })?;
    files.sort();
    Ok(files)
}

fn walk(
    root: &Path,
    dir: &Path,
    visit: &mut dyn FnMut(&Path, &Path, &fs::Metadata) -> io::Result<()>,
) -> io::Result<()> {
    let mut children: Vec<_> = fs::read_dir(dir)?.collect::<io::Result<_>>()?;
    children.sort_by_key(|e| e.file_name());
    for child in children {
        let path = child.path();
        let meta = fs::symlink_metadata(&path)?;
        let relative = path.strip_prefix(root).expect("walked below the root");
        visit(relative, &path, &meta)?;
        if meta.is_dir() {
            walk(root, &path, visit)?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn mode(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode()
}

#[cfg(not(unix))]
fn mode(meta: &fs::Metadata) -> u32 {
    u32::from(meta.permissions().readonly())
}

/// Liquid that survived rendering under `root`: in a path, or in a text file. Each finding is
/// `path:line: text`.
///
/// `{%` never occurs in Rust, TOML, YAML or proto outside Liquid. `{{` does in Rust format strings
/// (`"{{"` is an escaped brace), so only a `{{` that opens a Liquid output tag is reported: exactly
/// two braces, then a name, then `}}` later on the line (`{{resource}}`, `{{ project-name }}`).
pub fn liquid_leftovers(root: &Path) -> io::Result<Vec<String>> {
    let mut found = Vec::new();
    for relative in files(root)? {
        let shown = relative.display().to_string();
        if shown.contains("{{") || shown.contains("{%") || shown.contains("%}") || shown.contains("}}") {
            found.push(format!("{shown}: Liquid in the file name"));
        }
        // Binary files cannot hold Liquid the template meant to render.
        let Ok(text) = fs::read_to_string(root.join(&relative)) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            if let Some(tag) = liquid_in_line(line) {
                found.push(format!("{shown}:{}: {tag}: {}", n + 1, line.trim()));
            }
        }
    }
    Ok(found)
}

/// The kind of Liquid `line` holds, if any.
pub fn liquid_in_line(line: &str) -> Option<&'static str> {
    if line.contains("{%") || line.contains("%}") {
        return Some("Liquid tag");
    }
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'{' {
            i += 1;
            continue;
        }
        let run = bytes[i..].iter().take_while(|&&b| b == b'{').count();
        let after = i + run;
        if run == 2 {
            let rest = line[after..].trim_start_matches(['-', ' ']);
            let starts_name = rest.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
            if starts_name && rest.contains("}}") {
                return Some("Liquid output");
            }
        }
        i = after;
    }
    None
}

/// Makes a whole tree unwritable until dropped, then restores every mode. Root ignores
/// permission bits, so when they are not enough the tree is also made immutable (`chattr +i`).
#[cfg(unix)]
pub struct ReadOnly {
    modes: Vec<(PathBuf, u32)>,
    root: PathBuf,
    immutable: bool,
}

#[cfg(unix)]
impl ReadOnly {
    /// Removes the write bits of everything under `root` (and `root`); fails if it stays writable.
    pub fn new(root: &Path) -> io::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let mut modes = vec![(root.to_owned(), mode(&fs::metadata(root)?))];
        walk(root, root, &mut |_, path, meta| {
            if !meta.file_type().is_symlink() {
                modes.push((path.to_owned(), mode(meta)));
            }
            Ok(())
        })?;
        let mut guard = Self {
            modes,
            root: root.to_owned(),
            immutable: false,
        };
        for (path, mode) in &guard.modes {
            fs::set_permissions(path, fs::Permissions::from_mode(mode & !0o222))?;
        }
        let probe = root.join(".daprgen-write-probe");
        if fs::write(&probe, "").is_ok() {
            fs::remove_file(&probe)?;
            let status = std::process::Command::new("chattr")
                .arg("-R")
                .arg("+i")
                .arg(root)
                .status()?;
            guard.immutable = status.success();
            if !guard.immutable || fs::write(&probe, "").is_ok() {
                return Err(io::Error::other(format!("cannot make {} read-only", root.display())));
            }
        }
        Ok(guard)
    }
}

#[cfg(unix)]
impl Drop for ReadOnly {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        if self.immutable {
            let _ = std::process::Command::new("chattr")
                .arg("-R")
                .arg("-i")
                .arg(&self.root)
                .status();
        }
        for (path, mode) in &self.modes {
            let _ = fs::set_permissions(path, fs::Permissions::from_mode(*mode));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liquid_is_found_in_lines() {
        for line in [
            "pub mod {{resource}};",
            "name = \"{{ project-name }}\"",
            "x {{- resources -}} y",
            "{%- if with_lock %}",
            "{% endif %}",
            "a %}",
        ] {
            assert!(liquid_in_line(line).is_some(), "{line:?} should be reported");
        }
    }

    #[test]
    fn rust_format_braces_are_not_liquid() {
        for line in [
            r#"write!(f, "{{")?;"#,
            r#"format!("{{{name}}}")"#,
            r#"format!("{{\"status\":\"{}\"}}", s)"#,
            r#"let body = json!({ "a": { "b": 1 } });"#,
            "fn f() {{ }}",
            "plain text",
        ] {
            assert_eq!(liquid_in_line(line), None, "{line:?} is not Liquid");
        }
    }

    #[test]
    fn snapshots_see_every_byte_and_every_entry() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.txt"), "one").unwrap();
        let before = snapshot(dir.path()).unwrap();
        assert_eq!(before.len(), 1);

        fs::write(dir.path().join("a.txt"), "onf").unwrap();
        assert_ne!(snapshot(dir.path()).unwrap(), before);
        fs::write(dir.path().join("a.txt"), "one").unwrap();
        assert_eq!(snapshot(dir.path()).unwrap(), before);

        fs::create_dir(dir.path().join("empty")).unwrap();
        assert_ne!(snapshot(dir.path()).unwrap(), before, "an empty directory is a change");
        fs::remove_dir(dir.path().join("empty")).unwrap();
        assert_eq!(snapshot(dir.path()).unwrap(), before);
    }

    #[test]
    fn liquid_leftovers_reports_paths_and_lines() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("src")).unwrap();
        fs::write(dir.path().join("src/{{resource}}.rs"), "fn ok() {}\n").unwrap();
        fs::write(dir.path().join("src/lib.rs"), "//! ok\npub mod {{resource}};\n").unwrap();
        fs::write(dir.path().join("data.bin"), [0xff, 0xfe, b'{', b'%']).unwrap();
        let found = liquid_leftovers(dir.path()).unwrap();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("src/lib.rs:2: Liquid output"), "{found:?}");
        assert!(found[1].contains("Liquid in the file name"), "{found:?}");
    }
}
