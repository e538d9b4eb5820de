//! Paging through lists.

/// How many items a page holds when the caller does not say.
pub const DEFAULT_PAGE_SIZE: usize = 20;
/// The most items one page may hold.
pub const MAX_PAGE_SIZE: usize = 100;

/// A request for one page: at most `size` items, starting after the position `token` encodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Items per page, 1..=[`MAX_PAGE_SIZE`].
    pub size: usize,
    /// Where the previous page ended (opaque to callers), or `None` for the first page.
    pub token: Option<String>,
}

impl PageRequest {
    /// Validates the size (default [`DEFAULT_PAGE_SIZE`]).
    pub fn new(size: Option<usize>, token: Option<String>) -> Result<Self, String> {
        let size = size.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&size) {
            return Err(format!(
                "page size must be between 1 and {MAX_PAGE_SIZE}, got {size}"
            ));
        }
        Ok(Self { size, token })
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items, in creation order.
    pub items: Vec<T>,
    /// Token of the next page, `None` on the last one.
    pub next_token: Option<String>,
}
