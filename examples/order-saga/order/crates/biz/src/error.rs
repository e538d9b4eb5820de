//! Errors the ports report. Adapters map their technology's failures onto these, so use cases
//! decide on meaning (not found, conflict) and never on status codes.

/// A port's failure.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// The record does not exist.
    #[error("not found")]
    NotFound,
    /// The record changed since it was read: the ETag given is stale.
    #[error("the record was changed concurrently")]
    Conflict,
    /// A record with this key already exists (a first-write insert lost).
    #[error("already exists")]
    AlreadyExists,
    /// A page token this store did not issue: the caller's mistake, not a storage failure.
    #[error("invalid page token: {0}")]
    InvalidPageToken(String),
    /// Stored data that cannot be read back: a bug or a foreign writer, not a retryable fault.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// Anything else: the sidecar or the store is unreachable or failing. Worth retrying later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}
