//! [`TenancyConfig`]: the whole pipeline's settings in one plain, serializable object.

use crate::authenticate::{AuthConfig, Verifier};
use crate::authorize::{AccessConfig, AccessRules};
use crate::pipeline::Pipeline;
use crate::resolve::{ConfigError, ResolveConfig, Resolver};
use serde::Deserialize;

/// Resolve, authenticate and access settings, as a Rust worker or the npm package gives them.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenancyConfig {
    /// How tenants are found.
    pub resolve: ResolveConfig,
    /// How tokens are verified; without it every token is refused.
    #[serde(default)]
    pub authenticate: Option<AuthConfig>,
    /// Who may do what.
    #[serde(default)]
    pub access: AccessConfig,
}

impl TenancyConfig {
    /// Checks every setting and builds the pipeline; a bad setting is an error here, once.
    pub fn build(self) -> Result<Pipeline<Verifier>, ConfigError> {
        let resolver = Resolver::new(self.resolve)?;
        let verifier = self.authenticate.map(AuthConfig::build).transpose()?;
        let rules = AccessRules::new(self.access, resolver.control_plane().cloned())?;
        Ok(Pipeline::new(resolver, verifier, rules))
    }
}
