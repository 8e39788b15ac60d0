//! Stage 2, authenticate: who is calling, from a verified bearer token.

mod error;

pub use error::AuthError;
