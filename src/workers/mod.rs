//! The edges for Rust workers on the [`worker`] crate.
//!
//! - [`d1`]: a D1 binding as the library's [`SqlDatabase`](crate::sql::SqlDatabase).
//! - [`response`]: an [`Error`](crate::Error) as a `worker::Response`.

pub mod d1;
pub mod response;

pub use d1::D1;
pub use response::error_response;
