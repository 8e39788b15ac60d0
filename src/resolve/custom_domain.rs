//! Custom domains: a whole host that belongs to one tenant.

use super::Host;
use crate::{Error, TenantId};
use std::collections::BTreeMap;

/// Answers "which tenant owns this host?". The control-plane registry will answer it from D1;
/// [`StaticDomains`] answers from configuration.
#[allow(async_fn_in_trait)]
pub trait CustomDomains {
    /// The tenant that owns `host`, if any.
    async fn tenant_for(&self, host: &Host) -> Result<Option<TenantId>, Error>;
}

/// A fixed map of normalized hosts to tenants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaticDomains(BTreeMap<String, TenantId>);

impl StaticDomains {
    /// The map from parsed hosts, which are normalized already.
    pub fn new(domains: impl IntoIterator<Item = (Host, TenantId)>) -> Self {
        Self(
            domains
                .into_iter()
                .map(|(h, t)| (h.as_str().to_owned(), t))
                .collect(),
        )
    }
}

impl CustomDomains for StaticDomains {
    async fn tenant_for(&self, host: &Host) -> Result<Option<TenantId>, Error> {
        Ok(self.0.get(host.as_str()).cloned())
    }
}
