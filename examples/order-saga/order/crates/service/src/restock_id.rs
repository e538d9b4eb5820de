//! Restock run ids as clients send them back. Checked at the edge so that an odd id is refused
//! as bad input instead of reaching the workflow engine, which reports it as a failure.

/// Longest accepted run id.
pub const MAX_RESTOCK_ID_LEN: usize = 128;

/// Accepts 1 to [`MAX_RESTOCK_ID_LEN`] ASCII letters, digits, `-` or `_`; otherwise says why not.
pub fn check_restock_id(text: &str) -> Result<(), String> {
    let valid = !text.is_empty()
        && text.len() <= MAX_RESTOCK_ID_LEN
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{text:?} is not a restock id (1 to {MAX_RESTOCK_ID_LEN} letters, digits, '-' or '_')"
        ))
    }
}
