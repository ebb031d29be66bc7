//! The retention purge: a background task that deletes the media of expired recordings
//! (KEEPDAYS passed since they ended, ARCHIVEACTION DELETE, not LOCKED) and marks their
//! catalog rows purged; the rows themselves stay, so CALLLIST still lists them.
//!
//! It runs at start-up and then every `[retention] purge_interval`, in batches, off the
//! engine's lock and with the file deletions on a blocking thread, so calls and requests go
//! on meanwhile. Each batch is marked purged in the catalog before its files are deleted; a
//! file whose deletion was not recorded (a crash, a failure) is deleted by a later run. A
//! file is deleted only when its row says the recording is purged.

use std::io::ErrorKind;
use std::path::{Component, Path};
use std::sync::Arc;
use std::time::Duration;

use store::{PurgeRun, PurgedMedia};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::commands::Ctx;

/// Recordings marked, or files looked at, per catalog round trip.
const BATCH: u32 = 256;

/// Runs the purge now and then every `interval` until `stop` says so. A run that fails (the
/// catalog cannot be reached) is logged; the next one starts over.
pub async fn run_every(ctx: Arc<Ctx>, interval: Duration, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        match run_once(&ctx).await {
            Ok(run) if run.purged > 0 || run.bytes_freed > 0 || run.failed > 0 => {
                tracing::info!(
                    purged = run.purged,
                    bytes_freed = run.bytes_freed,
                    failed = run.failed,
                    "retention purge"
                );
            }
            Ok(_) => tracing::debug!("retention purge: nothing expired"),
            Err(e) => tracing::error!(error = %e, "retention purge stopped early"),
        }
    }
}

/// One purge run: first the files earlier runs left (pending), then every recording
/// expired by the time the run started. Recorded in the catalog for SYSTEMSTATUS.
pub async fn run_once(ctx: &Ctx) -> anyhow::Result<PurgeRun> {
    let store = ctx.engine.store();
    let started = engine::now_micros();
    let mut run = PurgeRun {
        started,
        ..PurgeRun::default()
    };
    // Paged by record id, so a file that cannot be deleted is tried once per run.
    let mut after = i64::MIN;
    loop {
        let pending = store.purge_pending(after, BATCH).await?;
        let Some(last) = pending.last() else { break };
        after = last.record_id;
        delete_media(ctx, pending, &mut run).await?;
    }
    loop {
        let marked = store.mark_expired(started, BATCH).await?;
        if marked.is_empty() {
            break;
        }
        run.purged += marked.len() as u64;
        ctx.metrics.purged_recordings.inc_by(marked.len() as u64);
        delete_media(ctx, marked, &mut run).await?;
    }
    run.finished = engine::now_micros();
    store.record_purge_run(&run).await?;
    Ok(run)
}

/// Deletes the media files of purged recordings on a blocking thread and records the ones
/// that are gone. A file that cannot be deleted is logged and counted, and stays pending.
async fn delete_media(
    ctx: &Ctx,
    batch: Vec<PurgedMedia>,
    run: &mut PurgeRun,
) -> anyhow::Result<()> {
    let dir = ctx.recordings_dir.clone();
    let recorder = ctx.engine.recorder().clone();
    let outcomes = tokio::task::spawn_blocking(move || {
        batch
            .into_iter()
            .map(|m| {
                // A recording whose WAV is still being finalized waits for the next run.
                let outcome = if recorder.unfinished(m.record_id) {
                    Ok(None)
                } else {
                    delete_file(&dir, &m.media_path).map(Some)
                };
                (m, outcome)
            })
            .collect::<Vec<_>>()
    })
    .await?;
    let mut gone = Vec::with_capacity(outcomes.len());
    for (m, outcome) in outcomes {
        match outcome {
            Ok(Some(bytes)) => {
                run.bytes_freed += bytes;
                ctx.metrics.purged_bytes.inc_by(bytes);
                gone.push((m.record_id, bytes));
            }
            Ok(None) => {}
            Err(e) => {
                run.failed += 1;
                ctx.metrics.purge_failures.inc();
                tracing::warn!(record_id = m.record_id, file = %m.media_path, error = %e, "retention purge could not delete a recording's file");
            }
        }
    }
    ctx.engine.store().media_purged(&gone).await?;
    Ok(())
}

/// Deletes `name` in `dir` and says how many bytes that freed (0 when there was no file).
/// Only a plain file name is accepted: a row never points outside the recordings directory.
fn delete_file(dir: &Path, name: &str) -> std::io::Result<u64> {
    if name.is_empty() {
        return Ok(0);
    }
    let mut parts = Path::new(name).components();
    let (Some(Component::Normal(file)), None) = (parts.next(), parts.next()) else {
        return Err(std::io::Error::new(
            ErrorKind::InvalidInput,
            "the media path is not a file name in the recordings directory",
        ));
    };
    let path = dir.join(file);
    let bytes = match std::fs::symlink_metadata(&path) {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(bytes),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::delete_file;

    #[test]
    fn deletes_only_plain_file_names_in_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().join("rec");
        std::fs::create_dir(&inside).unwrap();
        std::fs::write(inside.join("7.wav"), [0u8; 44]).unwrap();
        std::fs::write(dir.path().join("outside.wav"), [0u8; 10]).unwrap();

        assert_eq!(delete_file(&inside, "7.wav").unwrap(), 44);
        assert!(!inside.join("7.wav").exists());
        assert_eq!(delete_file(&inside, "7.wav").unwrap(), 0, "already gone");
        assert_eq!(delete_file(&inside, "").unwrap(), 0, "no media");
        for bad in ["../outside.wav", "/etc/passwd", "sub/7.wav", "."] {
            assert!(delete_file(&inside, bad).is_err(), "{bad}");
        }
        assert!(dir.path().join("outside.wav").exists());
    }
}
