//! [`Principal`]: who is calling, as a verified token says.

use crate::TenantId;
use serde::Serialize;

/// The caller, built only from a token whose signature and claims were verified
/// (see [`crate::authenticate`]). Nothing here comes from an unverified source.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Principal {
    /// The `sub` claim.
    pub subject: Option<String>,
    /// The tenant the token is bound to (the configured tenant claim), if it names one.
    pub tenant: Option<TenantId>,
    /// Scopes and permissions (`scope`, space-separated, and `permissions`, an array).
    pub scopes: Vec<String>,
    /// Databases this token may attach in multi-database queries.
    pub attach: Vec<String>,
    /// The `exp` claim, in seconds since the Unix epoch.
    pub expires_at: Option<i64>,
}

impl Principal {
    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}
