//! Text from captured signalling may hold any character, NUL included. PostgreSQL's text
//! cannot store NUL, so both backends store it as U+FFFD (what an XML answer shows for it
//! anyway): the same value goes in and comes back whichever backend holds the catalog.

mod common;

use common::{TestDb, call, recording};
use store::Write;

on_both_backends!(nul_is_stored_as_the_replacement_character);

async fn nul_is_stored_as_the_replacement_character(db: &TestDb) {
    let store = db.open().await;
    let mut c = call(1, "dev\0ice");
    c.meta.ani = "555\0-0100".into();
    c.meta.call_id = "\0".into();
    c.meta.user[14] = "a\0b\0c".into();
    c.reason = "why\0".into();
    let mut r = recording(1, "dev\0ice", common::T0);
    r.meta = c.meta.clone();
    r.call_instance = "in\0stance".into();
    r.archive_action = "\0".into();
    r.media_path = "1\0.wav".into();
    store
        .commit(vec![Write::Call(c.clone()), Write::Recording(r.clone())])
        .await
        .expect("a value with NUL is stored");

    let stored = store.call(1).await.unwrap().unwrap();
    assert_eq!(stored.device_id, "dev\u{FFFD}ice");
    assert_eq!(stored.meta.ani, "555\u{FFFD}-0100");
    assert_eq!(stored.meta.call_id, "\u{FFFD}");
    assert_eq!(stored.meta.user[14], "a\u{FFFD}b\u{FFFD}c");
    assert_eq!(stored.reason, "why\u{FFFD}");
    let stored = store.recording(1).await.unwrap().unwrap();
    assert_eq!(stored.device_id, "dev\u{FFFD}ice");
    assert_eq!(stored.call_instance, "in\u{FFFD}stance");
    assert_eq!(stored.meta.ani, "555\u{FFFD}-0100");
    assert_eq!(stored.archive_action, "\u{FFFD}");
    assert_eq!(stored.media_path, "1\u{FFFD}.wav");
    assert_eq!(store.device_ids().await.unwrap(), ["dev\u{FFFD}ice"]);
    store.close().await;
}
