//! [`Run`]: one request's way through the pipeline, as a state machine that does no I/O.
//!
//! A run goes authenticate → resolve (with authorize right after) → look up. Each stage either
//! settles or needs one I/O request ([`Io`]); the run then waits for the reply to exactly that
//! request. A reply that does not fit — another ticket, another kind, a run already finished —
//! or one I/O request too many, fails the run closed with [`Fault`], never lets it through.

use super::io::{Io, Reply, Step, Ticket};
use super::{Pipeline, TenantContext};
use crate::authenticate::{bearer_token, FetchId, KeyRef, Progress, Verification};
use crate::authorize::Access;
use crate::error::Fault;
use crate::lookup::TenantStatus;
use crate::resolve::{Host, LookedUp, RequestParts, Resolution, Resolved};
use crate::{Error, Principal, TenantId, UnixTime};

/// The most I/O requests one run makes. A cold isolate with a JWKS URL, a caller-checked
/// signature, a custom-domain lookup and a tenant lookup needs five; a key rotated mid-run one
/// or two more.
pub const MAX_IO_PER_RUN: u8 = 8;

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Authenticate,
    Resolve,
    LookUp,
    Finished,
}

/// What the outstanding I/O request was for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Waiting {
    Keys(FetchId),
    Signature(KeyRef),
    Domain(Host),
    Tenant(TenantId),
}

impl Waiting {
    fn kind(&self) -> &'static str {
        match self {
            Self::Keys(_) => "jwks",
            Self::Signature(_) => "signature",
            Self::Domain(_) => "domain",
            Self::Tenant(_) => "tenant",
        }
    }
}

/// One request in the pipeline. Made by [`Pipeline::start`], moved on by [`Pipeline::resume`].
#[derive(Debug)]
pub struct Run {
    request: RequestParts,
    /// The bearer token, or why the `Authorization` header holds none.
    token: Option<Result<String, Error>>,
    phase: Phase,
    io_made: u8,
    next_ticket: u32,
    waiting: Option<(Ticket, Waiting)>,
    progress: Progress,
    principal: Option<Principal>,
    looked_up: Option<LookedUp>,
    authorized: Option<(Resolved, Access)>,
    notes: Vec<String>,
}

impl Run {
    pub(super) fn new(request: RequestParts, max_token_bytes: usize) -> Self {
        let token = match request.header("authorization") {
            Ok(None) => None,
            Ok(Some(value)) => Some(
                bearer_token(value, max_token_bytes)
                    .map(str::to_owned)
                    .map_err(Error::from),
            ),
            Err(error) => Some(Err(error)),
        };
        Self {
            request,
            token,
            phase: Phase::Authenticate,
            io_made: 0,
            next_ticket: 0,
            waiting: None,
            progress: Progress::default(),
            principal: None,
            looked_up: None,
            authorized: None,
            notes: Vec::new(),
        }
    }

    /// The request the run is for.
    pub fn request(&self) -> &RequestParts {
        &self.request
    }

    /// Whether the run has come to [`Step::Done`] or [`Step::Failed`].
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    /// What happened on the way that an operator should know (a JWKS that could not be
    /// installed, a fault), for the edge to log once; taking them empties the list.
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    fn fail(&mut self, error: Error) -> Step {
        if let Error::Fault(fault) = &error {
            self.notes
                .push(format!("edge-tenancy pipeline fault: {fault}"));
        }
        self.phase = Phase::Finished;
        self.waiting = None;
        Step::Failed(error)
    }

    fn ask(&mut self, waiting: Waiting, io: Io) -> Step {
        if self.io_made >= MAX_IO_PER_RUN {
            return self.fail(Error::Fault(Fault::TooManySteps));
        }
        self.io_made += 1;
        let ticket = Ticket::from_number(self.next_ticket);
        self.next_ticket += 1;
        self.waiting = Some((ticket, waiting));
        Step::Io(ticket, io)
    }
}

impl Pipeline {
    /// Starts `request` at `now`: its first step.
    pub fn start(&self, request: RequestParts, now: UnixTime) -> (Run, Step) {
        self.begin(request, now, None)
    }

    /// Starts `request` at `now` with the edge's verdict on its token's signature, reached with
    /// `key` before it was asked: a first sight of a public-key token then takes one step, not
    /// two, and the token is parsed once. The verdict stands for whatever key the verifier picks
    /// for the token only if that is `key` (same key set generation, same place); otherwise the
    /// run asks for the check as [`Pipeline::start`] would.
    pub fn start_with_verdict(
        &self,
        request: RequestParts,
        now: UnixTime,
        key: KeyRef,
        valid: bool,
    ) -> (Run, Step) {
        self.begin(request, now, Some((key, valid)))
    }

    /// A new run of `request`, with the edge's verdict if it gave one, and its first step.
    fn begin(
        &self,
        request: RequestParts,
        now: UnixTime,
        verdict: Option<(KeyRef, bool)>,
    ) -> (Run, Step) {
        let max_token_bytes = self
            .verifier
            .as_ref()
            .map_or(crate::authenticate::DEFAULT_MAX_TOKEN_BYTES, |v| {
                v.max_token_bytes()
            });
        let mut run = Run::new(request, max_token_bytes);
        run.progress.verdict = verdict;
        let step = self.advance(&mut run, now);
        (run, step)
    }

    /// Resumes `run` with the edge's `reply` to the request named `ticket`, at `now`: its next
    /// step. A reply that does not answer the run's outstanding request fails it closed.
    pub fn resume(&self, run: &mut Run, ticket: Ticket, reply: Reply, now: UnixTime) -> Step {
        if run.phase == Phase::Finished {
            return Step::Failed(Error::Fault(Fault::Finished));
        }
        let waiting = match run.waiting.take() {
            Some((expected, waiting)) if expected == ticket => waiting,
            _ => return run.fail(Error::Fault(Fault::StaleReply)),
        };
        match (waiting, reply) {
            (Waiting::Keys(fetch), Reply::Jwks(body)) => {
                self.keys_fetched(run, fetch, Ok(&body), now)
            }
            (Waiting::Keys(fetch), Reply::Unavailable(why)) => {
                self.keys_fetched(run, fetch, Err(&why), now)
            }
            (Waiting::Signature(key), Reply::Signature(valid)) => {
                run.progress.verdict = Some((key, valid));
            }
            (Waiting::Domain(host), Reply::Domain(tenant)) => run.looked_up = Some((host, tenant)),
            (Waiting::Tenant(_), Reply::Tenant(status)) => match status {
                TenantStatus::Ready => {
                    let Some((resolved, access)) = run.authorized.take() else {
                        return run.fail(Error::Fault(Fault::StaleReply));
                    };
                    return self.finish(run, resolved, access);
                }
                TenantStatus::NotFound => return run.fail(Error::TenantNotFound),
                TenantStatus::Unavailable { retry_after_secs } => {
                    return run.fail(Error::TenantUnavailable { retry_after_secs })
                }
            },
            (Waiting::Signature(_), Reply::Unavailable(why)) => {
                run.notes.push(format!(
                    "edge-tenancy: a signature could not be checked: {why}"
                ));
                return run.fail(Error::Fault(Fault::EdgeFailed("checkSignature")));
            }
            (Waiting::Domain(_) | Waiting::Tenant(_), Reply::Unavailable(why)) => {
                run.notes
                    .push(format!("edge-tenancy: a registry lookup failed: {why}"));
                return run.fail(Error::LookupUnavailable);
            }
            (waiting, reply) => {
                return run.fail(Error::Fault(Fault::UnexpectedReply {
                    expected: waiting.kind(),
                    got: reply.kind(),
                }))
            }
        }
        self.advance(run, now)
    }

    /// Moves `run` through its stages until it needs I/O or is finished.
    fn advance(&self, run: &mut Run, now: UnixTime) -> Step {
        loop {
            match run.phase {
                Phase::Authenticate => {
                    match self.authenticate(run, now) {
                        Ok(None) => run.phase = Phase::Resolve,
                        Ok(Some((waiting, io))) => return run.ask(waiting, io),
                        Err(error) => return run.fail(error),
                    };
                }
                Phase::Resolve => {
                    let resolution = self.resolver.resolve(
                        &run.request,
                        run.principal.as_ref(),
                        run.looked_up.as_ref(),
                    );
                    let resolved = match resolution {
                        Ok(Resolution::Resolved(resolved)) => resolved,
                        Ok(Resolution::LookUpDomain(host)) => {
                            let io = Io::LookUpDomain(host.clone());
                            return run.ask(Waiting::Domain(host), io);
                        }
                        Err(error) => return run.fail(error),
                    };
                    let access = self.rules.check(&resolved, run.principal.as_ref());
                    match access {
                        Ok(access) => run.authorized = Some((resolved, access)),
                        Err(error) => return run.fail(error),
                    }
                    run.phase = Phase::LookUp;
                }
                Phase::LookUp => {
                    let Some((resolved, access)) = run.authorized.take() else {
                        return run.fail(Error::Fault(Fault::StaleReply));
                    };
                    let control_plane = self.resolver.control_plane() == Some(&resolved.tenant);
                    if !self.resolver.looks_up_tenants() || control_plane {
                        return self.finish(run, resolved, access);
                    }
                    let tenant = resolved.tenant.clone();
                    run.authorized = Some((resolved, access));
                    return run.ask(Waiting::Tenant(tenant.clone()), Io::LookUpTenant(tenant));
                }
                Phase::Finished => return Step::Failed(Error::Fault(Fault::Finished)),
            }
        }
    }

    /// The authenticate stage: `Ok(None)` when it is settled (a principal or none), else the
    /// I/O it needs.
    fn authenticate(&self, run: &mut Run, now: UnixTime) -> Result<Option<(Waiting, Io)>, Error> {
        let token = match &run.token {
            None => return Ok(None),
            Some(Err(error)) => return Err(error.clone()),
            Some(Ok(token)) => token,
        };
        let verifier = self.verifier.as_ref().ok_or(Error::Unauthenticated(
            crate::authenticate::AuthError::UnknownKey,
        ))?;
        match verifier.verify(token, now, run.progress)? {
            Verification::Verified(principal) => {
                run.principal = Some(principal);
                Ok(None)
            }
            Verification::FetchKeys(fetch) => {
                Ok(Some((Waiting::Keys(fetch.id), Io::FetchJwks(fetch))))
            }
            Verification::CheckSignature(check) => Ok(Some((
                Waiting::Signature(check.key),
                Io::CheckSignature(check),
            ))),
        }
    }

    /// Takes a JWKS fetch's outcome; the run then verifies again with whatever keys there are.
    fn keys_fetched(&self, run: &mut Run, fetch: FetchId, body: Result<&str, &str>, now: UnixTime) {
        if let Some(verifier) = &self.verifier {
            if let Err(why) = verifier.install_jwks(fetch, body, now) {
                run.notes
                    .push(format!("edge-tenancy: JWKS keys kept as they were: {why}"));
            }
        }
        run.progress.waited_for_keys = true;
    }

    fn finish(&self, run: &mut Run, resolved: Resolved, access: Access) -> Step {
        run.phase = Phase::Finished;
        Step::Done(TenantContext::new(
            resolved.tenant,
            resolved.source,
            resolved.path,
            run.principal.take(),
            access,
        ))
    }
}
