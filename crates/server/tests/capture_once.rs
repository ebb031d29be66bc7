//! A capture file replayed to its end is recorded once: a restart skips it, a changed file
//! and `--capture-replay-again` replay it. A capture that makes no call says why.

mod common;

use std::path::Path;

use common::{Server, ServerBuilder, field, replay, sections};

/// The RECORDIDs CALLLIST lists for the capture's device, newest first, each checked to be
/// the capture's call.
fn record_ids(s: &Server) -> Vec<String> {
    let list = s.api("type=calllist&requestid=2&deviceid=francisco");
    sections(&list, "CALL")
        .iter()
        .map(|call| {
            assert_eq!(field(call, "CALLID"), "12013223@200.57.7.195", "{call}");
            field(call, "RECORDID")
        })
        .collect()
}

fn start(data: &Path, pcap: &Path, extra: &[&str]) -> Server {
    let mut b = ServerBuilder::new(data)
        .arg("--capture-file")
        .arg(pcap.to_string_lossy().into_owned())
        .arg("--capture-speed")
        .arg("max");
    for a in extra {
        b = b.arg(*a);
    }
    b.start()
}

#[test]
fn a_capture_replayed_to_its_end_is_recorded_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pcap = dir.path().join("call.pcap");
    let bytes = std::fs::read(common::testdata("pcap/sip-call-rtp-g711.pcap")).unwrap();
    std::fs::write(&pcap, &bytes).unwrap();

    let mut s = start(&data, &pcap, &[]);
    let source = s.wait_capture_finished();
    assert_eq!(field(&source, "MESSAGE"), "", "{source}");
    assert_eq!(field(&source, "CALLS"), "2", "{source}");
    assert_eq!(record_ids(&s), ["1"]);
    assert!(s.terminate().success());

    // Same file, same data: skipped, and the catalog still has the one recording.
    let mut s = start(&data, &pcap, &[]);
    let source = s.wait_capture_finished();
    let message = field(&source, "MESSAGE");
    assert!(
        message.starts_with("already replayed to its end at ")
            && message.ends_with("; skipped (--capture-replay-again replays it)"),
        "{source}"
    );
    assert_eq!(field(&source, "PACKETS"), "0", "{source}");
    assert_eq!(field(&source, "CALLS"), "0", "{source}");
    assert_eq!(record_ids(&s), ["1"]);
    assert!(s.terminate().success());

    // The file written again (same bytes, new modification time) is another capture.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&pcap, &bytes).unwrap();
    let mut s = start(&data, &pcap, &[]);
    let source = s.wait_capture_finished();
    assert_eq!(field(&source, "MESSAGE"), "", "{source}");
    assert_eq!(field(&source, "CALLS"), "2", "{source}");
    assert_eq!(record_ids(&s), ["2", "1"]);
    assert!(s.terminate().success());

    // Asked for, it is replayed again although unchanged.
    let s = start(&data, &pcap, &["--capture-replay-again"]);
    let source = s.wait_capture_finished();
    assert_eq!(field(&source, "MESSAGE"), "", "{source}");
    assert_eq!(field(&source, "CALLS"), "2", "{source}");
    assert_eq!(record_ids(&s), ["3", "2", "1"]);
}

#[test]
fn an_rtp_only_capture_says_why_nothing_was_recorded() {
    let (_d, s) = replay("speech_8k_ulaw.pcap");
    let source = s.wait_capture_finished();
    assert_eq!(
        field(&source, "MESSAGE"),
        "835 RTP packets (1 stream) were seen but no SIP call set them up; nothing recorded",
        "{source}"
    );
    assert_eq!(field(&source, "CALLS"), "0", "{source}");
    let list = s.api("type=calllist&requestid=3");
    assert_eq!(field(&list, "COUNT"), "0", "{list}");
}

#[test]
fn a_capture_without_sip_or_rtp_says_why_nothing_was_recorded() {
    let dir = tempfile::tempdir().unwrap();
    // A classic pcap (Ethernet) holding one ARP request and nothing else.
    let mut pcap = Vec::new();
    pcap.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    pcap.extend_from_slice(&2u16.to_le_bytes());
    pcap.extend_from_slice(&4u16.to_le_bytes());
    pcap.extend_from_slice(&[0; 8]);
    pcap.extend_from_slice(&65535u32.to_le_bytes());
    pcap.extend_from_slice(&1u32.to_le_bytes());
    let mut frame = vec![0xff; 6];
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0x08, 0x06]);
    frame.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 10, 0, 0, 1]);
    frame.extend_from_slice(&[0, 0, 0, 0, 0, 0, 10, 0, 0, 2]);
    pcap.extend_from_slice(&1_700_000_000u32.to_le_bytes());
    pcap.extend_from_slice(&0u32.to_le_bytes());
    pcap.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    pcap.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    pcap.extend_from_slice(&frame);
    let file = dir.path().join("arp.pcap");
    std::fs::write(&file, &pcap).unwrap();

    let s = start(&dir.path().join("data"), &file, &[]);
    let source = s.wait_capture_finished();
    assert_eq!(
        field(&source, "MESSAGE"),
        "no SIP and no RTP in 1 packet; nothing recorded",
        "{source}"
    );
    assert_eq!(field(&source, "PACKETS"), "1", "{source}");
}

#[test]
fn a_replay_cut_short_is_replayed_whole_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pcap = common::testdata("pcap/sip-call-rtp-g711.pcap");

    // In real time the call lasts 26 s: stop once its audio is being recorded.
    let mut s = ServerBuilder::new(&data)
        .capture("sip-call-rtp-g711.pcap", "realtime")
        .start();
    common::wait_for(std::time::Duration::from_secs(30), || {
        let doc = s.api("type=systemstatus&requestid=1");
        let source = sections(&doc, "SOURCE").into_iter().next()?;
        (field(&source, "RTPPACKETS") != "0").then_some(())
    });
    assert!(s.terminate().success());

    let s = start(&data, &pcap, &[]);
    let source = s.wait_capture_finished();
    assert_eq!(field(&source, "MESSAGE"), "", "{source}");
    assert_eq!(field(&source, "CALLS"), "2", "{source}");
    // The cut replay's recording (ended at shutdown) and the complete one.
    assert_eq!(record_ids(&s), ["2", "1"]);
}
