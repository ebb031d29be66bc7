//! callvault's durable catalog: calls and recordings, on SQLite (the embedded default) or
//! PostgreSQL (large sites, several nodes sharing one catalog).
//!
//! The engine owns live state in memory and uses the store for two things: making its
//! promises durable ([`Store::commit`], a group-commit writer) and answering questions about
//! the past ([`Store::recordings`] for CALLLIST, look-ups for EXPORT and CALLUPDATE, and the
//! start-up recovery queries). Both backends run the same SQL text through the same code;
//! only the pool differs.

/// Runs `$body` with `$pool` bound to the concrete pool. The body is written once and
/// compiled for each backend, which keeps the query logic in one place without boxing.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::Db::Sqlite($pool) => $body,
            $crate::Db::Postgres($pool) => $body,
        }
    };
}

mod captures;
mod directory;
mod error;
mod groups;
pub mod model;
mod retention;
mod sql;
mod writer;

pub use captures::CaptureFile;
pub use directory::{
    AgentKey, DirectoryError, Lookup, NewUser, Phone, Refusal, User, UserChange, UserKey,
    hash_password,
};
pub use error::StoreError;
pub use groups::{Change, Group, Membership, NameKey, Role, UserRef};
pub use model::*;
pub use retention::{PurgeRun, PurgedMedia};

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, QueryBuilder};
use tokio::sync::{mpsc, oneshot, watch};

use sql::{NEWEST_FIRST, SELECT_CALLS, SELECT_RECORDINGS, call_from_row, recording_from_row};
use writer::{Counters, Job, Msg};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// How long opening a PostgreSQL catalog waits for the server to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long `ping` waits before calling the database unhealthy.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// The pool of whichever backend the store was opened on.
#[derive(Clone)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Resolves once the writes given to [`Store::submit`] are durable, or failed.
#[must_use = "the writes are queued either way; await this to know they are durable"]
pub struct Pending(PendingState);

enum PendingState {
    Queued(oneshot::Receiver<Result<(), StoreError>>),
    Refused(Option<StoreError>),
}

impl Future for Pending {
    type Output = Result<(), StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            // A dropped sender means the writer stopped without answering.
            PendingState::Queued(rx) => Pin::new(rx)
                .poll(cx)
                .map(|r| r.unwrap_or(Err(StoreError::Closed))),
            PendingState::Refused(e) => Poll::Ready(Err(e.take().unwrap_or(StoreError::Closed))),
        }
    }
}

/// Which database a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Counters of the group-commit writer since the store was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Writes committed.
    pub writes: u64,
    /// Transactions committed; much lower than `writes` under concurrent load.
    pub transactions: u64,
    /// Transactions that failed (and were rolled back).
    pub failed_transactions: u64,
}

/// The catalog. Cheap to clone: clones share the pool and the writer.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    /// Unbounded so `submit` never waits: the queue is as deep as the requests in flight,
    /// each of which waits for its own writes.
    queue: mpsc::UnboundedSender<Msg>,
    counters: Arc<Counters>,
    /// Becomes true once the writer has committed its last batch and stopped.
    writer_done: watch::Receiver<bool>,
}

impl Store {
    /// `database` is a file path (SQLite, created if missing; WAL, synchronous=FULL, foreign
    /// keys on) or a `sqlite:` / `postgres://` URL. Runs the migrations for that backend.
    pub async fn open(database: &str) -> Result<Store, StoreError> {
        let db = if database.starts_with("postgres://") || database.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(database)?;
            // The pool retries a connection that fails (refused, unknown database, bad
            // password) until its acquire timeout and then reports only the timeout; one
            // connection made first fails at once, with the reason.
            let first = tokio::time::timeout(CONNECT_TIMEOUT, options.connect())
                .await
                .map_err(|_| StoreError::Unreachable)??;
            let _ = first.close().await;
            let pool = PgPoolOptions::new()
                .max_connections(10)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            // sqlx holds an advisory lock while migrating, so nodes starting together on
            // one catalog do not race.
            POSTGRES_MIGRATIONS.run(&pool).await?;
            Db::Postgres(pool)
        } else {
            let pool = open_sqlite(database).await?;
            SQLITE_MIGRATIONS.run(&pool).await?;
            Db::Sqlite(pool)
        };

        let (queue, rx) = mpsc::unbounded_channel();
        let (done_tx, writer_done) = watch::channel(false);
        let counters = Arc::new(Counters::default());
        tokio::spawn(writer::run(db.clone(), rx, counters.clone(), done_tx));
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                queue,
                counters,
                writer_done,
            }),
        })
    }

    /// Which database this store runs on.
    pub fn backend(&self) -> Backend {
        match self.inner.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// The writer's counters (writes and transactions committed).
    pub fn stats(&self) -> StoreStats {
        self.inner.counters.snapshot()
    }

    /// Calls `observe` with the duration of every transaction the writer runs from now on
    /// (begin to commit, or to the failure). Only the first observer set is kept.
    pub fn on_commit(&self, observe: impl Fn(std::time::Duration) + Send + Sync + 'static) {
        let _ = self.inner.counters.on_commit.set(Box::new(observe));
    }

    /// Queues writes for the group-commit writer and resolves once they are durable
    /// (committed). Writes from concurrent callers are batched into one transaction; order
    /// is preserved, and one caller's writes are committed together or not at all.
    ///
    /// If a batch fails, its callers are retried one by one, so each caller gets the error
    /// of its own writes (every caller does when the database itself is failing).
    /// `commit(vec![])` waits until everything queued before it is settled.
    pub async fn commit(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.submit(writes).await
    }

    /// Queues writes now and returns a future that resolves once they are durable: the
    /// engine queues while it holds its state lock, so the catalog sees changes in the
    /// order the engine made them, and waits for durability after releasing the lock.
    ///
    /// The writes are queued even if the returned future is never awaited. An empty `writes`
    /// is a barrier: it resolves once everything queued before it is settled.
    pub fn submit(&self, writes: Vec<Write>) -> Pending {
        let (done, result) = oneshot::channel();
        match self.inner.queue.send(Msg::Write(Job { writes, done })) {
            Ok(()) => Pending(PendingState::Queued(result)),
            Err(_) => Pending(PendingState::Refused(Some(StoreError::Closed))),
        }
    }

    /// CALLLIST: recordings matching the filter, newest first (recording_start desc,
    /// record_id desc), at most `filter.limit` (so a limit of 0 returns nothing).
    pub async fn recordings(
        &self,
        filter: &RecordingFilter,
    ) -> Result<Vec<RecordingRow>, StoreError> {
        on_pool!(&self.inner.db, pool => {
            let mut qb = QueryBuilder::new(SELECT_RECORDINGS.as_str());
            sql::push_filter(&mut qb, filter)?;
            qb.push(NEWEST_FIRST)
                .push(" LIMIT ")
                .push_bind(i64::from(filter.limit));
            let rows = qb.build().fetch_all(pool).await?;
            rows.iter().map(recording_from_row).collect()
        })
    }

    pub async fn recording(&self, record_id: i64) -> Result<Option<RecordingRow>, StoreError> {
        let query = format!("{} WHERE record_id = $1", SELECT_RECORDINGS.as_str());
        on_pool!(&self.inner.db, pool => {
            let row = sqlx::query(&query).bind(record_id).fetch_optional(pool).await?;
            row.as_ref().map(recording_from_row).transpose()
        })
    }

    /// One call by its key, live or ended.
    pub async fn call(&self, call_key: i64) -> Result<Option<CallRow>, StoreError> {
        let query = format!("{} WHERE call_key = $1", SELECT_CALLS.as_str());
        on_pool!(&self.inner.db, pool => {
            let row = sqlx::query(&query).bind(call_key).fetch_optional(pool).await?;
            row.as_ref().map(call_from_row).transpose()
        })
    }

    /// The newest recording of a device (for CALLUPDATE with UPDATE_IF_NOT_RECORDING).
    pub async fn latest_recording_of_device(
        &self,
        device_id: &str,
    ) -> Result<Option<RecordingRow>, StoreError> {
        self.latest_recording_where(TextField::DeviceId, device_id)
            .await
    }

    /// The newest recording whose column equals `value` (an exact match) — for EXPORT by
    /// UNIQUEFIELD. RECORDINGTYPE compares without regard to case.
    pub async fn latest_recording_where(
        &self,
        field: TextField,
        value: &str,
    ) -> Result<Option<RecordingRow>, StoreError> {
        let column = sql::text_column(field)?;
        let value = sql::filter_value(field, value);
        let query = format!(
            "{} WHERE {column} = $1{NEWEST_FIRST} LIMIT 1",
            SELECT_RECORDINGS.as_str()
        );
        on_pool!(&self.inner.db, pool => {
            let row = sqlx::query(&query).bind(&value).fetch_optional(pool).await?;
            row.as_ref().map(recording_from_row).transpose()
        })
    }

    /// Recordings left OPEN (by a crash), lowest record_id first, for start-up recovery.
    pub async fn open_recordings(&self) -> Result<Vec<RecordingRow>, StoreError> {
        let query = format!(
            "{} WHERE state = 'OPEN' ORDER BY record_id",
            SELECT_RECORDINGS.as_str()
        );
        on_pool!(&self.inner.db, pool => {
            let rows = sqlx::query(&query).fetch_all(pool).await?;
            rows.iter().map(recording_from_row).collect()
        })
    }

    /// Calls left without an end, lowest call_key first, for start-up recovery.
    pub async fn open_calls(&self) -> Result<Vec<CallRow>, StoreError> {
        let query = format!(
            "{} WHERE end_us IS NULL ORDER BY call_key",
            SELECT_CALLS.as_str()
        );
        on_pool!(&self.inner.db, pool => {
            let rows = sqlx::query(&query).fetch_all(pool).await?;
            rows.iter().map(call_from_row).collect()
        })
    }

    /// Highest call_key and record_id in use (0 when empty), so the engine can allocate ids
    /// in memory. A recording's call_key counts too, in case its call row was never written.
    pub async fn max_ids(&self) -> Result<(i64, i64), StoreError> {
        const QUERY: &str = "SELECT \
            (SELECT COALESCE(MAX(call_key), 0) FROM calls), \
            (SELECT COALESCE(MAX(call_key), 0) FROM recordings), \
            (SELECT COALESCE(MAX(record_id), 0) FROM recordings)";
        let (calls, recording_calls, records): (i64, i64, i64) =
            on_pool!(&self.inner.db, pool => sqlx::query_as(QUERY).fetch_one(pool).await?);
        Ok((calls.max(recording_calls), records))
    }

    /// The agent-mode blackouts open now: (owner, start), by owner.
    pub async fn open_blackouts(&self) -> Result<Vec<(String, Micros)>, StoreError> {
        const QUERY: &str = "SELECT owner, start_us FROM open_blackouts ORDER BY owner";
        on_pool!(&self.inner.db, pool => Ok(sqlx::query_as(QUERY).fetch_all(pool).await?))
    }

    /// A recording's blackout spans, first first.
    pub async fn blackout_spans(&self, record_id: i64) -> Result<Vec<BlackoutSpan>, StoreError> {
        const QUERY: &str = "SELECT seq, start_us, end_us FROM recording_blackouts \
            WHERE record_id = $1 ORDER BY seq";
        let rows: Vec<(i64, i64, Option<i64>)> = on_pool!(&self.inner.db, pool => {
            sqlx::query_as(QUERY).bind(record_id).fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|(seq, start, end)| BlackoutSpan {
                record_id,
                seq,
                start,
                end,
            })
            .collect())
    }

    /// Every device id that has had a call, sorted (to rebuild DEVICELIST after a restart).
    pub async fn device_ids(&self) -> Result<Vec<String>, StoreError> {
        const QUERY: &str = "SELECT DISTINCT device_id FROM calls ORDER BY device_id";
        let ids: Vec<(String,)> =
            on_pool!(&self.inner.db, pool => sqlx::query_as(QUERY).fetch_all(pool).await?);
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    /// Cheap health check (SYSTEMSTATUS DATABASE OK/ERROR): a round trip within two seconds.
    pub async fn ping(&self) -> bool {
        let probe = async {
            on_pool!(&self.inner.db, pool => sqlx::query("SELECT 1").execute(pool).await.is_ok())
        };
        tokio::time::timeout(PING_TIMEOUT, probe)
            .await
            .unwrap_or(false)
    }

    /// Commits everything queued so far, stops the writer and closes the pool (graceful
    /// shutdown). Later calls to `commit` fail with [`StoreError::Closed`].
    pub async fn close(&self) {
        // A failed send means the writer is already stopping; wait for it all the same.
        let _ = self.inner.queue.send(Msg::Close);
        let mut done = self.inner.writer_done.clone();
        // An error means the writer task is gone (runtime shutting down): nothing to wait for.
        let _ = done.wait_for(|stopped| *stopped).await;
        on_pool!(&self.inner.db, pool => pool.close().await);
    }
}

async fn open_sqlite(database: &str) -> Result<SqlitePool, StoreError> {
    let options = if database.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(database)?
    } else if database.is_empty() || database.contains("://") {
        // An empty name would make SQLite use a throwaway temporary file, and any other
        // scheme is a backend we do not have; neither should silently become a file.
        return Err(StoreError::UnsupportedDatabase);
    } else {
        SqliteConnectOptions::new().filename(database)
    };
    let options = options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a commit is on disk before `commit` returns, even across a power cut.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    let in_memory = database.contains(":memory:") || database.contains("mode=memory");
    let mut pool = SqlitePoolOptions::new().max_connections(8);
    if in_memory {
        // An in-memory database lives only as long as a connection to it: keep one.
        pool = pool
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
    }
    Ok(pool.connect_with(options).await?)
}
