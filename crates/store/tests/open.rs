//! Opening: what `database` may be, and what errors say.

mod common;

use store::{Backend, Store, StoreError};

#[tokio::test]
async fn unknown_locations_are_refused() {
    for bad in ["", "mysql://user:secret@host/db", "redis://localhost"] {
        match Store::open(bad).await {
            Err(StoreError::UnsupportedDatabase) => {}
            Err(e) => panic!("{bad:?}: unexpected error {e}"),
            Ok(_) => panic!("{bad:?} was accepted"),
        }
    }
}

#[tokio::test]
async fn errors_do_not_reveal_the_path() {
    let e = match Store::open("/nonexistent-secret-dir/catalog.db").await {
        Err(e) => e,
        Ok(_) => panic!("opened a file in a missing directory"),
    };
    let message = e.to_string();
    assert!(!message.contains("secret"), "{message}");
}

#[tokio::test]
async fn a_file_path_creates_a_wal_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    let store = Store::open(path.to_str().unwrap()).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    assert!(path.exists());
    assert!(store.ping().await);
    store.close().await;
    // WAL is recorded in the file itself, so a plain connection sees it.
    let plain = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(&plain)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    plain.close().await;
}

#[tokio::test]
async fn sqlite_urls_work_including_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("u.db").display());
    let store = Store::open(&url).await.unwrap();
    assert!(store.ping().await);
    store.close().await;

    let memory = Store::open("sqlite::memory:").await.unwrap();
    memory
        .commit(vec![store::Write::Call(common::call(1, "100"))])
        .await
        .unwrap();
    // Reads may use another pooled connection: they must see the same in-memory database.
    let reads = futures_join(&memory).await;
    assert!(reads.iter().all(|ids| ids == &["100".to_string()]));
    memory.close().await;
}

async fn futures_join(store: &Store) -> Vec<Vec<String>> {
    let mut handles = Vec::new();
    for _ in 0..8 {
        let s = store.clone();
        handles.push(tokio::spawn(async move { s.device_ids().await.unwrap() }));
    }
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn a_refused_postgres_connection_fails_at_once_with_the_reason() {
    // Nothing listens on port 1. The pool alone would retry until its acquire timeout and
    // then report only "pool timed out".
    let started = std::time::Instant::now();
    let e = match Store::open("postgres://callvault:secret-pw@127.0.0.1:1/callvault").await {
        Err(e) => e,
        Ok(_) => panic!("opened a database on port 1"),
    };
    let message = format!("{e} {:?}", std::error::Error::source(&e));
    assert!(message.contains("refused"), "{message}");
    assert!(!message.contains("secret-pw"), "{message}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}
