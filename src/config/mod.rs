//! Reading configuration: [`ConfigError`], the one error every stage's settings check gives,
//! and strict parsing ([`from_json`], [`from_value`]): an unknown or misspelled setting at any
//! depth is an error that names its path. A leaf: every stage uses it, it uses none.

mod error;
mod strict;

pub use error::ConfigError;
pub use strict::from_value;

use serde::de::DeserializeOwned;

/// `T` read strictly from JSON text (such as a `TENANCY_CONFIG` var).
pub fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, ConfigError> {
    let value = serde_json::from_str(text).map_err(|e| ConfigError(format!("not JSON ({e})")))?;
    from_value(value)
}

/// `value` as a JSON string, the way error messages quote what a setting held: the same escaping
/// as the configuration it came from (and no second, Debug-style escaper in the wasm).
pub fn quoted(value: &str) -> String {
    serde_json::Value::from(value).to_string()
}
