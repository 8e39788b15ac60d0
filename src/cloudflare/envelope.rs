//! The envelope every Cloudflare answer comes in, and how an answer becomes a result or an
//! [`ApiError`].

use super::error::{
    ApiError, ApiMessage, CODE_DATABASE_LIMIT, CODE_DATABASE_NOT_FOUND, CODE_NAME_EXISTS,
    CODE_SCRIPT_NOT_FOUND,
};
use super::http::HttpResponse;
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// `result_info`: where a page sits in a paginated list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
pub struct ResultInfo {
    /// This page's number, from 1.
    #[serde(default)]
    pub page: u32,
    /// Items per page asked for.
    #[serde(default)]
    pub per_page: u32,
    /// Items on this page.
    #[serde(default)]
    pub count: u32,
    /// Items on all pages.
    #[serde(default)]
    pub total_count: u32,
}

#[derive(Deserialize)]
struct Envelope {
    success: bool,
    #[serde(default)]
    errors: Vec<ApiMessage>,
    #[serde(default)]
    result: serde_json::Value,
    #[serde(default)]
    result_info: Option<ResultInfo>,
}

/// What an answer means to the retry logic.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// `success: true` on a 2xx.
    Success {
        result: serde_json::Value,
        info: Option<ResultInfo>,
    },
    /// 429: refused before any work was done, so it can always be sent again later.
    RateLimited { retry_after: Option<u64> },
    /// The API failed: a 5xx, or `success: false` on a 2xx. The work may or may not have been done.
    ServerFault(ApiError),
    /// A definite answer that sending again won't change.
    Refused(ApiError),
}

/// Reads an answer: the envelope checked, errors typed by Cloudflare's codes, then by status.
pub(crate) fn read(response: &HttpResponse) -> Outcome {
    let status = response.status;
    if status == 429 {
        return Outcome::RateLimited {
            retry_after: response
                .header("retry-after")
                .and_then(|v| v.trim().parse().ok()),
        };
    }
    let envelope = serde_json::from_str::<Envelope>(&response.body).ok();
    let errors = match envelope {
        Some(e) if e.success && (200..300).contains(&status) => {
            return Outcome::Success {
                result: e.result,
                info: e.result_info,
            }
        }
        Some(e) => e.errors,
        None => Vec::new(),
    };
    let has = |code: u32| errors.iter().any(|e| e.code == code);
    if has(CODE_NAME_EXISTS) {
        return Outcome::Refused(ApiError::NameExists);
    }
    if has(CODE_DATABASE_LIMIT) {
        return Outcome::Refused(ApiError::DatabaseLimit);
    }
    let first = errors.first().map(|e| e.code);
    // "Gone" only in the API's own words: a 404 without them (a proxy's, a wrong base URL's) is
    // the path's trouble, and taking it for a deleted database would drop a registry row whose
    // database and data still exist.
    if let Some(code) = [CODE_DATABASE_NOT_FOUND, CODE_SCRIPT_NOT_FOUND]
        .into_iter()
        .find(|c| has(*c))
    {
        return Outcome::Refused(ApiError::NotFound { code });
    }
    if status == 404 {
        return Outcome::Refused(ApiError::Server { status, errors });
    }
    if status == 401 || status == 403 || errors.iter().any(|e| is_auth_code(e.code)) {
        return Outcome::Refused(ApiError::Unauthorized { code: first });
    }
    if status >= 500 || (200..300).contains(&status) {
        return Outcome::ServerFault(ApiError::Server { status, errors });
    }
    Outcome::Refused(ApiError::Rejected { status, errors })
}

/// Codes Cloudflare uses for a missing, malformed or insufficient credential.
fn is_auth_code(code: u32) -> bool {
    matches!(code, 7403 | 9103 | 9106 | 9109 | 10000 | 10001)
}

/// Turns a successful answer's `result` into `T`.
pub(crate) fn decode<T: DeserializeOwned>(result: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(result).map_err(|e| ApiError::Decode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![("retry-after".into(), "7".into())],
            body: body.into(),
        }
    }

    fn failure(code: u32) -> String {
        format!(
            r#"{{"success":false,"errors":[{{"code":{code},"message":"m"}}],"messages":[],"result":null}}"#
        )
    }

    #[test]
    fn success_needs_both_a_2xx_and_success_true() {
        let ok = r#"{"success":true,"errors":[],"messages":[],"result":{"a":1},"result_info":{"page":2,"per_page":10,"count":1,"total_count":11}}"#;
        match read(&answer(200, ok)) {
            Outcome::Success { result, info } => {
                assert_eq!(result["a"], 1);
                assert_eq!(info.unwrap().total_count, 11);
            }
            other => panic!("{other:?}"),
        }
        // success: false on a 200 is a failure, never a result.
        assert!(matches!(
            read(&answer(200, &failure(7500))),
            Outcome::ServerFault(ApiError::Server { status: 200, .. })
        ));
        // A 2xx that is not an envelope at all.
        assert!(matches!(
            read(&answer(200, "<html>")),
            Outcome::ServerFault(_)
        ));
    }

    #[test]
    fn errors_are_typed_by_code_then_status() {
        let cases: &[(u16, String, ApiError)] = &[
            (400, failure(7502), ApiError::NameExists),
            (400, failure(7406), ApiError::DatabaseLimit),
            (404, failure(7404), ApiError::NotFound { code: 7404 }),
            (404, failure(10007), ApiError::NotFound { code: 10007 }),
            // A 404 that is not the API's own "not found" (a proxy's page, a wrong base URL's
            // envelope) says nothing about the database.
            (
                404,
                "<html>Not Found</html>".into(),
                ApiError::Server {
                    status: 404,
                    errors: vec![],
                },
            ),
            (
                404,
                failure(7000),
                ApiError::Server {
                    status: 404,
                    errors: vec![ApiMessage {
                        code: 7000,
                        message: "m".into(),
                    }],
                },
            ),
            (
                403,
                failure(10000),
                ApiError::Unauthorized { code: Some(10000) },
            ),
            (
                400,
                failure(9106),
                ApiError::Unauthorized { code: Some(9106) },
            ),
            (
                403,
                failure(7403),
                ApiError::Unauthorized { code: Some(7403) },
            ),
        ];
        for (status, body, want) in cases {
            assert_eq!(read(&answer(*status, body)), Outcome::Refused(want.clone()));
        }
        match read(&answer(400, &failure(7500))) {
            Outcome::Refused(ApiError::Rejected {
                status: 400,
                errors,
            }) => {
                assert_eq!(errors[0].code, 7500)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rate_limits_and_server_faults() {
        assert_eq!(
            read(&answer(429, &failure(971))),
            Outcome::RateLimited {
                retry_after: Some(7)
            }
        );
        for status in [500, 502, 503] {
            assert!(matches!(
                read(&answer(status, "<html>Bad gateway</html>")),
                Outcome::ServerFault(ApiError::Server { errors, .. }) if errors.is_empty()
            ));
        }
    }
}
