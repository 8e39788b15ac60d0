//! [`R2Backup`]: before a tenant's D1 database is deleted, its SQL dump (the D1 export API) is
//! stored in an R2 bucket, named by tenant and time; a restore runs a dump in a new database (the
//! D1 import API). Either way the dump streams between R2 and the API's presigned URL and is never
//! held by the Worker, so a database of any size fits the Worker's 128 MB.

use super::factory::ApiClient;
use crate::cloudflare::d1::{ExportOptions, Upload};
use crate::cloudflare::{ApiError, DatabaseId};
use crate::control::TenantRecord;
use crate::database::d1::restore_dump;
use crate::UnixTime;
use std::rc::Rc;
use worker::{js_sys, Bucket, Object, ResponseBody};

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

    /// Whether `key` names a backup in the bucket.
    pub async fn exists(&self, key: &str) -> Result<bool, String> {
        let found = self.bucket.head(key).await;
        Ok(found.map_err(|e| format!("R2 head {key}: {e}"))?.is_some())
    }

    /// Runs the dump at `key` in `record`'s new database ([`restore_dump`]: not again in one
    /// that has tables), streamed from R2 to the import's upload URL.
    pub async fn restore(&self, record: &TenantRecord, key: &str) -> Result<(), String> {
        let id = record.database_id.as_deref().ok_or("no database")?;
        let id = DatabaseId::parse(id).map_err(|e| e.0.to_owned())?;
        let object = self.bucket.get(key).execute().await;
        let object = object
            .map_err(|e| format!("R2 get {key}: {e}"))?
            .ok_or_else(|| format!("no backup {key}"))?;
        let etag = md5_of(&object).ok_or_else(|| format!("backup {key} has no MD5"))?;
        let body = object.body().map(|b| b.response_body()).transpose();
        let Some(ResponseBody::Stream(body)) = body.map_err(|e| format!("R2 get {key}: {e}"))?
        else {
            return Err(format!("backup {key} has no body"));
        };
        let size = object.size();
        let transport = self.client.transport();
        restore_dump(&self.client, &id, &etag, async |to: &Upload| {
            let sent = transport.upload(&to.url, &body, size).await;
            sent.map_err(ApiError::Transport)
        })
        .await
        .map(|_| ())
        .map_err(|e| format!("restore from {key}: {e}"))
    }
}

/// An object's MD5 in hex, which the import API names a file by: R2's checksum, or its etag,
/// which is the MD5 for an object put whole (as backups are).
fn md5_of(object: &Object) -> Option<String> {
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let from_checksum = object.checksum().md5.map(|md5| hex(&md5));
    from_checksum.or_else(|| {
        let etag = object.etag();
        (etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit())).then_some(etag)
    })
}
