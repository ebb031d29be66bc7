//! Capture files replayed to their end (migration 0008), so a restart does not record them
//! again.

use crate::model::Micros;
use crate::{Store, StoreError};

/// One capture file as it was when it was replayed: the identity a later start compares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureFile {
    /// Canonical path.
    pub path: String,
    pub size: u64,
    /// Modification time.
    pub modified: Micros,
}

const REPLAYED_AT: &str = "SELECT replayed_us FROM replayed_captures \
    WHERE path = $1 AND size_bytes = $2 AND modified_us = $3";

const REMEMBER: &str = "INSERT INTO replayed_captures \
    (path, size_bytes, modified_us, replayed_us) VALUES ($1, $2, $3, $4) \
    ON CONFLICT (path) DO UPDATE SET size_bytes = excluded.size_bytes, \
    modified_us = excluded.modified_us, replayed_us = excluded.replayed_us";

impl Store {
    /// When this file, unchanged (same path, size and modification time), was last
    /// replayed to its end; `None` if never, or if it changed since.
    pub async fn capture_replayed_at(
        &self,
        file: &CaptureFile,
    ) -> Result<Option<Micros>, StoreError> {
        let size = i64::try_from(file.size).unwrap_or(i64::MAX);
        let row: Option<(i64,)> = on_pool!(&self.inner.db, pool => {
            sqlx::query_as(REPLAYED_AT)
                .bind(&file.path)
                .bind(size)
                .bind(file.modified)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|(at,)| at))
    }

    /// Remembers that this file was replayed to its end at `at` (replacing what was known
    /// about the path).
    pub async fn remember_capture_replayed(
        &self,
        file: &CaptureFile,
        at: Micros,
    ) -> Result<(), StoreError> {
        let size = i64::try_from(file.size).unwrap_or(i64::MAX);
        on_pool!(&self.inner.db, pool => {
            sqlx::query(REMEMBER)
                .bind(&file.path)
                .bind(size)
                .bind(file.modified)
                .bind(at)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
