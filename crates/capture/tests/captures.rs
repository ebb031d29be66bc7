//! The tracker on the real captures in testdata/pcap. Expected times and counts were read
//! with tshark (frame.time_epoch, `-z rtp,streams`), not taken from this crate's output.

mod common;

use capture::{MediaEvent, Side};
use common::{answered, audio, capture, ended, micros, started, track, undecodable};

const CALL_1: &str = "12013223@200.57.7.195";
const CALL_2: &str = "12015624@200.57.7.195";

#[test]
fn gateway_call_without_bye() {
    let events = track(&capture("sip-call-rtp-g711.pcap"));
    let s = started(&events);
    assert_eq!(s.len(), 2, "two dialogs: {s:?}");
    // The first INVITE (frame 1) has From <sip:200.57.7.195:55061;user=phone>: no user part.
    assert_eq!(
        s[0],
        (
            CALL_1.to_string(),
            micros("1105725482.965944"),
            String::new(),
            "francisco".to_string()
        )
    );
    assert_eq!(
        s[1],
        (
            CALL_2.to_string(),
            micros("1105725507.631897"),
            "5514540002".to_string(),
            "francisco".to_string()
        )
    );
    // 200 OK at 8.477925 s (frame 498).
    assert_eq!(answered(&events, CALL_1), Some(micros("1105725491.443869")));
    assert_eq!(answered(&events, CALL_2), None);
    // No BYE: both end at the last packet of the file (34.908735 s).
    let last = micros("1105725517.874679");
    assert_eq!(
        ended(&events, CALL_1),
        Some((last, "end of capture".to_string()))
    );
    assert_eq!(
        ended(&events, CALL_2),
        Some((last, "end of capture".to_string()))
    );

    // Caller (200.57.7.196:40376 → 200.57.7.204:8000): 891 packets, 875 of 160 bytes and
    // 16 of 1 byte. Callee (200.57.7.204:8000 → 200.57.7.196:40376): 548 packets of 160.
    let caller = audio(&events, CALL_1, Side::Caller);
    let callee = audio(&events, CALL_1, Side::Callee);
    assert_eq!(caller.len(), 891);
    assert_eq!(callee.len(), 548);
    assert_eq!(
        caller.iter().map(|(_, p)| p.len()).sum::<usize>(),
        875 * 160 + 16
    );
    assert_eq!(
        callee.iter().map(|(_, p)| p.len()).sum::<usize>(),
        548 * 160
    );
    // The ringing second call and its early media give no audio.
    assert!(audio(&events, CALL_2, Side::Caller).is_empty());
    assert!(audio(&events, CALL_2, Side::Callee).is_empty());
    assert!(undecodable(&events).is_empty());

    // Audio stays inside the answered call (each talkspurt starts at its capture time;
    // see `both_directions_equal_independent_decode` for the placement itself).
    let answer = micros("1105725491.443869");
    for (at, _) in caller.iter().chain(&callee) {
        assert!(*at >= answer && *at < last + 20_000, "audio at {at}");
    }
}

/// Where each packet of one RTP stream belongs, worked out from the capture alone: each
/// talkspurt's first packet (marker bit, an RTP timestamp step backwards or more than the
/// previous packet's length + 80 samples, or an arrival more than 60 ms later than the
/// timestamp step says) at its capture time, the others at the talkspurt's start plus
/// their RTP offset from its first packet (125 µs per sample), and none before the end of
/// the previous one. Also returns how many talkspurts there are.
fn talkspurt_placement(packets: &[(i64, bool, u32, usize)]) -> (Vec<i64>, usize) {
    let mut out: Vec<i64> = Vec::new();
    let mut starts = 0;
    let (mut anchor_at, mut anchor_rtp) = (0i64, 0i64);
    let mut rtp = 0i64;
    for (i, &(ts, marker, rtp_ts, _)) in packets.iter().enumerate() {
        let start = if i == 0 {
            rtp = i64::from(rtp_ts);
            true
        } else {
            let (prev_ts, _, prev_rtp, prev_len) = packets[i - 1];
            let step = i64::from(rtp_ts.wrapping_sub(prev_rtp) as i32);
            rtp += step;
            marker || step < 0 || step > prev_len as i64 + 80 || ts - prev_ts - step * 125 > 60_000
        };
        let mut at = if start {
            ts
        } else {
            anchor_at + (rtp - anchor_rtp) * 125
        };
        if i > 0 {
            at = at.max(out[i - 1] + packets[i - 1].3 as i64 * 125);
        }
        if start {
            starts += 1;
            (anchor_at, anchor_rtp) = (at, rtp);
        }
        out.push(at);
    }
    (out, starts)
}

/// Decodes both directions of the answered call with an independent pcap/UDP walker and
/// SoX's A-law table, and compares sample by sample, and each packet's placement, with
/// the crate's output.
#[test]
fn both_directions_equal_independent_decode() {
    let path = capture("sip-call-rtp-g711.pcap");
    let table = common::sox_table("alaw_to_s16le.raw");
    let events = track(&path);
    let udp = common::walk_udp(&path);
    // (side, src, dst, packets, talkspurts, packets beyond ±20 ms, worst placement error
    // in µs, both from the talkspurt rule on the tshark-read timestamps)
    for (side, src, dst, count, talkspurts, beyond, worst) in [
        (
            Side::Caller,
            ([200, 57, 7, 196], 40376),
            ([200, 57, 7, 204], 8000),
            891,
            17,
            0,
            1_195,
        ),
        (
            Side::Callee,
            ([200, 57, 7, 204], 8000),
            ([200, 57, 7, 196], 40376),
            548,
            6,
            211,
            50_388,
        ),
    ] {
        let packets: Vec<_> = udp
            .iter()
            .filter(|u| u.src == src && u.dst == dst)
            .collect();
        assert_eq!(packets.len(), count, "{side:?}");
        let mut expected = Vec::new();
        let mut rtp = Vec::new();
        for p in &packets {
            let b = &p.payload;
            assert_eq!(b[0], 0x80, "plain RTP header, no CSRC/extension/padding");
            assert_eq!(b[1] & 0x7f, 8, "A-law");
            let ts = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
            rtp.push((p.ts, b[1] & 0x80 != 0, ts, b.len() - 12));
            expected.push(
                b[12..]
                    .iter()
                    .map(|&c| table[usize::from(c)])
                    .collect::<Vec<i16>>(),
            );
        }

        let got = audio(&events, CALL_1, side);
        assert_eq!(got.len(), expected.len(), "{side:?}");
        for (i, ((_, pcm), want)) in got.iter().zip(&expected).enumerate() {
            assert_eq!(pcm, want, "{side:?} packet {i}");
        }
        let (want_at, starts) = talkspurt_placement(&rtp);
        assert_eq!(starts, talkspurts, "{side:?}");
        for (i, (at, _)) in got.iter().enumerate() {
            assert_eq!(*at, want_at[i], "{side:?} packet {i}");
        }
        for w in got.windows(2) {
            assert!(
                w[1].0 >= w[0].0 + w[0].1.len() as i64 * 125,
                "{side:?} overlap"
            );
        }
        let errors: Vec<i64> = got.iter().zip(&rtp).map(|((at, _), p)| at - p.0).collect();
        let far = errors.iter().filter(|e| e.abs() > 20_000).count();
        let max = errors.iter().map(|e| e.abs()).max().unwrap_or(0);
        eprintln!("{side:?}: {starts} talkspurts, {far} packets beyond ±20 ms, worst {max} µs");
        assert_eq!(far, beyond, "{side:?}");
        assert_eq!(max, worst, "{side:?}");
    }
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
fn same_sound_in_mulaw_and_alaw() {
    let events = track(&capture("sip-rtp-g711.pcap"));
    let s = started(&events);
    assert_eq!(s.len(), 2);
    let (first, second) = ("1-1966@10.0.2.20", "1-1968@10.0.2.20");
    assert_eq!(
        s[0],
        (
            first.into(),
            micros("1480171979.666393"),
            "sipp".into(),
            "test".into()
        )
    );
    assert_eq!(
        s[1],
        (
            second.into(),
            micros("1480171988.286194"),
            "sipp".into(),
            "test".into()
        )
    );
    assert_eq!(answered(&events, first), Some(micros("1480171979.670743")));
    assert_eq!(answered(&events, second), Some(micros("1480171988.290862")));
    // BYE at 8.503693 s; the second call runs to the end of the file.
    assert_eq!(
        ended(&events, first),
        Some((micros("1480171988.170086"), "BYE".to_string()))
    );
    assert_eq!(
        ended(&events, second),
        Some((micros("1480171996.569179"), "end of capture".to_string()))
    );

    // One direction only: 10.0.2.15 (test, the callee) → 10.0.2.20:6000 (sipp's SDP).
    assert!(audio(&events, first, Side::Caller).is_empty());
    let ulaw: Vec<i16> = audio(&events, first, Side::Callee)
        .into_iter()
        .flat_map(|(_, p)| p)
        .collect();
    let alaw: Vec<i16> = audio(&events, second, Side::Callee)
        .into_iter()
        .flat_map(|(_, p)| p)
        .collect();
    assert_eq!(ulaw.len(), 425 * 160);
    assert_eq!(alaw.len(), 414 * 160);
    // The same recording in two codecs: aligned at the start, the waveforms agree up to
    // quantisation noise.
    let n = alaw.len().min(ulaw.len());
    let c = correlation(&ulaw[..n], &alaw[..n]);
    assert!(c > 0.99, "correlation {c}");
    let energy: f64 = ulaw[..n].iter().map(|&x| f64::from(x).powi(2)).sum();
    assert!(energy / n as f64 > 1e4, "real sound, not silence");
}

#[test]
fn sip_over_tcp_with_comfort_noise() {
    let events = track(&capture("sip-over-tcp.pcap"));
    let id = "158936656982201062716@10.33.6.100";
    assert_eq!(
        started(&events),
        vec![(
            id.to_string(),
            micros("1311857686.562096"),
            "101".to_string(),
            "201".to_string()
        )]
    );
    assert_eq!(answered(&events, id), Some(micros("1311857690.905636")));
    // BYE from 201 at 6.500977 s.
    assert_eq!(
        ended(&events, id),
        Some((micros("1311857693.057152"), "BYE".to_string()))
    );
    // 10.33.6.100:6000 → 10.33.6.101:6050 (caller): 24 packets, 4 of them CN.
    // 10.33.6.101:6050 → 10.33.6.100:6000 (callee): 42 packets, 2 of them CN.
    let caller = audio(&events, id, Side::Caller);
    let callee = audio(&events, id, Side::Callee);
    assert_eq!(caller.len(), 20);
    assert_eq!(callee.len(), 40);
    assert!(caller.iter().chain(&callee).all(|(_, p)| p.len() == 160));
    // The CN pause on the callee side (4.915908 s → 6.212465 s) is a gap, not audio:
    // consecutive audio packets there are ~1.34 s apart.
    let gap = callee
        .windows(2)
        .map(|w| w[1].0 - (w[0].0 + 20_000))
        .max()
        .unwrap_or(0);
    assert!((1_200_000..1_500_000).contains(&gap), "gap {gap} µs");
    assert!(undecodable(&events).is_empty());
}

#[test]
fn reinvite_to_opus() {
    let events = track(&capture("register-invite-reinvite-bye.pcap"));
    let id = "1-3812687@127.0.0.1";
    // The REGISTER before it starts nothing.
    assert_eq!(
        started(&events),
        vec![(
            id.to_string(),
            micros("1782336875.158999"),
            "alice".to_string(),
            "bob".to_string()
        )]
    );
    assert_eq!(answered(&events, id), Some(micros("1782336875.161708")));
    // The re-INVITE (1.731760 s) switches both directions to opus/48000 on PT 96. Before
    // it, 77 µ-law packets each way, one talkspurt (marker on the first packet, contiguous
    // timestamps, no arrival gap); the first at its capture time (0.226437 s from
    // 5094 → 5084, sent to bob: the caller's audio; 0.225458 s the other way). This
    // generator sent the 77 × 20 ms in 1.50 s, so placed by their RTP timestamps within
    // the talkspurt they end up to 20 ms after their capture times, still within 50 ms of
    // the re-INVITE.
    let reinvite = micros("1782336876.668413");
    for (side, first) in [
        (Side::Caller, micros("1782336875.163090")),
        (Side::Callee, micros("1782336875.162111")),
    ] {
        let a = audio(&events, id, side);
        assert_eq!(a.len(), 77, "{side:?}: 77 µ-law packets");
        assert_eq!(a[0].0, first, "{side:?}");
        for (i, (at, pcm)) in a.iter().enumerate() {
            assert_eq!(pcm.len(), 160);
            assert_eq!(*at, first + i as i64 * 20_000, "{side:?} contiguous");
        }
        assert!(first + 77 * 20_000 < reinvite + 50_000);
    }
    let mut u = undecodable(&events);
    u.sort_by_key(|(_, s, _)| *s == Side::Callee);
    assert_eq!(
        u,
        vec![
            (id.to_string(), Side::Caller, "opus".to_string()),
            (id.to_string(), Side::Callee, "opus".to_string())
        ]
    );
    // Reported only once the re-INVITE happened.
    let first_undecodable = events
        .iter()
        .position(|e| matches!(e, MediaEvent::UndecodableMedia { .. }))
        .unwrap_or(0);
    let last_audio = events
        .iter()
        .rposition(|e| matches!(e, MediaEvent::Audio { .. }))
        .unwrap_or(usize::MAX);
    assert!(last_audio < first_undecodable);
    // BYE at 2.335848 s.
    assert_eq!(
        ended(&events, id),
        Some((micros("1782336877.272501"), "BYE".to_string()))
    );
}

#[test]
fn opus_only_call_is_kept_without_audio() {
    let events = track(&capture("invite-opus-bye.pcap"));
    let id = "1-3811003@127.0.0.1";
    assert_eq!(answered(&events, id), Some(micros("1782336735.421020")));
    assert!(!events.iter().any(|e| matches!(e, MediaEvent::Audio { .. })));
    assert_eq!(undecodable(&events).len(), 2);
    assert_eq!(
        ended(&events, id),
        Some((micros("1782336738.426415"), "BYE".to_string()))
    );
}

#[test]
fn rtp_without_sip_is_ignored() {
    // Port 6000 is announced by no SDP in this capture.
    let path = capture("speech_8k_ulaw.pcap");
    let reader = capture::pcap_reading::open_file(&path).expect("opens");
    let mut tracker = capture::Tracker::default();
    let mut events = Vec::new();
    for p in reader {
        let p = p.expect("reads");
        events.extend(tracker.packet(p.ts, &p.data, p.linktype));
    }
    assert!(events.is_empty());
    let stats = tracker.stats().snapshot();
    assert_eq!(stats.packets, 835);
    assert_eq!(stats.ignored_packets, 835);
    assert_eq!(stats.rtp_packets, 0);
}
