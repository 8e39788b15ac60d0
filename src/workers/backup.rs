//! [`R2Backup`]: before a tenant's D1 database is deleted, its SQL dump (the D1 export API) is
//! stored in an R2 bucket, named by tenant and time.

use super::factory::ApiClient;
use crate::cloudflare::d1::ExportOptions;
use crate::cloudflare::DatabaseId;
use crate::control::TenantRecord;
use crate::UnixTime;
use std::rc::Rc;
use worker::{js_sys, Bucket};

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
        let dump = self
            .client
            .download(&export.signed_url)
            .await
            .map_err(|e| format!("download: {e}"))?;
        let now = UnixTime::from_js_millis(js_sys::Date::now());
        let key = format!("{}{}/{}.sql", self.prefix, record.id, now.millis());
        self.bucket
            .put(&key, dump)
            .execute()
            .await
            .map_err(|e| format!("R2 put {key}: {e}"))?;
        Ok(Some(key))
    }
}
