//! A commit that returned is on disk: the process is killed (abort, no destructors, no
//! close) right after, and a new process finds the rows.

mod common;

use std::process::Command;

use store::{Store, Write};

const CHILD_DB: &str = "CALLVAULT_STORE_ABORT_DB";

#[test]
fn commits_survive_a_process_abort() {
    if let Ok(path) = std::env::var(CHILD_DB) {
        child_commits_then_aborts(&path);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.db");
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["commits_survive_a_process_abort", "--exact", "--nocapture"])
        .env(CHILD_DB, &path)
        .status()
        .expect("run the child test process");
    assert!(!status.success(), "the child was meant to abort");

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Store::open(path.to_str().unwrap()).await.unwrap();
        assert_eq!(store.max_ids().await.unwrap(), (100, 100));
        for i in [1, 50, 100] {
            let got = store.recording(i).await.unwrap();
            assert_eq!(got, Some(common::recording(i, "100", common::T0 + i)));
        }
        store.close().await;
    });
}

fn child_commits_then_aborts(path: &str) -> ! {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Store::open(path).await.unwrap();
        let commits = (1..=100).map(|i| {
            let store = store.clone();
            async move {
                store
                    .commit(vec![
                        Write::Call(common::call(i, "100")),
                        Write::Recording(common::recording(i, "100", common::T0 + i)),
                    ])
                    .await
            }
        });
        for handle in commits.map(tokio::spawn).collect::<Vec<_>>() {
            handle.await.unwrap().unwrap();
        }
    });
    // Every commit has returned: die without closing anything.
    std::process::abort();
}
