//! The idempotency key a saga sends with each of its operations: `<saga id>:<operation>`, e.g.
//! `0b7c…:reserve_stock`. The same on every retry of one operation of one saga, different for every
//! other, so a service receiving an operation can take effect once per key, and keep its record of
//! it under the saga id.

use std::fmt;

/// Longest saga id accepted (sagas are started with UUIDs).
pub const MAX_SAGA_ID_LEN: usize = 128;

/// A checked `<saga id>:<operation>` key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OperationKey {
    key: String,
    /// Where the `:` separating the saga id from the operation is.
    colon: usize,
}

/// Why a key is not the key of the operation expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Idempotency-Key {key:?} {reason}")]
pub struct OperationKeyError {
    /// The key as given.
    pub key: String,
    /// What is wrong with it.
    pub reason: String,
}

impl OperationKey {
    /// Checks that `text` is `<saga id>:<operation>` for this `operation`: the saga id (before the
    /// last `:`) is 1 to [`MAX_SAGA_ID_LEN`] ASCII letters, digits, `-` or `_`; the part after it
    /// is `operation`, so a key meant for another operation cannot reuse this one's records.
    pub fn parse(text: &str, operation: &str) -> Result<Self, OperationKeyError> {
        let refuse = |reason: String| OperationKeyError {
            key: text.to_owned(),
            reason,
        };
        let Some(colon) = text.rfind(':') else {
            return Err(refuse(format!("is not <saga id>:{operation}")));
        };
        let (saga_id, named) = (&text[..colon], &text[colon + 1..]);
        let valid_saga_id = !saga_id.is_empty()
            && saga_id.len() <= MAX_SAGA_ID_LEN
            && saga_id
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
        if !valid_saga_id {
            return Err(refuse(format!(
                "does not start with a saga id (1 to {MAX_SAGA_ID_LEN} letters, digits, '-' or '_')"
            )));
        }
        if named != operation {
            return Err(refuse(format!(
                "names operation {named:?}, but this is {operation}"
            )));
        }
        Ok(Self {
            key: text.to_owned(),
            colon,
        })
    }

    /// The whole key.
    pub fn as_str(&self) -> &str {
        &self.key
    }

    /// The saga id, before the last `:`.
    pub fn saga_id(&self) -> &str {
        &self.key[..self.colon]
    }

    /// The operation, after the last `:`.
    pub fn operation(&self) -> &str {
        &self.key[self.colon + 1..]
    }
}

impl fmt::Display for OperationKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_splits_into_saga_id_and_operation() {
        let key = OperationKey::parse("0b7c1c52-5b1e_4c3a:reserve_stock", "reserve_stock").unwrap();
        assert_eq!(key.saga_id(), "0b7c1c52-5b1e_4c3a");
        assert_eq!(key.operation(), "reserve_stock");
        assert_eq!(key.as_str(), "0b7c1c52-5b1e_4c3a:reserve_stock");
        assert_eq!(key.to_string(), key.as_str());
    }

    #[test]
    fn a_key_for_another_operation_or_without_saga_id_is_refused() {
        for (text, reason) in [
            ("reserve_stock", "is not <saga id>:reserve_stock"),
            (":reserve_stock", "saga id"),
            ("a b:reserve_stock", "saga id"),
            ("a:b:reserve_stock", "saga id"),
            ("saga-1:release_stock", "names operation \"release_stock\""),
            ("saga-1:", "names operation \"\""),
        ] {
            let error = OperationKey::parse(text, "reserve_stock").unwrap_err();
            assert!(error.to_string().contains(reason), "{text:?}: {error}");
        }
        let longest = format!("{}:reserve_stock", "x".repeat(MAX_SAGA_ID_LEN));
        assert!(OperationKey::parse(&longest, "reserve_stock").is_ok());
        let too_long = format!("{}:reserve_stock", "x".repeat(MAX_SAGA_ID_LEN + 1));
        assert!(OperationKey::parse(&too_long, "reserve_stock").is_err());
    }
}
