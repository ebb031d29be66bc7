//! PCI blackouts (BLACKOUTSTART, BLACKOUTSTOP): the audio of a real call replayed at
//! realtime speed is silence for exactly the blacked-out span and bit-exact elsewhere; call
//! and agent mode on CTI calls; refusals that change nothing; a blackout kept open across
//! a restart.

mod common;
#[path = "common/rtp.rs"]
mod rtp;

use std::time::{Duration, Instant};

use common::{Server, ServerBuilder, code, field, ok, sections};
use rtp::Decoded;

fn req(s: &Server, kind: &str, pairs: &[(&str, &str)], want: u32) -> String {
    let mut p = vec![("type", kind), ("requestid", "1")];
    p.extend_from_slice(pairs);
    ok(s, &p, want)
}

/// Each `<INSTANCE>` of a device in DEVICERECORDINGSTATUS: (CALLINSTANCE, STATUS, section).
fn instances(s: &Server, device: &str) -> Vec<(String, String, String)> {
    let doc = req(s, "devicerecordingstatus", &[("deviceid", device)], 20);
    sections(&doc, "INSTANCE")
        .into_iter()
        .map(|i| (field(&i, "CALLINSTANCE"), field(&i, "STATUS"), i))
        .collect()
}

/// STATUS and the whole `<INSTANCE>` section of one call instance on the device.
fn instance(s: &Server, device: &str, instance: &str) -> (String, String) {
    instances(s, device)
        .into_iter()
        .find(|(i, _, _)| i == instance)
        .map(|(_, st, section)| (st, section))
        .unwrap_or_else(|| panic!("no instance {instance:?} on {device}"))
}

fn status_of(s: &Server, device: &str, call_instance: &str) -> String {
    instance(s, device, call_instance).0
}

fn blackout_flag(s: &Server, device: &str) -> String {
    field(
        &req(s, "devicestatus", &[("deviceid", device)], 20),
        "BLACKOUT",
    )
}

/// BLACKOUTS of every recording CALLLIST shows for the device, oldest first.
fn blackout_counts(s: &Server, device: &str) -> Vec<String> {
    let doc = req(s, "calllist", &[("deviceid", device)], 20);
    let mut v: Vec<String> = sections(&doc, "CALL")
        .iter()
        .map(|c| field(c, "BLACKOUTS"))
        .collect();
    v.reverse();
    v
}

/// The recording's length so far, in frames at 8 kHz: the DURATION of the live call's
/// `<CALL>` (a CALLUPDATE that changes nothing), on the recording's own timeline.
fn recorded_frames(s: &Server) -> i64 {
    let doc = req(
        s,
        "callupdate",
        &[
            ("deviceid", "francisco"),
            ("callinstance", rtp::G711_CALL_ID),
        ],
        20,
    );
    assert_eq!(field(&doc, "RECORDING"), "Y", "{doc}");
    let d: f64 = field(&doc, "DURATION")
        .parse()
        .expect("DURATION in seconds");
    (d * 8000.0).round() as i64
}

/// ±20 ms at 8 kHz.
const FRAME: i64 = 160;
/// ±60 ms: how far from its capture time a packet of francisco may be placed (see
/// `G711_CALLEE_MAX_LATE_FRAMES`).
const WIDE: i64 = 480;

#[test]
fn realtime_call_is_silent_inside_the_blackout_and_bit_exact_outside() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data"))
        .capture("sip-call-rtp-g711.pcap", "realtime")
        .start();
    // francisco is known from the INVITE on; the recording starts at the answer.
    common::wait_for(Duration::from_secs(30), || {
        let doc = s.api("type=devicestatus&requestid=1&deviceid=francisco");
        (code(&doc) == 20 && field(&doc, "RECORDING") == "Y").then_some(())
    });
    let sleep_until = |frames: i64| {
        while recorded_frames(&s) < frames {
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    // About 3 s into the recording, black out for about 4 s. Each bound of the span lies
    // between the recording's length just before the request and just after its answer.
    sleep_until(3 * 8000);
    let start_lo = recorded_frames(&s);
    req(&s, "blackoutstart", &[("deviceid", "francisco")], 20);
    let start_hi = recorded_frames(&s);
    let (instance, status, section) = instances(&s, "francisco")
        .into_iter()
        .find(|(_, st, _)| st != "NOTRECORDING")
        .expect("the recorded call");
    assert_eq!(instance, rtp::G711_CALL_ID);
    assert_eq!(status, "RECORDINGPAUSED", "{section}");
    let blackout = &sections(&section, "BLACKOUT")[0];
    assert!(!field(blackout, "START").is_empty());
    assert_eq!(field(blackout, "END"), "");
    assert_eq!(blackout_flag(&s, "francisco"), "Y");

    sleep_until(start_hi + 4 * 8000);
    let end_lo = recorded_frames(&s);
    req(&s, "blackoutstop", &[("deviceid", "francisco")], 20);
    let end_hi = recorded_frames(&s);
    assert_eq!(status_of(&s, "francisco", rtp::G711_CALL_ID), "RECORDING");
    assert_eq!(blackout_flag(&s, "francisco"), "N");
    eprintln!("blackout from {start_lo}..{start_hi} to {end_lo}..{end_hi} frames");
    assert!(start_hi - start_lo < 800 && end_hi - end_lo < 800);

    assert_silent_inside_and_exact_outside(&s, (start_lo, start_hi), (end_lo, end_hi));
}

/// Once the capture has ended: the call has one blackout span, its recording is digital
/// silence inside the span (each bound known to lie within `start` and `end`, frames) and
/// bit-exact against the capture outside it.
fn assert_silent_inside_and_exact_outside(s: &Server, start: (i64, i64), end: (i64, i64)) {
    let ((start_lo, start_hi), (end_lo, end_hi)) = (start, end);
    // The capture ends the recording; FINISHED once it is finalized.
    s.wait_capture_finished();
    let list = req(s, "calllist", &[("callid", rtp::G711_CALL_ID)], 20);
    assert_eq!(field(&list, "COUNT"), "1", "{list}");
    assert_eq!(field(&list, "BLACKOUTS"), "1", "{list}");
    let record_id = field(&list, "RECORDID");
    let r = s.get(&format!(
        "/webAPI.aspx?type=export&requestid=7&uniquefield=recordid&uniqueid={record_id}&media_format=wav"
    ));
    assert_eq!(r.status, 200);
    let wav = rtp::read_wav(&r.body);

    // Inside the span (less one 20 ms frame at each edge): digital silence in both channels,
    // where the call had sound.
    let call = rtp::g711_call(&common::testdata("pcap/sip-call-rtp-g711.pcap"));
    let (silent_from, silent_to) = ((start_hi + FRAME) as usize, (end_lo - FRAME) as usize);
    for ch in &wav.channels {
        assert!(ch.len() > silent_to);
        let loud = ch[silent_from..silent_to]
            .iter()
            .filter(|&&x| x != 0)
            .count();
        assert_eq!(loud, 0, "non-zero samples inside the blackout");
    }
    let sound_in_span = |packets: &[Decoded]| {
        packets
            .iter()
            .filter(|p| {
                let f = rtp::frame_of(call.start, p.ts);
                f >= silent_from as i64 && f < silent_to as i64 && p.samples.iter().any(|&x| x != 0)
            })
            .count()
    };
    assert!(
        sound_in_span(&call.caller) > 50,
        "the span had caller audio"
    );

    // Outside it (with the ±20 ms edge and the placement tolerance): every packet exact.
    for (channel, packets) in [(0, &call.callee), (1, &call.caller)] {
        let ch = &wav.channels[channel];
        let outside: Vec<&Decoded> = packets
            .iter()
            .filter(|p| {
                let f = rtp::frame_of(call.start, p.ts);
                let end = f + p.samples.len() as i64;
                f < ch.len() as i64
                    && p.samples.len() > 1
                    && (end + WIDE < start_lo - FRAME || f - WIDE > end_hi + FRAME)
            })
            .collect();
        let missing: Vec<u16> = outside
            .iter()
            .filter(|p| {
                rtp::find_exact(ch, &p.samples, rtp::frame_of(call.start, p.ts), WIDE).is_none()
            })
            .map(|p| p.seq)
            .collect();
        eprintln!(
            "channel {}: {} packets outside the blackout, {} not found",
            channel + 1,
            outside.len(),
            missing.len()
        );
        assert!(outside.len() > 300);
        assert!(
            missing.is_empty(),
            "packets not found bit-exact: {missing:?}"
        );
    }
}

/// CALLUPDATE with AGENTID on francisco's call (the recording's length so far, as
/// `recorded_frames` gives it).
fn move_call_to(s: &Server, agent: &str) -> i64 {
    let doc = req(
        s,
        "callupdate",
        &[
            ("deviceid", "francisco"),
            ("callinstance", rtp::G711_CALL_ID),
            ("agentid", agent),
        ],
        20,
    );
    assert_eq!(field(&doc, "AGENTID"), agent, "{doc}");
    recorded_frames(s)
}

#[test]
fn realtime_call_moved_onto_a_blacked_out_agent_is_silent_until_moved_away() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data"))
        .capture("sip-call-rtp-g711.pcap", "realtime")
        .start();
    // Ann is under a blackout with no call of hers; francisco's phone has no agent.
    let ann = add_agent(&s, "ann", "Ann", "900");
    let bob = add_agent(&s, "bob", "Bob", "901");
    req(&s, "blackoutstart", &[("deviceid", "900")], 20);
    common::wait_for(Duration::from_secs(30), || {
        let doc = s.api("type=devicestatus&requestid=1&deviceid=francisco");
        (code(&doc) == 20 && field(&doc, "RECORDING") == "Y").then_some(())
    });
    let sleep_until = |frames: i64| {
        while recorded_frames(&s) < frames {
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    assert_eq!(status_of(&s, "francisco", rtp::G711_CALL_ID), "RECORDING");
    // About 3 s in, the CTI says the call is Ann's: covered from then on.
    sleep_until(3 * 8000);
    let start_lo = recorded_frames(&s);
    let start_hi = move_call_to(&s, &ann);
    let (status, section) = instance(&s, "francisco", rtp::G711_CALL_ID);
    assert_eq!(status, "RECORDINGPAUSED", "{section}");
    let spans = sections(&section, "BLACKOUT");
    assert_eq!(spans.len(), 1, "{section}");
    assert_eq!(field(&spans[0], "END"), "");
    assert_eq!(blackout_flag(&s, "francisco"), "Y");

    // About 4 s later it is Bob's, who is not blacked out: audible again.
    sleep_until(start_hi + 4 * 8000);
    let end_lo = recorded_frames(&s);
    let end_hi = move_call_to(&s, &bob);
    let (status, section) = instance(&s, "francisco", rtp::G711_CALL_ID);
    assert_eq!(status, "RECORDING", "{section}");
    let spans = sections(&section, "BLACKOUT");
    assert_eq!(spans.len(), 1, "{section}");
    assert!(!field(&spans[0], "END").is_empty(), "{section}");
    assert_eq!(blackout_flag(&s, "francisco"), "N");
    eprintln!("blackout from {start_lo}..{start_hi} to {end_lo}..{end_hi} frames");
    assert!(start_hi - start_lo < 800 && end_hi - end_lo < 800);

    assert_silent_inside_and_exact_outside(&s, (start_lo, start_hi), (end_lo, end_hi));
}

#[test]
fn cti_call_and_session_follow_their_agent_in_and_out_of_a_blackout() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data")).start();
    let ann = add_agent(&s, "ann", "Ann", "910");
    let bob = add_agent(&s, "bob", "Bob", "911");
    req(&s, "callstart", &[("deviceid", "912")], 20);
    let session = chat(&s, "chatstart", "s1", &bob, 0);
    let session_record = field(&session, "RECORDID");
    req(&s, "blackoutstart", &[("deviceid", "910")], 20);
    assert_eq!(status_of(&s, "912", ""), "RECORDING");

    // Onto Ann, away to Bob, back onto Ann: two spans, the second still open.
    let update = |agent: &str| {
        req(
            &s,
            "callupdate",
            &[("deviceid", "912"), ("agentid", agent)],
            20,
        )
    };
    update(&ann);
    assert_eq!(status_of(&s, "912", ""), "RECORDINGPAUSED");
    assert_eq!(blackout_flag(&s, "912"), "Y");
    update(&bob);
    assert_eq!(status_of(&s, "912", ""), "RECORDING");
    assert_eq!(blackout_flag(&s, "912"), "N");
    update(&ann);
    let (_, status, section) = instances(&s, "912").remove(0);
    assert_eq!(status, "RECORDINGPAUSED");
    let spans = sections(&section, "BLACKOUT");
    assert_eq!(spans.len(), 2, "{section}");
    assert!(!field(&spans[0], "END").is_empty(), "{section}");
    assert_eq!(field(&spans[1], "END"), "", "{section}");
    // A repeated CALLSTART (same CALLID) that names Bob moves it away too.
    req(
        &s,
        "callstart",
        &[("deviceid", "912"), ("agentid", &bob)],
        20,
    );
    assert_eq!(status_of(&s, "912", ""), "RECORDING");
    req(&s, "callstop", &[("deviceid", "912")], 20);
    assert_eq!(blackout_counts(&s, "912"), ["2"]);

    // The session, by its RECORDID: onto Ann it is covered, back to Bob it is not, and
    // Ann's next blackout leaves it alone.
    let move_session = |agent: &str| {
        req(
            &s,
            "callupdate",
            &[("recordid", &session_record), ("agentid", agent)],
            20,
        )
    };
    assert_eq!(field(&move_session(&ann), "BLACKOUTS"), "1");
    move_session(&bob);
    req(&s, "blackoutstop", &[("deviceid", "910")], 20);
    req(&s, "blackoutstart", &[("deviceid", "910")], 20);
    req(&s, "blackoutstop", &[("deviceid", "910")], 20);
    chat(&s, "chatstop", "s1", "", 13);
    assert_eq!(session_blackouts(&s), pairs(&[("s1", "1")]));
}

#[test]
fn a_call_keeps_its_agent_when_the_phone_changes_hands() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data")).start();
    let ann = add_agent(&s, "ann", "Ann", "920");
    let bob = add_agent(&s, "bob", "Bob", "921");
    req(&s, "callstart", &[("deviceid", "920")], 20);
    req(&s, "blackoutstart", &[("deviceid", "920")], 20);
    // The phone moves from Ann to Bob mid-call: the call is still Ann's, still covered.
    for (action, agent) in [("delete", &ann), ("add", &bob)] {
        req(
            &s,
            "importagentphone",
            &[("action", action), ("agentid", agent), ("phoneid", "920")],
            20,
        );
    }
    assert_eq!(status_of(&s, "920", ""), "RECORDINGPAUSED");
    let doc = req(&s, "devicestatus", &[("deviceid", "920")], 20);
    assert_eq!(field(&doc, "AGENTID"), ann);
    // BLACKOUTSTOP on the device names the call's agent, Ann.
    req(&s, "blackoutstop", &[("deviceid", "920")], 20);
    assert_eq!(status_of(&s, "920", ""), "RECORDING");
    req(&s, "callstop", &[("deviceid", "920")], 20);
    // The phone's next call is Bob's.
    let doc = req(&s, "callstart", &[("deviceid", "920")], 20);
    assert_eq!(field(&doc, "AGENTID"), bob);
    req(&s, "callstop", &[("deviceid", "920")], 20);
    assert_eq!(blackout_counts(&s, "920"), ["1", "0"]);
}

#[test]
fn call_mode_blackout_covers_one_call_and_ends_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data"))
        .config("[blackout]\nmode = \"call\"\n")
        .start();
    req(
        &s,
        "callstart",
        &[("deviceid", "300"), ("callinstance", "a")],
        20,
    );
    req(
        &s,
        "callstart",
        &[("deviceid", "300"), ("callinstance", "b")],
        20,
    );
    req(
        &s,
        "blackoutstart",
        &[("deviceid", "300"), ("callinstance", "a")],
        20,
    );
    assert_eq!(status_of(&s, "300", "a"), "RECORDINGPAUSED");
    assert_eq!(status_of(&s, "300", "b"), "RECORDING");
    assert_eq!(blackout_flag(&s, "300"), "Y");

    // The call ends, and the blackout with it.
    req(
        &s,
        "callstop",
        &[("deviceid", "300"), ("callinstance", "a")],
        20,
    );
    assert_eq!(blackout_flag(&s, "300"), "N");
    req(
        &s,
        "callstart",
        &[("deviceid", "300"), ("callinstance", "a")],
        20,
    );
    assert_eq!(status_of(&s, "300", "a"), "RECORDING");
    // Nothing open: BLACKOUTSTOP is still 20.
    req(&s, "blackoutstop", &[("deviceid", "300")], 20);
    req(
        &s,
        "callstop",
        &[("deviceid", "300"), ("callinstance", "a")],
        20,
    );
    req(
        &s,
        "callstop",
        &[("deviceid", "300"), ("callinstance", "b")],
        20,
    );
    // Oldest first: a (blacked out), b, the second a.
    let counts = blackout_counts(&s, "300");
    assert_eq!(counts, ["1", "0", "0"]);

    // Started and stopped on a live call: one span, closed.
    req(&s, "callstart", &[("deviceid", "301")], 20);
    req(&s, "blackoutstart", &[("deviceid", "301")], 20);
    req(&s, "blackoutstop", &[("deviceid", "301")], 20);
    let (_, status, section) = instances(&s, "301").remove(0);
    assert_eq!(status, "RECORDING");
    let spans = sections(&section, "BLACKOUT");
    assert_eq!(spans.len(), 1, "{section}");
    assert!(!field(&spans[0], "END").is_empty());
    // A second blackout on the same call is a second span.
    req(&s, "blackoutstart", &[("deviceid", "301")], 20);
    req(&s, "callstop", &[("deviceid", "301")], 20);
    assert_eq!(blackout_counts(&s, "301"), ["2"]);
}

#[test]
fn agent_mode_blackout_covers_every_call_of_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data")).start();
    let user = req(
        &s,
        "importuser",
        &[
            ("action", "add"),
            ("username", "ann"),
            ("password", "pw"),
            ("firstname", "Ann"),
            ("lastname", "Archer"),
            ("sys_user", "ann.sys"),
        ],
        20,
    );
    let agent = field(&user, "USER_ID");
    for phone in ["400", "401"] {
        req(
            &s,
            "importagentphone",
            &[("action", "add"), ("agentid", &agent), ("phoneid", phone)],
            20,
        );
    }
    req(
        &s,
        "callstart",
        &[("deviceid", "400"), ("callinstance", "a")],
        20,
    );
    req(&s, "callstart", &[("deviceid", "402")], 20);
    req(&s, "blackoutstart", &[("sys_user", "ann.sys")], 20);
    assert_eq!(status_of(&s, "400", "a"), "RECORDINGPAUSED");
    // Calls that begin during the blackout: a consult call on the same phone, a call on
    // the agent's other phone. Another device is not covered.
    req(
        &s,
        "callstart",
        &[("deviceid", "400"), ("callinstance", "b")],
        20,
    );
    req(
        &s,
        "callstart",
        &[("deviceid", "401"), ("callinstance", "c")],
        20,
    );
    assert_eq!(status_of(&s, "400", "b"), "RECORDINGPAUSED");
    assert_eq!(status_of(&s, "401", "c"), "RECORDINGPAUSED");
    assert_eq!(status_of(&s, "402", ""), "RECORDING");
    let devices = req(&s, "devicelist", &[], 20);
    let flags: Vec<(String, String)> = sections(&devices, "DEVICE")
        .iter()
        .map(|d| (field(d, "DEVICEID"), field(d, "BLACKOUT")))
        .collect();
    assert!(flags.contains(&("400".into(), "Y".into())), "{flags:?}");
    assert!(flags.contains(&("401".into(), "Y".into())), "{flags:?}");
    assert!(flags.contains(&("402".into(), "N".into())), "{flags:?}");

    // A call of the agent that ends during the blackout keeps its span.
    req(
        &s,
        "callstop",
        &[("deviceid", "400"), ("callinstance", "b")],
        20,
    );
    // Stopped through another of the agent's devices: all of the agent's calls resume.
    req(&s, "blackoutstop", &[("deviceid", "401")], 20);
    assert_eq!(status_of(&s, "400", "a"), "RECORDING");
    assert_eq!(status_of(&s, "401", "c"), "RECORDING");
    assert_eq!(blackout_flag(&s, "400"), "N");
    // Calls after the stop are not covered.
    req(
        &s,
        "callstart",
        &[("deviceid", "400"), ("callinstance", "d")],
        20,
    );
    assert_eq!(status_of(&s, "400", "d"), "RECORDING");
    for (device, instance) in [("400", "a"), ("400", "d"), ("401", "c"), ("402", "")] {
        req(
            &s,
            "callstop",
            &[("deviceid", device), ("callinstance", instance)],
            20,
        );
    }
    // 400, oldest recording first: a, b, d.
    assert_eq!(blackout_counts(&s, "400"), ["1", "1", "0"]);
    assert_eq!(blackout_counts(&s, "401"), ["1"]);
    assert_eq!(blackout_counts(&s, "402"), ["0"]);

    // An agent's blackout needs no call: it covers the agent's next call.
    req(&s, "blackoutstart", &[("deviceid", "401")], 20);
    assert_eq!(blackout_flag(&s, "401"), "Y");
    req(&s, "callstart", &[("deviceid", "400")], 20);
    assert_eq!(status_of(&s, "400", ""), "RECORDINGPAUSED");
    req(&s, "blackoutstop", &[("deviceid", "400")], 20);
    assert_eq!(status_of(&s, "400", ""), "RECORDING");
}

#[test]
fn refused_blackouts_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data")).start();
    req(&s, "callstart", &[("deviceid", "500")], 20);
    req(&s, "callstart", &[("deviceid", "501")], 20);
    req(&s, "callstop", &[("deviceid", "501")], 20);
    for kind in ["blackoutstart", "blackoutstop"] {
        let doc = req(
            &s,
            kind,
            &[("deviceid", "500"), ("sys_user", "ann.sys")],
            22,
        );
        assert!(field(&doc, "RESULTMSG").contains("API_ERROR_KEYS_NOT_UNIQUE"));
        req(&s, kind, &[("deviceid", "500"), ("devicealias", "x")], 22);
        req(&s, kind, &[("crm_user", "a"), ("sys_user", "b")], 22);
        // Unknown device; unknown alias; a user with no phone.
        req(&s, kind, &[("deviceid", "nosuch")], 8);
        req(&s, kind, &[("devicealias", "nosuch")], 5);
        req(&s, kind, &[("sys_user", "nobody")], 8);
        req(&s, kind, &[], 26);
    }
    // A device with no call and no agent: nothing to black out.
    let doc = req(&s, "blackoutstart", &[("deviceid", "501")], 7);
    assert!(code(&doc) == 7);
    // An instance that has no call.
    req(
        &s,
        "blackoutstart",
        &[("deviceid", "500"), ("callinstance", "other")],
        7,
    );
    assert_eq!(blackout_flag(&s, "500"), "N");
    assert_eq!(blackout_flag(&s, "501"), "N");
    assert_eq!(status_of(&s, "500", ""), "RECORDING");
    req(&s, "callstart", &[("deviceid", "501")], 20);
    assert_eq!(status_of(&s, "501", ""), "RECORDING");
    req(&s, "callstop", &[("deviceid", "500")], 20);
    req(&s, "callstop", &[("deviceid", "501")], 20);
    assert_eq!(blackout_counts(&s, "500"), ["0"]);
    assert_eq!(blackout_counts(&s, "501"), ["0", "0"]);
}

#[test]
fn agent_blackout_stays_open_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = ServerBuilder::new(&data).start();
    req(&s, "callstart", &[("deviceid", "600")], 20);
    req(&s, "blackoutstart", &[("deviceid", "600")], 20);
    assert!(s.terminate().success());
    drop(s);

    let s = ServerBuilder::new(&data).start();
    // The call ended with the shutdown (its span with it); the blackout is still open.
    assert_eq!(blackout_counts(&s, "600"), ["1"]);
    assert_eq!(blackout_flag(&s, "600"), "Y");
    let started = Instant::now();
    req(&s, "callstart", &[("deviceid", "600")], 20);
    assert_eq!(status_of(&s, "600", ""), "RECORDINGPAUSED");
    req(&s, "blackoutstop", &[("deviceid", "600")], 20);
    assert_eq!(status_of(&s, "600", ""), "RECORDING");
    assert_eq!(blackout_flag(&s, "600"), "N");
    let (_, _, section) = instances(&s, "600").remove(0);
    assert_eq!(sections(&section, "BLACKOUT").len(), 1, "{section}");
    req(&s, "callstop", &[("deviceid", "600")], 20);
    assert_eq!(blackout_counts(&s, "600"), ["1", "1"]);
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn agent_blackout_stays_open_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = ServerBuilder::new(&data).start();
    req(&s, "callstart", &[("deviceid", "700")], 20);
    req(&s, "blackoutstart", &[("deviceid", "700")], 20);
    // Let the recording reach its file, then crash.
    std::thread::sleep(Duration::from_millis(700));
    s.kill9();
    drop(s);

    let s = ServerBuilder::new(&data).start();
    assert_eq!(blackout_counts(&s, "700"), ["1"]);
    assert_eq!(blackout_flag(&s, "700"), "Y");
    req(&s, "callstart", &[("deviceid", "700")], 20);
    assert_eq!(status_of(&s, "700", ""), "RECORDINGPAUSED");
    req(&s, "blackoutstop", &[("deviceid", "700")], 20);
    req(&s, "callstop", &[("deviceid", "700")], 20);
    assert_eq!(blackout_counts(&s, "700"), ["1", "1"]);
}

#[test]
fn captured_call_of_an_agent_under_blackout_is_silent_from_its_answer() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The agent holding francisco's phone is blacked out before the call rings (no call
    // yet: the agent's blackout is kept), and the server restarts with the capture.
    let mut s = ServerBuilder::new(&data).start();
    let user = req(
        &s,
        "importuser",
        &[
            ("action", "add"),
            ("username", "fran"),
            ("password", "pw"),
            ("firstname", "Francisco"),
            ("lastname", "Fuentes"),
        ],
        20,
    );
    let agent = field(&user, "USER_ID");
    req(
        &s,
        "importagentphone",
        &[
            ("action", "add"),
            ("agentid", &agent),
            ("phoneid", "francisco"),
        ],
        20,
    );
    req(&s, "blackoutstart", &[("deviceid", "francisco")], 20);
    assert!(s.terminate().success());
    drop(s);

    let s = ServerBuilder::new(&data)
        .capture("sip-call-rtp-g711.pcap", "max")
        .start();
    s.wait_capture_finished();
    let call = req(&s, "calllist", &[("callid", rtp::G711_CALL_ID)], 20);
    assert_eq!(field(&call, "COUNT"), "1", "{call}");
    assert_eq!(field(&call, "AGENTID"), agent);
    assert_eq!(field(&call, "BLACKOUTS"), "1", "{call}");
    // None of its audio reached the recording, which is digital silence throughout.
    assert_eq!(field(&call, "AUDIO"), "N", "{call}");
    let record_id = field(&call, "RECORDID");
    let wav = std::fs::read(data.join("recordings").join(format!("{record_id}.wav"))).unwrap();
    let wav = rtp::read_wav(&wav);
    assert!(wav.channels[0].len() > 26 * 8000);
    for ch in &wav.channels {
        assert!(
            ch.iter().all(|&x| x == 0),
            "non-zero audio in a blacked-out call"
        );
    }
    assert_eq!(blackout_flag(&s, "francisco"), "Y");
}

/// An agent named `username` holding `phone`; its USER_ID.
fn add_agent(s: &Server, username: &str, first: &str, phone: &str) -> String {
    let sys_user = format!("{username}.sys");
    let user = req(
        s,
        "importuser",
        &[
            ("action", "add"),
            ("username", username),
            ("password", "pw"),
            ("firstname", first),
            ("lastname", "Screen"),
            ("sys_user", &sys_user),
        ],
        20,
    );
    let agent = field(&user, "USER_ID");
    req(
        s,
        "importagentphone",
        &[("action", "add"), ("agentid", &agent), ("phoneid", phone)],
        20,
    );
    agent
}

fn chat(s: &Server, kind: &str, session: &str, agent: &str, want: u32) -> String {
    let mut p = vec![("sessionid", session)];
    if !agent.is_empty() {
        p.push(("agentid", agent));
    }
    req(s, kind, &p, want)
}

/// (SESSIONID, BLACKOUTS) of every session CALLLIST shows, by SESSIONID.
fn session_blackouts(s: &Server) -> Vec<(String, String)> {
    let doc = req(s, "calllist", &[("recordingtype", "SCREEN")], 20);
    let mut v: Vec<(String, String)> = sections(&doc, "CALL")
        .iter()
        .map(|c| (field(c, "CALLINSTANCE"), field(c, "BLACKOUTS")))
        .collect();
    v.sort();
    v
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn agent_blackout_covers_the_agents_screen_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data")).start();
    let ann = add_agent(&s, "ann", "Ann", "800");
    let bob = add_agent(&s, "bob", "Bob", "801");
    chat(&s, "chatstart", "s1", &ann, 0);
    chat(&s, "chatstart", "s2", &ann, 0);
    chat(&s, "chatstart", "o1", &bob, 0);
    // By the agent's phone, which has no call.
    req(&s, "blackoutstart", &[("deviceid", "800")], 20);
    assert_eq!(
        session_blackouts(&s),
        pairs(&[("o1", "0"), ("s1", "1"), ("s2", "1")])
    );
    // A session that starts during the blackout is covered from its start.
    let third = chat(&s, "chatstart", "s3", &ann, 0);
    assert_eq!(field(&third, "BLACKOUTS"), "1");
    // A second start changes nothing.
    req(&s, "blackoutstart", &[("sys_user", "ann.sys")], 20);
    req(&s, "blackoutstop", &[("sys_user", "ann.sys")], 20);
    // Sessions after the stop are not covered.
    chat(&s, "chatstart", "s4", &ann, 0);
    for session in ["s1", "s2", "s3", "s4", "o1"] {
        chat(&s, "chatstop", session, "", 13);
    }
    assert_eq!(
        session_blackouts(&s),
        pairs(&[
            ("o1", "0"),
            ("s1", "1"),
            ("s2", "1"),
            ("s3", "1"),
            ("s4", "0")
        ])
    );

    // CHATSTOP during a blackout ends the session's span with it.
    chat(&s, "chatstart", "s5", &ann, 0);
    req(&s, "blackoutstart", &[("deviceid", "800")], 20);
    chat(&s, "chatstop", "s5", "", 13);
    req(&s, "blackoutstop", &[("deviceid", "800")], 20);
    assert!(session_blackouts(&s).contains(&("s5".into(), "1".into())));
}

#[test]
fn call_mode_blackout_leaves_screen_sessions_alone() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data"))
        .config("[blackout]\nmode = \"call\"\n")
        .start();
    let ann = add_agent(&s, "ann", "Ann", "810");
    chat(&s, "chatstart", "s1", &ann, 0);
    req(&s, "callstart", &[("deviceid", "810")], 20);
    req(&s, "blackoutstart", &[("deviceid", "810")], 20);
    chat(&s, "chatstart", "s2", &ann, 0);
    req(&s, "blackoutstop", &[("deviceid", "810")], 20);
    req(&s, "callstop", &[("deviceid", "810")], 20);
    chat(&s, "chatstop", "s1", "", 13);
    chat(&s, "chatstop", "s2", "", 13);
    assert_eq!(blackout_counts(&s, "810"), ["1"]);
    assert_eq!(session_blackouts(&s), pairs(&[("s1", "0"), ("s2", "0")]));
}

#[test]
fn session_blackout_stays_open_across_a_restart_and_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = ServerBuilder::new(&data).start();
    let ann = add_agent(&s, "ann", "Ann", "820");
    chat(&s, "chatstart", "s1", &ann, 0);
    req(&s, "blackoutstart", &[("deviceid", "820")], 20);
    assert!(s.terminate().success());
    drop(s);

    let mut s = ServerBuilder::new(&data).start();
    // Still one open span on the session, and the blackout covers new sessions.
    assert_eq!(session_blackouts(&s), pairs(&[("s1", "1")]));
    let second = chat(&s, "chatstart", "s2", &ann, 0);
    assert_eq!(field(&second, "BLACKOUTS"), "1");
    // A crash keeps them as they are too.
    s.kill9();
    drop(s);

    let s = ServerBuilder::new(&data).start();
    assert_eq!(session_blackouts(&s), pairs(&[("s1", "1"), ("s2", "1")]));
    req(&s, "blackoutstop", &[("deviceid", "820")], 20);
    chat(&s, "chatstop", "s1", "", 13);
    chat(&s, "chatstop", "s2", "", 13);
    assert_eq!(session_blackouts(&s), pairs(&[("s1", "1"), ("s2", "1")]));
}
