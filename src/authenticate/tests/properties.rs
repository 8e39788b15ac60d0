//! Property tests: arbitrary input never verifies and never panics.

use super::*;
use proptest::prelude::*;

/// Runs `f` with one verifier per test thread, so cases do not rebuild the key set.
fn with_verifier<R>(f: impl FnOnce(&Verifier) -> R) -> R {
    thread_local! {
        static VERIFIER: Verifier = verifier(signers());
    }
    VERIFIER.with(f)
}

/// Runs `f` with one pipeline per test thread around the same keys.
fn with_pipeline<R>(f: impl FnOnce(&crate::pipeline::Pipeline) -> R) -> R {
    thread_local! {
        static PIPELINE: crate::pipeline::Pipeline = {
            let resolver = crate::resolve::Resolver::new(
                serde_json::from_str(r#"{"strategies":[{"type":"jwtClaim"}],"controlPlaneTenant":"main"}"#).unwrap(),
            ).unwrap();
            let rules = crate::authorize::AccessRules::new(Default::default(), None).unwrap();
            crate::pipeline::Pipeline::new(resolver, Some(verifier(signers())), rules)
        };
    }
    PIPELINE.with(f)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Arbitrary text never verifies and never panics.
    #[test]
    fn arbitrary_text_is_refused(token in "\\PC{0,200}") {
        prop_assert!(with_verifier(|v| v.verify_now(&token, NOW)).is_err());
    }

    /// Arbitrary base64url parts in JWS shape never verify and never panic.
    #[test]
    fn arbitrary_parts_are_refused(h in proptest::collection::vec(any::<u8>(), 0..64),
                                   p in proptest::collection::vec(any::<u8>(), 0..64),
                                   sig in proptest::collection::vec(any::<u8>(), 0..80)) {
        let token = format!("{}.{}.{}", b64(&h), b64(&p), b64(&sig));
        prop_assert!(with_verifier(|v| v.verify_now(&token, NOW)).is_err());
    }

    /// A real token with one byte changed anywhere never verifies.
    #[test]
    fn any_changed_byte_is_refused(index in any::<prop::sample::Index>(),
                                   replacement in "[A-Za-z0-9_.=-]") {
        let token = sign(&Ed25519, &signers().eddsa, Some("ed"), claims());
        let at = index.index(token.len());
        prop_assume!(token[at..=at] != replacement);
        let changed = format!("{}{replacement}{}", &token[..at], &token[at + 1..]);
        prop_assert!(with_verifier(|v| v.verify_now(&changed, NOW)).is_err(), "{}", at);
    }

    /// Arbitrary `Authorization` values through the pipeline's entry point never panic and
    /// never authenticate.
    #[test]
    fn arbitrary_headers_are_refused(header in "(?i:bearer )?[A-Za-z0-9_.=, -]{0,200}|\\PC{0,200}") {
        let step = with_pipeline(|p| {
            let request = crate::resolve::RequestParts::new("https://x/", [("authorization", header.as_str())]);
            p.start(request, crate::UnixTime::from_secs(NOW)).1
        });
        prop_assert!(
            matches!(step, crate::pipeline::Step::Failed(crate::Error::Unauthenticated(_))),
            "{step:?}"
        );
    }
}
