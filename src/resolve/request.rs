//! [`RequestParts`]: the little of a request the pipeline reads, as plain strings.
//!
//! Built from a URL and the headers (by the workers edge, the npm binding or a test), so the
//! pipeline never touches a runtime `Request`.

use crate::Error;

/// A request as the pipeline sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestParts {
    authority: String,
    path: String,
    query: Option<String>,
    /// Lower-cased header names with their values, duplicates kept so they can be refused.
    headers: Vec<(String, String)>,
}

impl RequestParts {
    /// The parts of an absolute URL (`https://acme.example.com/t/x?y=1`) and its headers.
    /// A URL without `scheme://` is taken as a path.
    pub fn new<N, V>(url: &str, headers: impl IntoIterator<Item = (N, V)>) -> Self
    where
        N: AsRef<str>,
        V: Into<String>,
    {
        let (authority, rest) = match url.split_once("://") {
            Some((_, after)) => after.split_at(after.find(['/', '?', '#']).unwrap_or(after.len())),
            None => ("", url),
        };
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query.to_owned())),
            None => (rest, None),
        };
        Self {
            authority: authority.to_owned(),
            path: if path.is_empty() { "/" } else { path }.to_owned(),
            query,
            headers: headers
                .into_iter()
                .map(|(n, v)| (n.as_ref().to_ascii_lowercase(), v.into()))
                .collect(),
        }
    }

    /// The URL's authority (host and port), as sent.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The path, still percent-encoded.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query string without `?`.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// The one value of header `name` (any case), if present. A header sent twice is refused:
    /// two `Host` or two tenant headers are how a request smuggles a second tenant past a proxy.
    pub fn header(&self, name: &str) -> Result<Option<&str>, Error> {
        let values = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str());
        single(values, "a header the request was routed by came twice")
    }

    /// The one value of query parameter `name`, undecoded (tenant ids need no decoding, so an
    /// encoded one is simply invalid). A parameter given twice is refused.
    pub fn query_param(&self, name: &str) -> Result<Option<&str>, Error> {
        let values = self
            .query
            .as_deref()
            .unwrap_or_default()
            .split('&')
            .filter_map(|pair| match pair.split_once('=') {
                Some((k, v)) if k == name => Some(v),
                None if pair == name => Some(""),
                _ => None,
            });
        single(
            values,
            "a query parameter the request was routed by came twice",
        )
    }
}

/// The one value of `values`, if any; a second is an error.
fn single<'a>(
    mut values: impl Iterator<Item = &'a str>,
    twice: &'static str,
) -> Result<Option<&'a str>, Error> {
    let first = values.next();
    match values.next() {
        Some(_) => Err(Error::InvalidHeader(twice)),
        None => Ok(first),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_urls() {
        let none: [(&str, &str); 0] = [];
        let cases = [
            (
                "https://acme.example.com/t/x?y=1#f",
                "acme.example.com",
                "/t/x",
                Some("y=1"),
            ),
            ("http://127.0.0.1:8787", "127.0.0.1:8787", "/", None),
            ("http://h?q", "h", "/", Some("q")),
            ("/only/path", "", "/only/path", None),
            ("https://[::1]:8787/p", "[::1]:8787", "/p", None),
        ];
        for (url, authority, path, query) in cases {
            let parts = RequestParts::new(url, none);
            assert_eq!(
                (parts.authority(), parts.path(), parts.query()),
                (authority, path, query),
                "{url}"
            );
        }
    }

    #[test]
    fn duplicate_headers_and_params_are_refused() {
        let parts = RequestParts::new(
            "https://h/?tenant=a&tenant=b&one=1&flag",
            [("X-Tenant", "a"), ("x-tenant", "b"), ("Host", "h")],
        );
        assert!(matches!(
            parts.header("x-tenant"),
            Err(Error::InvalidHeader(_))
        ));
        assert_eq!(parts.header("HOST").unwrap(), Some("h"));
        assert_eq!(parts.header("absent").unwrap(), None);
        assert!(matches!(
            parts.query_param("tenant"),
            Err(Error::InvalidHeader(_))
        ));
        assert_eq!(parts.query_param("one").unwrap(), Some("1"));
        assert_eq!(parts.query_param("flag").unwrap(), Some(""));
        assert_eq!(parts.query_param("on").unwrap(), None);
    }
}
