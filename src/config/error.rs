//! [`ConfigError`]: a setting that cannot work, found when the pipeline is built.

use std::fmt;

/// A bad setting, named by its path where it has one (`authenticate.audience`). Found once, at
/// start-up, never on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid edge-tenancy configuration: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}
