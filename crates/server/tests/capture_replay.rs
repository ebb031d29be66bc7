//! Calls replayed from the test captures at full speed: what CALLLIST, DEVICESTATUS and
//! SYSTEMSTATUS say about them, and the exported WAV checked sample for sample against
//! an independent decode of the capture's RTP (our own pcap walk, `sox` for G.711).

mod common;
#[path = "common/rtp.rs"]
mod rtp;

use std::net::SocketAddrV4;

use common::{Server, ServerBuilder, code, field, replay, sections};
use rtp::{Decoded, Law, Micros};

fn seconds(doc: &str, name: &str) -> f64 {
    let v = field(doc, name);
    v.parse()
        .unwrap_or_else(|_| panic!("{name} {v:?} is not seconds"))
}

/// EXPORT of a recording as WAV: checks the HTTP envelope, returns the file.
fn export_wav(s: &Server, record_id: &str) -> Vec<u8> {
    let r = s.get(&format!(
        "/webAPI.aspx?type=export&requestid=7&uniquefield=recordid&uniqueid={record_id}&media_format=wav"
    ));
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("audio/wav"),
        "{:?}",
        String::from_utf8_lossy(&r.body[..r.body.len().min(400)])
    );
    let disposition = r.header("content-disposition").unwrap_or_default();
    assert!(
        disposition.contains(&format!("{record_id}.wav")),
        "Content-Disposition {disposition:?}"
    );
    r.body
}

fn addr(s: &str) -> SocketAddrV4 {
    s.parse().unwrap()
}

use rtp::{
    G711_ANSWER_EPOCH_MICROS, G711_CALL_ID, G711_CALLEE_LATE_PACKETS, G711_CALLEE_MAX_LATE_FRAMES,
    G711_CALLEE_PACKETS, G711_CALLER_ONE_BYTE_PACKETS, G711_CALLER_PACKETS, G711_DURATION,
    G711_UNANSWERED_CALL_ID,
};

/// ±20 ms at 8 kHz: how far from its capture time a packet may have been placed.
const WINDOW: i64 = 160;
/// ±60 ms at 8 kHz: where packets that cannot be within WINDOW (see
/// `G711_CALLEE_LATE_PACKETS`) are looked for, so that they are still checked bit for bit
/// and the channel's silences and stray samples are still accounted for.
const WIDE_WINDOW: i64 = 480;

/// How one direction's packets were found in the exported channels.
struct DirectionCheck {
    /// Each packet searched within ±WINDOW of its capture time.
    placement: rtp::Placement,
    /// Each packet searched within ±WIDE_WINDOW of its capture time.
    wide: rtp::Placement,
    /// Packets whose capture time is before the recording's end.
    in_recording: usize,
    /// Packets whose decoded samples also appear in the other channel.
    in_other_channel: usize,
    /// Non-zero frames of the channel that none of the matched packets explains.
    stray: usize,
    /// Silences between consecutive packets (talkspurts), and how many of their frames.
    gaps: usize,
    gap_frames: usize,
    /// Non-zero frames inside those silences.
    gap_noise: usize,
}

/// Looks for every packet of a direction, exactly, in `channel` of the recording (which
/// starts at `start`), within ±WINDOW (and ±WIDE_WINDOW) of its capture time; also in the
/// other channel, and measures what lies between the packets.
fn check_direction(
    wav: &rtp::Wav,
    channel: usize,
    packets: &[Decoded],
    start: Micros,
) -> DirectionCheck {
    let expected = |p: &Decoded| rtp::frame_of(start, p.ts);
    let ch = &wav.channels[channel];
    let placement = rtp::place(ch, packets, expected, WINDOW);
    let wide = rtp::place(ch, packets, expected, WIDE_WINDOW);
    let in_recording = packets
        .iter()
        .filter(|p| expected(p) < ch.len() as i64)
        .count();
    let other = rtp::place(&wav.channels[1 - channel], packets, expected, WIDE_WINDOW);
    let in_other_channel = packets
        .iter()
        .zip(&other.found)
        .filter(|(p, f)| p.samples.len() > 1 && f.is_some())
        .count();
    let covered = wide.covered(packets, ch.len());
    let stray = rtp::stray_frames(ch, &covered);
    let (mut gaps, mut gap_frames, mut gap_noise) = (0, 0, 0);
    let found: Vec<(i64, usize)> = packets
        .iter()
        .zip(&wide.found)
        .filter_map(|(p, f)| f.map(|f| (f, p.samples.len())))
        .collect();
    for w in found.windows(2) {
        let end = (w[0].0 as usize + w[0].1).min(ch.len());
        let next = w[1].0 as usize;
        if next > end {
            gaps += 1;
            gap_frames += next - end;
            gap_noise += ch[end..next].iter().filter(|&&s| s != 0).count();
        }
    }
    DirectionCheck {
        placement,
        wide,
        in_recording,
        in_other_channel,
        stray,
        gaps,
        gap_frames,
        gap_noise,
    }
}

#[test]
fn g711_call_is_recorded_bit_exact() {
    let (_d, s) = replay("sip-call-rtp-g711.pcap");

    let list = s.api("type=calllist&requestid=2");
    assert_eq!(field(&list, "COUNT"), "1", "{list}");
    let call = &sections(&list, "CALL")[0];
    assert_eq!(field(call, "DEVICEID"), "francisco");
    assert_eq!(field(call, "CALLID"), G711_CALL_ID);
    assert_eq!(field(call, "ANI"), "", "From has no user part");
    assert_eq!(field(call, "RECORDINGTYPE"), "FULL");
    assert_eq!(field(call, "AUDIO"), "Y");
    assert_eq!(field(call, "RECORDING"), "N");
    let duration = seconds(call, "DURATION");
    assert!(
        (duration - G711_DURATION).abs() < 0.1,
        "DURATION {duration}, capture says {G711_DURATION}"
    );

    // The second call rang and was never answered: no recording, but it is the device's
    // most recent call.
    let unanswered = s.api(&format!(
        "type=calllist&requestid=3&callid={G711_UNANSWERED_CALL_ID}"
    ));
    assert_eq!(field(&unanswered, "COUNT"), "0", "{unanswered}");
    let status = s.api("type=devicestatus&requestid=4&deviceid=francisco");
    assert_eq!(code(&status), 20, "{status}");
    assert_eq!(field(&status, "CALLINSTANCE"), G711_UNANSWERED_CALL_ID);
    assert_eq!(field(&status, "CALLID"), G711_UNANSWERED_CALL_ID);
    assert_eq!(field(&status, "RECORDING"), "N");

    let record_id = field(call, "RECORDID");
    let wav = rtp::read_wav(&export_wav(&s, &record_id));
    assert_eq!(wav.spec.sample_rate, 8000);
    let frames = wav.channels[0].len();
    assert!(
        (frames as f64 / 8000.0 - duration).abs() < 0.002,
        "{frames} frames for DURATION {duration}"
    );

    // The independent decode.
    let rtp::G711Call {
        start,
        callee,
        caller,
    } = rtp::g711_call(&common::testdata("pcap/sip-call-rtp-g711.pcap"));
    assert_eq!(start, G711_ANSWER_EPOCH_MICROS);
    assert_eq!(callee.len(), G711_CALLEE_PACKETS);
    assert!(callee.iter().all(|p| p.payload_len == 160));
    assert_eq!(caller.len(), G711_CALLER_PACKETS);
    let one_byte = caller.iter().filter(|p| p.payload_len == 1).count();
    assert_eq!(one_byte, G711_CALLER_ONE_BYTE_PACKETS);

    // The caller (channel 2): every packet within ±20 ms of its capture time. Its last
    // packet arrives exactly at the end of the capture, which ends the recording, so its
    // audio is not in it; the one before runs past the end and matches on what fits.
    let far = check_direction(&wav, 1, &caller, start);
    eprintln!(
        "caller: {} of {} packets in the recording found bit-exact, shifts {:?} frames; {} silences ({} frames), stray {}",
        far.placement.matched(),
        far.in_recording,
        minmax(&far.placement.shifts(&caller, start)),
        far.gaps,
        far.gap_frames,
        far.stray
    );
    assert_eq!(far.in_recording, G711_CALLER_PACKETS - 1);
    assert_eq!(far.placement.matched(), far.in_recording);
    assert_eq!(far.in_other_channel, 0, "caller audio found on channel 1");
    assert_eq!(far.stray, 0, "channel 2 holds only the caller's packets");
    assert!(far.gaps > 0);
    assert_eq!(far.gap_noise, 0, "silences between talkspurts are zeros");

    // The callee (the device, channel 1): every packet found bit-exact in its channel, and
    // within ±20 ms of its capture time all but the G711_CALLEE_LATE_PACKETS that cannot
    // be; those are late, by at most G711_CALLEE_MAX_LATE_FRAMES.
    let own = check_direction(&wav, 0, &callee, start);
    let shifts = own.wide.shifts(&callee, start);
    let late: Vec<i64> = shifts
        .iter()
        .copied()
        .filter(|d| d.abs() > WINDOW)
        .collect();
    eprintln!(
        "callee: {} of {} packets found bit-exact within ±20 ms, {} within ±60 ms, shifts {:?} frames; {} silences ({} frames), stray {}",
        own.placement.matched(),
        own.in_recording,
        own.wide.matched(),
        minmax(&shifts),
        own.gaps,
        own.gap_frames,
        own.stray
    );
    assert_eq!(own.in_recording, G711_CALLEE_PACKETS);
    assert_eq!(own.wide.matched(), G711_CALLEE_PACKETS);
    assert_eq!(
        own.placement.matched(),
        G711_CALLEE_PACKETS - G711_CALLEE_LATE_PACKETS
    );
    assert_eq!(late.len(), G711_CALLEE_LATE_PACKETS);
    assert!(
        late.iter()
            .all(|&d| d > WINDOW && d <= G711_CALLEE_MAX_LATE_FRAMES),
        "{:?}",
        minmax(&late)
    );
    assert_eq!(own.in_other_channel, 0, "callee audio found on channel 2");
    assert_eq!(own.stray, 0, "channel 1 holds only the callee's packets");
    assert!(own.gaps > 0);
    assert_eq!(own.gap_noise, 0, "silences between talkspurts are zeros");
}

fn minmax(v: &[i64]) -> (i64, i64) {
    (
        v.iter().copied().min().unwrap_or(0),
        v.iter().copied().max().unwrap_or(0),
    )
}

// Facts of sip-rtp-g711.pcap (tshark): two calls sipp → test, the callee (10.0.2.15)
// sends audio to the caller's port 6000, nothing comes back. Call 1 in µ-law, answered
// 0.004350 s, BYE 8.503693 s; call 2 in A-law, answered 8.624469 s, recorded until the
// capture ends at 16.902786 s.
const SIPP_CALLS: [SippCall; 2] = [
    SippCall {
        call_id: "1-1966@10.0.2.20",
        duration: 8.503693 - 0.004350,
        src: "10.0.2.15:27942",
        payload_type: 0,
        law: Law::Mu,
        packets: 425,
    },
    SippCall {
        call_id: "1-1968@10.0.2.20",
        duration: 16.902786 - 8.624469,
        src: "10.0.2.15:28102",
        payload_type: 8,
        law: Law::A,
        packets: 414,
    },
];
const SIPP_CALLER_MEDIA: &str = "10.0.2.20:6000";

struct SippCall {
    call_id: &'static str,
    duration: f64,
    src: &'static str,
    payload_type: u8,
    law: Law,
    packets: usize,
}

fn correlation(a: &[i16], b: &[i16]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    ab / (aa.sqrt() * bb.sqrt())
}

#[test]
fn same_sound_in_mulaw_and_alaw_gives_the_same_recording() {
    let (_d, s) = replay("sip-rtp-g711.pcap");
    let list = s.api("type=calllist&requestid=2&deviceid=test");
    assert_eq!(field(&list, "COUNT"), "2", "{list}");
    let rows = sections(&list, "CALL");
    // Newest first.
    assert_eq!(field(&rows[0], "CALLID"), SIPP_CALLS[1].call_id);
    assert_eq!(field(&rows[1], "CALLID"), SIPP_CALLS[0].call_id);
    let id = |r: &String| field(r, "RECORDID").parse::<i64>().unwrap();
    assert!(id(&rows[0]) > id(&rows[1]), "{list}");
    assert!(field(&rows[0], "CALLSTARTTIME") >= field(&rows[1], "CALLSTARTTIME"));

    let packets = rtp::udp_packets(&common::testdata("pcap/sip-rtp-g711.pcap"));
    let mut active = Vec::new();
    for (row, call) in rows.iter().rev().zip(&SIPP_CALLS) {
        assert_eq!(field(row, "DEVICEID"), "test");
        assert_eq!(field(row, "AUDIO"), "Y");
        assert_eq!(field(row, "RECORDING"), "N");
        let duration = seconds(row, "DURATION");
        assert!(
            (duration - call.duration).abs() < 0.1,
            "{}: DURATION {duration}, capture says {}",
            call.call_id,
            call.duration
        );
        let wav = rtp::read_wav(&export_wav(&s, &field(row, "RECORDID")));
        assert_eq!(wav.spec.sample_rate, 8000);
        let frames = wav.channels[0].len();
        assert!((frames as f64 / 8000.0 - duration).abs() < 0.002);
        // Only the callee (the device) sends: channel 2 is silent.
        assert!(wav.channels[1].iter().all(|&x| x == 0), "{}", call.call_id);

        let start = rtp::sip_answer_time(&packets, call.call_id).expect("200 OK");
        let sent = rtp::decode_direction(
            &packets,
            addr(call.src),
            addr(SIPP_CALLER_MEDIA),
            call.payload_type,
            call.law,
        );
        assert_eq!(sent.len(), call.packets);
        let own = check_direction(&wav, 0, &sent, start);
        eprintln!(
            "{}: {} of {} packets in the recording found bit-exact, shifts {:?} frames, stray {}",
            call.call_id,
            own.placement.matched(),
            own.in_recording,
            minmax(&own.placement.shifts(&sent, start)),
            own.stray
        );
        // Every packet; the last one of the A-law call arrives as the capture (and so the
        // recording) ends, and only its first samples are in it.
        assert_eq!(own.placement.matched(), call.packets, "{}", call.call_id);
        assert_eq!(own.stray, 0, "{}", call.call_id);
        active.push(wav.channels[0].clone());
    }

    // The same sound encoded once in µ-law and once in A-law: both laws quantize a 13/14-bit
    // signal to 8 bits with ~38 dB SNR, so the two decodes differ only by quantization
    // noise and, once aligned on their first sound, correlate far above 0.99. A wrong law,
    // byte order, dropped packets or a shift of even one sample drops well below that.
    // "First sound", not first non-zero: A-law's quietest codes decode to ±8, µ-law's to 0.
    let first_sound = |v: &[i16]| {
        v.iter()
            .position(|&x| x.unsigned_abs() > 256)
            .expect("some audio")
    };
    let (a, b) = (&active[0], &active[1]);
    let (a, b) = (&a[first_sound(a)..], &b[first_sound(b)..]);
    let n = a.len().min(b.len());
    assert!(n > 8000 * 8, "{n} aligned frames");
    let r = correlation(&a[..n], &b[..n]);
    // Measured: 0.99986 aligned, 0.895 one sample off; so > 0.995 and better than the
    // neighbours means the two recordings hold the same sound at the same sample rate.
    let shifted = correlation(&a[1..n], &b[..n - 1]);
    eprintln!("µ-law vs A-law correlation over {n} frames: {r:.5} (one sample off: {shifted:.5})");
    assert!(r > 0.995, "correlation {r}");
    assert!(r > shifted, "aligned {r}, one sample off {shifted}");
}

// Facts of sip-over-tcp.pcap (tshark): 101 calls 201 over TCP; 201 answers at epoch
// 1311857690.905636 (4.349461 s) and sends BYE at 6.500977 s. A-law both ways with CN
// (payload type 13) packets, which are not audio.
const TCP_ANSWER_EPOCH_MICROS: Micros = 1_311_857_690_905_636;
const TCP_DURATION: f64 = 6.500977 - 4.349461;
const TCP_CALLER_AUDIO: (&str, &str) = ("10.33.6.100:6000", "10.33.6.101:6050");
const TCP_CALLEE_AUDIO: (&str, &str) = ("10.33.6.101:6050", "10.33.6.100:6000");

#[test]
fn sip_over_tcp_call_is_recorded() {
    let (_d, s) = replay("sip-over-tcp.pcap");
    let list = s.api("type=calllist&requestid=2");
    assert_eq!(field(&list, "COUNT"), "1", "{list}");
    let row = &sections(&list, "CALL")[0];
    assert_eq!(field(row, "DEVICEID"), "201");
    assert_eq!(field(row, "ANI"), "101");
    assert_eq!(field(row, "AUDIO"), "Y");
    let duration = seconds(row, "DURATION");
    assert!(
        (duration - TCP_DURATION).abs() < 0.1,
        "DURATION {duration}, capture says {TCP_DURATION}"
    );

    let wav = rtp::read_wav(&export_wav(&s, &field(row, "RECORDID")));
    let packets = rtp::udp_packets(&common::testdata("pcap/sip-over-tcp.pcap"));
    let start = TCP_ANSWER_EPOCH_MICROS;
    for (channel, (src, dst)) in [(0, TCP_CALLEE_AUDIO), (1, TCP_CALLER_AUDIO)] {
        let sent = rtp::decode_direction(&packets, addr(src), addr(dst), 8, Law::A);
        let c = check_direction(&wav, channel, &sent, start);
        eprintln!(
            "{src}: {} of {} packets found bit-exact on channel {}, shifts {:?}, stray {}",
            c.placement.matched(),
            sent.len(),
            channel + 1,
            minmax(&c.placement.shifts(&sent, start)),
            c.stray
        );
        assert_eq!(c.placement.matched(), sent.len(), "{src}");
        assert_eq!(c.in_other_channel, 0, "{src}");
        assert_eq!(c.stray, 0, "{src}");
    }
}

#[test]
fn opus_call_is_kept_without_audio() {
    let (_d, s) = replay("invite-opus-bye.pcap");
    let list = s.api("type=calllist&requestid=2");
    assert_eq!(field(&list, "COUNT"), "1", "{list}");
    let row = &sections(&list, "CALL")[0];
    assert_eq!(field(row, "DEVICEID"), "bob");
    assert_eq!(field(row, "ANI"), "alice");
    assert_eq!(field(row, "AUDIO"), "N");
    assert_eq!(field(row, "RECORDING"), "N");
    // Opus is not decoded: EXPORT says there is no audio instead of sending silence or noise.
    let r = s.get(&format!(
        "/webAPI.aspx?type=export&requestid=3&uniquefield=recordid&uniqueid={}&media_format=wav",
        field(row, "RECORDID")
    ));
    assert_eq!(r.status, 200);
    assert_ne!(r.header("content-type"), Some("audio/wav"));
    let doc = r.text();
    assert_eq!(code(&doc), 31, "{doc}");
}

#[test]
fn garbage_capture_file_fails_the_source_not_the_server() {
    let dir = tempfile::tempdir().unwrap();
    // Deterministic pseudo-random bytes (xorshift), not starting with any pcap magic.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut bytes: Vec<u8> = (0..64 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    bytes[0] = b'G';
    let garbage = dir.path().join("garbage.pcap");
    std::fs::write(&garbage, &bytes).unwrap();
    let s = ServerBuilder::new(&dir.path().join("data"))
        .arg("--capture-file")
        .arg(garbage.to_string_lossy().into_owned())
        .arg("--capture-speed")
        .arg("max")
        .start();
    let source = s.wait_capture("FAILED");
    assert!(
        !field(&source, "MESSAGE").trim().is_empty(),
        "a FAILED source says why: {source}"
    );
    assert_eq!(field(&source, "CALLS"), "0", "{source}");
    // Still serving.
    assert_eq!(code(&s.api("type=test&requestid=2")), 20);
    let list = s.api("type=calllist&requestid=3");
    assert_eq!(field(&list, "COUNT"), "0", "{list}");
    let status = s.api("type=systemstatus&requestid=4");
    assert_eq!(field(&status, "ACTIVECALLS"), "0", "{status}");
}
