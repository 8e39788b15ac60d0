//! Custom domains: a whole host that belongs to one tenant.
//!
//! Known from configuration (`domains`), or, with `lookup: true`, asked of the edge for hosts the
//! map does not hold (the pipeline's [`Io::LookUpDomain`](crate::pipeline::Io::LookUpDomain)
//! request: a registry, a KV namespace, a JS callback).

use super::Host;
use crate::TenantId;
use std::collections::BTreeMap;

/// The configured custom domains.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CustomDomains {
    map: BTreeMap<String, TenantId>,
    lookup: bool,
}

/// What the configuration says about a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DomainAnswer {
    /// The host belongs to this tenant.
    Tenant(TenantId),
    /// It belongs to no tenant.
    NoTenant,
    /// The map does not hold it and lookups are on: ask the edge.
    AskEdge,
}

impl CustomDomains {
    /// The map from parsed hosts (normalized already), and whether other hosts are looked up.
    pub fn new(domains: impl IntoIterator<Item = (Host, TenantId)>, lookup: bool) -> Self {
        // Inserted one by one (a later entry for a host wins): collecting into the map would link
        // a sort into the wasm for this.
        let mut map = BTreeMap::new();
        for (host, tenant) in domains {
            map.insert(host.as_str().to_owned(), tenant);
        }
        Self { map, lookup }
    }

    /// Whether hosts outside the map are asked of the edge.
    pub fn looks_up(&self) -> bool {
        self.lookup
    }

    /// The tenant that owns `host`, as far as configuration knows.
    pub fn tenant_for(&self, host: &Host) -> DomainAnswer {
        match self.map.get(host.as_str()) {
            Some(tenant) => DomainAnswer::Tenant(tenant.clone()),
            None if self.lookup => DomainAnswer::AskEdge,
            None => DomainAnswer::NoTenant,
        }
    }
}
