//! The values the pipeline and its edge exchange: [`Step`]s out, [`Reply`]s in.

use super::TenantContext;
use crate::authenticate::{JwksFetch, SignatureCheck};
use crate::lookup::TenantStatus;
use crate::resolve::Host;
use crate::{Error, TenantId};

/// Names one I/O request of one run; a reply must carry the ticket of the request it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ticket(u32);

impl Ticket {
    /// The ticket as a number (for a driver in JS).
    pub fn get(self) -> u32 {
        self.0
    }

    /// A ticket from its number. A made-up one answers nothing: the run fails closed.
    pub fn from_number(number: u32) -> Self {
        Self(number)
    }
}

/// The I/O a run needs before it can go on. The edge performs it and resumes the run with the
/// matching [`Reply`] (or [`Reply::Unavailable`] when it could not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Io {
    /// Fetch the JWKS at this URL; reply [`Reply::Jwks`] with the body. Requests that need keys
    /// while one fetch is in flight all get its [`FetchId`](crate::authenticate::FetchId): an
    /// edge may share one fetch among them.
    FetchJwks(JwksFetch),
    /// Check this public-key signature; reply [`Reply::Signature`].
    CheckSignature(SignatureCheck),
    /// Which tenant owns this custom domain? Reply [`Reply::Domain`].
    LookUpDomain(Host),
    /// Is this tenant registered and ready? Reply [`Reply::Tenant`].
    LookUpTenant(TenantId),
}

impl Io {
    /// The request's kind, for logs and fault messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::FetchJwks(_) => "fetchJwks",
            Self::CheckSignature(_) => "checkSignature",
            Self::LookUpDomain(_) => "lookUpDomain",
            Self::LookUpTenant(_) => "lookUpTenant",
        }
    }
}

/// The edge's answer to an [`Io`] request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The JWKS document fetched, as text.
    Jwks(String),
    /// Whether the signature holds.
    Signature(bool),
    /// The tenant that owns the domain, if any.
    Domain(Option<TenantId>),
    /// What the registry says of the tenant.
    Tenant(TenantStatus),
    /// The I/O could not be done (the reason is for logs): a failed fetch keeps the keys there
    /// were; a failed lookup or signature check fails the request with a 503.
    Unavailable(String),
}

impl Reply {
    /// The reply's kind, for fault messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Jwks(_) => "jwks",
            Self::Signature(_) => "signature",
            Self::Domain(_) => "domain",
            Self::Tenant(_) => "tenant",
            Self::Unavailable(_) => "unavailable",
        }
    }
}

/// Where a run stands after a step.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// The request passed: the handler gets this context.
    Done(TenantContext),
    /// The request fails with this error (its HTTP answer is [`Error::to_response`]).
    Failed(Error),
    /// The run needs this I/O first; resume it with the reply and this ticket.
    Io(Ticket, Io),
}
