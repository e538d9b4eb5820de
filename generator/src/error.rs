//! The errors `daprgen` tells apart: bad input, which the user fixes by changing the command
//! (exit code 2), and everything else (exit code 1).

use std::fmt;

/// A value on the command line that cannot be used; the message names it and the fix.
#[derive(Debug)]
pub struct BadInput(pub String);

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// A [`BadInput`] error with `message`.
pub fn bad_input(message: impl Into<String>) -> anyhow::Error {
    BadInput(message.into()).into()
}

/// Whether `error` is, or was caused by, bad input.
pub fn is_bad_input(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| cause.is::<BadInput>())
}

/// `return Err(bad_input(format!(…)))`.
#[macro_export]
macro_rules! bail_input {
    ($($message:tt)+) => {
        return Err($crate::error::bad_input(format!($($message)+)))
    };
}
