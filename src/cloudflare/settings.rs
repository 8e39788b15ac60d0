//! A Worker's settings (`/accounts/{account_id}/workers/scripts/{name}/settings`): read them, and
//! replace its bindings, which is how a database created at run time becomes reachable through a
//! binding. See <https://developers.cloudflare.com/api/resources/workers/subresources/scripts/subresources/settings/>.

use super::client::{Call, Client};
use super::envelope::decode;
use super::error::ApiError;
use super::http::{Method, Runtime, Transport};
use super::ids::{DatabaseId, ScriptName};
use super::retry::Repeat;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// One binding of a Worker: its `type`, its `name`, and the type's own fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Binding {
    /// `d1`, `inherit`, `plain_text`, `service`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The name the Worker sees it under (`env.NAME`).
    pub name: String,
    /// The other fields, as the API gives them.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

impl Binding {
    /// A D1 binding, with `database_id` (the field that replaced the deprecated `id`).
    pub fn d1(name: &str, id: &DatabaseId) -> Self {
        let mut fields = Map::new();
        fields.insert("database_id".into(), json!(id));
        Self {
            kind: "d1".into(),
            name: name.into(),
            fields,
        }
    }

    /// "Keep the binding of this name as it is."
    pub fn inherit(name: &str) -> Self {
        Self {
            kind: "inherit".into(),
            name: name.into(),
            fields: Map::new(),
        }
    }

    /// The database a D1 binding reaches (`database_id`, or the deprecated `id`); `None` for a
    /// binding of another type.
    pub fn d1_database(&self) -> Option<&str> {
        if self.kind != "d1" {
            return None;
        }
        self.fields
            .get("database_id")
            .or_else(|| self.fields.get("id"))
            .and_then(Value::as_str)
    }
}

/// A Worker's settings. Only the bindings are typed; the rest is kept as the API sent it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerSettings {
    /// Its bindings.
    #[serde(default)]
    pub bindings: Vec<Binding>,
    /// Everything else (compatibility date and flags, usage model, …).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl WorkerSettings {
    /// The list to write to keep every other binding and set each `(name, id)` of `added` to
    /// D1 database `id`.
    pub fn with_d1(&self, added: &[(String, DatabaseId)]) -> Vec<Binding> {
        let mut bindings = self.without(|b| added.iter().any(|(name, _)| b.name == *name));
        bindings.extend(added.iter().map(|(name, id)| Binding::d1(name, id)));
        bindings
    }

    /// The bindings as a remembered list: each one's type and name, and a D1 binding's
    /// database; no other field (a variable's value stays out of the registry).
    pub fn remembered(&self) -> String {
        let kept: Vec<Binding> = self
            .bindings
            .iter()
            .map(|b| Binding {
                kind: b.kind.clone(),
                name: b.name.clone(),
                fields: b
                    .d1_database()
                    .map(|id| Map::from_iter([("database_id".to_owned(), json!(id))]))
                    .unwrap_or_default(),
            })
            .collect();
        json!(kept).to_string()
    }

    /// The settings a remembered list holds (only their bindings); `None` when it is not one.
    pub fn from_remembered(list: &str) -> Option<Self> {
        Some(Self {
            bindings: serde_json::from_str(list).ok()?,
            other: Map::new(),
        })
    }

    /// The list to write to keep every binding but those `drop` picks.
    pub fn without(&self, drop: impl Fn(&Binding) -> bool) -> Vec<Binding> {
        self.bindings
            .iter()
            .filter(|b| !drop(b))
            .map(|b| Binding::inherit(&b.name))
            .collect()
    }
}

/// `settings` as the one part of a `multipart/form-data` body, the form the endpoint takes.
/// Returns the content type (with its boundary) and the body.
fn multipart(settings: &Value) -> (String, Vec<u8>) {
    let json = settings.to_string();
    // A boundary must not occur in the content; lengthen it until it doesn't.
    let mut boundary = String::from("edge-tenancy-settings");
    while json.contains(&boundary) {
        boundary.push('x');
    }
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"settings\"\r\nContent-Type: application/json\r\n\r\n{json}\r\n--{boundary}--\r\n"
    );
    (
        format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    )
}

/// The JSON of the `settings` part of a body made by [`multipart`].
#[cfg(test)]
pub(crate) fn settings_part(body: &str) -> Option<&str> {
    body.split("\r\n\r\n").nth(1)?.split("\r\n--").next()
}

fn settings_path(script: &ScriptName) -> String {
    format!("/workers/scripts/{script}/settings")
}

impl<T: Transport, R: Runtime> Client<T, R> {
    /// A Worker's settings. One call.
    pub async fn worker_settings(&self, script: &ScriptName) -> Result<WorkerSettings, ApiError> {
        let call = Call::new(
            "workers.settings.get",
            Method::Get,
            settings_path(script),
            Repeat::Always,
        );
        decode(self.send(&call, self.deadline()).await?.0)
    }

    /// Replaces a Worker's bindings with `bindings` (use [`Binding::inherit`] to keep one). One
    /// call; the same list twice leaves the same state, so it is sent again after a lost answer.
    pub async fn set_worker_bindings(
        &self,
        script: &ScriptName,
        bindings: &[Binding],
    ) -> Result<WorkerSettings, ApiError> {
        let (content_type, body) = multipart(&json!({ "bindings": bindings }));
        let mut call = Call::new(
            "workers.settings.patch",
            Method::Patch,
            settings_path(script),
            Repeat::Always,
        );
        call.body = Some((content_type, body));
        decode(self.send(&call, self.deadline()).await?.0)
    }

    /// Binds database `id` to the Worker as `env.<name>`, keeping its other bindings (a binding
    /// already called `name` is replaced). Two calls: read the bindings, write them.
    pub async fn bind_d1(
        &self,
        script: &ScriptName,
        name: &str,
        id: &DatabaseId,
    ) -> Result<WorkerSettings, ApiError> {
        let current = self.worker_settings(script).await?;
        self.set_worker_bindings(script, &current.with_d1(&[(name.to_owned(), id.clone())]))
            .await
    }

    /// Removes binding `name` from the Worker, keeping every other one. Two calls: read the
    /// bindings, write them; a binding that is not there leaves them as they are.
    pub async fn unbind(
        &self,
        script: &ScriptName,
        name: &str,
    ) -> Result<WorkerSettings, ApiError> {
        let current = self.worker_settings(script).await?;
        if current.bindings.iter().all(|b| b.name != name) {
            return Ok(current);
        }
        self.set_worker_bindings(script, &current.without(|b| b.name == name))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_part_is_well_formed() {
        let id = DatabaseId::parse("7b162190-cb3e-4d7b-a862-9f5a69e36a62").unwrap();
        let settings = json!({ "bindings": [Binding::d1("DB", &id), Binding::inherit("KV")] });
        let (content_type, body) = multipart(&settings);
        assert_eq!(
            content_type,
            "multipart/form-data; boundary=edge-tenancy-settings"
        );
        let body = String::from_utf8(body).unwrap();
        assert!(body.starts_with(
            "--edge-tenancy-settings\r\nContent-Disposition: form-data; name=\"settings\"\r\n"
        ));
        assert!(body.ends_with("\r\n--edge-tenancy-settings--\r\n"));
        let part = settings_part(&body).unwrap();
        assert_eq!(serde_json::from_str::<Value>(part).unwrap(), settings);

        // A value holding the boundary makes the boundary longer.
        let sneaky = json!({ "bindings": [{"type": "plain_text", "name": "X", "text": "--edge-tenancy-settings"}] });
        let (content_type, body) = multipart(&sneaky);
        let boundary = content_type.rsplit('=').next().unwrap();
        assert_eq!(boundary, "edge-tenancy-settingsx");
        assert_eq!(
            String::from_utf8(body)
                .unwrap()
                .matches(&format!("--{boundary}"))
                .count(),
            2
        );
    }
}
