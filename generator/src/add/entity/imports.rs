//! `use` blocks as rustfmt writes them. Their order depends on the names of the entity and of the
//! service's first resource (`use biz::customer::…` sorts before `use biz::error::…`, `use
//! biz::supplier::…` after it), so the templates get them ready-made: sorted the way rustfmt's
//! 2024 style sorts ("version sorting"), and wrapped the way it wraps a list too long for a line.

use std::cmp::Ordering;

/// rustfmt's line width in a service without `rustfmt.toml` (the template has none).
pub const MAX_WIDTH: usize = 100;

/// One `use`: a path, and the items imported from it (none: the path names the item itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    path: String,
    items: Vec<String>,
}

impl Use {
    /// `use {path};`
    pub fn item(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            items: Vec::new(),
        }
    }

    /// `use {path}::{items};` (`use {path}::{item};` for one item).
    pub fn list(path: impl Into<String>, items: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            path: path.into(),
            items: items.into_iter().map(Into::into).collect(),
        }
    }

    /// The items' paths, as rustfmt compares them.
    fn key(&self) -> String {
        match self.items.as_slice() {
            [] => self.path.clone(),
            [one] => format!("{}::{one}", self.path),
            _ => format!("{}::{{", self.path),
        }
    }

    fn render(&self, indent: usize) -> String {
        let mut items = self.items.clone();
        items.sort_by(|a, b| path_cmp(a, b));
        items.dedup();
        let pad = " ".repeat(indent);
        match items.as_slice() {
            [] => format!("{pad}use {};\n", self.path),
            [one] => format!("{pad}use {}::{one};\n", self.path),
            _ => {
                let line = format!("{pad}use {}::{{{}}};", self.path, items.join(", "));
                if line.len() <= MAX_WIDTH {
                    return line + "\n";
                }
                // rustfmt's "Mixed" layout: the items fill lines of their own, one level deeper.
                let inner = " ".repeat(indent + 4);
                let mut text = format!("{pad}use {}::{{\n", self.path);
                let mut current = String::new();
                for item in &items {
                    let piece = format!("{item},");
                    if !current.is_empty() && inner.len() + current.len() + 1 + piece.len() > MAX_WIDTH {
                        text.push_str(&format!("{inner}{current}\n"));
                        current.clear();
                    }
                    if !current.is_empty() {
                        current.push(' ');
                    }
                    current.push_str(&piece);
                }
                text.push_str(&format!("{inner}{current}\n{pad}}};\n"));
                text
            }
        }
    }
}

/// A block of `use` lines at `indent`, sorted as rustfmt sorts one group.
pub fn block(indent: usize, mut uses: Vec<Use>) -> String {
    uses.sort_by(|a, b| path_cmp(&a.key(), &b.key()));
    uses.iter().map(|one| one.render(indent)).collect()
}

/// Compares two paths segment by segment.
fn path_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.split("::"), b.split("::"));
    loop {
        match (a.next(), b.next()) {
            (Some(x), Some(y)) => match segment_cmp(x, y) {
                Ordering::Equal => continue,
                other => return other,
            },
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
        }
    }
}

/// `self` first, then a list (`{`) after names; otherwise version order.
fn segment_cmp(a: &str, b: &str) -> Ordering {
    match (a, b) {
        _ if a == b => Ordering::Equal,
        ("self", _) => Ordering::Less,
        (_, "self") => Ordering::Greater,
        ("{", _) => Ordering::Greater,
        (_, "{") => Ordering::Less,
        _ => version_cmp(a, b),
    }
}

/// rustfmt's version sorting of identifiers: `_` before everything, runs of digits by value,
/// other characters by code point (so upper case before lower case).
pub fn version_cmp(a: &str, b: &str) -> Ordering {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let start = (i, j);
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let x: String = a[start.0..i].iter().collect();
            let y: String = b[start.1..j].iter().collect();
            let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
            match x.len().cmp(&y.len()).then_with(|| x.cmp(y)) {
                Ordering::Equal => continue,
                other => return other,
            }
        }
        let key = |c: char| if c == '_' { 0 } else { u32::from(c) + 1 };
        match key(a[i]).cmp(&key(b[j])) {
            Ordering::Equal => {
                i += 1;
                j += 1;
            }
            other => return other,
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_sort_as_rustfmt_sorts_them() {
        // The order rustfmt 1.9 (style edition 2024) gives these.
        let sorted = [
            "A_B",
            "A2",
            "A10",
            "Ab",
            "Customer",
            "CustomerEvent",
            "ItemId",
            "a_b",
            "aB",
            "ab",
            "customer",
            "customer_2",
            "customer_repo",
            "customer2",
            "customerb",
            "item_9",
            "item_10",
        ];
        let mut shuffled = sorted.to_vec();
        shuffled.reverse();
        shuffled.sort_by(|a, b| version_cmp(a, b));
        assert_eq!(shuffled, sorted);
    }

    #[test]
    fn blocks_sort_paths_and_items_and_wrap_long_lists() {
        let text = block(
            0,
            vec![
                Use::list("biz::supplier", ["SupplierId", "Supplier"]),
                Use::item("biz::error::RepoError"),
                Use::list("biz::customer", ["Customer"]),
                Use::list("crate::x", ["self", "B", "a"]),
            ],
        );
        assert_eq!(
            text,
            "use biz::customer::Customer;\nuse biz::error::RepoError;\nuse biz::supplier::{Supplier, SupplierId};\n\
             use crate::x::{self, B, a};\n"
        );
        let long = Use::list("api::orders::v1", (0..12).map(|n| format!("LongMessageName{n}")));
        let text = long.render(0);
        assert!(
            text.starts_with("use api::orders::v1::{\n    LongMessageName0, LongMessageName1,"),
            "{text}"
        );
        assert!(
            text.lines().all(|line| line.len() <= MAX_WIDTH) && text.ends_with(",\n};\n"),
            "{text}"
        );
    }
}
