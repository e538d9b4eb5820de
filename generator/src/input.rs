//! What `daprgen new` is given, checked before anything is written.
//!
//! `template/hooks/pre.rhai` is the one place that knows which names the template accepts, but it
//! runs too late for two kinds of bad input, so they are refused here:
//! - service names cargo-generate would silently rename (`My Service` becomes `my-service`,
//!   `a/b` becomes `a-b`, `..` and the empty name become the destination itself): the hook only
//!   ever sees the renamed one;
//! - `--define` values the template's placeholders refuse, and options it does not have:
//!   cargo-generate reports the former without saying what would do, and silently ignores the
//!   latter (`with_lok=false` would give a service with the lock).

use anyhow::Context;
use heck::{ToKebabCase, ToSnakeCase};

/// Refuses a service name that cargo-generate would not use as given.
pub(crate) fn check_service_name(name: &str) -> anyhow::Result<()> {
    const RULE: &str = "a service name is a crate name: lowercase ASCII letters, digits, and '-' or '_' between them";
    if name.is_empty() {
        crate::bail_input!("the service name is empty: {RULE}, e.g. `daprgen new orders`");
    }
    if name.contains(['/', '\\']) || name == "." || name == ".." {
        crate::bail_input!(
            "the service name {name:?} is a path, not a name: {RULE}; choose where the service goes with \
             --destination, e.g. `daprgen new orders --destination services`"
        );
    }
    let kept = sanitized(name);
    if kept != name {
        let fix = if kept.is_empty()
            || !kept
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            "`daprgen new orders`".to_owned()
        } else {
            format!("`daprgen new {kept}`")
        };
        crate::bail_input!(
            "the service name {name:?} is not usable as given (it would become {kept:?}): {RULE}, e.g. {fix}"
        );
    }
    Ok(())
}

/// The name cargo-generate uses for `name` (its `sanitize_project_name`, which is not public).
fn sanitized(name: &str) -> String {
    if name.to_snake_case() == name {
        name.to_owned()
    } else {
        name.to_kebab_case()
    }
}

/// Refuses `--define`s that are malformed, name no option of the template, name one twice, or give
/// a value its placeholder refuses. `config` is the template's `cargo-generate.toml`.
pub(crate) fn check_defines(defines: &[String], config: &str) -> anyhow::Result<()> {
    let config: toml::Table = toml::from_str(config).context("reading the template's cargo-generate.toml")?;
    let empty = toml::Table::new();
    let placeholders = config.get("placeholders").and_then(|p| p.as_table()).unwrap_or(&empty);
    let known = || placeholders.keys().map(String::as_str).collect::<Vec<_>>().join(", ");
    let mut seen: Vec<&str> = Vec::new();
    for define in defines {
        let Some((key, value)) = define.split_once('=') else {
            let example = placeholders.get(define.as_str()).map_or_else(
                || "resource=order".to_owned(),
                |spec| format!("{define}={}", default_of(spec)),
            );
            crate::bail_input!(
                "--define {define:?} is not KEY=VALUE, e.g. --define {example} (options: {})",
                known()
            );
        };
        let Some(spec) = placeholders.get(key) else {
            let example = match closest(key, placeholders.keys()) {
                Some(near) => format!("did you mean {near}? e.g. --define {near}={value}"),
                None => "e.g. --define resource=order".to_owned(),
            };
            crate::bail_input!(
                "--define {define}: the template has no option {key:?} (its options are {}); {example}",
                known()
            );
        };
        if seen.contains(&key) {
            crate::bail_input!(
                "--define {define}: {key} is already defined; give each option once, e.g. --define {key}={value}"
            );
        }
        seen.push(key);
        let prompt = spec.get("prompt").and_then(|p| p.as_str()).unwrap_or(key);
        if spec.get("type").and_then(|t| t.as_str()) == Some("bool") {
            // cargo-generate ignores the case of booleans.
            if !value.eq_ignore_ascii_case("true") && !value.eq_ignore_ascii_case("false") {
                crate::bail_input!(
                    "--define {define}: {value:?} is not a value of {key} ({prompt}); use true or false, e.g. --define {key}=false"
                );
            }
            continue;
        }
        if let Some(choices) = spec.get("choices").and_then(|c| c.as_array()) {
            let choices: Vec<&str> = choices.iter().filter_map(|c| c.as_str()).collect();
            if !choices.contains(&value) {
                crate::bail_input!(
                    "--define {define}: {value:?} is not a value of {key} ({prompt}); use one of {}, e.g. --define {key}={}",
                    choices.join(", "),
                    default_of(spec)
                );
            }
        }
        if let Some(pattern) = spec.get("regex").and_then(|r| r.as_str()) {
            let regex =
                regex::Regex::new(pattern).with_context(|| format!("the template's regex for {key}, {pattern:?}"))?;
            if !regex.is_match(value) {
                crate::bail_input!(
                    "--define {define}: {value:?} is not a valid {key} ({prompt}); it must match {pattern}, e.g. --define {key}={}",
                    default_of(spec)
                );
            }
        }
    }
    Ok(())
}

fn default_of(spec: &toml::Value) -> String {
    match spec.get("default") {
        Some(toml::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "…".to_owned(),
    }
}

/// The known option closest to a misspelt one, if it is a typo away (at most two edits).
fn closest<'a>(key: &str, known: impl Iterator<Item = &'a String>) -> Option<&'a str> {
    known
        .map(|k| (edits(key, k), k.as_str()))
        .filter(|(distance, _)| *distance <= 2)
        .min()
        .map(|(_, k)| k)
}

/// Levenshtein distance.
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The message a hook passed to `abort`, without the script engine's wrapping (a path to a
/// temporary copy of the template, line and position, call stack). Other errors are unchanged.
pub(crate) fn hook_message(error: &str) -> Option<&str> {
    let start = error.find("Runtime error: ")? + "Runtime error: ".len();
    let first_line = error[start..].lines().next()?;
    let message = match first_line.rfind(" (line ") {
        Some(end) => &first_line[..end],
        None => first_line,
    };
    Some(message.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = include_str!("../../template/cargo-generate.toml");

    fn refused(name: &str) -> String {
        check_service_name(name).expect_err(name).to_string()
    }

    #[test]
    fn names_cargo_generate_would_rename_are_refused_with_the_name_it_would_use() {
        let message = refused("My Service");
        assert!(
            message.contains("\"My Service\"") && message.contains("`daprgen new my-service`"),
            "{message}"
        );
        for name in ["Orders", "a--b", "a_b-c", "orders-", "_orders", "a b"] {
            let message = refused(name);
            assert!(message.contains(&format!("{name:?}")), "{message}");
        }
    }

    #[test]
    fn paths_and_empty_names_are_refused() {
        for name in ["a/b", "a\\b", "..", ".", "/orders"] {
            let message = refused(name);
            assert!(
                message.contains("is a path") && message.contains("--destination"),
                "{message}"
            );
        }
        assert!(refused("").contains("is empty"));
    }

    #[test]
    fn names_kept_as_given_pass_here_and_are_left_to_the_hook() {
        // The hook refuses some of these (keywords, a leading digit, non-ASCII) with its own message.
        for name in [
            "orders",
            "order-service",
            "order_service",
            "v2",
            "fn",
            "1orders",
            "commandé",
        ] {
            check_service_name(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn defines_are_checked_against_the_placeholders() {
        let ok = [
            "resource=line_item",
            "transport=grpc",
            "with_lock=false",
            "with_workflow=TRUE",
        ]
        .map(String::from);
        check_defines(&ok, CONFIG).unwrap();

        for (define, expected) in [
            ("resource", "not KEY=VALUE, e.g. --define resource=item"),
            (
                "with_lok=false",
                "did you mean with_lock? e.g. --define with_lock=false",
            ),
            (
                "transport=bogus",
                "use one of both, http, grpc, e.g. --define transport=both",
            ),
            ("with_lock=maybe", "use true or false, e.g. --define with_lock=false"),
            ("resource=Order", "\"Order\" is not a valid resource"),
            ("resource=order-line", "\"order-line\" is not a valid resource"),
        ] {
            let message = check_defines(&[define.to_owned()], CONFIG)
                .expect_err(define)
                .to_string();
            assert!(message.contains(expected), "{define}: {message}");
        }
        let twice = ["resource=a", "resource=b"].map(String::from);
        assert!(
            check_defines(&twice, CONFIG)
                .unwrap_err()
                .to_string()
                .contains("already defined")
        );
    }

    #[test]
    fn hook_messages_lose_the_script_engine_wrapping() {
        let raw = "⛔   Failed executing script: /tmp/cargo-generateX/hooks/pre.rhai: Runtime error: The service \
                   name \"fn\" is a Rust keyword. Use e.g. orders. (line 30, position 9)\nin call to function \
                   'check_name' (line 48, position 1)";
        assert_eq!(
            hook_message(raw),
            Some("The service name \"fn\" is a Rust keyword. Use e.g. orders.")
        );
        assert_eq!(hook_message("Target directory already exists"), None);
    }
}
