//! `bump-unet`: see the crate description. Filled in by its own issue.

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input argument was invalid.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

pub mod ops;
