//! Strict reading of configuration: an unknown or misspelled setting at any depth is an error
//! that names its path, the setting that was meant when one is close, and every known one.
//!
//! Every settings struct denies unknown fields; this module adds the path (through
//! `serde_path_to_error`) and turns serde's "unknown field, expected one of …" into a
//! suggestion.

use super::ConfigError;
use serde::de::DeserializeOwned;

/// `T` read strictly from a JSON value (the npm package's object, say).
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let inner = error.inner().to_string();
        let mut path = error.path().to_string();
        // Inside a tagged enum (a strategy) the path stops at the object: add the field.
        if let Some(name) = unknown_field(&inner) {
            if !path.ends_with(name) {
                path = if path == "." {
                    name.to_owned()
                } else {
                    format!("{path}.{name}")
                };
            }
        }
        let message = explain(&inner);
        ConfigError(match path.as_str() {
            "." | "" => message,
            path => format!("{path}: {message}"),
        })
    })
}

/// The name in serde's "unknown field `name`, …".
fn unknown_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("unknown field `")?
        .split_once('`')
        .map(|(name, _)| name)
}

/// serde's message, reworded where a setting or a strategy type is unknown (the path already
/// ends with the unknown name).
fn explain(message: &str) -> String {
    let unknown = ["unknown field `", "unknown variant `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix));
    let Some(rest) = unknown else {
        return message.to_owned();
    };
    let Some((name, expected)) = rest.split_once('`') else {
        return message.to_owned();
    };
    let what = if message.starts_with("unknown field") {
        "unknown setting".to_owned()
    } else {
        format!("unknown value {}", super::quoted(name))
    };
    let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    if known.is_empty() {
        return format!("{what}; none is allowed here");
    }
    // The npm package words its own settings checks the same way (`unknownName` in
    // js/internal.js): the name meant when one is close, and always every known one.
    let list = known.join(", ");
    match closest(name, &known) {
        Some(meant) => format!("{what}; did you mean {meant}? (known: {list})"),
        None => format!("{what} (known: {list})"),
    }
}

/// The known name `name` most likely stands for: a different case or separator
/// (`tenant_claim`), a prefix (`iss`), or a small typo (`audiance`).
fn closest<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    let fold = |s: &str| -> String {
        s.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let folded = fold(name);
    known
        .iter()
        .map(|&k| {
            let candidate = fold(k);
            let distance = if candidate == folded {
                0
            } else if folded.len() >= 3
                && (candidate.starts_with(&folded) || folded.starts_with(&candidate))
            {
                1
            } else {
                edit_distance(&folded, &candidate)
            };
            (distance, k)
        })
        .filter(|&(distance, k)| distance <= 2.max(k.len() / 4))
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, k)| k)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let known = ["issuer", "audience", "tenantClaim", "keys", "secrets"];
        assert_eq!(closest("audiance", &known), Some("audience"));
        assert_eq!(closest("iss", &known), Some("issuer"));
        assert_eq!(closest("tenant_claim", &known), Some("tenantClaim"));
        assert_eq!(closest("key", &known), Some("keys"));
        assert_eq!(closest("database", &known), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
