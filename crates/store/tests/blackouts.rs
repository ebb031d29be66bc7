//! Blackout spans of recordings and open agent blackouts, on SQLite and (when reachable)
//! PostgreSQL.

mod common;

use common::{T0, TestDb};
use store::{BlackoutSpan, Write};

on_both_backends!(spans_are_kept_per_recording, open_blackouts_open_and_close);

async fn spans_are_kept_per_recording(db: &TestDb) {
    let store = db.open().await;
    let span = |record_id, seq, start, end| BlackoutSpan {
        record_id,
        seq,
        start,
        end,
    };
    store
        .commit(vec![
            Write::BlackoutSpan(span(1, 1, T0, None)),
            Write::BlackoutSpan(span(1, 2, T0 + 5_000_000, None)),
            Write::BlackoutSpan(span(2, 1, T0 + 1, Some(T0 + 2))),
        ])
        .await
        .unwrap();
    // Closing a span replaces it.
    store
        .commit(vec![Write::BlackoutSpan(span(
            1,
            1,
            T0,
            Some(T0 + 3_000_000),
        ))])
        .await
        .unwrap();
    assert_eq!(
        store.blackout_spans(1).await.unwrap(),
        [
            span(1, 1, T0, Some(T0 + 3_000_000)),
            span(1, 2, T0 + 5_000_000, None)
        ]
    );
    assert_eq!(
        store.blackout_spans(2).await.unwrap(),
        [span(2, 1, T0 + 1, Some(T0 + 2))]
    );
    assert!(store.blackout_spans(3).await.unwrap().is_empty());
}

async fn open_blackouts_open_and_close(db: &TestDb) {
    let store = db.open().await;
    let open = |owner: &str, start| Write::OpenBlackout {
        owner: owner.to_string(),
        start,
    };
    store
        .commit(vec![
            open("agent:7", Some(T0)),
            open("device:200", Some(T0 + 1)),
            open("device:201", Some(T0 + 2)),
            // Opened again: the later start is kept.
            open("agent:7", Some(T0 + 3)),
            open("device:201", None),
            // Closing what is not open is no error.
            open("agent:9", None),
        ])
        .await
        .unwrap();
    assert_eq!(
        store.open_blackouts().await.unwrap(),
        [
            ("agent:7".to_string(), T0 + 3),
            ("device:200".to_string(), T0 + 1)
        ]
    );
}
