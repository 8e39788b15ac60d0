//! Names and ids that go into API paths and bodies, each valid by construction, so a value from
//! a request can never change which resource a call touches.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A value refused by one of the id types here. It never echoes the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidId(pub &'static str);

impl fmt::Display for InvalidId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for InvalidId {}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $check:expr, $why:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses `value`, refusing anything that is not valid.
            pub fn parse(value: &str) -> Result<Self, InvalidId> {
                let check: fn(&str) -> bool = $check;
                if check(value) {
                    Ok(Self(value.to_owned()))
                } else {
                    Err(InvalidId($why))
                }
            }

            /// The value.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(value: String) -> Result<Self, InvalidId> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
}

id_type!(
    /// A Cloudflare account id: 32 lowercase hex digits.
    AccountId,
    |v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
    "an account id is 32 lowercase hex digits"
);

id_type!(
    /// A D1 database id: a UUID in its 8-4-4-4-12 hex form.
    DatabaseId,
    is_uuid,
    "a database id is a UUID such as 7b162190-cb3e-4d7b-a862-9f5a69e36a62"
);

id_type!(
    /// A D1 database name: 1–64 characters, a lower-case letter or digit first, then lower-case
    /// letters, digits, `_` and `-` (the API schema's rule, checked here so a bad name costs no
    /// API call).
    DatabaseName,
    |v| {
        let lower = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        let mut bytes = v.bytes();
        (1..=64).contains(&v.len())
            && bytes.next().is_some_and(lower)
            && bytes.all(|b| lower(b) || b == b'_' || b == b'-')
    },
    "a database name is 1 to 64 lower-case letters, digits, '_' or '-', starting with a letter or digit"
);

id_type!(
    /// A Worker script name: 1–63 lowercase letters, digits, `_` and `-`.
    ScriptName,
    |v| (1..=63).contains(&v.len())
        && v.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'),
    "a Worker name is 1 to 63 lowercase letters, digits, '_' or '-'"
);

fn is_uuid(v: &str) -> bool {
    let groups: Vec<&str> = v.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_refuse_what_could_change_a_path() {
        assert!(AccountId::parse("0123456789abcdef0123456789abcdef").is_ok());
        for bad in [
            "",
            "0123456789ABCDEF0123456789ABCDEF",
            "../../zones",
            "0123456789abcdef0123456789abcde/",
        ] {
            assert!(AccountId::parse(bad).is_err(), "{bad}");
        }
        assert!(DatabaseId::parse("7b162190-cb3e-4d7b-a862-9f5a69e36a62").is_ok());
        for bad in [
            "",
            "7b162190cb3e4d7ba8629f5a69e36a62",
            "7b162190-cb3e-4d7b-a862-9f5a69e36a6/",
            "../7b162190-cb3e-4d7b-a862",
            "7b162190-cb3e-4d7b-a862-9f5a69e36a62/query",
        ] {
            assert!(DatabaseId::parse(bad).is_err(), "{bad}");
        }
        for good in ["a", "9", "tenant-acme", "tenant_1", &"x".repeat(64)] {
            assert!(DatabaseName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-a",
            "_a",
            "a b",
            "a/b",
            "a.b",
            "é",
            "Tenant",
            "tenAnt",
            &"x".repeat(65),
        ] {
            assert!(DatabaseName::parse(bad).is_err(), "{bad}");
        }
        assert!(ScriptName::parse("edge-tenancy-demo").is_ok());
        assert!(ScriptName::parse("Edge").is_err());
        assert_eq!(
            serde_json::from_str::<DatabaseName>("\"a b\"").unwrap_err().to_string(),
            "a database name is 1 to 64 lower-case letters, digits, '_' or '-', starting with a letter or digit"
        );
    }
}
