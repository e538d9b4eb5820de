//! What `daprgen` prints: plain text, coloured only on a terminal and never when `NO_COLOR` is
//! set (<https://no-color.org>).

use std::io::IsTerminal;

use crate::add::engine::Outcome;

/// Whether to colour what goes to standard output.
pub fn colors_on_stdout() -> bool {
    colors_enabled(std::env::var_os("NO_COLOR").as_deref(), std::io::stdout().is_terminal())
}

/// Colours only on a terminal, and not when `NO_COLOR` is set to a non-empty value.
pub fn colors_enabled(no_color: Option<&std::ffi::OsStr>, terminal: bool) -> bool {
    terminal && no_color.is_none_or(|value| value.is_empty())
}

/// ANSI colours, or nothing.
#[derive(Debug, Clone, Copy)]
pub struct Palette {
    on: bool,
}

impl Palette {
    /// A palette that colours when `on`.
    pub fn new(on: bool) -> Self {
        Self { on }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// Green.
    pub fn added(self, text: &str) -> String {
        self.paint("32", text)
    }

    /// Red.
    pub fn removed(self, text: &str) -> String {
        self.paint("31", text)
    }

    /// Yellow.
    pub fn changed(self, text: &str) -> String {
        self.paint("33", text)
    }

    /// Cyan.
    pub fn note(self, text: &str) -> String {
        self.paint("36", text)
    }
}

/// The report of an `add` command: the files it created and updated, or that nothing changed;
/// with `dry_run`, the diff and what would happen.
pub fn report(summary: &str, outcome: &Outcome, dry_run: bool, palette: Palette) -> String {
    let mut text = String::new();
    if outcome.unchanged() {
        text.push_str(&format!("{summary}: nothing to do, the service already has it\n"));
        return text;
    }
    if dry_run {
        for line in outcome.diff.lines() {
            let painted = if line.starts_with("+++") || line.starts_with("---") {
                line.to_owned()
            } else if line.starts_with('+') {
                palette.added(line)
            } else if line.starts_with('-') {
                palette.removed(line)
            } else if line.starts_with("@@") {
                palette.note(line)
            } else {
                line.to_owned()
            };
            text.push_str(&painted);
            text.push('\n');
        }
    }
    let (create, update) = if dry_run {
        ("would create", "would update")
    } else {
        ("created", "updated")
    };
    for path in &outcome.created {
        text.push_str(&format!("  {} {}\n", palette.added(create), path.display()));
    }
    for path in &outcome.updated {
        text.push_str(&format!("  {} {}\n", palette.changed(update), path.display()));
    }
    let verdict = if dry_run { "dry run, nothing written" } else { "done" };
    text.push_str(&format!(
        "{summary}: {} created, {} updated ({verdict})\n",
        outcome.created.len(),
        outcome.updated.len()
    ));
    text
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn no_color_and_pipes_turn_colours_off() {
        assert!(colors_enabled(None, true));
        assert!(colors_enabled(Some(OsStr::new("")), true));
        assert!(!colors_enabled(Some(OsStr::new("1")), true));
        assert!(!colors_enabled(None, false));
    }

    #[test]
    fn a_report_lists_files_without_escape_codes_when_colours_are_off() {
        let outcome = Outcome {
            created: vec![PathBuf::from("crates/biz/src/customer.rs")],
            updated: vec![PathBuf::from("crates/biz/src/lib.rs")],
            diff: "+pub mod customer;\n".to_owned(),
        };
        let text = report("add entity customer", &outcome, true, Palette::new(false));
        assert!(!text.contains('\x1b'), "{text}");
        assert!(
            text.contains("+pub mod customer;\n  would create crates/biz/src/customer.rs\n"),
            "{text}"
        );
        assert!(
            text.ends_with("1 created, 1 updated (dry run, nothing written)\n"),
            "{text}"
        );
        let painted = report("add entity customer", &outcome, false, Palette::new(true));
        assert!(painted.contains("\x1b[32mcreated\x1b[0m"), "{painted}");
    }

    #[test]
    fn an_unchanged_service_says_so() {
        let text = report("add entity customer", &Outcome::default(), false, Palette::new(false));
        assert_eq!(text, "add entity customer: nothing to do, the service already has it\n");
    }
}
