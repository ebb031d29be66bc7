//! The catalog's behaviour, run on SQLite and (when reachable) PostgreSQL.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::{HOUR, T0, TestDb, call, recording};
use store::{
    CallMeta, CallRow, RecordingFilter, RecordingKind, RecordingRow, RecordingState, StoreError,
    TextField, TextMatch, Write,
};

on_both_backends!(
    round_trip_is_byte_for_byte,
    upsert_replaces_the_whole_row,
    later_writes_in_one_commit_win,
    concurrent_commits_all_land_in_few_transactions,
    committed_data_survives_dropping_the_store,
    filters_match_exactly_or_by_prefix,
    filters_on_dates_durations_ids_and_limits,
    recovery_queries,
    latest_recordings,
    close_flushes_and_refuses_later_writes,
    a_refused_write_fails_only_its_caller,
    submit_queues_in_order_and_an_empty_submit_is_a_barrier,
);

/// Text that breaks naive quoting, escaping, encodings and LIKE patterns.
const AWKWARD: [&str; 8] = [
    "Ünïcödé 日本語 🎙️📞 👩🏽‍💻",
    "<b>A&B</b>",
    "\"double\" 'single' `back`",
    "back\\slash; DROP TABLE calls; --",
    "100% _under_ [bracket] *star* ?q",
    "tab\tnew\nline\r\n",
    "  padded  ",
    "",
];

fn awkward_meta(seed: usize) -> CallMeta {
    let pick = |i: usize| format!("{}#{i}", AWKWARD[(seed + i) % AWKWARD.len()]);
    CallMeta {
        device_alias: pick(0),
        station_name: pick(1),
        agent_id: pick(2),
        agent_name: pick(3),
        ani: pick(4),
        dnis: pick(5),
        call_direction: "I".into(),
        call_id: pick(6),
        gate: pick(7),
        sgroup: AWKWARD[(seed + 3) % AWKWARD.len()].into(),
        user: std::array::from_fn(|i| pick(10 + i)),
    }
}

async fn round_trip_is_byte_for_byte(db: &TestDb) {
    let store = db.open().await;
    let long = "é".repeat(20_000);
    let full = RecordingRow {
        record_id: 9_007_199_254_740_993, // beyond f64 precision: must stay an integer
        call_key: 42,
        device_id: "Ünï-📞-1".into(),
        call_instance: AWKWARD[1].into(),
        meta: awkward_meta(0),
        call_start: T0,
        call_end: Some(T0 + 5 * HOUR),
        recording_start: T0 + 1,
        duration_ms: Some(123_456_789),
        kind: RecordingKind::Partial,
        audio: true,
        keep_days: Some(3650),
        archive_action: long.clone(),
        cti_initiated: true,
        agent_initiated: true,
        blackouts: 7,
        locked: true,
        state: RecordingState::Recovered,
        media_path: "2026/12/03/9007199254740993 <b>&\".wav".into(),
        purged: None,
    };
    // Every flag and option the other way round.
    let sparse = RecordingRow {
        record_id: 1,
        call_key: 43,
        device_id: String::new(),
        call_instance: String::new(),
        meta: awkward_meta(5),
        call_start: -1,
        call_end: None,
        recording_start: 0,
        duration_ms: None,
        kind: RecordingKind::Screen,
        audio: false,
        keep_days: None,
        archive_action: String::new(),
        cti_initiated: false,
        agent_initiated: false,
        blackouts: 0,
        locked: false,
        state: RecordingState::Open,
        media_path: String::new(),
        purged: None,
    };
    let ended = CallRow {
        call_key: 42,
        device_id: "Ünï-📞-1".into(),
        call_instance: AWKWARD[2].into(),
        meta: awkward_meta(2),
        start: T0,
        end: Some(T0 + 5 * HOUR),
        recorded: false,
        reason: "SCHEDULE_NOT_RECORDED <&>".into(),
        cti_initiated: true,
    };
    let live = CallRow {
        call_key: 43,
        end: None,
        recorded: true,
        reason: String::new(),
        cti_initiated: false,
        meta: awkward_meta(7),
        ..ended.clone()
    };
    store
        .commit(vec![
            Write::Call(ended.clone()),
            Write::Call(live.clone()),
            Write::Recording(full.clone()),
            Write::Recording(sparse.clone()),
        ])
        .await
        .expect("commit");

    assert_eq!(
        store.recording(full.record_id).await.unwrap(),
        Some(full.clone())
    );
    assert_eq!(store.recording(1).await.unwrap(), Some(sparse.clone()));
    assert_eq!(store.call(42).await.unwrap(), Some(ended));
    assert_eq!(store.call(43).await.unwrap(), Some(live));
    assert_eq!(store.recording(2).await.unwrap(), None);
    assert_eq!(store.call(2).await.unwrap(), None);
    // The same bytes through the list query.
    let listed = store.recordings(&all(10)).await.unwrap();
    assert_eq!(listed, vec![full, sparse]);
    store.close().await;
}

async fn upsert_replaces_the_whole_row(db: &TestDb) {
    let store = db.open().await;
    let mut r = recording(5, "100", T0);
    r.meta.ani = "5551234".into();
    r.state = RecordingState::Open;
    r.duration_ms = None;
    store
        .commit(vec![Write::Recording(r.clone())])
        .await
        .unwrap();

    let mut closed = r.clone();
    closed.meta = awkward_meta(1);
    closed.state = RecordingState::Closed;
    closed.duration_ms = Some(61_000);
    closed.locked = true;
    store
        .commit(vec![Write::Recording(closed.clone())])
        .await
        .unwrap();
    assert_eq!(store.recording(5).await.unwrap(), Some(closed));
    assert_eq!(store.recordings(&all(100)).await.unwrap().len(), 1);

    let mut c = call(5, "100");
    c.end = None;
    store.commit(vec![Write::Call(c.clone())]).await.unwrap();
    c.end = Some(T0 + 1);
    c.reason = "changed".into();
    store.commit(vec![Write::Call(c.clone())]).await.unwrap();
    assert_eq!(store.call(5).await.unwrap(), Some(c));
    assert!(store.open_calls().await.unwrap().is_empty());
    store.close().await;
}

async fn later_writes_in_one_commit_win(db: &TestDb) {
    let store = db.open().await;
    let first = recording(1, "100", T0);
    let mut second = first.clone();
    second.media_path = "second.wav".into();
    store
        .commit(vec![
            Write::Recording(first),
            Write::Recording(second.clone()),
        ])
        .await
        .unwrap();
    assert_eq!(store.recording(1).await.unwrap(), Some(second));
    store.close().await;
}

async fn concurrent_commits_all_land_in_few_transactions(db: &TestDb) {
    const TASKS: i64 = 200;
    let store = db.open().await;
    let before = store.stats();
    let start = Arc::new(tokio::sync::Barrier::new(TASKS as usize));
    let mut tasks = Vec::new();
    for i in 1..=TASKS {
        let store = store.clone();
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let device = format!("dev{}", i % 7);
            store
                .commit(vec![
                    Write::Call(call(i, &device)),
                    Write::Recording(recording(i, &device, T0 + i)),
                ])
                .await
        }));
    }
    for t in tasks {
        t.await.expect("task").expect("commit");
    }
    let stats = store.stats();
    let writes = stats.writes - before.writes;
    let transactions = stats.transactions - before.transactions;
    eprintln!("{TASKS} concurrent commits: {writes} writes in {transactions} transactions");
    assert_eq!(writes, 2 * TASKS as u64);
    assert_eq!(stats.failed_transactions, 0);
    assert!(
        transactions * 4 <= TASKS as u64,
        "{transactions} transactions for {TASKS} commits: writes were not grouped"
    );
    let listed = store.recordings(&all(1000)).await.unwrap();
    assert_eq!(listed.len(), TASKS as usize);
    assert_eq!(store.max_ids().await.unwrap(), (TASKS, TASKS));
    assert_eq!(store.device_ids().await.unwrap().len(), 7);
    store.close().await;
}

async fn committed_data_survives_dropping_the_store(db: &TestDb) {
    let store = db.open().await;
    let r = recording(77, "300", T0);
    store
        .commit(vec![
            Write::Call(call(77, "300")),
            Write::Recording(r.clone()),
        ])
        .await
        .unwrap();
    drop(store); // no close: nothing is flushed on the way out
    let reopened = db.open().await;
    assert_eq!(reopened.recording(77).await.unwrap(), Some(r));
    assert_eq!(
        reopened.device_ids().await.unwrap(),
        vec!["300".to_string()]
    );
    // Opening runs the migrations again, which must be a no-op.
    let again = db.open().await;
    assert!(again.ping().await);
    reopened.close().await;
    again.close().await;
}

fn all(limit: u32) -> RecordingFilter {
    RecordingFilter {
        limit,
        ..Default::default()
    }
}

fn by(field: TextField, m: TextMatch) -> RecordingFilter {
    RecordingFilter {
        text: vec![(field, m)],
        ..all(100)
    }
}

fn exact(v: &str) -> TextMatch {
    TextMatch::Exact(v.into())
}

fn prefix(v: &str) -> TextMatch {
    TextMatch::Prefix(v.into())
}

/// Record ids of the rows, in the order returned.
async fn ids(store: &store::Store, filter: &RecordingFilter) -> Vec<i64> {
    store
        .recordings(filter)
        .await
        .expect("recordings")
        .iter()
        .map(|r| r.record_id)
        .collect()
}

/// Six recordings whose fields overlap in the ways the filters must tell apart.
async fn filter_fixture(db: &TestDb) -> store::Store {
    let store = db.open().await;
    let mut rows = Vec::new();
    let mut r1 = recording(1, "100", T0);
    r1.meta.ani = "5551234".into();
    r1.meta.agent_id = "A1".into();
    r1.meta.station_name = "desk-1".into();
    r1.meta.dnis = "8000".into();
    r1.meta.call_id = "c-1".into();
    r1.meta.call_direction = "I".into();
    r1.meta.gate = "g1".into();
    r1.meta.sgroup = "sales".into();
    r1.duration_ms = Some(10_000);
    rows.push(r1);

    let mut r2 = recording(2, "1001", T0 + HOUR);
    r2.meta.ani = "5559999".into();
    r2.meta.call_direction = "O".into();
    r2.kind = RecordingKind::Partial;
    r2.duration_ms = Some(60_000);
    rows.push(r2);

    let mut r3 = recording(3, "200", T0 + 2 * HOUR);
    r3.meta.ani = "55%1".into();
    r3.meta.call_id = "a_b".into();
    r3.kind = RecordingKind::Screen;
    r3.audio = false;
    r3.state = RecordingState::Open;
    r3.duration_ms = None;
    rows.push(r3);

    let mut r4 = recording(4, "100", T0 + 3 * HOUR);
    r4.meta.ani = "55x1".into();
    r4.meta.call_id = "axb".into();
    r4.meta.user[2] = "crm-77".into();
    r4.duration_ms = Some(5_000);
    rows.push(r4);

    // Same recording start as 4: the higher record id comes first. Its call started long
    // before its recording did, which the date filter must see.
    let mut r5 = recording(5, "100", T0 + 3 * HOUR);
    r5.call_start = T0 - HOUR;
    r5.meta.ani = "ABC".into();
    r5.meta.user[2] = "crm-7".into();
    r5.duration_ms = Some(6_000);
    rows.push(r5);

    let mut r6 = recording(6, "10", T0 + 4 * HOUR);
    r6.meta.ani = "abc".into();
    r6.meta.dnis = "8000".into();
    r6.duration_ms = Some(600_000);
    rows.push(r6);

    store
        .commit(rows.into_iter().map(Write::Recording).collect())
        .await
        .unwrap();
    store
}

async fn filters_match_exactly_or_by_prefix(db: &TestDb) {
    use TextField::*;
    let s = filter_fixture(db).await;
    // Newest first, ties by record id.
    assert_eq!(ids(&s, &all(100)).await, [6, 5, 4, 3, 2, 1]);

    assert_eq!(ids(&s, &by(DeviceId, exact("100"))).await, [5, 4, 1]);
    assert_eq!(ids(&s, &by(DeviceId, prefix("100"))).await, [5, 4, 2, 1]);
    assert_eq!(ids(&s, &by(DeviceId, prefix("10"))).await, [6, 5, 4, 2, 1]);
    assert_eq!(ids(&s, &by(DeviceId, prefix(""))).await, [6, 5, 4, 3, 2, 1]);
    assert!(ids(&s, &by(DeviceId, exact("10%"))).await.is_empty());

    // `%` and `_` in a value are literal characters, not wildcards.
    assert_eq!(ids(&s, &by(Ani, prefix("55%"))).await, [3]);
    assert_eq!(ids(&s, &by(Ani, exact("55%1"))).await, [3]);
    assert_eq!(ids(&s, &by(CallId, exact("a_b"))).await, [3]);
    assert_eq!(ids(&s, &by(CallId, prefix("a_"))).await, [3]);
    assert_eq!(ids(&s, &by(CallId, prefix("a"))).await, [4, 3]);
    assert_eq!(ids(&s, &by(Ani, prefix("555"))).await, [2, 1]);

    // Case matters, for prefixes as for exact matches.
    assert_eq!(ids(&s, &by(Ani, exact("abc"))).await, [6]);
    assert_eq!(ids(&s, &by(Ani, prefix("ab"))).await, [6]);
    assert_eq!(ids(&s, &by(Ani, prefix("AB"))).await, [5]);

    assert_eq!(ids(&s, &by(AgentId, exact("A1"))).await, [1]);
    assert_eq!(ids(&s, &by(StationName, prefix("desk"))).await, [1]);
    assert_eq!(ids(&s, &by(Dnis, exact("8000"))).await, [6, 1]);
    assert_eq!(ids(&s, &by(CallDirection, exact("O"))).await, [2]);
    assert_eq!(ids(&s, &by(Gate, exact("g1"))).await, [1]);
    assert_eq!(ids(&s, &by(SGroup, exact("sales"))).await, [1]);
    assert_eq!(ids(&s, &by(User(3), exact("crm-7"))).await, [5]);
    assert_eq!(ids(&s, &by(User(3), prefix("crm-7"))).await, [5, 4]);
    assert!(ids(&s, &by(User(4), exact("crm-7"))).await.is_empty());

    // RECORDINGTYPE compares the kind, in any case.
    assert_eq!(ids(&s, &by(RecordingType, exact("partial"))).await, [2]);
    assert_eq!(ids(&s, &by(RecordingType, exact("SCREEN"))).await, [3]);
    assert_eq!(
        ids(&s, &by(RecordingType, exact("FULL"))).await,
        [6, 5, 4, 1]
    );

    assert!(matches!(
        s.recordings(&by(User(16), exact("x"))).await,
        Err(StoreError::UnknownUserField(16))
    ));
    assert!(matches!(
        s.recordings(&by(User(0), exact("x"))).await,
        Err(StoreError::UnknownUserField(0))
    ));

    // Filters are ANDed.
    let both = RecordingFilter {
        text: vec![(DeviceId, prefix("100")), (Ani, prefix("55"))],
        ..all(100)
    };
    assert_eq!(ids(&s, &both).await, [4, 2, 1]);
    s.close().await;
}

async fn filters_on_dates_durations_ids_and_limits(db: &TestDb) {
    let s = filter_fixture(db).await;
    let range = |from: Option<i64>, to: Option<i64>| RecordingFilter {
        from,
        to,
        ..all(100)
    };
    // The range is on the call's start, inclusive at both ends.
    assert_eq!(
        ids(&s, &range(Some(T0 + HOUR), Some(T0 + 2 * HOUR))).await,
        [3, 2]
    );
    assert_eq!(ids(&s, &range(Some(T0), None)).await, [6, 4, 3, 2, 1]);
    assert_eq!(ids(&s, &range(None, Some(T0))).await, [5, 1]);
    assert!(ids(&s, &range(Some(T0 + 9 * HOUR), None)).await.is_empty());

    let one = RecordingFilter {
        record_id: Some(4),
        ..all(100)
    };
    assert_eq!(ids(&s, &one).await, [4]);

    // Open recordings have no duration and match no duration filter.
    let dur = |min: Option<i64>, max: Option<i64>| RecordingFilter {
        min_duration_ms: min,
        max_duration_ms: max,
        ..all(100)
    };
    assert_eq!(ids(&s, &dur(Some(10_000), None)).await, [6, 2, 1]);
    assert_eq!(ids(&s, &dur(None, Some(6_000))).await, [5, 4]);
    assert_eq!(ids(&s, &dur(Some(6_000), Some(60_000))).await, [5, 2, 1]);

    // Top N of the newest-first order, also with a filter.
    assert_eq!(ids(&s, &all(2)).await, [6, 5]);
    assert_eq!(ids(&s, &all(1)).await, [6]);
    assert!(ids(&s, &all(0)).await.is_empty());
    let top = RecordingFilter {
        limit: 2,
        ..by(TextField::DeviceId, exact("100"))
    };
    assert_eq!(ids(&s, &top).await, [5, 4]);
    s.close().await;
}

async fn recovery_queries(db: &TestDb) {
    let s = db.open().await;
    assert_eq!(s.max_ids().await.unwrap(), (0, 0));
    assert!(s.device_ids().await.unwrap().is_empty());
    assert!(s.open_recordings().await.unwrap().is_empty());
    assert!(s.open_calls().await.unwrap().is_empty());

    let mut live = call(9, "200");
    live.end = None;
    let mut live2 = call(3, "100");
    live2.end = None;
    let ended = call(5, "100");
    let mut open = recording(12, "200", T0);
    open.call_key = 9;
    open.state = RecordingState::Open;
    open.duration_ms = None;
    let mut open2 = recording(4, "100", T0);
    open2.call_key = 3;
    open2.state = RecordingState::Open;
    let mut closed = recording(8, "100", T0);
    closed.call_key = 5;
    let mut recovered = recording(10, "100", T0);
    recovered.call_key = 5;
    recovered.state = RecordingState::Recovered;
    // A recording whose call row is missing still counts for the next call key.
    let mut orphan = recording(2, "999", T0);
    orphan.call_key = 11;
    s.commit(vec![
        Write::Call(live.clone()),
        Write::Call(live2.clone()),
        Write::Call(ended),
        Write::Recording(open.clone()),
        Write::Recording(open2.clone()),
        Write::Recording(closed),
        Write::Recording(recovered),
        Write::Recording(orphan),
    ])
    .await
    .unwrap();

    assert_eq!(s.open_calls().await.unwrap(), vec![live2, live]);
    assert_eq!(
        s.open_recordings().await.unwrap(),
        vec![open2, open.clone()]
    );
    assert_eq!(s.max_ids().await.unwrap(), (11, 12));
    assert_eq!(s.device_ids().await.unwrap(), ["100", "200"]);

    // Recovery closes the open recording: it is no longer reported.
    open.state = RecordingState::Recovered;
    open.duration_ms = Some(1_234);
    s.commit(vec![Write::Recording(open)]).await.unwrap();
    let still_open: BTreeSet<i64> = s
        .open_recordings()
        .await
        .unwrap()
        .iter()
        .map(|r| r.record_id)
        .collect();
    assert_eq!(still_open, BTreeSet::from([4]));
    s.close().await;
}

async fn latest_recordings(db: &TestDb) {
    let s = db.open().await;
    assert_eq!(s.latest_recording_of_device("100").await.unwrap(), None);
    let mut old = recording(1, "100", T0);
    old.meta.call_id = "X-1".into();
    old.meta.user[4] = "ticket-9".into();
    let mut newer = recording(2, "100", T0 + HOUR);
    newer.meta.call_id = "X-1".into();
    let mut tie = recording(3, "100", T0 + HOUR); // same start, higher id: newest
    tie.meta.ani = "5551234".into();
    tie.kind = RecordingKind::Partial;
    let other = recording(4, "200", T0 + 2 * HOUR);
    s.commit(
        [&old, &newer, &tie, &other]
            .into_iter()
            .map(|r| Write::Recording(r.clone()))
            .collect(),
    )
    .await
    .unwrap();

    assert_eq!(
        s.latest_recording_of_device("100").await.unwrap(),
        Some(tie.clone())
    );
    assert_eq!(
        s.latest_recording_of_device("200").await.unwrap(),
        Some(other)
    );
    assert_eq!(s.latest_recording_of_device("10").await.unwrap(), None);
    assert_eq!(
        s.latest_recording_where(TextField::CallId, "X-1")
            .await
            .unwrap(),
        Some(newer)
    );
    assert_eq!(
        s.latest_recording_where(TextField::User(5), "ticket-9")
            .await
            .unwrap(),
        Some(old)
    );
    assert_eq!(
        s.latest_recording_where(TextField::Ani, "5551234")
            .await
            .unwrap(),
        Some(tie.clone())
    );
    assert_eq!(
        s.latest_recording_where(TextField::RecordingType, "partial")
            .await
            .unwrap(),
        Some(tie)
    );
    // Exact only: no prefix, no wildcard.
    assert_eq!(
        s.latest_recording_where(TextField::CallId, "X-")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.latest_recording_where(TextField::CallId, "X-%")
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        s.latest_recording_where(TextField::User(16), "x").await,
        Err(StoreError::UnknownUserField(16))
    ));
    s.close().await;
}

async fn close_flushes_and_refuses_later_writes(db: &TestDb) {
    let s = db.open().await;
    assert!(s.ping().await);
    // Queue writes from other tasks and close while they may still be queued: every write
    // that was accepted is committed before close returns.
    let mut tasks = Vec::new();
    for i in 1..=50 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.commit(vec![Write::Recording(recording(i, "100", T0 + i))])
                .await
        }));
    }
    tokio::task::yield_now().await;
    s.close().await;
    let mut accepted = BTreeSet::new();
    for (i, t) in (1..).zip(tasks) {
        match t.await.unwrap() {
            Ok(()) => {
                accepted.insert(i);
            }
            Err(StoreError::Closed) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert!(!s.ping().await);
    assert!(matches!(
        s.commit(vec![Write::Call(call(1, "100"))]).await,
        Err(StoreError::Closed)
    ));
    s.close().await; // twice is harmless

    let reopened = db.open().await;
    let present: BTreeSet<i64> = ids(&reopened, &all(100)).await.into_iter().collect();
    assert_eq!(present, accepted);
    reopened.close().await;
}

/// A recording the database will refuse: a trigger on its table refuses it (NUL, which
/// PostgreSQL's text cannot hold, is stored as U+FFFD on both backends, so it is not one).
async fn refused_recording(db: &TestDb, record_id: i64) -> RecordingRow {
    let mut r = recording(record_id, "100", T0);
    if db.is_postgres() {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::raw_sql(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'refused'; END $$; \
             CREATE TRIGGER refuse BEFORE INSERT ON recordings FOR EACH ROW \
             WHEN (NEW.media_path = 'refuse') EXECUTE FUNCTION refuse();",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
    } else {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.url))
            .await
            .unwrap();
        sqlx::query(
            "CREATE TRIGGER refuse BEFORE INSERT ON recordings \
             WHEN NEW.media_path = 'refuse' BEGIN SELECT RAISE(ABORT, 'refused'); END",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }
    r.media_path = "refuse".into();
    r
}

async fn a_refused_write_fails_only_its_caller(db: &TestDb) {
    const TASKS: i64 = 20;
    const BAD: i64 = 7;
    let store = db.open().await;
    let bad = refused_recording(db, BAD).await;
    let start = Arc::new(tokio::sync::Barrier::new(TASKS as usize));
    let mut tasks = Vec::new();
    for i in 1..=TASKS {
        let (store, start, bad) = (store.clone(), start.clone(), bad.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let r = if i == BAD {
                bad
            } else {
                recording(i, "100", T0 + i)
            };
            store
                .commit(vec![Write::Call(call(i, "100")), Write::Recording(r)])
                .await
        }));
    }
    for (i, t) in (1..).zip(tasks) {
        let result = t.await.unwrap();
        if i == BAD {
            assert!(matches!(result, Err(StoreError::Database(_))), "{result:?}");
        } else {
            result.unwrap_or_else(|e| panic!("caller {i} failed: {e}"));
        }
    }
    // The refused caller's call is not there either: its writes are all or nothing.
    assert_eq!(store.call(BAD).await.unwrap(), None);
    assert_eq!(store.recording(BAD).await.unwrap(), None);
    assert_eq!(
        store.recordings(&all(100)).await.unwrap().len(),
        TASKS as usize - 1
    );
    assert!(store.stats().failed_transactions >= 1);
    assert!(
        store.ping().await,
        "the store still works after a refused batch"
    );
    store.close().await;
}

async fn submit_queues_in_order_and_an_empty_submit_is_a_barrier(db: &TestDb) {
    let store = db.open().await;
    let first = recording(1, "100", T0);
    let mut second = first.clone();
    second.media_path = "second.wav".into();
    // Queued in this order at the call, though neither future is awaited yet.
    let a = store.submit(vec![Write::Recording(first)]);
    let b = store.submit(vec![Write::Recording(second.clone())]);
    // Not even polled: the writes are queued all the same.
    drop(b);
    store.submit(Vec::new()).await.expect("barrier");
    assert_eq!(store.recording(1).await.unwrap(), Some(second));
    a.await.expect("first submit");
    store.close().await;
    assert!(matches!(
        store.submit(Vec::new()).await,
        Err(StoreError::Closed)
    ));
}
