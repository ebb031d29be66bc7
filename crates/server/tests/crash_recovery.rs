//! Crashes and restarts: a server killed with SIGKILL in the middle of recording a replayed
//! call and CTI calls, a graceful SIGTERM, and what a restart keeps (ids, devices).

mod common;
#[path = "common/rtp.rs"]
mod rtp;

use std::time::{Duration, Instant};

use common::{Server, ServerBuilder, code, field, sections};
use rtp::{G711_CALL_ID, G711_CALLEE_LATE_PACKETS, G711_CALLEE_MAX_LATE_FRAMES};

fn seconds(doc: &str, name: &str) -> f64 {
    let v = field(doc, name);
    v.parse()
        .unwrap_or_else(|_| panic!("{name} {v:?} is not seconds"))
}

/// Seconds since the Unix epoch of a result date-time in the default ISO format,
/// `YYYY-MM-DDTHH:MM:SS±HH:MM`.
fn epoch_seconds(t: &str) -> i64 {
    let n = |r: std::ops::Range<usize>| -> i64 {
        t.get(r)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{t:?} is not an ISO date-time"))
    };
    assert_eq!(t.len(), 25, "{t:?} is not an ISO date-time");
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar.
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let offset = (n(20..22) * 3600 + n(23..25) * 60) * if &t[19..20] == "-" { -1 } else { 1 };
    days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19) - offset
}

/// The one CALLLIST row of a device.
fn only_row(s: &Server, device: &str) -> String {
    let list = s.api(&format!("type=calllist&requestid=50&deviceid={device}"));
    assert_eq!(code(&list), 20, "{list}");
    assert_eq!(field(&list, "COUNT"), "1", "device {device}: {list}");
    sections(&list, "CALL").remove(0)
}

/// ±20 ms at 8 kHz: how far from its capture time a packet may have been placed.
const WINDOW: i64 = 160;

#[test]
fn sigkill_while_recording_keeps_what_reached_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = ServerBuilder::new(&data)
        .capture("sip-call-rtp-g711.pcap", "realtime")
        .start();

    // CTI calls on other devices, recorded while the capture plays. No capture carries
    // their media, so they are recorded as silence.
    let mut acked = Vec::new();
    for device in 900..=905 {
        let doc = s.api(&format!(
            "type=callstart&requestid={device}&deviceid={device}&ani=555{device}"
        ));
        if code(&doc) == 20 {
            // The call and its recording started before this answer.
            acked.push((device.to_string(), field(&doc, "RECORDID"), Instant::now()));
        }
    }
    assert_eq!(acked.len(), 6, "every CALLSTART is answered with 20");

    // The recording starts when the replay reaches the answer (8.48 s in). It began after
    // the last poll that saw no recording and before the first that saw one.
    let mut not_yet = Instant::now();
    let seen = common::wait_for(Duration::from_secs(30), || {
        let asked = Instant::now();
        let doc = s.api("type=devicestatus&requestid=1&deviceid=francisco");
        if code(&doc) == 20 && field(&doc, "RECORDING") == "Y" {
            assert_eq!(field(&doc, "CALLID"), G711_CALL_ID);
            Some(Instant::now())
        } else {
            not_yet = asked;
            None
        }
    });
    // Let 4.5 s of the call be recorded, then crash.
    std::thread::sleep(Duration::from_millis(4500).saturating_sub(seen.elapsed()));
    let killed = Instant::now();
    s.kill9();
    let elapsed_min = (killed - seen).as_secs_f64();
    let elapsed_max = (killed - not_yet).as_secs_f64();
    drop(s);

    // Restart on the same data, without the capture.
    let s = ServerBuilder::new(&data).start();
    let row = only_row(&s, "francisco");
    assert_eq!(field(&row, "CALLID"), G711_CALL_ID);
    assert_eq!(field(&row, "RECORDING"), "N", "{row}");
    assert_eq!(field(&row, "AUDIO"), "Y", "{row}");
    assert!(!field(&row, "CALLENDTIME").is_empty(), "{row}");
    let duration = seconds(&row, "DURATION");
    eprintln!(
        "killed {elapsed_min:.3}–{elapsed_max:.3} s into the recording; recovered {duration:.3} s"
    );
    assert!(
        duration >= elapsed_min - 1.0 && duration <= elapsed_max + 0.5,
        "recovered DURATION {duration}, killed {elapsed_min:.3}–{elapsed_max:.3} s in"
    );
    // Nothing is live any more.
    let status = s.api("type=devicestatus&requestid=2&deviceid=francisco");
    assert_eq!(field(&status, "RECORDING"), "N", "{status}");
    let system = s.api("type=systemstatus&requestid=3");
    assert_eq!(field(&system, "ACTIVERECORDINGS"), "0", "{system}");

    // Every acknowledged CTI call is there, closed with the time it was recording before
    // the kill, though none of it had audio: at most about the last second is lost.
    for (device, record_id, answered) in &acked {
        let row = only_row(&s, device);
        assert_eq!(&field(&row, "RECORDID"), record_id, "{row}");
        assert_eq!(field(&row, "RECORDING"), "N", "{row}");
        assert_eq!(field(&row, "ANI"), format!("555{device}"), "{row}");
        let lived = (killed - *answered).as_secs_f64();
        let duration = seconds(&row, "DURATION");
        eprintln!(
            "CTI call on {device}: answered {lived:.3} s before the kill; recovered {duration:.3} s"
        );
        assert!(
            duration >= lived - 1.5 && duration <= lived + 0.5,
            "device {device}: recovered DURATION {duration}, the call was answered {lived:.3} s before the kill: {row}"
        );
        // The call ends where its recording does (whole seconds in results).
        let start = epoch_seconds(&field(&row, "CALLSTARTTIME"));
        let end = epoch_seconds(&field(&row, "CALLENDTIME"));
        assert!(end > start, "{row}");
        assert!(
            (end - start) as f64 >= duration - 1.0 && (end - start) as f64 <= duration + 1.0,
            "CALLENDTIME is not CALLSTARTTIME + DURATION: {row}"
        );
    }

    // The recovered audio, checked against the independent decode: every packet captured
    // more than 1 s before the kill's position in the recording is there, bit for bit.
    let record_id = field(&row, "RECORDID");
    let r = s.get(&format!(
        "/webAPI.aspx?type=export&requestid=4&uniquefield=recordid&uniqueid={record_id}&media_format=wav"
    ));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("audio/wav"));
    let wav = rtp::read_wav(&r.body);
    assert_eq!(wav.spec.sample_rate, 8000);
    let frames = wav.channels[0].len();
    assert!(
        (frames as f64 / 8000.0 - duration).abs() < 0.002,
        "{frames} frames for DURATION {duration}"
    );

    let rtp::G711Call {
        start,
        callee,
        caller,
    } = rtp::g711_call(&common::testdata("pcap/sip-call-rtp-g711.pcap"));
    let cutoff = start + ((elapsed_min - 1.0) * 1e6) as i64;
    // Every packet within ±20 ms of its capture time, except at most the callee's packets
    // that cannot be (its RTP clock runs ahead inside talkspurts): those are found late,
    // by at most G711_CALLEE_MAX_LATE_FRAMES.
    let mut checked = 0;
    for (channel, sent, may_be_late) in [(0, &callee, G711_CALLEE_LATE_PACKETS), (1, &caller, 0)] {
        let early: Vec<&rtp::Decoded> = sent.iter().filter(|p| p.ts < cutoff).collect();
        let mut missing = Vec::new();
        let mut late = 0;
        for p in &early {
            let expected = rtp::frame_of(start, p.ts);
            let ch = &wav.channels[channel];
            if rtp::find_exact(ch, &p.samples, expected, WINDOW).is_some() {
                continue;
            }
            match rtp::find_exact(ch, &p.samples, expected, G711_CALLEE_MAX_LATE_FRAMES) {
                Some(at) if at > expected + WINDOW => late += 1,
                _ => missing.push(p.seq),
            }
        }
        eprintln!(
            "channel {}: {} packets captured before the cutoff, {} more than 20 ms late, {} missing",
            channel + 1,
            early.len(),
            late,
            missing.len()
        );
        assert!(
            missing.is_empty(),
            "channel {}: packets {missing:?} lost",
            channel + 1
        );
        assert!(
            late <= may_be_late,
            "channel {}: {late} packets more than 20 ms late",
            channel + 1
        );
        checked += early.len();
    }
    assert!(checked > 100, "only {checked} packets before the cutoff");
}

#[test]
fn sigterm_ends_live_calls_and_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = ServerBuilder::new(&data).start();
    let started = Instant::now();
    let doc = s.api("type=callstart&requestid=1&deviceid=42&ani=5550142");
    assert_eq!(code(&doc), 20, "{doc}");
    assert_eq!(field(&doc, "RECORDING"), "Y", "{doc}");
    let record_id = field(&doc, "RECORDID");
    // Give the call some length before stopping.
    std::thread::sleep(Duration::from_millis(300));
    let exit = s.terminate();
    let lived = started.elapsed().as_secs_f64();
    assert!(exit.success(), "SIGTERM exit: {exit:?}");
    drop(s);

    let s = ServerBuilder::new(&data).start();
    let row = only_row(&s, "42");
    assert_eq!(field(&row, "RECORDID"), record_id);
    assert_eq!(field(&row, "RECORDING"), "N", "{row}");
    assert_eq!(field(&row, "ANI"), "5550142");
    assert!(!field(&row, "CALLENDTIME").is_empty(), "{row}");
    let duration = seconds(&row, "DURATION");
    assert!(
        duration > 0.0 && duration <= lived + 0.1,
        "DURATION {duration}, the call lived at most {lived:.3} s"
    );
    let status = s.api("type=devicestatus&requestid=2&deviceid=42");
    assert_eq!(field(&status, "RECORDING"), "N", "{status}");
    assert_eq!(field(&status, "STATE"), "0", "{status}");
}

fn device_ids(s: &Server) -> Vec<String> {
    let list = s.api("type=devicelist&requestid=60");
    assert_eq!(code(&list), 20, "{list}");
    sections(&list, "DEVICE")
        .iter()
        .map(|d| field(d, "DEVICEID"))
        .collect()
}

fn call_start(s: &Server, device: &str) -> i64 {
    let doc = s.api(&format!("type=callstart&requestid=61&deviceid={device}"));
    assert_eq!(code(&doc), 20, "{doc}");
    field(&doc, "RECORDID").parse().unwrap()
}

#[test]
fn restarts_keep_devices_and_record_ids_grow() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = ServerBuilder::new(&data).start();
    let mut ids = vec![call_start(&s, "500"), call_start(&s, "501")];
    ids.push(call_start(&s, "502"));
    let stop = s.api("type=callstop&requestid=2&deviceid=502");
    assert_eq!(code(&stop), 20, "{stop}");
    ids.push(call_start(&s, "504"));
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

    // After a crash.
    s.kill9();
    drop(s);
    let mut s = ServerBuilder::new(&data).start();
    let devices = device_ids(&s);
    for d in ["500", "501", "502", "504"] {
        assert!(
            devices.iter().any(|x| x == d),
            "{d} missing from {devices:?}"
        );
    }
    let next = call_start(&s, "503");
    assert!(
        ids.iter().all(|&i| next > i),
        "RECORDID {next} after {ids:?}"
    );
    ids.push(next);
    let list = s.api("type=calllist&requestid=3");
    assert_eq!(field(&list, "COUNT"), "5", "{list}");

    // After a clean stop.
    assert!(s.terminate().success());
    drop(s);
    let s = ServerBuilder::new(&data).start();
    let devices = device_ids(&s);
    for d in ["500", "501", "502", "503", "504"] {
        assert!(
            devices.iter().any(|x| x == d),
            "{d} missing from {devices:?}"
        );
    }
    let next = call_start(&s, "501");
    assert!(
        ids.iter().all(|&i| next > i),
        "RECORDID {next} after {ids:?}"
    );
    let list = s.api("type=calllist&requestid=4");
    assert_eq!(field(&list, "COUNT"), "6", "{list}");
    // Newest first, and only the new one is open.
    let rows = sections(&list, "CALL");
    assert_eq!(field(&rows[0], "RECORDID"), next.to_string());
    assert_eq!(field(&rows[0], "RECORDING"), "Y");
    assert!(rows[1..].iter().all(|r| field(r, "RECORDING") == "N"));
}
