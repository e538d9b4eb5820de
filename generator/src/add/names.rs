//! Names given to `daprgen add`: checked before anything is rendered, and spelt the ways the
//! generated code needs them.

use heck::{ToKebabCase, ToPascalCase, ToShoutySnakeCase, ToSnakeCase};
use serde::Serialize;

use crate::bail_input;

/// Rust's keywords, strict and reserved, in every edition: none can name a module or a field.
pub const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false", "fn",
    "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "static",
    "struct", "super", "trait", "true", "type", "unsafe", "use", "where", "while", "abstract", "become", "box", "do",
    "final", "gen", "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try",
];

/// Checks that `value`, the `what` of a command (e.g. "the entity name"), is a snake_case Rust
/// identifier that is not a keyword. `example` is a valid value to suggest.
pub fn check_identifier(what: &str, value: &str, example: &str) -> anyhow::Result<()> {
    const RULE: &str = "use lowercase ASCII letters, digits and '_', starting with a letter";
    if value.is_empty() {
        bail_input!("{what} is empty: {RULE}, e.g. {example}");
    }
    if value.contains(['/', '\\']) || value.contains("..") {
        bail_input!("{what} {value:?} is a path, not a name: {RULE}, e.g. {example}");
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        let suggestion = value.to_snake_case();
        let fix = if !suggestion.is_empty() && suggestion.is_ascii() && suggestion != value {
            format!("e.g. {suggestion}")
        } else {
            format!("e.g. {example}")
        };
        bail_input!("{what} {value:?} contains {bad:?}: {RULE}, {fix}");
    }
    if !value.starts_with(|c: char| c.is_ascii_lowercase()) {
        bail_input!("{what} {value:?} does not start with a letter: {RULE}, e.g. {example}");
    }
    if value.ends_with('_') || value.contains("__") {
        bail_input!(
            "{what} {value:?} has a leading, trailing or doubled '_', which case conversion loses: {RULE}, e.g. {}",
            value.trim_matches('_').replace("__", "_")
        );
    }
    if KEYWORDS.contains(&value) {
        bail_input!("{what} {value:?} is a Rust keyword: choose another name, e.g. {value}_item or {example}");
    }
    Ok(())
}

/// English plural of a snake_case word, the same rule as the template's hook (`hooks/pre.rhai`).
pub fn plural(word: &str) -> String {
    if ["s", "x", "ch", "sh"].iter().any(|end| word.ends_with(end)) {
        return format!("{word}es");
    }
    if let Some(stem) = word.strip_suffix('y')
        && stem.chars().last().is_some_and(|c| !"aeiou".contains(c))
    {
        return format!("{stem}ies");
    }
    format!("{word}s")
}

/// A snake_case name in the spellings templates use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Spellings {
    /// `order_item`
    pub snake: String,
    /// `OrderItem`
    pub pascal: String,
    /// `ORDER_ITEM`
    pub shouty: String,
    /// `order-item`
    pub kebab: String,
    /// `order_items`
    pub plural: String,
    /// `OrderItems`
    pub plural_pascal: String,
    /// `order-items`
    pub plural_kebab: String,
}

impl Spellings {
    /// The spellings of the snake_case `name`.
    pub fn of(name: &str) -> Self {
        let plural = plural(name);
        Self {
            snake: name.to_owned(),
            pascal: name.to_pascal_case(),
            shouty: name.to_shouty_snake_case(),
            kebab: name.to_kebab_case(),
            plural_pascal: plural.to_pascal_case(),
            plural_kebab: plural.to_kebab_case(),
            plural,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::is_bad_input;

    #[test]
    fn bad_names_are_refused_as_bad_input_naming_value_and_fix() {
        let cases = [
            ("", "is empty"),
            ("fn", "keyword"),
            ("9lives", "does not start with a letter"),
            ("Customer", "e.g. customer"),
            ("crème", "contains 'è'"),
            ("a/b", "is a path"),
            ("..", "is a path"),
            ("order__item", "doubled"),
            ("order_", "trailing"),
            ("order-item", "e.g. order_item"),
        ];
        for (value, expected) in cases {
            let error = check_identifier("the entity name", value, "customer").unwrap_err();
            assert!(is_bad_input(&error), "{value:?}");
            let message = error.to_string();
            assert!(message.contains(expected), "{value:?}: {message}");
            assert!(message.contains("e.g."), "{value:?} gives no fix: {message}");
        }
        check_identifier("the entity name", "order_item2", "customer").unwrap();
    }

    #[test]
    fn plurals_follow_the_template_hook() {
        for (word, expected) in [
            ("order", "orders"),
            ("box", "boxes"),
            ("category", "categories"),
            ("day", "days"),
        ] {
            assert_eq!(plural(word), expected);
        }
    }

    #[test]
    fn spellings_of_a_snake_name() {
        let spellings = Spellings::of("order_item");
        assert_eq!(
            (
                spellings.pascal.as_str(),
                spellings.kebab.as_str(),
                spellings.plural_kebab.as_str()
            ),
            ("OrderItem", "order-item", "order-items")
        );
    }
}
