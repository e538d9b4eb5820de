//! Failure injection for the order-saga example: ways to make the saga's services fail on purpose,
//! to watch retries, compensation and recovery after a crash happen for real.
//!
//! It is off unless the process was started with the [`FAILURE_INJECTION_VARIABLE`] environment
//! variable, which no configuration file or deployment manifest sets: production configuration
//! cannot turn it on by accident. Its value is a comma-separated list of directives:
//!
//! | directive | effect |
//! |---|---|
//! | `on` | enables the per-request `failures` (below) and nothing else |
//! | `decline_over=<cents>` | payment declines charges above this amount (402) |
//! | `crash_after=<operation>` | order aborts right after that operation succeeded |
//!
//! Per request, the saga input may carry `"failures": {"<operation>": N}`: the service receiving
//! that operation answers 503 to its first N attempts for that saga, then proceeds. The attempts
//! are counted in memory per `Idempotency-Key` ([`FailureInjection::admit`]), so a restart forgets
//! them. When injection is off, a request asking for failures is refused, never silently served.
//!
//! This module is pure: the app crate reads the variable at start-up and hands the value to
//! [`FailureInjection::from_variable`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

/// The environment variable that turns failure injection on. Deliberately outside the `APP__…`
/// configuration system, so no configuration file can set it.
pub const FAILURE_INJECTION_VARIABLE: &str = "ORDER_SAGA_FAILURE_INJECTION";

/// The operations of the order-saga example: the only names `crash_after` and `failures` accept,
/// so that a typo is refused instead of injecting nothing.
pub const OPERATIONS: [&str; 6] = [
    "reserve_stock",
    "release_stock",
    "charge_payment",
    "refund_payment",
    "confirm_order",
    "cancel_order",
];

/// Most failures one request may ask for, per operation: plenty to exhaust any retry policy.
pub const MAX_INJECTED_FAILURES: u32 = 100;

/// Most `Idempotency-Key`s whose attempts are counted at once; the oldest is forgotten beyond that,
/// so a long-running process cannot grow the counters without limit.
pub const MAX_COUNTED_KEYS: usize = 10_000;

/// What the directives asked for; `on` alone is the default value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailureInjectionSettings {
    /// `decline_over=<cents>`: payment declines charges above this amount.
    pub decline_over: Option<u64>,
    /// `crash_after=<operation>`: order aborts right after this operation succeeded; one of
    /// [`OPERATIONS`].
    pub crash_after: Option<&'static str>,
}

impl FailureInjectionSettings {
    /// Parses the directives of the variable's `value` (see the module documentation). Refuses
    /// anything it does not know, an empty value or directive, and a directive given twice.
    pub fn parse(value: &str) -> Result<Self, DirectiveError> {
        let refuse = |reason: String| DirectiveError {
            value: value.to_owned(),
            reason,
        };
        if value.trim().is_empty() {
            return Err(refuse(
                "it is empty; unset it to turn failure injection off, or set it to `on`".into(),
            ));
        }
        let mut settings = Self::default();
        let mut on = false;
        for directive in value.split(',').map(str::trim) {
            let (name, argument) = match directive.split_once('=') {
                Some((name, argument)) => (name.trim(), Some(argument.trim())),
                None => (directive, None),
            };
            let repeated = || refuse(format!("{name} is given twice"));
            match (name, argument) {
                ("", None) => return Err(refuse("a directive is empty".into())),
                ("on", None) if on => return Err(repeated()),
                ("on", None) => on = true,
                ("decline_over", Some(_)) if settings.decline_over.is_some() => {
                    return Err(repeated());
                }
                ("decline_over", Some(cents)) => {
                    let cents = cents.parse().map_err(|_| {
                        refuse(format!(
                            "decline_over needs an amount in cents (a whole number), not {cents:?}"
                        ))
                    })?;
                    settings.decline_over = Some(cents);
                }
                ("crash_after", Some(_)) if settings.crash_after.is_some() => {
                    return Err(repeated());
                }
                ("crash_after", Some(operation)) => {
                    let operation = known_operation(operation).ok_or_else(|| {
                        refuse(format!(
                            "crash_after needs one of {}, not {operation:?}",
                            OPERATIONS.join(", ")
                        ))
                    })?;
                    settings.crash_after = Some(operation);
                }
                _ => {
                    return Err(refuse(format!(
                        "{directive:?} is not a directive (known: on, decline_over=<cents>, \
                         crash_after=<operation>)"
                    )));
                }
            }
        }
        Ok(settings)
    }
}

/// The directives again, normalised, e.g. `on, decline_over=500` (for the start-up warning).
impl fmt::Display for FailureInjectionSettings {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("on")?;
        if let Some(cents) = self.decline_over {
            write!(formatter, ", decline_over={cents}")?;
        }
        if let Some(operation) = self.crash_after {
            write!(formatter, ", crash_after={operation}")?;
        }
        Ok(())
    }
}

/// The variable's value cannot be used; the service refuses to start rather than guess.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{FAILURE_INJECTION_VARIABLE}={value:?} is invalid: {reason}")]
pub struct DirectiveError {
    /// The value as given.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

/// The `failures` a request asks for: how many attempts of each operation must fail (503) before
/// one proceeds. Part of the saga input, so every operation of the saga receives all of them and
/// acts on its own entry only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestedFailures(pub BTreeMap<String, u32>);

/// Why [`FailureInjection::admit`] did not let a request proceed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InjectedFailure {
    /// The request asks for failures, and injection is off: refused (400), so that a test relying
    /// on failures never passes without them.
    #[error(
        "failure injection is off: \"failures\" needs the service started with \
         {FAILURE_INJECTION_VARIABLE}=on"
    )]
    Off,
    /// The `failures` asked for make no sense (unknown operation, too many); refused (422).
    #[error("{0}")]
    Invalid(String),
    /// This attempt is one of those asked to fail (503): the caller retries.
    #[error("injected failure {attempt} of {failures} for {operation}; retry")]
    Unavailable {
        /// The operation that fails.
        operation: String,
        /// Which attempt this is, from 1.
        attempt: u32,
        /// How many attempts fail in all.
        failures: u32,
    },
}

/// Failure injection as the process was started with: off, or on with its settings, plus the
/// attempt counters of the per-request `failures`. One instance per process, shared by every
/// request (it is cheap and synchronous: a mutex held for a map lookup).
#[derive(Debug, Default)]
pub struct FailureInjection {
    settings: Option<FailureInjectionSettings>,
    attempts: Mutex<AttemptCounter>,
}

impl FailureInjection {
    /// Off: no failure is injected, and requests asking for failures are refused.
    pub fn off() -> Self {
        Self::default()
    }

    /// On, with `settings`.
    pub fn on(settings: FailureInjectionSettings) -> Self {
        Self {
            settings: Some(settings),
            attempts: Mutex::default(),
        }
    }

    /// From the value of [`FAILURE_INJECTION_VARIABLE`]: off when it is not set, else on with the
    /// directives it lists.
    pub fn from_variable(value: Option<&str>) -> Result<Self, DirectiveError> {
        match value {
            None => Ok(Self::off()),
            Some(value) => FailureInjectionSettings::parse(value).map(Self::on),
        }
    }

    /// The settings if injection is on, `None` if it is off.
    pub fn settings(&self) -> Option<&FailureInjectionSettings> {
        self.settings.as_ref()
    }

    /// `decline_over=<cents>`, if set.
    pub fn decline_over(&self) -> Option<u64> {
        self.settings
            .as_ref()
            .and_then(|settings| settings.decline_over)
    }

    /// `crash_after=<operation>`, if set.
    pub fn crash_after(&self) -> Option<&'static str> {
        self.settings
            .as_ref()
            .and_then(|settings| settings.crash_after)
    }

    /// Decides whether an attempt of `operation`, under idempotency key `key`, proceeds. Without
    /// `failures` (or with none for this operation) it does; otherwise the first N attempts under
    /// `key` fail as [`InjectedFailure::Unavailable`], and the later ones proceed. Call it before
    /// the operation has any effect, and only once per attempt: each call counts one.
    pub fn admit(
        &self,
        key: &str,
        operation: &str,
        failures: Option<&RequestedFailures>,
    ) -> Result<(), InjectedFailure> {
        let Some(RequestedFailures(failures)) = failures else {
            return Ok(());
        };
        if self.settings.is_none() {
            return Err(InjectedFailure::Off);
        }
        check_requested(failures)?;
        let failing = failures.get(operation).copied().unwrap_or_default();
        if failing == 0 {
            return Ok(());
        }
        let attempt = self
            .attempts
            .lock()
            // The counters are consistent after any panic (each update is one map write).
            .unwrap_or_else(PoisonError::into_inner)
            .count(key);
        if attempt <= failing {
            return Err(InjectedFailure::Unavailable {
                operation: operation.to_owned(),
                attempt,
                failures: failing,
            });
        }
        Ok(())
    }
}

/// `operation` as its entry of [`OPERATIONS`], if it is one.
fn known_operation(operation: &str) -> Option<&'static str> {
    OPERATIONS.into_iter().find(|known| *known == operation)
}

/// Refuses `failures` naming an unknown operation or asking for too many attempts to fail.
fn check_requested(failures: &BTreeMap<String, u32>) -> Result<(), InjectedFailure> {
    for (operation, &count) in failures {
        if known_operation(operation).is_none() {
            return Err(InjectedFailure::Invalid(format!(
                "\"failures\" names {operation:?}, which is none of {}",
                OPERATIONS.join(", ")
            )));
        }
        if count > MAX_INJECTED_FAILURES {
            return Err(InjectedFailure::Invalid(format!(
                "\"failures\" asks {count} failures of {operation}, more than \
                 {MAX_INJECTED_FAILURES}"
            )));
        }
    }
    Ok(())
}

/// Attempts per key, forgetting the oldest key beyond its capacity.
#[derive(Debug)]
struct AttemptCounter {
    capacity: usize,
    counts: HashMap<String, u32>,
    /// Keys in the order they were first counted, oldest first.
    arrival: VecDeque<String>,
}

impl Default for AttemptCounter {
    fn default() -> Self {
        Self::with_capacity(MAX_COUNTED_KEYS)
    }
}

impl AttemptCounter {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity,
            counts: HashMap::new(),
            arrival: VecDeque::new(),
        }
    }

    /// Counts one more attempt under `key`; returns its number, from 1.
    fn count(&mut self, key: &str) -> u32 {
        if let Some(count) = self.counts.get_mut(key) {
            *count = count.saturating_add(1);
            return *count;
        }
        while self.arrival.len() >= self.capacity.max(1) {
            if let Some(oldest) = self.arrival.pop_front() {
                self.counts.remove(&oldest);
            }
        }
        self.arrival.push_back(key.to_owned());
        self.counts.insert(key.to_owned(), 1);
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failures(entries: &[(&str, u32)]) -> RequestedFailures {
        RequestedFailures(
            entries
                .iter()
                .map(|(operation, count)| ((*operation).to_owned(), *count))
                .collect(),
        )
    }

    #[test]
    fn directives_are_parsed() {
        assert_eq!(
            FailureInjectionSettings::parse("on").unwrap(),
            FailureInjectionSettings::default()
        );
        assert_eq!(
            FailureInjectionSettings::parse(" decline_over = 500 , crash_after=charge_payment,on")
                .unwrap(),
            FailureInjectionSettings {
                decline_over: Some(500),
                crash_after: Some("charge_payment"),
            }
        );
    }

    #[test]
    fn bad_directives_are_refused_with_the_reason() {
        for (value, reason) in [
            ("", "empty"),
            ("  ", "empty"),
            ("on,", "a directive is empty"),
            ("of", "\"of\" is not a directive"),
            ("ON", "is not a directive"),
            ("decline_over", "is not a directive"),
            ("decline_over=lots", "whole number"),
            ("decline_over=-1", "whole number"),
            (
                "crash_after=reserve",
                "crash_after needs one of reserve_stock",
            ),
            ("on,on", "on is given twice"),
            (
                "decline_over=1,decline_over=2",
                "decline_over is given twice",
            ),
        ] {
            let error = FailureInjectionSettings::parse(value).unwrap_err();
            let message = error.to_string();
            assert!(
                message.starts_with(FAILURE_INJECTION_VARIABLE) && message.contains(reason),
                "{value:?}: {message}"
            );
        }
    }

    #[test]
    fn settings_print_as_directives() {
        let settings = FailureInjectionSettings {
            decline_over: Some(500),
            crash_after: Some("confirm_order"),
        };
        assert_eq!(
            settings.to_string(),
            "on, decline_over=500, crash_after=confirm_order"
        );
        assert_eq!(
            FailureInjectionSettings::parse(&settings.to_string()),
            Ok(settings)
        );
    }

    #[test]
    fn an_unset_variable_is_off_and_a_set_one_on() {
        let off = FailureInjection::from_variable(None).unwrap();
        assert!(off.settings().is_none());
        let on = FailureInjection::from_variable(Some("decline_over=7,crash_after=cancel_order"))
            .unwrap();
        assert_eq!(on.decline_over(), Some(7));
        assert_eq!(on.crash_after(), Some("cancel_order"));
        assert!(FailureInjection::from_variable(Some("nope")).is_err());
    }

    #[test]
    fn off_refuses_requests_asking_for_failures_and_serves_the_others() {
        let off = FailureInjection::off();
        assert_eq!(
            off.admit("s:charge_payment", "charge_payment", None),
            Ok(())
        );
        let asked = failures(&[("charge_payment", 1)]);
        assert_eq!(
            off.admit("s:charge_payment", "charge_payment", Some(&asked)),
            Err(InjectedFailure::Off)
        );
        // Even failures for another operation: the saga sends the same input to every operation.
        assert_eq!(
            off.admit("s:reserve_stock", "reserve_stock", Some(&asked)),
            Err(InjectedFailure::Off)
        );
    }

    #[test]
    fn the_first_attempts_fail_then_the_operation_proceeds() {
        let on = FailureInjection::on(FailureInjectionSettings::default());
        let asked = failures(&[("charge_payment", 2)]);
        for attempt in 1..=2 {
            assert_eq!(
                on.admit("s-1:charge_payment", "charge_payment", Some(&asked)),
                Err(InjectedFailure::Unavailable {
                    operation: "charge_payment".into(),
                    attempt,
                    failures: 2
                })
            );
        }
        assert_eq!(
            on.admit("s-1:charge_payment", "charge_payment", Some(&asked)),
            Ok(())
        );
        assert_eq!(
            on.admit("s-1:charge_payment", "charge_payment", Some(&asked)),
            Ok(())
        );
        // Counted per key: another saga fails again; other operations are not affected.
        assert!(
            on.admit("s-2:charge_payment", "charge_payment", Some(&asked))
                .is_err()
        );
        assert_eq!(
            on.admit("s-1:reserve_stock", "reserve_stock", Some(&asked)),
            Ok(())
        );
        assert_eq!(
            on.admit("s-1:charge_payment", "charge_payment", None),
            Ok(())
        );
    }

    #[test]
    fn nonsensical_failures_are_invalid() {
        let on = FailureInjection::on(FailureInjectionSettings::default());
        for asked in [
            failures(&[("charge", 1)]),
            failures(&[("charge_payment", MAX_INJECTED_FAILURES + 1)]),
        ] {
            let refused = on.admit("s:charge_payment", "charge_payment", Some(&asked));
            assert!(
                matches!(refused, Err(InjectedFailure::Invalid(_))),
                "{refused:?}"
            );
        }
        let none = failures(&[("charge_payment", 0)]);
        assert_eq!(
            on.admit("s:charge_payment", "charge_payment", Some(&none)),
            Ok(())
        );
    }

    #[test]
    fn failures_read_from_json() {
        let asked: RequestedFailures =
            serde_json::from_str(r#"{"charge_payment": 2, "confirm_order": 1}"#).unwrap();
        assert_eq!(
            asked,
            failures(&[("charge_payment", 2), ("confirm_order", 1)])
        );
        assert!(serde_json::from_str::<RequestedFailures>(r#"{"charge_payment": -1}"#).is_err());
    }

    #[test]
    fn the_counter_forgets_the_oldest_key_beyond_its_capacity() {
        let mut counter = AttemptCounter::with_capacity(2);
        assert_eq!(counter.count("a"), 1);
        assert_eq!(counter.count("b"), 1);
        assert_eq!(counter.count("a"), 2);
        assert_eq!(counter.count("c"), 1);
        assert_eq!(counter.counts.len(), 2);
        // "a" came first, so it went first: counted afresh.
        assert_eq!(counter.count("a"), 1);
        assert_eq!(counter.count("c"), 2);
    }

    #[test]
    fn every_operation_is_snake_case_and_distinct() {
        let mut names = OPERATIONS.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), OPERATIONS.len());
        assert!(OPERATIONS.iter().all(|name| {
            name.bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte == b'_')
        }));
    }
}
