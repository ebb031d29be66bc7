//! Call handling, recording control, status and CALLLIST through the real binary.

mod common;

use common::{Server, ServerBuilder, code, field, sections};

fn server() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data")).start();
    (dir, s)
}

fn server_with(config: &str) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data"))
        .config(config)
        .start();
    (dir, s)
}

/// Runs a request and checks its result code.
fn ok(s: &Server, query: &str, want: u32) -> String {
    let doc = s.api(query);
    assert_eq!(code(&doc), want, "{query} → {doc}");
    doc
}

#[test]
fn call_instances_and_most_recent_call_defaults() {
    let (_d, s) = server();
    let a = ok(&s, "type=callstart&requestid=1&deviceid=200&ani=111", 20);
    let b = ok(
        &s,
        "type=callstart&requestid=2&deviceid=200&callinstance=2&ani=222",
        20,
    );
    assert_eq!(field(&a, "RECORDING"), "Y");
    assert_eq!(field(&a, "CALLINSTANCE"), "");
    assert_eq!(field(&b, "CALLINSTANCE"), "2");
    assert_ne!(field(&a, "RECORDID"), field(&b, "RECORDID"));

    let rs = ok(
        &s,
        "type=devicerecordingstatus&requestid=3&deviceid=200",
        20,
    );
    let instances = sections(&rs, "INSTANCE");
    assert_eq!(instances.len(), 2, "{rs}");
    assert!(instances.iter().all(|i| field(i, "STATUS") == "RECORDING"));

    // Without CALLINSTANCE, CALLSTOP ends the most recent call: instance 2.
    let stop = ok(&s, "type=callstop&requestid=4&deviceid=200", 20);
    assert_eq!(field(&stop, "CALLINSTANCE"), "2");
    assert_eq!(field(&stop, "ANI"), "222");
    assert_eq!(field(&stop, "RECORDING"), "N");
    let st = ok(&s, "type=devicestatus&requestid=5&deviceid=200", 20);
    assert_eq!(field(&st, "ANI"), "111");
    assert_eq!(field(&st, "STATE"), "2");
    assert_eq!(field(&st, "STATEDESC"), "Recording");

    ok(
        &s,
        "type=callstop&requestid=6&deviceid=200&callinstance=",
        20,
    );
    let err = ok(&s, "type=callstop&requestid=7&deviceid=200", 7);
    assert!(
        field(&err, "RESULTMSG").starts_with("API_DEVICE_NOT_IN_CALL: "),
        "{err}"
    );
    ok(&s, "type=callstop&requestid=8&deviceid=999", 8);
    ok(&s, "type=callstop&requestid=9", 8);
    ok(&s, "type=callstop&requestid=10&devicealias=nobody", 5);

    let st = ok(&s, "type=devicestatus&requestid=11&deviceid=200", 20);
    assert_eq!(field(&st, "STATE"), "0");
    assert_eq!(field(&st, "ANI"), "111", "the most recent call is shown");
    let list = ok(&s, "type=calllist&requestid=12&deviceid=200", 20);
    assert_eq!(field(&list, "COUNT"), "2");
    for call in sections(&list, "CALL") {
        assert_eq!(field(&call, "RECORDING"), "N");
        assert_eq!(field(&call, "CTIINITIATED"), "Y");
        assert!(!field(&call, "CALLENDTIME").is_empty());
    }
}

#[test]
fn duplicate_callstart_updates_or_replaces_the_call() {
    let (_d, s) = server();
    let a = ok(
        &s,
        "type=callstart&requestid=1&deviceid=300&callid=X1&ani=1",
        20,
    );
    let again = ok(
        &s,
        "type=callstart&requestid=2&deviceid=300&callid=X1&dnis=2",
        20,
    );
    assert_eq!(field(&a, "RECORDID"), field(&again, "RECORDID"));
    assert_eq!(field(&again, "ANI"), "1");
    assert_eq!(field(&again, "DNIS"), "2");
    let other = ok(&s, "type=callstart&requestid=3&deviceid=300&callid=X2", 20);
    assert_ne!(field(&a, "RECORDID"), field(&other, "RECORDID"));
    let list = ok(&s, "type=calllist&requestid=4&deviceid=300", 20);
    assert_eq!(field(&list, "COUNT"), "2");
    let calls = sections(&list, "CALL");
    // Newest first: X2 still recording, X1 ended when X2 began.
    assert_eq!(field(&calls[0], "CALLID"), "X2");
    assert_eq!(field(&calls[0], "RECORDING"), "Y");
    assert_eq!(field(&calls[1], "CALLID"), "X1");
    assert_eq!(field(&calls[1], "RECORDING"), "N");
    assert_eq!(field(&calls[1], "DNIS"), "2");
}

#[test]
fn callupdate_live_after_the_call_and_by_recordid() {
    let (_d, s) = server();
    ok(&s, "type=callupdate&requestid=1&deviceid=400&user1=a", 8);
    ok(&s, "type=callupdate&requestid=2&user1=a", 8);
    let start = ok(&s, "type=callstart&requestid=3&deviceid=400", 20);
    let id = field(&start, "RECORDID");
    let up = ok(
        &s,
        "type=callupdate&requestid=4&deviceid=400&ani=5550100&calldirection=inbound&gate=G1",
        20,
    );
    assert_eq!(field(&up, "ANI"), "5550100");
    assert_eq!(field(&up, "CALLDIRECTION"), "I");
    assert_eq!(
        field(&up, "RECORDING"),
        "Y",
        "CALLUPDATE does not change recording"
    );
    ok(&s, "type=callstop&requestid=5&deviceid=400", 20);

    ok(&s, "type=callupdate&requestid=6&deviceid=400&user2=late", 7);
    let late = ok(
        &s,
        "type=callupdate&requestid=7&deviceid=400&user2=late&update_if_not_recording=Y",
        20,
    );
    assert_eq!(field(&late, "RECORDID"), id);
    assert_eq!(field(&late, "USER2"), "late");

    let post = ok(
        &s,
        &format!(
            "type=callupdate&requestid=8&recordid={id}&user3=post&keepdays=30&archiveaction=DELETE"
        ),
        20,
    );
    assert_eq!(field(&post, "USER3"), "post");
    assert_eq!(field(&post, "KEEPDAYS"), "30");
    ok(&s, "type=callupdate&requestid=9&recordid=99999&user3=x", 31);
    ok(&s, "type=callupdate&requestid=10&recordid=abc", 17);

    let list = ok(&s, &format!("type=calllist&requestid=11&recordid={id}"), 20);
    assert_eq!(field(&list, "COUNT"), "1");
    for (f, v) in [
        ("ANI", "5550100"),
        ("GATE", "G1"),
        ("USER2", "late"),
        ("USER3", "post"),
        ("KEEPDAYS", "30"),
        ("ARCHIVEACTION", "DELETE"),
    ] {
        assert_eq!(field(&list, f), v, "{f} in {list}");
    }
}

#[test]
fn partial_recordings() {
    let (_d, s) = server();
    // An idle device gets an implicit call.
    let start = ok(
        &s,
        "type=recordstart&requestid=1&deviceid=500&agentinitiated=Y",
        0,
    );
    assert_eq!(field(&start, "RESULTTYPE"), "API_RECORDING_STARTED");
    assert_eq!(field(&start, "RECORDINGTYPE"), "PARTIAL");
    assert_eq!(field(&start, "AGENTINITIATED"), "Y");
    ok(&s, "type=recordstart&requestid=2&deviceid=500", 1);
    let stop = ok(&s, "type=recordstop&requestid=3&deviceid=500", 13);
    assert_eq!(field(&stop, "RESULTTYPE"), "API_RECORDING_STOPPED");
    assert_eq!(field(&stop, "RECORDID"), field(&start, "RECORDID"));
    let st = ok(&s, "type=devicestatus&requestid=4&deviceid=500", 20);
    assert_eq!(field(&st, "STATE"), "0", "the implicit call ended: {st}");
    ok(&s, "type=recordstop&requestid=5&deviceid=500", 12);

    // During a call: the full recording goes on.
    let call = ok(&s, "type=callstart&requestid=6&deviceid=501", 20);
    let part = ok(&s, "type=recordstart&requestid=7&deviceid=501", 0);
    assert_ne!(field(&call, "RECORDID"), field(&part, "RECORDID"));
    let rs = ok(
        &s,
        "type=devicerecordingstatus&requestid=8&deviceid=501",
        20,
    );
    assert_eq!(field(&rs, "RECORDIDS").split(',').count(), 2, "{rs}");
    ok(&s, "type=recordstop&requestid=9&deviceid=501", 13);
    let st = ok(&s, "type=devicestatus&requestid=10&deviceid=501", 20);
    assert_eq!(field(&st, "RECORDING"), "Y");
    assert_eq!(field(&st, "RECORDID"), field(&call, "RECORDID"));
    ok(&s, "type=recordstop&requestid=11&deviceid=501", 12);
    ok(&s, "type=callstop&requestid=12&deviceid=501", 20);
    let list = ok(&s, "type=calllist&requestid=13&recordingtype=partial", 20);
    assert_eq!(field(&list, "COUNT"), "2");
}

#[test]
fn callstart_after_recordstart_makes_a_real_recorded_call() {
    let (_d, s) = server();
    let part = ok(&s, "type=recordstart&requestid=1&deviceid=600", 0);
    let call = ok(&s, "type=callstart&requestid=2&deviceid=600&ani=77", 20);
    assert_eq!(field(&call, "RECORDINGTYPE"), "FULL", "{call}");
    assert_ne!(field(&call, "RECORDID"), field(&part, "RECORDID"));
    // RECORDSTOP ends the partial recording only; the call goes on until CALLSTOP.
    ok(&s, "type=recordstop&requestid=3&deviceid=600", 13);
    let st = ok(&s, "type=devicestatus&requestid=4&deviceid=600", 20);
    assert_eq!(field(&st, "RECORDING"), "Y", "{st}");
    ok(&s, "type=callstop&requestid=5&deviceid=600", 20);
}

#[test]
fn callstop_ends_partial_recordings_and_frees_their_channels() {
    let (_d, s) = server_with("[recorder]\nchannels = 2\n");
    ok(&s, "type=callstart&requestid=1&deviceid=610", 20);
    ok(&s, "type=recordstart&requestid=2&deviceid=610", 0);
    let st = ok(&s, "type=devicestatus&requestid=3&deviceid=610", 20);
    assert_eq!(field(&st, "STATE"), "2");
    ok(&s, "type=recordstart&requestid=4&deviceid=611", 3);
    ok(&s, "type=callstop&requestid=5&deviceid=610", 20);
    let sys = ok(&s, "type=systemstatus&requestid=6", 20);
    assert_eq!(field(&sys, "CHANNELSINUSE"), "0");
    let list = ok(&s, "type=calllist&requestid=7&deviceid=610", 20);
    assert_eq!(field(&list, "COUNT"), "2");
    assert!(
        sections(&list, "CALL")
            .iter()
            .all(|c| field(c, "RECORDING") == "N")
    );
    // A refused request does not touch the device's last event time either.
    let status = |id: u32| {
        ok(
            &s,
            &format!("type=devicestatus&requestid={id}&deviceid=610"),
            20,
        )
    };
    let before = field(&status(8), "LASTEVENTTIME");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    ok(&s, "type=callstop&requestid=9&deviceid=610", 7);
    ok(&s, "type=recordstop&requestid=10&deviceid=610", 12);
    ok(&s, "type=callupdate&requestid=11&deviceid=610&ani=1", 7);
    assert_eq!(before, field(&status(12), "LASTEVENTTIME"));
    ok(&s, "type=callupdate&requestid=13&recordid=", 26);
}

#[test]
fn a_recording_needs_a_free_channel() {
    let (_d, s) = server_with("[recorder]\nchannels = 1\n");
    let a = ok(&s, "type=callstart&requestid=1&deviceid=A", 20);
    assert_eq!(field(&a, "RECORDING"), "Y");
    let b = ok(&s, "type=callstart&requestid=2&deviceid=B", 20);
    assert_eq!(field(&b, "RECORDING"), "N");
    assert_eq!(field(&b, "RECORDID"), "");
    assert_eq!(field(&b, "REASON"), "API_ERROR_NO_FREE_CHANNELS");
    ok(&s, "type=recordstart&requestid=3&deviceid=B", 3);
    let ch = ok(&s, "type=channelstatus&requestid=4", 20);
    assert_eq!(field(&ch, "COUNT"), "1");
    assert_eq!(field(&ch, "RECORDID"), field(&a, "RECORDID"));
    assert_eq!(field(&ch, "DEVICEID"), "A");
    ok(&s, "type=callstop&requestid=5&deviceid=A", 20);
    ok(&s, "type=recordstart&requestid=6&deviceid=B", 0);
    let sys = ok(&s, "type=systemstatus&requestid=7", 20);
    assert_eq!(field(&sys, "CHANNELS"), "1");
    assert_eq!(field(&sys, "CHANNELSINUSE"), "1");
    assert_eq!(field(&sys, "ACTIVECALLS"), "1");
}

#[test]
fn low_disk_space_refuses_recording() {
    let (_d, s) = server_with("[recorder]\nmin_free_bytes = 18446744073709551615\n");
    let a = ok(&s, "type=callstart&requestid=1&deviceid=A", 20);
    assert_eq!(field(&a, "RECORDING"), "N");
    assert_eq!(field(&a, "REASON"), "API_ERROR_OUT_OF_DISK_SPACE");
    ok(&s, "type=recordstart&requestid=2&deviceid=A", 2);
    ok(&s, "type=callstop&requestid=3&deviceid=A", 20);
    let list = ok(&s, "type=calllist&requestid=4", 20);
    assert_eq!(field(&list, "COUNT"), "0");
}

#[test]
fn an_unusable_recording_path_refuses_recording() {
    let (_d, s) = server();
    let rec_dir = s.data_dir.join("recordings");
    std::fs::remove_dir_all(&rec_dir).unwrap();
    std::fs::write(&rec_dir, b"not a directory").unwrap();
    ok(&s, "type=recordstart&requestid=1&deviceid=A", 18);
    let a = ok(&s, "type=callstart&requestid=2&deviceid=A", 20);
    assert_eq!(field(&a, "RECORDING"), "N");
    assert_eq!(field(&a, "REASON"), "API_ERROR_NO_DEFAULT_RECORDING_PATH");
    let list = ok(&s, "type=calllist&requestid=3", 20);
    assert_eq!(field(&list, "COUNT"), "0");
}

#[test]
fn unknown_devices_are_refused_when_auto_create_is_off() {
    let (_d, s) = server_with("[devices]\nauto_create = false\n");
    ok(&s, "type=callstart&requestid=1&deviceid=200", 8);
    ok(&s, "type=recordstart&requestid=2&deviceid=200", 8);
    ok(&s, "type=devicestatus&requestid=3&deviceid=200", 8);
    let list = ok(&s, "type=devicelist&requestid=4", 20);
    assert_eq!(field(&list, "COUNT"), "0");
}

#[test]
fn device_ids_are_checked_and_refusals_leave_no_device() {
    let (_d, s) = server_with("[recorder]\nchannels = 1\n");
    let long = "a".repeat(65);
    let doc = ok(
        &s,
        &format!("type=callstart&requestid=1&deviceid={long}"),
        26,
    );
    assert!(field(&doc, "RESULTMSG").contains("DEVICEID"), "{doc}");
    ok(
        &s,
        &format!("type=callstart&requestid=2&deviceid={}", "a".repeat(64)),
        20,
    );
    ok(&s, "type=callstart&requestid=3&deviceid=500,501", 17);
    ok(&s, "type=callstart&requestid=4&deviceid=30%000", 16);
    ok(&s, "type=callstart&requestid=5&deviceid=30%01x", 16);
    // The one channel is busy: RECORDSTART on a new device is refused and creates nothing.
    ok(&s, "type=recordstart&requestid=6&deviceid=3", 3);
    let list = ok(&s, "type=devicelist&requestid=7", 20);
    assert_eq!(field(&list, "COUNT"), "1", "{list}");
}

#[test]
fn status_commands() {
    let (_d, s) = server();
    ok(&s, "type=callstart&requestid=1&deviceid=10&ani=1", 20);
    ok(&s, "type=callstart&requestid=2&deviceid=11&ani=2", 20);
    let list = ok(&s, "type=devicelist&requestid=3", 20);
    assert_eq!(field(&list, "COUNT"), "2");
    let devices = sections(&list, "DEVICE");
    assert_eq!(field(&devices[0], "DEVICEID"), "10");
    assert_eq!(field(&devices[1], "DEVICEID"), "11");
    let st = ok(&s, "type=devicestatus&requestid=4&deviceid=10,11", 20);
    assert_eq!(field(&st, "COUNT"), "2");
    // Unknown devices in a list are left out; 8 only when none is known.
    let st = ok(&s, "type=devicestatus&requestid=5&deviceid=12,10,10", 20);
    assert_eq!(field(&st, "COUNT"), "1");
    assert_eq!(field(&st, "DEVICEID"), "10");
    ok(&s, "type=devicestatus&requestid=5&deviceid=12,13", 8);
    ok(
        &s,
        "type=devicestatus&requestid=6&deviceid=10&sys_user=bob",
        22,
    );
    ok(&s, "type=devicestatus&requestid=7", 8);
    let sys = ok(&s, "type=systemstatus&requestid=8", 20);
    assert_eq!(field(&sys, "DATABASE"), "OK");
    assert_eq!(field(&sys, "SCHEDULER"), "RUNNING");
    assert_eq!(field(&sys, "ACTIVERECORDINGS"), "2");
    assert!(field(&sys, "DISKFREE").parse::<u64>().unwrap() > 0);
    let ch = ok(&s, "type=channelstatus&requestid=9", 20);
    assert_eq!(field(&ch, "COUNT"), "64");
    assert_eq!(sections(&ch, "CHANNEL").len(), 64);
}

#[test]
fn calllist_filters() {
    let (_d, s) = server();
    let calls = [
        ("701", "5550100", "800", "I", "G1", "S1", "alpha"),
        ("701", "5550199", "801", "O", "G2", "S1", "beta"),
        ("702", "4440100", "800", "I", "G1", "S2", "alpha%_x"),
    ];
    let mut ids = Vec::new();
    let mut starts = Vec::new();
    for (i, (dev, ani, dnis, dir, gate, sgroup, user1)) in calls.iter().enumerate() {
        if i > 0 {
            // Start times are shown to the second: keep the calls a second apart.
            std::thread::sleep(std::time::Duration::from_millis(1100));
        }
        let user1 = user1.replace('%', "%25");
        let doc = ok(
            &s,
            &format!(
                "type=callstart&requestid={i}&deviceid={dev}&ani={ani}&dnis={dnis}&calldirection={dir}&gate={gate}&sgroup={sgroup}&user1={user1}&callid=C{i}"
            ),
            20,
        );
        ids.push(field(&doc, "RECORDID"));
        starts.push(field(&doc, "CALLSTARTTIME"));
        if i == 0 {
            // The first call lasts over a second; the others a few milliseconds.
            std::thread::sleep(std::time::Duration::from_millis(1100));
        }
        ok(
            &s,
            &format!("type=callstop&requestid=9{i}&deviceid={dev}"),
            20,
        );
    }
    let count = |q: &str| -> usize {
        let doc = ok(&s, &format!("type=calllist&requestid=50&{q}"), 20);
        let n: usize = field(&doc, "COUNT").parse().unwrap();
        assert_eq!(sections(&doc, "CALL").len(), n);
        n
    };
    assert_eq!(count(""), 3);
    assert_eq!(count("deviceid=701"), 2);
    assert_eq!(count("ani=555%25"), 2);
    assert_eq!(count("ani=555"), 0);
    assert_eq!(count("ani=5550100"), 1);
    assert_eq!(count("dnis=800&deviceid=702"), 1);
    assert_eq!(count("calldirection=OUT"), 1);
    assert_eq!(count("gate=G1"), 2);
    assert_eq!(count("sgroup=S1&gate=G2"), 1);
    assert_eq!(count("callid=C2"), 1);
    assert_eq!(count("user1=alpha"), 1);
    assert_eq!(count("user1=alpha%25"), 2);
    assert_eq!(
        count("user1=alpha%25_%25"),
        1,
        "% and _ inside a value are literal"
    );
    assert_eq!(count(&format!("recordid={}", ids[1])), 1);
    assert_eq!(count("recordingtype=FULL"), 3);
    assert_eq!(count("minduration=1"), 1);
    assert_eq!(count("maxduration=1"), 2);
    assert_eq!(count("minduration=0.5&maxduration=3600"), 1);
    assert_eq!(count("minduration=3600"), 0);
    let enc = |t: &str| t.replace('+', "%2B");
    assert_eq!(count(&format!("calldatestart={}", enc(&starts[1]))), 2);
    // The bounds are instants: a start time shown as 12:00:01 began after 12:00:01.000.
    assert_eq!(count(&format!("calldateend={}", enc(&starts[1]))), 1);
    let both = format!(
        "calldatestart={}&calldateend={}",
        enc(&starts[1]),
        enc(&starts[2])
    );
    assert_eq!(count(&both), 1);
    assert_eq!(count("calldateend=2000-01-01T00:00:00Z"), 0);
    assert_eq!(
        count("calldatestart=1/1/2000%2012:00%20AM&calldateend=12/31/2999%2011:59:59%20PM"),
        3
    );

    // Newest first, and CALLCOUNT takes the top N.
    let doc = ok(&s, "type=calllist&requestid=51&callcount=2", 20);
    let got: Vec<String> = sections(&doc, "CALL")
        .iter()
        .map(|c| field(c, "RECORDID"))
        .collect();
    assert_eq!(got, vec![ids[2].clone(), ids[1].clone()]);

    ok(&s, "type=calllist&requestid=52&calldatestart=yesterday", 17);
    ok(&s, "type=calllist&requestid=53&callcount=0", 17);
    ok(&s, "type=calllist&requestid=54&recordingtype=video", 17);
    ok(&s, "type=calllist&requestid=55&groupid=1", 27);
}

#[test]
fn export_wav_and_its_errors() {
    let (_d, s) = server();
    let start = ok(
        &s,
        "type=callstart&requestid=1&deviceid=900&user2=10121968",
        20,
    );
    let id = field(&start, "RECORDID");
    ok(
        &s,
        &format!("type=export&requestid=2&uniquefield=recordid&uniqueid={id}&media_format=wav"),
        31,
    );
    ok(&s, "type=callstop&requestid=3&deviceid=900", 20);
    // A CTI-only call has no captured audio.
    let doc = ok(
        &s,
        "type=export&requestid=4&uniquefield=user2&uniqueid=10121968&media_format=wav",
        31,
    );
    assert!(field(&doc, "RESULTMSG").contains("no audio"), "{doc}");
    // Every format is accepted; the recording still has no audio.
    for token in [
        "mp3",
        "WEBM",
        "webma",
        "GSMWAV",
        "gsm",
        "GSM_WAV",
        "GSM%20WAV",
    ] {
        let doc = ok(
            &s,
            &format!(
                "type=export&requestid=4&uniquefield=user2&uniqueid=10121968&media_format={token}"
            ),
            31,
        );
        assert!(
            field(&doc, "RESULTMSG").contains("no audio"),
            "{token}: {doc}"
        );
    }
    ok(
        &s,
        "type=export&requestid=5&uniquefield=recordid&uniqueid=424242&media_format=wav",
        31,
    );
    ok(
        &s,
        &format!("type=export&requestid=6&uniquefield=recordid&uniqueid={id}&media_format=flac"),
        34,
    );
    ok(
        &s,
        &format!("type=export&requestid=7&uniquefield=recordid&uniqueid={id}"),
        26,
    );
    ok(
        &s,
        &format!(
            "type=export&requestid=8&uniquefield=recordid&uniqueid={id}&media_format=wav&encrypt=Y"
        ),
        26,
    );
    ok(
        &s,
        "type=export&requestid=9&uniquefield=color&uniqueid=1&media_format=wav",
        17,
    );
}
