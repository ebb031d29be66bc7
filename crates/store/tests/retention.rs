//! Retention in the catalog, on both backends: which recordings expire (KEEPDAYS after
//! they ended, ARCHIVEACTION DELETE, finished, not LOCKED), marking them purged, the files
//! still to delete, and the record of purge runs.

mod common;

use common::{HOUR, T0, TestDb, recording};
use store::{PurgeRun, PurgedMedia, RecordingKind, RecordingRow, RecordingState, Write};

const DAY: i64 = 24 * HOUR;
/// Every recording of `catalog` starts at T0 and lasts a minute, so it ends here.
const END: i64 = T0 + 60_000_000;

/// Recording `id` (started at T0, a minute long) with this retention.
fn kept(id: i64, keep_days: Option<i64>, action: &str) -> RecordingRow {
    let mut r = recording(id, "100", T0);
    r.keep_days = keep_days;
    r.archive_action = action.into();
    r
}

fn ids(media: &[PurgedMedia]) -> Vec<i64> {
    let mut ids: Vec<i64> = media.iter().map(|m| m.record_id).collect();
    ids.sort_unstable();
    ids
}

async fn catalog(db: &TestDb) -> store::Store {
    let store = db.open().await;
    let mut locked = kept(4, Some(0), "DELETE");
    locked.locked = true;
    let mut open = kept(5, Some(0), "DELETE");
    open.state = RecordingState::Open;
    open.duration_ms = None;
    let mut session = kept(9, Some(0), "DELETE");
    session.kind = RecordingKind::Screen;
    session.audio = false;
    session.media_path = String::new();
    let rows = [
        kept(1, Some(0), "DELETE"),
        kept(2, Some(30), "DELETE"),
        kept(3, Some(0), "NONE"),
        locked,
        open,
        kept(6, None, "DELETE"),
        kept(7, Some(0), "delete"),
        // Beyond 1,000,000 days: never (and no overflow).
        kept(8, Some(i64::MAX / 2), "DELETE"),
        session,
        kept(10, Some(0), "KEEP"),
        // Written before ARCHIVEACTION was checked: anything but DELETE keeps it.
        kept(11, Some(0), ""),
        kept(12, Some(0), "ARCHIVE"),
    ];
    store
        .commit(rows.into_iter().map(Write::Recording).collect())
        .await
        .expect("commit");
    store
}

async fn expiry_follows_keepdays_action_lock_and_end(db: &TestDb) {
    let store = catalog(db).await;
    // Nothing has expired before the recordings ended.
    assert!(store.mark_expired(END - 1, 100).await.unwrap().is_empty());

    // KEEPDAYS 0: expired as soon as it ended; DELETE in any case; sessions too.
    let marked = store.mark_expired(END, 100).await.unwrap();
    assert_eq!(ids(&marked), [1, 7, 9]);
    let one = marked.iter().find(|m| m.record_id == 1).unwrap();
    assert_eq!(one.media_path, "1.wav");
    assert!(
        store.mark_expired(END, 100).await.unwrap().is_empty(),
        "once"
    );
    assert_eq!(store.recording(1).await.unwrap().unwrap().purged, Some(END));
    assert_eq!(store.recording(3).await.unwrap().unwrap().purged, None);

    // KEEPDAYS 30: thirty days after the end, to the microsecond.
    assert!(
        store
            .mark_expired(END + 30 * DAY - 1, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(&store.mark_expired(END + 30 * DAY, 100).await.unwrap()),
        [2]
    );
    // The rest never expire: NONE, KEEP, LOCKED, still recording, no KEEPDAYS, a KEEPDAYS
    // beyond a million days, and actions other than DELETE.
    assert!(
        store
            .mark_expired(END + 10_000 * 365 * DAY, 100)
            .await
            .unwrap()
            .is_empty()
    );
    store.close().await;
}

async fn a_purge_mark_survives_row_writes(db: &TestDb) {
    let store = catalog(db).await;
    store.mark_expired(END, 100).await.unwrap();
    // The engine writes rows whole (a CALLUPDATE, say); the mark is not its to change.
    let mut again = store.recording(1).await.unwrap().unwrap();
    again.purged = None;
    again.meta.user[0] = "updated".into();
    store.commit(vec![Write::Recording(again)]).await.unwrap();
    let row = store.recording(1).await.unwrap().unwrap();
    assert_eq!(row.meta.user[0], "updated");
    assert_eq!(row.purged, Some(END));
    store.close().await;
}

async fn locking_or_keeping_longer_stops_expiry(db: &TestDb) {
    let store = catalog(db).await;
    // Recording 1 is locked, recording 7 given KEEPDAYS 2, before any purge.
    let mut one = store.recording(1).await.unwrap().unwrap();
    one.locked = true;
    let mut seven = store.recording(7).await.unwrap().unwrap();
    seven.keep_days = Some(2);
    store
        .commit(vec![Write::Recording(one), Write::Recording(seven)])
        .await
        .unwrap();
    assert_eq!(ids(&store.mark_expired(END, 100).await.unwrap()), [9]);
    assert!(store.mark_expired(END + DAY, 100).await.unwrap().is_empty());
    assert_eq!(
        ids(&store.mark_expired(END + 2 * DAY, 100).await.unwrap()),
        [7]
    );
    store.close().await;
}

async fn batches_take_the_soonest_first(db: &TestDb) {
    let store = db.open().await;
    // Ten recordings, each expiring an hour after the one before, written newest first.
    let rows: Vec<Write> = (1..=10)
        .rev()
        .map(|i| {
            let mut r = kept(i, Some(0), "DELETE");
            r.recording_start = T0 + i * HOUR;
            Write::Recording(r)
        })
        .collect();
    store.commit(rows).await.unwrap();
    let now = T0 + 20 * HOUR;
    assert_eq!(
        ids(&store.mark_expired(now, 4).await.unwrap()),
        [1, 2, 3, 4]
    );
    assert_eq!(
        ids(&store.mark_expired(now, 4).await.unwrap()),
        [5, 6, 7, 8]
    );
    assert_eq!(ids(&store.mark_expired(now, 4).await.unwrap()), [9, 10]);
    assert!(store.mark_expired(now, 4).await.unwrap().is_empty());
    store.close().await;
}

async fn pending_files_until_recorded_gone(db: &TestDb) {
    let store = catalog(db).await;
    assert!(store.purge_pending(i64::MIN, 100).await.unwrap().is_empty());
    store.mark_expired(END, 100).await.unwrap();
    let pending = store.purge_pending(i64::MIN, 100).await.unwrap();
    assert_eq!(
        pending.iter().map(|m| m.record_id).collect::<Vec<_>>(),
        [1, 7, 9],
        "by record id"
    );
    // Paged by the last id seen.
    let page = store.purge_pending(i64::MIN, 2).await.unwrap();
    assert_eq!(ids(&page), [1, 7]);
    assert_eq!(ids(&store.purge_pending(7, 2).await.unwrap()), [9]);

    store.media_purged(&[(1, 4_044), (9, 0)]).await.unwrap();
    assert_eq!(ids(&store.purge_pending(i64::MIN, 100).await.unwrap()), [7]);
    // A second report for a file already gone changes nothing.
    store.media_purged(&[(1, 0)]).await.unwrap();
    assert_eq!(ids(&store.purge_pending(i64::MIN, 100).await.unwrap()), [7]);
    store.close().await;

    // Pending files are still pending after a restart.
    let reopened = db.open().await;
    assert_eq!(
        ids(&reopened.purge_pending(i64::MIN, 100).await.unwrap()),
        [7]
    );
    reopened.close().await;
}

async fn purge_runs_are_kept_across_restarts(db: &TestDb) {
    let store = db.open().await;
    assert_eq!(store.last_purge_run().await.unwrap(), None);
    let first = PurgeRun {
        started: T0,
        finished: T0 + 1_000,
        purged: 3,
        bytes_freed: 123_456,
        failed: 1,
    };
    let second = PurgeRun {
        started: T0 + HOUR,
        finished: T0 + HOUR + 2_000,
        purged: 0,
        bytes_freed: 0,
        failed: 0,
    };
    store.record_purge_run(&first).await.unwrap();
    assert_eq!(store.last_purge_run().await.unwrap(), Some(first));
    store.record_purge_run(&second).await.unwrap();
    assert_eq!(store.last_purge_run().await.unwrap(), Some(second));
    store.close().await;
    let reopened = db.open().await;
    assert_eq!(reopened.last_purge_run().await.unwrap(), Some(second));
    reopened.close().await;
}

on_both_backends!(
    expiry_follows_keepdays_action_lock_and_end,
    a_purge_mark_survives_row_writes,
    locking_or_keeping_longer_stops_expiry,
    batches_take_the_soonest_first,
    pending_files_until_recorded_gone,
    purge_runs_are_kept_across_restarts,
);
