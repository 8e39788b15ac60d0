//! Stage 1, resolve: which tenant a request is for.

mod host;

pub use host::{Host, HostError, MAX_HOST_LEN};
