//! [`TenancyConfig`]: the whole pipeline's settings in one plain, serializable object, read
//! strictly ([`TenancyConfig::from_json`]) and checked once ([`TenancyConfig::build`]).

use super::Pipeline;
use crate::authenticate::AuthConfig;
use crate::authorize::{AccessConfig, AccessRules};
use crate::config::{self, ConfigError};
use crate::resolve::{ResolveConfig, Resolver};
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
    /// Reads the configuration from JSON text (such as a `TENANCY_CONFIG` var). An unknown
    /// setting at any depth is an error naming its path:
    /// `authenticate.audiance: unknown setting; did you mean audience? (known: keys, …)`.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let value =
            serde_json::from_str(text).map_err(|e| ConfigError(format!("not JSON ({e})")))?;
        Self::from_value(value)
    }

    /// As [`TenancyConfig::from_json`], from a parsed JSON value (the npm package's object).
    pub fn from_value(value: serde_json::Value) -> Result<Self, ConfigError> {
        config::from_value(value)
    }

    /// Checks every setting and builds the pipeline; a bad setting is an error here, once.
    pub fn build(self) -> Result<Pipeline, ConfigError> {
        let resolver = Resolver::new(self.resolve)?;
        let verifier = self.authenticate.map(AuthConfig::build).transpose()?;
        let rules = AccessRules::new(self.access, resolver.control_plane().cloned())?;
        Ok(Pipeline::new(resolver, verifier, rules))
    }

    /// [`TenancyConfig::from_json`] then [`TenancyConfig::build`].
    pub fn pipeline_from_json(text: &str) -> Result<Pipeline, ConfigError> {
        Self::from_json(text)?.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(json: &str) -> String {
        TenancyConfig::from_json(json).unwrap_err().0
    }

    #[test]
    fn unknown_settings_are_named_with_their_path() {
        const A: &str = "(known: keys, jwksUrl, jwksRefresh, secrets, issuer, audience, leewaySecs, requireExp, tenantClaim, attachClaim, maxTokenBytes, cacheTokens)";
        let base = r#"{"type":"subdomain","baseDomains":["example.com"]}"#;
        let cases = [
            (
                format!(r#"{{"resolve":{{"strategies":[{base}]}},"authenticate":{{"secrets":[],"audiance":"x"}}}}"#),
                "authenticate.audiance: unknown setting; did you mean audience? (known: keys, jwksUrl, jwksRefresh, secrets, issuer, audience, leewaySecs, requireExp, tenantClaim, attachClaim, maxTokenBytes, cacheTokens)",
            ),
            (
                format!(r#"{{"resolve":{{"strategies":[{base}]}},"authenticate":{{"iss":"x"}}}}"#),
                "authenticate.iss: unknown setting; did you mean issuer? (known: keys, jwksUrl, jwksRefresh, secrets, issuer, audience, leewaySecs, requireExp, tenantClaim, attachClaim, maxTokenBytes, cacheTokens)",
            ),
            (
                r#"{"resolve":{"strategies":[{"type":"subdomain","baseDomain":"example.com"}]}}"#.to_owned(),
                "resolve.strategies[0].baseDomain: unknown setting; did you mean baseDomains? (known: baseDomains, reserved, replaceReserved, nested)",
            ),
            (
                format!(r#"{{"resolve":{{"strategies":[{base}]}},"auth":{{}}}}"#),
                "auth: unknown setting; did you mean authenticate? (known: resolve, authenticate, access)",
            ),
            (
                r#"{"resolve":{"strategies":[{"type":"subdomian","baseDomains":["example.com"]}]}}"#.to_owned(),
                r#"resolve.strategies[0].type: unknown value "subdomian"; did you mean subdomain? (known: subdomain, customDomain, header, pathPrefix, jwtClaim, query)"#,
            ),
            (
                format!(r#"{{"resolve":{{"strategies":[{base}]}},"authenticate":{{"secrets":[{{"secret":"x","alg":"HS256","kId":"a"}}]}}}}"#),
                "authenticate.secrets[0].kId: unknown setting; did you mean kid? (known: secret, alg, kid)",
            ),
        ];
        for (json, want) in cases {
            assert_eq!(error(&json), want, "{json}");
        }
        // Nothing close: every known setting, and no guess.
        let far = format!(
            r#"{{"resolve":{{"strategies":[{base}]}},"authenticate":{{"maxTokenSize":1}}}}"#
        );
        assert_eq!(
            error(&far),
            format!("authenticate.maxTokenSize: unknown setting {A}")
        );
    }
}
