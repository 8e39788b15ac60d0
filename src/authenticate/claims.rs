//! From verified claims to a [`Principal`]: time, issuer and audience checks, then the mapping.

use super::token::CustomClaims;
use super::AuthError;
use crate::{Principal, TenantId};
use jwt_compact::Claims;
use serde_json::Value;

/// Where a claim sits in the claims object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPath(Vec<String>);

impl ClaimPath {
    /// One top-level claim named `name`, taken whole: `https://example.com/tenant` or
    /// `tenant.id` are single keys here, dots and all.
    pub fn key(name: &str) -> Self {
        Self(vec![name.to_owned()])
    }

    /// A path as written in configuration: `org_name`; a namespaced URL claim
    /// (`https://example.com/tenant`, taken whole as with [`ClaimPath::key`], since URLs have
    /// dots); or else a dotted path into nested objects (`org.id`).
    pub fn parse(path: &str) -> Self {
        if path.contains("://") {
            Self::key(path)
        } else {
            Self(path.split('.').map(str::to_owned).collect())
        }
    }

    fn get<'c>(&self, claims: &'c CustomClaims) -> Option<&'c Value> {
        let (first, rest) = self.0.split_first()?;
        rest.iter()
            .try_fold(claims.get(first)?, |value, key| value.get(key))
    }
}

/// What a token's claims must satisfy, and where the principal's parts are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRules {
    /// Required `iss`.
    pub issuer: Option<String>,
    /// Required member of `aud`.
    pub audience: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    pub leeway_secs: i64,
    /// Refuse tokens without `exp`.
    pub require_exp: bool,
    /// The claim naming the caller's tenant.
    pub tenant_claim: ClaimPath,
    /// The claim listing databases the caller may attach.
    pub attach_claim: ClaimPath,
}

impl Default for ClaimRules {
    fn default() -> Self {
        Self {
            issuer: None,
            audience: None,
            leeway_secs: 60,
            require_exp: true,
            tenant_claim: ClaimPath::key("tenant"),
            attach_claim: ClaimPath::key("attach"),
        }
    }
}

impl ClaimRules {
    /// Checks `exp` and `nbf` (seconds since the epoch) against `now`, with the leeway.
    pub(super) fn check_time(
        &self,
        exp: Option<i64>,
        nbf: Option<i64>,
        now: i64,
    ) -> Result<(), AuthError> {
        match exp {
            Some(exp) if now >= exp.saturating_add(self.leeway_secs) => {
                return Err(AuthError::Expired)
            }
            None if self.require_exp => return Err(AuthError::MissingClaim("exp")),
            _ => {}
        }
        match nbf {
            Some(nbf) if now < nbf.saturating_sub(self.leeway_secs) => Err(AuthError::NotYetValid),
            _ => Ok(()),
        }
    }

    /// Checks `claims` at `now` (seconds since the epoch) and maps them to a principal.
    pub(super) fn principal(
        &self,
        claims: &Claims<CustomClaims>,
        now: i64,
    ) -> Result<Principal, AuthError> {
        let exp = claims.expiration.map(|t| t.timestamp());
        self.check_time(exp, claims.not_before.map(|t| t.timestamp()), now)?;
        let custom = &claims.custom;
        if let Some(issuer) = &self.issuer {
            match custom.get("iss") {
                None => return Err(AuthError::MissingClaim("iss")),
                Some(Value::String(iss)) if iss == issuer => {}
                Some(Value::String(_)) => return Err(AuthError::WrongIssuer),
                Some(_) => return Err(AuthError::InvalidClaim("iss")),
            }
        }
        if let Some(audience) = &self.audience {
            let matches = match custom.get("aud") {
                None => return Err(AuthError::MissingClaim("aud")),
                Some(Value::String(aud)) => aud == audience,
                auds => strings(auds, "aud")?.contains(audience),
            };
            if !matches {
                return Err(AuthError::WrongAudience);
            }
        }
        let tenant = match self.tenant_claim.get(custom) {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => {
                Some(TenantId::parse(t).map_err(|_| AuthError::InvalidClaim("tenant"))?)
            }
            Some(_) => return Err(AuthError::InvalidClaim("tenant")),
        };
        let mut scopes = match custom.get("scope") {
            None => Vec::new(),
            Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
            Some(_) => return Err(AuthError::InvalidClaim("scope")),
        };
        scopes.extend(strings(custom.get("permissions"), "permissions")?);
        let subject = match custom.get("sub") {
            None => None,
            Some(Value::String(sub)) => Some(sub.clone()),
            Some(_) => return Err(AuthError::InvalidClaim("sub")),
        };
        let attach = strings(self.attach_claim.get(custom), "attach")?;
        Ok(Principal::new(subject, tenant, scopes, attach, exp))
    }
}

/// An optional array of strings.
fn strings(value: Option<&Value>, claim: &'static str) -> Result<Vec<String>, AuthError> {
    match value {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or(AuthError::InvalidClaim(claim))
            })
            .collect(),
        Some(_) => Err(AuthError::InvalidClaim(claim)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claim_paths_name_keys_urls_and_nested_objects() {
        let Value::Object(claims) = json!({
            "org_name": "acme",
            "org": { "id": "beta" },
            "https://example.com/tenant": "gamma",
            "tenant.id": "delta"
        }) else {
            unreachable!()
        };
        let get = |path: ClaimPath| path.get(&claims).cloned();
        let cases = [
            (ClaimPath::parse("org_name"), Some(json!("acme"))),
            (ClaimPath::parse("org.id"), Some(json!("beta"))),
            (ClaimPath::parse("org"), Some(json!({ "id": "beta" }))),
            (
                ClaimPath::parse("https://example.com/tenant"),
                Some(json!("gamma")),
            ),
            (
                ClaimPath::key("https://example.com/tenant"),
                Some(json!("gamma")),
            ),
            (ClaimPath::key("tenant.id"), Some(json!("delta"))),
            (ClaimPath::parse("tenant.id"), None),
            (ClaimPath::key("org.id"), None),
            (ClaimPath::parse("org.missing"), None),
            (ClaimPath::parse("org_name.deeper"), None),
            (ClaimPath::parse(""), None),
            (ClaimPath::parse("org..id"), None),
        ];
        for (path, want) in cases {
            assert_eq!(get(path.clone()), want, "{path:?}");
        }
    }
}
