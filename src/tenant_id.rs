//! [`TenantId`]: the one type every stage uses to name a tenant.
//!
//! A tenant id ends up in a DNS label (`acme.example.com`), in database names (`tenant-acme` on D1
//! and Turso) and in SQL parameters, so it is checked once, strictly, when it is parsed, and never
//! rewritten: `Acme` is an error, not `acme`, because silently folding input is how two callers end
//! up sharing one tenant.

use std::fmt;

/// The longest tenant id: one DNS label.
pub const MAX_LEN: usize = 63;

/// A valid tenant id: 1 to 63 characters of `a-z`, `0-9` and `-`, not starting or ending with `-`,
/// and not of the reserved IDNA form `??--` (as in `xn--`, which browsers show as Unicode and which
/// would let one tenant's subdomain spoof another's).
///
/// The only way to get one is [`TenantId::parse`] (or `str::parse`), so a function that takes a
/// `TenantId` never has to check it again.
///
/// ```
/// use edge_tenancy::TenantId;
/// let id: TenantId = "acme-2".parse().unwrap();
/// assert_eq!(id.as_str(), "acme-2");
/// assert!(TenantId::parse("Acme").is_err());
/// assert!(TenantId::parse("-acme").is_err());
/// assert!(TenantId::parse("xn--acme").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(Box<str>);

/// Why a string is not a [`TenantId`]. The messages never repeat the input: it is untrusted and may
/// be huge or hold control characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantIdError {
    /// The input was empty.
    Empty,
    /// The input was longer than [`MAX_LEN`] bytes.
    TooLong {
        /// Length of the input, in bytes.
        len: usize,
    },
    /// A byte outside `a-z`, `0-9` and `-` (upper case included).
    InvalidCharacter {
        /// Zero-based byte offset of the first such byte.
        position: usize,
    },
    /// The input started or ended with `-`.
    EdgeHyphen,
    /// The input had `--` at its third and fourth characters (reserved for IDNA, `xn--`).
    ReservedHyphens,
}

impl TenantId {
    /// Parses a tenant id, accepting only the canonical form (see [`TenantId`]).
    pub fn parse(input: &str) -> Result<Self, TenantIdError> {
        let bytes = input.as_bytes();
        if bytes.is_empty() {
            return Err(TenantIdError::Empty);
        }
        if bytes.len() > MAX_LEN {
            return Err(TenantIdError::TooLong { len: bytes.len() });
        }
        if let Some(position) = bytes
            .iter()
            .position(|&b| !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
        {
            return Err(TenantIdError::InvalidCharacter { position });
        }
        if bytes[0] == b'-' || bytes[bytes.len() - 1] == b'-' {
            return Err(TenantIdError::EdgeHyphen);
        }
        if bytes.get(2..4) == Some(b"--") {
            return Err(TenantIdError::ReservedHyphens);
        }
        Ok(Self(input.into()))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for TenantId {
    type Err = TenantIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl AsRef<str> for TenantId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantId({})", self.0)
    }
}

impl serde::Serialize for TenantId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for TenantId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for TenantIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const RULE: &str = "a tenant id is 1 to 63 characters of a-z, 0-9 and '-'";
        match self {
            Self::Empty => write!(f, "{RULE}; it is empty"),
            Self::TooLong { len } => write!(f, "{RULE}; it is {len} bytes long"),
            Self::InvalidCharacter { position } => {
                write!(f, "{RULE}; byte {position} is not one of them")
            }
            Self::EdgeHyphen => write!(f, "{RULE}, not starting or ending with '-'"),
            Self::ReservedHyphens => {
                write!(f, "{RULE}; '--' at characters 3 and 4 is reserved (xn--)")
            }
        }
    }
}

impl std::error::Error for TenantIdError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_canonical_ids() {
        for ok in [
            "a", "0", "acme", "acme-2", "a-b-c", "9lives", "a--b", "abc--d",
        ] {
            assert_eq!(TenantId::parse(ok).unwrap().as_str(), ok, "{ok}");
        }
        let longest = "a".repeat(MAX_LEN);
        assert_eq!(TenantId::parse(&longest).unwrap().as_str(), longest);
    }

    #[test]
    fn rejects_everything_else_without_rewriting() {
        use TenantIdError::*;
        let cases: &[(&str, TenantIdError)] = &[
            ("", Empty),
            ("Acme", InvalidCharacter { position: 0 }),
            ("acmE", InvalidCharacter { position: 3 }),
            ("ac me", InvalidCharacter { position: 2 }),
            ("ac_me", InvalidCharacter { position: 2 }),
            ("acme.com", InvalidCharacter { position: 4 }),
            ("a\0b", InvalidCharacter { position: 1 }),
            ("..", InvalidCharacter { position: 0 }),
            ("%2e", InvalidCharacter { position: 0 }),
            ("ü", InvalidCharacter { position: 0 }),
            ("acme\n", InvalidCharacter { position: 4 }),
            ("-acme", EdgeHyphen),
            ("acme-", EdgeHyphen),
            ("-", EdgeHyphen),
            ("xn--acme", ReservedHyphens),
            ("ab--", EdgeHyphen),
            ("ab--c", ReservedHyphens),
        ];
        for (input, want) in cases {
            assert_eq!(TenantId::parse(input), Err(*want), "{input:?}");
        }
        assert_eq!(
            TenantId::parse(&"a".repeat(MAX_LEN + 1)),
            Err(TooLong { len: 64 })
        );
    }

    #[test]
    fn error_messages_do_not_echo_input() {
        let hostile = "<script>SECRET</script>";
        let message = TenantId::parse(hostile).unwrap_err().to_string();
        assert!(!message.contains("SECRET"), "{message}");
    }

    #[test]
    fn serde_round_trip_validates() {
        let id: TenantId = serde_json::from_str("\"acme\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"acme\"");
        assert!(serde_json::from_str::<TenantId>("\"ACME\"").is_err());
    }
}
