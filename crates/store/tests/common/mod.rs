//! Test databases: a fresh SQLite file in a temp dir, or a fresh PostgreSQL database on the
//! local server, dropped again when the test ends.
#![allow(dead_code)] // each test binary uses part of this module

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use sqlx::{Connection, PgConnection};
use store::{CallMeta, CallRow, RecordingKind, RecordingRow, RecordingState, Store};

/// The server the PostgreSQL runs use; `CALLVAULT_TEST_POSTGRES` overrides it, and
/// `CALLVAULT_TEST_POSTGRES=off` skips them.
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

pub struct TestDb {
    /// What `Store::open` is given.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>, // (admin URL, database name) to drop at the end
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = dir
            .path()
            .join("catalog.db")
            .to_str()
            .expect("utf-8 temp path")
            .to_owned();
        TestDb {
            url,
            _dir: Some(dir),
            postgres: None,
        }
    }

    /// A new, empty database on the test server, or `None` (after saying why) when there is
    /// no server to test against.
    pub async fn postgres() -> Option<TestDb> {
        let admin = std::env::var("CALLVAULT_TEST_POSTGRES").unwrap_or(DEFAULT_POSTGRES.into());
        if admin == "off" {
            eprintln!("skipped: PostgreSQL tests are off (CALLVAULT_TEST_POSTGRES=off)");
            return None;
        }
        let mut conn =
            match tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&admin)).await
            {
                Ok(Ok(conn)) => conn,
                Ok(Err(e)) => {
                    eprintln!("skipped: PostgreSQL at {admin} is not reachable: {e}");
                    return None;
                }
                Err(_) => {
                    eprintln!("skipped: PostgreSQL at {admin} did not answer within 5 s");
                    return None;
                }
            };
        let mut h = RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        let name = format!("callvault_test_{:016x}", h.finish());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let _ = conn.close().await;
        let (base, query) = match admin.split_once('?') {
            Some((b, q)) => (b, format!("?{q}")),
            None => (admin.as_str(), String::new()),
        };
        let (server, _db) = base.rsplit_once('/').expect("database URL has a path");
        Some(TestDb {
            url: format!("{server}/{name}{query}"),
            _dir: None,
            postgres: Some((admin.clone(), name)),
        })
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    pub async fn open(&self) -> Store {
        Store::open(&self.url).await.expect("open store")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot be blocked on; a thread with
        // its own runtime can.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let mut conn = PgConnection::connect(&admin).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await?;
                conn.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("warning: could not drop a test database: {dropped:?}");
        }
    }
}

/// Generates one test per backend from `async fn name(db: &TestDb)` functions.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = $crate::common::TestDb::sqlite();
                    super::$name(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(db) = $crate::common::TestDb::postgres().await else { return };
                    super::$name(&db).await;
                }
            )*
        }
    };
}

pub const T0: i64 = 1_796_000_000_000_000; // late 2026, in microseconds
pub const HOUR: i64 = 3_600_000_000;

/// A plain closed recording; tests change the fields they care about.
pub fn recording(record_id: i64, device_id: &str, recording_start: i64) -> RecordingRow {
    RecordingRow {
        record_id,
        call_key: record_id,
        device_id: device_id.into(),
        call_instance: String::new(),
        meta: CallMeta::default(),
        call_start: recording_start,
        call_end: Some(recording_start + 60_000_000),
        recording_start,
        duration_ms: Some(60_000),
        kind: RecordingKind::Full,
        audio: true,
        keep_days: None,
        archive_action: String::new(),
        cti_initiated: false,
        agent_initiated: false,
        blackouts: 0,
        locked: false,
        state: RecordingState::Closed,
        media_path: format!("{record_id}.wav"),
        purged: None,
    }
}

/// A plain ended call.
pub fn call(call_key: i64, device_id: &str) -> CallRow {
    CallRow {
        call_key,
        device_id: device_id.into(),
        call_instance: String::new(),
        meta: CallMeta::default(),
        start: T0,
        end: Some(T0 + 60_000_000),
        recorded: true,
        reason: String::new(),
        cti_initiated: false,
    }
}
