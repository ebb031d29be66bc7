-- Retention. A recording expires KEEPDAYS after it ended, when its ARCHIVEACTION is DELETE
-- (any case), it is finished and not LOCKED; expires_us is NULL for every other recording
-- (kept). KEEPDAYS beyond 1,000,000 (about 2,700 years) never expires, which also keeps the
-- sum from overflowing. The column follows the row whenever it is written.
ALTER TABLE recordings ADD COLUMN expires_us INTEGER GENERATED ALWAYS AS (
    CASE WHEN state <> 'OPEN' AND NOT locked AND upper(archive_action) = 'DELETE'
              AND keep_days BETWEEN 0 AND 1000000 AND duration_ms IS NOT NULL
         THEN recording_start_us + duration_ms * 1000 + keep_days * 86400000000
    END
) VIRTUAL;
-- Set by the purge job when it takes the recording's media (row writes never change it);
-- the row itself, and so CALLLIST, stays.
ALTER TABLE recordings ADD COLUMN purged_at_us INTEGER;
-- The bytes the purge freed deleting the media file (0 when there was none); NULL while a
-- purged recording's file may still be on disk, so a later run finishes it.
ALTER TABLE recordings ADD COLUMN purged_bytes INTEGER;

-- The purge's two look-ups read only what they need: the expired recordings not purged
-- yet, soonest first, and the purged ones whose file is not known to be gone.
CREATE INDEX recordings_expiry ON recordings (expires_us)
    WHERE purged_at_us IS NULL AND expires_us IS NOT NULL;
CREATE INDEX recordings_purge_pending ON recordings (record_id)
    WHERE purged_at_us IS NOT NULL AND purged_bytes IS NULL;

-- One row per purge run, for SYSTEMSTATUS (the newest) and for operators.
CREATE TABLE purge_runs (
    run_id      INTEGER PRIMARY KEY AUTOINCREMENT,
    started_us  INTEGER NOT NULL,
    finished_us INTEGER NOT NULL,
    purged      INTEGER NOT NULL,
    bytes_freed INTEGER NOT NULL,
    failed      INTEGER NOT NULL
) STRICT;
