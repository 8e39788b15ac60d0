//! [`R2Backup`]: before a tenant's D1 database is deleted, its SQL dump (the D1 export API) is
//! stored in an R2 bucket, named by tenant and time. The dump is streamed from the export's signed
//! URL into R2 and never held by the Worker, so a database of any size can be backed up within
//! the Worker's 128 MB.

use super::factory::ApiClient;
use crate::cloudflare::d1::ExportOptions;
use crate::cloudflare::DatabaseId;
use crate::control::TenantRecord;
use crate::UnixTime;
use std::rc::Rc;
use worker::{js_sys, Bucket, ResponseBody};

/// Backs a tenant's database up to `bucket` as `<prefix><tenant>/<ms since epoch>.sql`.
pub struct R2Backup {
    client: Rc<ApiClient>,
    bucket: Bucket,
    prefix: String,
}

impl R2Backup {
    /// Backups through `client` into `bucket`, keys starting with `prefix` (such as `backups/`).
    pub fn new(client: Rc<ApiClient>, bucket: Bucket, prefix: &str) -> Self {
        Self {
            client,
            bucket,
            prefix: prefix.to_owned(),
        }
    }

    /// Exports `record`'s database and stores the dump; returns its key.
    pub async fn back_up(&self, record: &TenantRecord) -> Result<Option<String>, String> {
        let Some(id) = &record.database_id else {
            return Ok(None);
        };
        let id = DatabaseId::parse(id).map_err(|e| e.0.to_owned())?;
        let export = self
            .client
            .export_database(&id, &ExportOptions::default())
            .await
            .map_err(|e| format!("export: {e}"))?;
        let response = self
            .client
            .transport()
            .open(&export.signed_url)
            .await
            .map_err(|e| format!("download: {e}"))?;
        // R2 takes a stream only of a known length: the download's body has one when the URL
        // answers with a Content-Length (the real API's URL is an R2 object's) or from a
        // FixedLengthStream (the local API's). A body of unknown length is refused by R2's put.
        let length = response
            .headers()
            .get("content-length")
            .ok()
            .flatten()
            .and_then(|length| length.parse::<u64>().ok());
        let now = UnixTime::from_js_millis(js_sys::Date::now());
        let key = format!("{}{}/{}.sql", self.prefix, record.id, now.millis());
        let stored = match response.body() {
            ResponseBody::Stream(body) => self.bucket.put(&key, body.clone()).execute().await,
            ResponseBody::Body(bytes) => self.bucket.put(&key, bytes.clone()).execute().await,
            ResponseBody::Empty => self.bucket.put(&key, Vec::new()).execute().await,
        }
        .map_err(|e| format!("R2 put {key}: {e}"))?;
        let size = stored.map_or(0, |object| object.size());
        if let Some(length) = length.filter(|&length| length != size) {
            return Err(format!("R2 put {key}: {size} bytes stored of {length}"));
        }
        Ok(Some(key))
    }
}
