//! [`Host`]: a request's host, parsed strictly and normalized once.
//!
//! Normalization is what makes the tenant checks safe: the port is stripped (so `acme.example.com:443`
//! still matches), one trailing dot is dropped (`acme.example.com.` is the same name), ASCII case
//! is folded (DNS names are case-insensitive), and anything that is not a plain ASCII host name or
//! IP literal is refused rather than guessed at. Browsers send internationalized names as punycode
//! (`xn--…`), so raw Unicode in a host comes only from a hand-made request.

use std::fmt;

/// The longest host name DNS allows.
pub const MAX_HOST_LEN: usize = 253;

/// A normalized host: lower-case labels with no port and no trailing dot, or an IP literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    name: String,
    is_ip: bool,
}

/// Why a host was refused (400). Never carries the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostError {
    /// No host at all, or only a port or a dot.
    Empty,
    /// Longer than [`MAX_HOST_LEN`].
    TooLong,
    /// Two dots in a row, or a leading dot.
    EmptyLabel,
    /// A label longer than 63 characters.
    LabelTooLong,
    /// A label starting or ending with `-`.
    LabelHyphen,
    /// A byte that is not a letter, digit, `-` or `.`.
    InvalidCharacter,
    /// Non-ASCII text (hosts travel as punycode).
    NonAscii,
    /// A port that is not 1 to 5 digits of at most 65535.
    InvalidPort,
    /// A bracketed IPv6 literal that does not parse.
    InvalidIpv6,
}

impl Host {
    /// Parses a `Host` header value (or a URL's authority without user info).
    pub fn parse(input: &str) -> Result<Self, HostError> {
        if !input.is_ascii() {
            return Err(HostError::NonAscii);
        }
        if let Some(rest) = input.strip_prefix('[') {
            let (literal, after) = rest.split_once(']').ok_or(HostError::InvalidIpv6)?;
            check_port(after)?;
            let ip: std::net::Ipv6Addr = literal.parse().map_err(|_| HostError::InvalidIpv6)?;
            return Ok(Self {
                name: format!("[{ip}]"),
                is_ip: true,
            });
        }
        let (name, after) = match input.find(':') {
            Some(colon) => input.split_at(colon),
            None => (input, ""),
        };
        check_port(after)?;
        let name = name.strip_suffix('.').unwrap_or(name);
        if name.is_empty() {
            return Err(HostError::Empty);
        }
        if name.len() > MAX_HOST_LEN {
            return Err(HostError::TooLong);
        }
        for label in name.split('.') {
            check_label(label)?;
        }
        let name = name.to_ascii_lowercase();
        let is_ip = name.parse::<std::net::Ipv4Addr>().is_ok();
        Ok(Self { name, is_ip })
    }

    /// The normalized name, such as `acme.example.com`, `127.0.0.1` or `[::1]`.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// Whether this is an IP literal (which never has a subdomain).
    pub fn is_ip(&self) -> bool {
        self.is_ip
    }

    /// The part before `.base`, if this host is strictly below `base` on a label boundary:
    /// `acme.example.com` under `example.com` is `acme`; `evilexample.com` is not below it.
    pub fn subdomain_of(&self, base: &Host) -> Option<&str> {
        if self.is_ip || base.is_ip {
            return None;
        }
        let prefix = self.name.strip_suffix(base.as_str())?.strip_suffix('.')?;
        (!prefix.is_empty()).then_some(prefix)
    }
}

/// What follows the host: nothing, or `:` and a port.
fn check_port(after: &str) -> Result<(), HostError> {
    if after.is_empty() {
        return Ok(());
    }
    let digits = after.strip_prefix(':').ok_or(HostError::InvalidPort)?;
    let valid = (1..=5).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits.parse::<u32>().is_ok_and(|p| p <= 65535);
    if valid {
        Ok(())
    } else {
        Err(HostError::InvalidPort)
    }
}

fn check_label(label: &str) -> Result<(), HostError> {
    if label.is_empty() {
        return Err(HostError::EmptyLabel);
    }
    if label.len() > 63 {
        return Err(HostError::LabelTooLong);
    }
    if !label
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(HostError::InvalidCharacter);
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(HostError::LabelHyphen);
    }
    Ok(())
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "the request has no host",
            Self::TooLong => "the host is longer than 253 characters",
            Self::EmptyLabel => "the host has an empty label",
            Self::LabelTooLong => "a label of the host is longer than 63 characters",
            Self::LabelHyphen => "a label of the host starts or ends with '-'",
            Self::InvalidCharacter => "the host holds a character a host name cannot",
            Self::NonAscii => "the host is not ASCII (send internationalized names as punycode)",
            Self::InvalidPort => "the host's port is invalid",
            Self::InvalidIpv6 => "the host's IPv6 literal is invalid",
        })
    }
}

impl std::error::Error for HostError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_port_case_and_trailing_dot() {
        let cases = [
            ("acme.example.com", "acme.example.com", false),
            ("ACME.Example.COM", "acme.example.com", false),
            ("acme.example.com:8787", "acme.example.com", false),
            ("acme.example.com.", "acme.example.com", false),
            ("acme.example.com.:443", "acme.example.com", false),
            ("localhost", "localhost", false),
            ("127.0.0.1:8787", "127.0.0.1", true),
            ("[::1]:8787", "[::1]", true),
            ("[2001:DB8::1]", "[2001:db8::1]", true),
            (
                "xn--bcher-kva.example.com",
                "xn--bcher-kva.example.com",
                false,
            ),
        ];
        for (input, name, is_ip) in cases {
            let host = Host::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!((host.as_str(), host.is_ip()), (name, is_ip), "{input}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_host() {
        use HostError::*;
        let long_label = format!("{}.example.com", "a".repeat(64));
        let long_host = format!("{}.com", vec!["a".repeat(60); 5].join("."));
        let cases: Vec<(&str, HostError)> = vec![
            ("", Empty),
            (".", Empty),
            (":8787", Empty),
            ("..example.com", EmptyLabel),
            ("acme..example.com", EmptyLabel),
            (".example.com", EmptyLabel),
            ("acme.example.com..", EmptyLabel),
            (&long_label, LabelTooLong),
            (&long_host, TooLong),
            ("-acme.example.com", LabelHyphen),
            ("acme-.example.com", LabelHyphen),
            ("acme_1.example.com", InvalidCharacter),
            ("acme example.com", InvalidCharacter),
            ("acme\0.example.com", InvalidCharacter),
            ("acme%2eexample.com", InvalidCharacter),
            ("user@acme.example.com", InvalidCharacter),
            ("acme.example.com/x", InvalidCharacter),
            ("bücher.example.com", NonAscii),
            ("acme.example.com:", InvalidPort),
            ("acme.example.com:0x50", InvalidPort),
            ("acme.example.com:65536", InvalidPort),
            ("acme.example.com:123456", InvalidPort),
            ("acme.example.com:80:80", InvalidPort),
            ("::1", InvalidPort),
            ("[::1", InvalidIpv6),
            ("[::g]", InvalidIpv6),
            ("[::1]x", InvalidPort),
        ];
        for (input, want) in cases {
            assert_eq!(Host::parse(input), Err(want), "{input:?}");
        }
    }

    #[test]
    fn subdomains_need_a_dot_boundary() {
        let base = Host::parse("example.com").unwrap();
        let sub = |h: &str| {
            Host::parse(h)
                .unwrap()
                .subdomain_of(&base)
                .map(str::to_owned)
        };
        assert_eq!(sub("acme.example.com").as_deref(), Some("acme"));
        assert_eq!(sub("a.b.example.com").as_deref(), Some("a.b"));
        assert_eq!(sub("ACME.example.com:443").as_deref(), Some("acme"));
        assert_eq!(sub("evilexample.com"), None);
        assert_eq!(sub("example.com"), None);
        assert_eq!(sub("example.com.evil.com"), None);
        let auth = Host::parse("auth.example.com").unwrap();
        assert_eq!(
            Host::parse("evilauth.example.com")
                .unwrap()
                .subdomain_of(&auth),
            None
        );
        assert_eq!(Host::parse("127.0.0.1").unwrap().subdomain_of(&base), None);
    }
}
