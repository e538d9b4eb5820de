//! Reads failure injection (see `biz::failure_injection`) from its environment variable, once, at
//! start-up. The variable is read here and nowhere else, outside the `APP__…` configuration, so
//! that neither a configuration file nor a deployment manifest can turn failure injection on.

use std::env::{self, VarError};
use std::sync::Arc;

use anyhow::bail;
use biz::failure_injection::{FAILURE_INJECTION_VARIABLE, FailureInjection};

/// Failure injection as the environment asks: off when the variable is not set. Fails, so that the
/// service does not start, when its value cannot be used.
pub(crate) fn from_environment() -> anyhow::Result<FailureInjection> {
    let value = match env::var(FAILURE_INJECTION_VARIABLE) {
        Ok(value) => Some(value),
        Err(VarError::NotPresent) => None,
        Err(VarError::NotUnicode(_)) => bail!("{FAILURE_INJECTION_VARIABLE} is not valid UTF-8"),
    };
    Ok(FailureInjection::from_variable(value.as_deref())?)
}

/// [`from_environment`] for the HTTP handlers, with a warning when it is on: a service injecting
/// failures must never be mistaken for a healthy one.
pub(crate) fn at_start_up() -> anyhow::Result<Arc<FailureInjection>> {
    let injection = from_environment()?;
    if let Some(settings) = injection.settings() {
        tracing::warn!(
            variable = FAILURE_INJECTION_VARIABLE,
            directives = %settings,
            "failure injection is ON: this process fails on purpose; never run it like this in production"
        );
    }
    Ok(Arc::new(injection))
}
