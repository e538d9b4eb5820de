//! The template's options and a pairwise covering set of their combinations.
//!
//! Building every combination (3 x 2 x 2 x 2 x 2 = 48 services) would take hours on a CI
//! machine; most template bugs involve one option or the interplay of two (a file kept for
//! `transport=grpc` that needs the lock module, say). A covering set in which every pair of values
//! of any two options appears at least once catches those with a handful of builds.

use std::collections::BTreeSet;

/// One option of the template: a `[placeholders.*]` entry of `template/cargo-generate.toml` with
/// a fixed set of values (choices, or true/false).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dimension {
    pub name: &'static str,
    pub values: &'static [&'static str],
    pub default: &'static str,
}

/// The template's options, checked against `template/cargo-generate.toml` by a unit test so a new
/// option or value cannot slip past the matrix.
pub const OPTIONS: &[Dimension] = &[
    Dimension {
        name: "transport",
        values: &["both", "http", "grpc"],
        default: "both",
    },
    Dimension {
        name: "state_store",
        values: &["redis", "sqlite"],
        default: "redis",
    },
    Dimension {
        name: "pubsub",
        values: &["redis", "in-memory"],
        default: "redis",
    },
    Dimension {
        name: "with_lock",
        values: &["true", "false"],
        default: "true",
    },
    Dimension {
        name: "with_workflow",
        values: &["true", "false"],
        default: "true",
    },
];

/// One value per dimension, as indices into each dimension's `values`, in dimension order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Combination(pub Vec<usize>);

impl Combination {
    /// The value chosen for the dimension called `name`.
    ///
    /// # Panics
    /// If no dimension has that name.
    pub fn value(&self, dims: &[Dimension], name: &str) -> &'static str {
        let (i, dim) = dims
            .iter()
            .enumerate()
            .find(|(_, d)| d.name == name)
            .unwrap_or_else(|| panic!("no option called {name:?}"));
        dim.values[self.0[i]]
    }

    /// `KEY=VALUE` for every dimension, as `--define` takes them.
    pub fn defines(&self, dims: &[Dimension]) -> Vec<String> {
        dims.iter()
            .zip(&self.0)
            .map(|(d, &v)| format!("{}={}", d.name, d.values[v]))
            .collect()
    }

    /// `transport=http state_store=redis …`, for messages.
    pub fn describe(&self, dims: &[Dimension]) -> String {
        self.defines(dims).join(" ")
    }

    /// Whether this combination chooses both values of `pair`.
    pub fn covers(&self, pair: &Pair) -> bool {
        self.0[pair.first.0] == pair.first.1 && self.0[pair.second.0] == pair.second.1
    }
}

/// Two choices, `(dimension, value)`, of two different dimensions; the lower dimension first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pair {
    pub first: (usize, usize),
    pub second: (usize, usize),
}

impl Pair {
    /// `transport=http with_lock=false`, for messages.
    pub fn describe(&self, dims: &[Dimension]) -> String {
        format!(
            "{}={} {}={}",
            dims[self.first.0].name,
            dims[self.first.0].values[self.first.1],
            dims[self.second.0].name,
            dims[self.second.0].values[self.second.1]
        )
    }
}

/// The combination of every dimension's default.
///
/// # Panics
/// If a dimension's default is not one of its values.
pub fn default_combination(dims: &[Dimension]) -> Combination {
    Combination(
        dims.iter()
            .map(|d| {
                d.values
                    .iter()
                    .position(|v| *v == d.default)
                    .unwrap_or_else(|| panic!("default {:?} of {} is not one of its values", d.default, d.name))
            })
            .collect(),
    )
}

/// Every pair of values of any two dimensions.
pub fn all_pairs(dims: &[Dimension]) -> Vec<Pair> {
    let mut pairs = Vec::new();
    for (i, a) in dims.iter().enumerate() {
        for (j, b) in dims.iter().enumerate().skip(i + 1) {
            for va in 0..a.values.len() {
                for vb in 0..b.values.len() {
                    pairs.push(Pair {
                        first: (i, va),
                        second: (j, vb),
                    });
                }
            }
        }
    }
    pairs
}

/// The pairs that no combination of `combinations` covers.
pub fn uncovered(dims: &[Dimension], combinations: &[Combination]) -> Vec<Pair> {
    all_pairs(dims)
        .into_iter()
        .filter(|pair| !combinations.iter().any(|c| c.covers(pair)))
        .collect()
}

/// The values of a dimension that no combination chooses, as `(dimension, value)`.
pub fn unused_values(dims: &[Dimension], combinations: &[Combination]) -> Vec<(usize, usize)> {
    let mut unused = Vec::new();
    for (i, d) in dims.iter().enumerate() {
        for v in 0..d.values.len() {
            if !combinations.iter().any(|c| c.0[i] == v) {
                unused.push((i, v));
            }
        }
    }
    unused
}

/// A small set of combinations covering every pair of values of any two dimensions, starting
/// with the default combination. Greedy (AETG-like): while a pair is uncovered, start a
/// combination from it and give every other dimension the value that covers the most still
/// uncovered pairs with the dimensions already chosen. Deterministic: ties go to the first value.
pub fn covering_set(dims: &[Dimension]) -> Vec<Combination> {
    let default = default_combination(dims);
    let mut todo: BTreeSet<Pair> = all_pairs(dims).into_iter().filter(|p| !default.covers(p)).collect();
    let mut set = vec![default];
    // Start from the dimensions with the most values: their pairs are the hardest to fit in.
    let mut order: Vec<usize> = (0..dims.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(dims[i].values.len()));
    while let Some(&seed) = todo.iter().next() {
        let mut chosen: Vec<Option<usize>> = vec![None; dims.len()];
        chosen[seed.first.0] = Some(seed.first.1);
        chosen[seed.second.0] = Some(seed.second.1);
        for &d in &order {
            if chosen[d].is_some() {
                continue;
            }
            let gain = |v: usize| {
                chosen
                    .iter()
                    .enumerate()
                    .filter_map(|(e, c)| c.map(|c| (e, c)))
                    .filter(|&(e, c)| {
                        let pair = if e < d {
                            Pair {
                                first: (e, c),
                                second: (d, v),
                            }
                        } else {
                            Pair {
                                first: (d, v),
                                second: (e, c),
                            }
                        };
                        todo.contains(&pair)
                    })
                    .count()
            };
            // max_by_key keeps the last maximum; iterate in reverse so ties go to the first value.
            let best = (0..dims[d].values.len()).rev().max_by_key(|&v| gain(v)).unwrap_or(0);
            chosen[d] = Some(best);
        }
        let combination = Combination(chosen.into_iter().map(|c| c.unwrap_or(0)).collect());
        todo.retain(|p| !combination.covers(p));
        set.push(combination);
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    fn describe_all(dims: &[Dimension], pairs: &[Pair]) -> Vec<String> {
        pairs.iter().map(|p| p.describe(dims)).collect()
    }

    #[test]
    fn the_covering_set_covers_every_pair_and_every_value() {
        let set = covering_set(OPTIONS);
        let missing = uncovered(OPTIONS, &set);
        assert!(
            missing.is_empty(),
            "pairs no combination covers: {:?}",
            describe_all(OPTIONS, &missing)
        );
        assert!(unused_values(OPTIONS, &set).is_empty());
        // Every pair, enumerated independently of `all_pairs`, is covered.
        for (i, a) in OPTIONS.iter().enumerate() {
            for (j, b) in OPTIONS.iter().enumerate().filter(|(j, _)| *j != i) {
                for va in 0..a.values.len() {
                    for vb in 0..b.values.len() {
                        assert!(
                            set.iter().any(|c| c.0[i] == va && c.0[j] == vb),
                            "{}={} with {}={} is not covered",
                            a.name,
                            a.values[va],
                            b.name,
                            b.values[vb]
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_covering_set_starts_with_the_default_and_has_no_duplicates() {
        let set = covering_set(OPTIONS);
        assert_eq!(set[0], default_combination(OPTIONS));
        assert_eq!(
            set[0].describe(OPTIONS),
            "transport=both state_store=redis pubsub=redis with_lock=true with_workflow=true"
        );
        let distinct: BTreeSet<_> = set.iter().collect();
        assert_eq!(distinct.len(), set.len(), "duplicate combinations in {set:?}");
        for c in &set {
            assert_eq!(c.0.len(), OPTIONS.len());
            for (d, &v) in OPTIONS.iter().zip(&c.0) {
                assert!(v < d.values.len(), "{c:?} has no value {v} for {}", d.name);
            }
        }
    }

    #[test]
    fn the_covering_set_is_much_smaller_than_every_combination() {
        let set = covering_set(OPTIONS);
        let every: usize = OPTIONS.iter().map(|d| d.values.len()).product();
        // 3 x 2 values need at least 6 combinations; the default may cost one more.
        assert!(
            (6..=8).contains(&set.len()),
            "{} combinations (of {every}): {set:?}",
            set.len()
        );
    }

    #[test]
    fn the_coverage_check_reports_missing_pairs() {
        // The default alone covers one pair of each of the 10 pairs of dimensions.
        let only_default = vec![default_combination(OPTIONS)];
        let missing = describe_all(OPTIONS, &uncovered(OPTIONS, &only_default));
        assert_eq!(missing.len(), all_pairs(OPTIONS).len() - 10);
        assert!(
            missing.contains(&"transport=http with_lock=false".to_owned()),
            "{missing:?}"
        );
        assert!(
            !missing.contains(&"transport=both with_lock=true".to_owned()),
            "{missing:?}"
        );
        assert!(!unused_values(OPTIONS, &only_default).is_empty());

        // Each combination the greedy algorithm adds covers a pair none before it did, so the
        // set minus its last combination must leave a gap.
        let mut set = covering_set(OPTIONS);
        set.pop();
        assert!(!uncovered(OPTIONS, &set).is_empty());
    }

    #[test]
    fn all_pairs_counts_every_pair_of_two_dimensions() {
        // 3*2*4 (transport with each of 4 two-valued options) + 6 pairs of two-valued options * 4.
        assert_eq!(all_pairs(OPTIONS).len(), 3 * 2 * 4 + 6 * 4);
    }

    #[test]
    fn the_generator_covers_other_shapes_too() {
        const DIMS: &[Dimension] = &[
            Dimension {
                name: "a",
                values: &["1", "2", "3", "4"],
                default: "2",
            },
            Dimension {
                name: "b",
                values: &["1", "2", "3"],
                default: "1",
            },
            Dimension {
                name: "c",
                values: &["x", "y"],
                default: "y",
            },
            Dimension {
                name: "d",
                values: &["only"],
                default: "only",
            },
        ];
        let set = covering_set(DIMS);
        assert!(uncovered(DIMS, &set).is_empty());
        assert_eq!(set[0], default_combination(DIMS));
        assert!(set.len() >= 12 && set.len() < 4 * 3 * 2, "{set:?}");
    }

    /// OPTIONS must say what `template/cargo-generate.toml` says: every placeholder with a fixed
    /// set of values, its values and its default.
    #[test]
    fn options_match_the_template_placeholders() {
        let path = crate::template_dir().join("cargo-generate.toml");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let config: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let placeholders = config["placeholders"].as_table().expect("[placeholders]");
        let mut seen = Vec::new();
        for (name, spec) in placeholders {
            let kind = spec["type"].as_str().expect("placeholder type");
            let (values, default): (Vec<String>, String) = match (kind, spec.get("choices")) {
                ("bool", _) => (
                    vec!["true".into(), "false".into()],
                    spec["default"].as_bool().expect("bool default").to_string(),
                ),
                ("string", Some(choices)) => (
                    choices
                        .as_array()
                        .expect("choices")
                        .iter()
                        .map(|c| c.as_str().expect("choice").to_owned())
                        .collect(),
                    spec["default"].as_str().expect("default").to_owned(),
                ),
                // Free text (the resource name): the matrix varies it by hand, bad_input.rs
                // checks what it refuses.
                _ => continue,
            };
            let dim = OPTIONS.iter().find(|d| d.name == name).unwrap_or_else(|| {
                panic!(
                    "placeholder {name} of cargo-generate.toml is missing from OPTIONS: add it so the matrix covers it"
                )
            });
            let mut ours: Vec<&str> = dim.values.to_vec();
            let mut theirs: Vec<&str> = values.iter().map(String::as_str).collect();
            ours.sort_unstable();
            theirs.sort_unstable();
            assert_eq!(ours, theirs, "values of {name}");
            assert_eq!(dim.default, default, "default of {name}");
            seen.push(name.clone());
        }
        for dim in OPTIONS {
            assert!(
                seen.contains(&dim.name.to_owned()),
                "OPTIONS has {} but the template does not",
                dim.name
            );
        }
    }
}
