//! [`Principal`]: who is calling, as a verified token says.

use crate::TenantId;
use serde::Serialize;

/// The caller, built only by the verifier from a token whose signature and claims it checked
/// (see [`crate::authenticate`]); code outside the crate can read one but never make one, so
/// holding a `Principal` proves a token was verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Principal {
    subject: Option<String>,
    tenant: Option<TenantId>,
    scopes: Vec<String>,
    attach: Vec<String>,
    expires_at: Option<i64>,
}

impl Principal {
    /// Only the verifier (and the crate's tests) make principals.
    pub(crate) fn new(
        subject: Option<String>,
        tenant: Option<TenantId>,
        scopes: Vec<String>,
        attach: Vec<String>,
        expires_at: Option<i64>,
    ) -> Self {
        Self {
            subject,
            tenant,
            scopes,
            attach,
            expires_at,
        }
    }

    /// The `sub` claim.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// The tenant the token is bound to (the configured tenant claim), if it names one.
    pub fn tenant(&self) -> Option<&TenantId> {
        self.tenant.as_ref()
    }

    /// Scopes and permissions (`scope`, space-separated, and `permissions`, an array).
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// Databases this token may attach in multi-database queries.
    pub fn attach(&self) -> &[String] {
        &self.attach
    }

    /// The `exp` claim, in seconds since the Unix epoch.
    pub fn expires_at(&self) -> Option<i64> {
        self.expires_at
    }

    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// A principal for tests: bound to `tenant`, with `scopes`.
    #[cfg(test)]
    pub(crate) fn for_test(tenant: Option<&str>, scopes: &[&str]) -> Self {
        Self::new(
            None,
            tenant.map(|t| t.parse().expect("a valid test tenant")),
            scopes.iter().map(|s| s.to_string()).collect(),
            Vec::new(),
            None,
        )
    }
}
