//! Retention: the catalog side of the purge job. Which recordings have expired is the
//! generated column `expires_us` (migration 0006); this module marks them purged, tracks
//! their media files until they are gone, and keeps a record of each purge run.
//!
//! Crash safety comes from the order: a recording is marked purged (and its file listed as
//! pending) before its file is deleted, and only a later [`Store::media_purged`] says the
//! file is gone. A run that stops in between leaves pending rows that the next run finishes.

use crate::model::Micros;
use crate::{Store, StoreError};

/// A purged recording whose media file may still be on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurgedMedia {
    pub record_id: i64,
    /// Relative to the recordings directory; empty when the recording has no file.
    pub media_path: String,
}

/// One run of the purge job.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgeRun {
    pub started: Micros,
    pub finished: Micros,
    /// Recordings marked purged by this run.
    pub purged: u64,
    /// Bytes of the media files this run deleted.
    pub bytes_freed: u64,
    /// Media files this run could not delete (they are tried again by the next run).
    pub failed: u64,
}

/// How many runs `purge_runs` keeps; older ones are dropped as new ones are recorded.
const KEPT_RUNS: i64 = 1000;

pub(crate) const MARK_EXPIRED: &str = "UPDATE recordings SET purged_at_us = $1 \
    WHERE purged_at_us IS NULL AND expires_us <= $1 AND record_id IN \
    (SELECT record_id FROM recordings WHERE purged_at_us IS NULL AND expires_us <= $1 \
     ORDER BY expires_us LIMIT $2) \
    RETURNING record_id, media_path";

pub(crate) const PENDING: &str = "SELECT record_id, media_path FROM recordings \
    WHERE purged_at_us IS NOT NULL AND purged_bytes IS NULL AND record_id > $1 \
    ORDER BY record_id LIMIT $2";

const MEDIA_PURGED: &str =
    "UPDATE recordings SET purged_bytes = $2 WHERE record_id = $1 AND purged_bytes IS NULL";

const INSERT_RUN: &str = "INSERT INTO purge_runs \
    (started_us, finished_us, purged, bytes_freed, failed) VALUES ($1, $2, $3, $4, $5) \
    RETURNING run_id";

const LAST_RUN: &str = "SELECT started_us, finished_us, purged, bytes_freed, failed \
    FROM purge_runs ORDER BY run_id DESC LIMIT 1";

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    /// Marks up to `limit` recordings that have expired by `now` as purged at `now`, soonest
    /// expiry first, and returns them: their files are now pending deletion. One statement,
    /// so a recording locked or given a longer KEEPDAYS meanwhile is never marked.
    pub async fn mark_expired(
        &self,
        now: Micros,
        limit: u32,
    ) -> Result<Vec<PurgedMedia>, StoreError> {
        self.purged_media(MARK_EXPIRED, now, limit).await
    }

    /// Purged recordings whose file is not known to be gone, by record id after `after`, at
    /// most `limit` of them (page through them by passing the last id seen).
    pub async fn purge_pending(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<PurgedMedia>, StoreError> {
        self.purged_media(PENDING, after, limit).await
    }

    /// The (record id, media path) rows `sql` returns for `$1` = `first` and `$2` = `limit`.
    async fn purged_media(
        &self,
        sql: &str,
        first: i64,
        limit: u32,
    ) -> Result<Vec<PurgedMedia>, StoreError> {
        let rows: Vec<(i64, String)> = on_pool!(&self.inner.db, pool => {
            sqlx::query_as(sql)
                .bind(first)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|(record_id, media_path)| PurgedMedia {
                record_id,
                media_path,
            })
            .collect())
    }

    /// Records that the files of these purged recordings are gone: (record id, bytes freed).
    pub async fn media_purged(&self, gone: &[(i64, u64)]) -> Result<(), StoreError> {
        if gone.is_empty() {
            return Ok(());
        }
        on_pool!(&self.inner.db, pool => {
            let mut tx = pool.begin().await?;
            for &(record_id, bytes) in gone {
                sqlx::query(MEDIA_PURGED)
                    .bind(record_id)
                    .bind(count(bytes))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Keeps a purge run (and drops the oldest beyond the last thousand).
    pub async fn record_purge_run(&self, run: &PurgeRun) -> Result<(), StoreError> {
        on_pool!(&self.inner.db, pool => {
            let mut tx = pool.begin().await?;
            let (run_id,): (i64,) = sqlx::query_as(INSERT_RUN)
                .bind(run.started)
                .bind(run.finished)
                .bind(count(run.purged))
                .bind(count(run.bytes_freed))
                .bind(count(run.failed))
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM purge_runs WHERE run_id <= $1")
                .bind(run_id - KEPT_RUNS)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The newest purge run, if any has been recorded.
    pub async fn last_purge_run(&self) -> Result<Option<PurgeRun>, StoreError> {
        let row: Option<(i64, i64, i64, i64, i64)> = on_pool!(&self.inner.db, pool => {
            sqlx::query_as(LAST_RUN).fetch_optional(pool).await?
        });
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(
            row.map(|(started, finished, purged, bytes, failed)| PurgeRun {
                started,
                finished,
                purged: n(purged),
                bytes_freed: n(bytes),
                failed: n(failed),
            }),
        )
    }
}
