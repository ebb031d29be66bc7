//! The group-commit writer: one task owns every write to the catalog.
//!
//! Callers queue their writes and wait; the task takes everything queued (up to
//! [`BATCH_CAP`] writes) and commits it in one transaction, so N concurrent requests cost
//! one fsync instead of N. One task also means writes never contend for SQLite's single
//! write lock, and writes are applied in the order they were queued.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};

use crate::model::Write;
use crate::sql::{
    DELETE_OPEN_BLACKOUT, UPSERT_BLACKOUT_SPAN, UPSERT_OPEN_BLACKOUT, bind_call, bind_recording,
    text,
};
use crate::{Db, StoreError, StoreStats};

/// At most this many writes go into one transaction, so one huge backlog does not become
/// one huge transaction that holds the write lock (and every waiting caller) for long.
/// A single caller's writes are never split: they commit together or not at all.
pub(crate) const BATCH_CAP: usize = 512;

pub(crate) struct Job {
    pub writes: Vec<Write>,
    pub done: oneshot::Sender<Result<(), StoreError>>,
}

pub(crate) enum Msg {
    Write(Job),
    /// Commit what is queued, then stop.
    Close,
}

/// Told how long each transaction took, committed or not (for a latency histogram).
pub(crate) type CommitObserver = Box<dyn Fn(Duration) + Send + Sync>;

#[derive(Default)]
pub(crate) struct Counters {
    writes: AtomicU64,
    transactions: AtomicU64,
    failed_transactions: AtomicU64,
    pub(crate) on_commit: OnceLock<CommitObserver>,
}

impl Counters {
    pub fn snapshot(&self) -> StoreStats {
        StoreStats {
            writes: self.writes.load(Ordering::Relaxed),
            transactions: self.transactions.load(Ordering::Relaxed),
            failed_transactions: self.failed_transactions.load(Ordering::Relaxed),
        }
    }
}

/// Runs until every sender is gone or a `Close` arrives, then commits what is still queued
/// and reports through `done` that no write is in flight any more.
pub(crate) async fn run(
    db: Db,
    mut queue: mpsc::UnboundedReceiver<Msg>,
    counters: Arc<Counters>,
    done: watch::Sender<bool>,
) {
    let mut next = queue.recv().await;
    while let Some(first) = next.take() {
        let mut jobs = Vec::new();
        let mut queued = 0;
        let mut msg = Some(first);
        while let Some(m) = msg.take() {
            match m {
                Msg::Write(job) => {
                    queued += job.writes.len();
                    jobs.push(job);
                }
                // Refuse new writes; those already queued are still received below.
                Msg::Close => queue.close(),
            }
            if queued >= BATCH_CAP {
                break;
            }
            msg = queue.try_recv().ok();
        }
        if !jobs.is_empty() {
            commit_jobs(&db, jobs, &counters).await;
        }
        next = queue.recv().await;
    }
    // Nobody may be waiting (the store was dropped), which is fine.
    let _ = done.send(true);
}

async fn commit_jobs(db: &Db, jobs: Vec<Job>, counters: &Counters) {
    if jobs.iter().all(|j| j.writes.is_empty()) {
        // Only barriers: everything queued before them has been settled already.
        for job in jobs {
            let _ = job.done.send(Ok(()));
        }
        return;
    }
    let result = apply(db, jobs.iter().flat_map(|j| j.writes.iter()), counters).await;
    match result {
        Ok(()) => {
            for job in jobs {
                let _ = job.done.send(Ok(()));
            }
        }
        Err(e) if jobs.len() > 1 => {
            // One caller's bad write (say a value the database refuses) must not fail the
            // callers that happened to share its batch: retry each caller on its own.
            // Rows are upserted whole, so repeating a write that did land is harmless.
            tracing::warn!(error = %e, callers = jobs.len(), "group commit failed; retrying each caller alone");
            for job in jobs {
                let r = if job.writes.is_empty() {
                    Ok(())
                } else {
                    apply(db, job.writes.iter(), counters).await
                };
                let _ = job.done.send(r);
            }
        }
        Err(e) => {
            for job in jobs {
                let _ = job.done.send(Err(e.clone()));
            }
        }
    }
}

/// Writes `writes` in one transaction.
async fn apply<'a>(
    db: &Db,
    writes: impl Iterator<Item = &'a Write>,
    counters: &Counters,
) -> Result<(), StoreError> {
    let mut n = 0;
    let started = Instant::now();
    let result: Result<(), sqlx::Error> = on_pool!(db, pool => async {
        let mut tx = pool.begin().await?;
        for w in writes {
            match w {
                Write::Call(c) => bind_call(c).execute(&mut *tx).await?,
                Write::Recording(r) => bind_recording(r).execute(&mut *tx).await?,
                Write::BlackoutSpan(b) => sqlx::query(UPSERT_BLACKOUT_SPAN)
                    .bind(b.record_id)
                    .bind(b.seq)
                    .bind(b.start)
                    .bind(b.end)
                    .execute(&mut *tx)
                    .await?,
                Write::OpenBlackout { owner, start: Some(start) } => sqlx::query(UPSERT_OPEN_BLACKOUT)
                    .bind(text(owner))
                    .bind(*start)
                    .execute(&mut *tx)
                    .await?,
                Write::OpenBlackout { owner, start: None } => sqlx::query(DELETE_OPEN_BLACKOUT)
                    .bind(text(owner))
                    .execute(&mut *tx)
                    .await?,
            };
            n += 1;
        }
        tx.commit().await
    }.await);
    if let Some(observe) = counters.on_commit.get() {
        observe(started.elapsed());
    }
    match result {
        Ok(()) => {
            counters.transactions.fetch_add(1, Ordering::Relaxed);
            counters.writes.fetch_add(n, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => {
            counters.failed_transactions.fetch_add(1, Ordering::Relaxed);
            Err(e.into())
        }
    }
}
