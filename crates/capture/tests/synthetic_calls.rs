//! Call flows the sample captures do not contain, built packet by packet: IPv6, SIP split
//! over TCP segments, rejection, CANCEL, delayed offer, a callee re-INVITE, duplicates,
//! DTMF, timestamp wraparound, SSRC change, and talkspurts placed on the capture clock.

use std::net::{IpAddr, SocketAddr};

use capture::{LinkType, MediaEvent, Side, Tracker};
use etherparse::PacketBuilder;

const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

fn udp(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let builder = PacketBuilder::ethernet2(MAC, MAC);
    let res = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => builder
            .ipv4(s.octets(), d.octets(), 64)
            .udp(src.port(), dst.port())
            .write(&mut out, payload),
        (IpAddr::V6(s), IpAddr::V6(d)) => builder
            .ipv6(s.octets(), d.octets(), 64)
            .udp(src.port(), dst.port())
            .write(&mut out, payload),
        _ => panic!("mixed families"),
    };
    res.expect("build");
    out
}

fn tcp(src: SocketAddr, dst: SocketAddr, seq: u32, syn: bool, payload: &[u8]) -> Vec<u8> {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (src.ip(), dst.ip()) else {
        panic!("v4 only")
    };
    let mut b = PacketBuilder::ethernet2(MAC, MAC)
        .ipv4(s.octets(), d.octets(), 64)
        .tcp(src.port(), dst.port(), seq, 65535);
    if syn {
        b = b.syn();
    }
    let mut out = Vec::new();
    b.write(&mut out, payload).expect("build");
    out
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("addr")
}

fn sdp(ip: &str, port: u16, fmts: &str, maps: &str) -> String {
    let kind = if ip.contains(':') { "IP6" } else { "IP4" };
    format!(
        "v=0\r\no=- 1 1 IN {kind} {ip}\r\ns=-\r\nc=IN {kind} {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP {fmts}\r\n{maps}"
    )
}

/// A SIP message; `from_tag` identifies the dialog side that sent the request.
fn sip(start: &str, call: &str, cseq: &str, from: &str, to: &str, body: &str) -> Vec<u8> {
    let ct = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    format!(
        "{start}\r\nVia: SIP/2.0/UDP host;branch=z9hG4bK1\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call}\r\nCSeq: {cseq}\r\n{ct}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    rtp_marked(false, pt, seq, ts, ssrc, payload)
}

fn rtp_marked(marker: bool, pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    p.extend(seq.to_be_bytes());
    p.extend(ts.to_be_bytes());
    p.extend(ssrc.to_be_bytes());
    p.extend(payload);
    p
}

struct Feed {
    tracker: Tracker,
    events: Vec<MediaEvent>,
}

impl Feed {
    fn new() -> Self {
        Feed {
            tracker: Tracker::default(),
            events: Vec::new(),
        }
    }
    fn send(&mut self, ts: i64, frame: &[u8]) -> Vec<MediaEvent> {
        let ev = self.tracker.packet(ts, frame, LinkType::ETHERNET);
        self.events.extend(ev.clone());
        ev
    }
}

const ALICE: &str = "\"Alice\" <sip:alice@example.com>;tag=a1";
const BOB: &str = "<sip:bob@example.com>";
const BOB_TAGGED: &str = "<sip:bob@example.com>;tag=b1";

#[test]
fn ipv6_call_with_early_media_duplicates_dtmf_wrap_and_ssrc_change() {
    let (a_sip, b_sip) = (addr("[2001:db8::1]:5060"), addr("[2001:db8::2]:5060"));
    let (a_rtp, b_rtp) = (addr("[2001:db8::1]:4000"), addr("[2001:db8::2]:5000"));
    let call = "v6call@example.com";
    let mut f = Feed::new();
    let offer = sdp(
        "2001:db8::1",
        4000,
        "0 101",
        "a=rtpmap:101 telephone-event/8000\r\n",
    );
    let answer = sdp("2001:db8::2", 5000, "0", "");
    f.send(
        0,
        &udp(
            a_sip,
            b_sip,
            &sip(
                "INVITE sip:bob@example.com SIP/2.0",
                call,
                "1 INVITE",
                ALICE,
                BOB,
                &offer,
            ),
        ),
    );
    f.send(
        10_000,
        &udp(
            b_sip,
            a_sip,
            &sip(
                "SIP/2.0 183 Session Progress",
                call,
                "1 INVITE",
                ALICE,
                BOB_TAGGED,
                &answer,
            ),
        ),
    );
    // Early media from bob to alice: not recorded.
    assert!(
        f.send(20_000, &udp(b_rtp, a_rtp, &rtp(0, 1, 0, 9, &[0xff; 160])))
            .is_empty()
    );
    let ev = f.send(
        1_000_000,
        &udp(
            b_sip,
            a_sip,
            &sip(
                "SIP/2.0 200 OK",
                call,
                "1 INVITE",
                ALICE,
                BOB_TAGGED,
                &answer,
            ),
        ),
    );
    assert_eq!(
        ev,
        vec![MediaEvent::DialogAnswered {
            dialog: call.into(),
            at: 1_000_000
        }]
    );

    // Alice → bob: timestamps wrap, one duplicate, one DTMF event.
    let t0 = u32::MAX - 159;
    let payload = [0x00u8; 160]; // µ-law 0x00 = -32124
    let mut placed = Vec::new();
    for (i, (seq, ts, pt)) in [
        (100u16, t0, 0u8),
        (101, t0.wrapping_add(160), 0),
        (101, t0.wrapping_add(160), 0),   // duplicate
        (102, t0.wrapping_add(320), 101), // telephone-event
        (103, t0.wrapping_add(480), 0),
    ]
    .into_iter()
    .enumerate()
    {
        for e in f.send(
            1_100_000 + i as i64 * 20_000,
            &udp(a_rtp, b_rtp, &rtp(pt, seq, ts, 7, &payload)),
        ) {
            if let MediaEvent::Audio { side, at, pcm, .. } = e {
                assert_eq!(side, Side::Caller);
                assert!(pcm.iter().all(|&s| s == -32124));
                placed.push(at);
            }
        }
    }
    // The first two follow the RTP clock from the first (0 and 20 ms, across the wrap).
    // The DTMF event leaves a gap in the audio timestamps (480 after 160, a step of two
    // packets), so the packet after it starts a new talkspurt at its capture time.
    assert_eq!(placed, vec![1_100_000, 1_120_000, 1_180_000]);

    // A new SSRC from alice is anchored at its own capture time.
    let ev = f.send(
        1_500_000,
        &udp(a_rtp, b_rtp, &rtp(0, 5, 123_456, 8, &payload)),
    );
    assert!(matches!(
        &ev[..],
        [MediaEvent::Audio {
            at: 1_500_000,
            side: Side::Caller,
            ..
        }]
    ));
    // Bob → alice arrives as the callee's audio.
    let ev = f.send(
        1_510_000,
        &udp(b_rtp, a_rtp, &rtp(0, 2, 160, 9, &[0xff; 80])),
    );
    assert!(
        matches!(&ev[..], [MediaEvent::Audio { side: Side::Callee, pcm, .. }] if pcm.len() == 80)
    );

    let bye = sip(
        "BYE sip:alice@example.com SIP/2.0",
        call,
        "7 BYE",
        BOB_TAGGED,
        ALICE,
        "",
    );
    let ev = f.send(2_000_000, &udp(b_sip, a_sip, &bye));
    assert_eq!(
        ev,
        vec![MediaEvent::DialogEnded {
            dialog: call.into(),
            at: 2_000_000,
            reason: "BYE".into()
        }]
    );
    // After the end, its RTP and the 200 OK to the BYE change nothing.
    assert!(
        f.send(
            2_010_000,
            &udp(a_rtp, b_rtp, &rtp(0, 104, 640, 7, &payload))
        )
        .is_empty()
    );
    assert!(
        f.send(
            2_020_000,
            &udp(
                a_sip,
                b_sip,
                &sip("SIP/2.0 200 OK", call, "7 BYE", BOB_TAGGED, ALICE, "")
            )
        )
        .is_empty()
    );
    assert!(f.tracker.finish(3_000_000).is_empty());
    let snap = f.tracker.stats().snapshot();
    assert_eq!(snap.calls, 1);
    assert_eq!(snap.dropped_packets, 1, "the duplicate");
}

/// One direction of a call in talkspurts: the first packet of each (marker bit, a jump in
/// the RTP timestamps, or an arrival gap) at its capture time, the others spaced by the
/// RTP clock whatever the jitter, and never one packet over another.
#[test]
fn talkspurts_start_at_capture_time() {
    let (a_sip, b_sip) = (addr("10.2.0.1:5060"), addr("10.2.0.2:5060"));
    let (a_rtp, b_rtp) = (addr("10.2.0.1:4000"), addr("10.2.0.2:5000"));
    let call = "talkspurts@example.com";
    let mut f = Feed::new();
    f.send(
        0,
        &udp(
            a_sip,
            b_sip,
            &sip(
                "INVITE sip:bob@example.com SIP/2.0",
                call,
                "1 INVITE",
                ALICE,
                BOB,
                &sdp("10.2.0.1", 4000, "0", ""),
            ),
        ),
    );
    f.send(
        10_000,
        &udp(
            b_sip,
            a_sip,
            &sip(
                "SIP/2.0 200 OK",
                call,
                "1 INVITE",
                ALICE,
                BOB_TAGGED,
                &sdp("10.2.0.2", 5000, "0", ""),
            ),
        ),
    );
    // (capture time, marker, RTP timestamp, payload bytes, where it belongs)
    let t = 1_000_000;
    let packets: [(i64, bool, u32, usize, i64); 12] = [
        // A talkspurt with jitter: placed by the RTP clock, 20 ms apart.
        (t, true, 8000, 160, t),
        (t + 27_000, false, 8160, 160, t + 20_000),
        (t + 31_000, false, 8320, 160, t + 40_000),
        // Marker bit, timestamps contiguous (a sender that keeps its clock running
        // through silence would jump; this one does not): capture time.
        (t + 400_000, true, 8480, 160, t + 400_000),
        (t + 425_000, false, 8640, 160, t + 420_000),
        // No marker, timestamps 700 ms on while 590 ms passed: the RTP clock ran ahead
        // in the silence; the talkspurt starts at capture time, not 110 ms late.
        (t + 1_015_000, false, 8640 + 5600, 160, t + 1_015_000),
        (t + 1_030_000, false, 8640 + 5760, 160, t + 1_035_000),
        // Contiguous timestamps, no marker, but it arrives 100 ms later than they say (a
        // sender that does not advance its clock in silence): capture time.
        (t + 1_150_000, false, 8640 + 5920, 160, t + 1_150_000),
        (t + 1_170_000, false, 8640 + 6080, 160, t + 1_170_000),
        // A new talkspurt whose capture time falls inside the previous packet: right
        // after it instead of over it.
        (t + 1_180_000, true, 20_000, 160, t + 1_190_000),
        (t + 1_200_000, false, 20_160, 160, t + 1_210_000),
        // Timestamps going backwards (a sender restart on the same SSRC): capture time.
        (t + 1_300_000, false, 100, 80, t + 1_300_000),
    ];
    let mut placed = Vec::new();
    for (i, &(ts, marker, rtp_ts, len, _)) in packets.iter().enumerate() {
        let payload = vec![0xffu8; len];
        for e in f.send(
            ts,
            &udp(
                a_rtp,
                b_rtp,
                &rtp_marked(marker, 0, 10 + i as u16, rtp_ts, 42, &payload),
            ),
        ) {
            if let MediaEvent::Audio { side, at, pcm, .. } = e {
                assert_eq!(side, Side::Caller);
                placed.push((at, pcm.len()));
            }
        }
    }
    let want: Vec<(i64, usize)> = packets.iter().map(|p| (p.4, p.3)).collect();
    assert_eq!(placed, want);
    for w in placed.windows(2) {
        assert!(w[1].0 >= w[0].0 + w[0].1 as i64 * 125, "overlap: {w:?}");
    }
}

#[test]
fn sip_over_tcp_split_and_coalesced() {
    let (a, b) = (addr("10.1.1.1:40000"), addr("10.1.1.2:5060"));
    let call = "tcp-call";
    let invite = sip(
        "INVITE sip:bob@example.com SIP/2.0",
        call,
        "1 INVITE",
        ALICE,
        BOB,
        &sdp("10.1.1.1", 4000, "8", ""),
    );
    let mut f = Feed::new();
    f.send(0, &tcp(a, b, 1000, true, b""));
    f.send(0, &tcp(b, a, 5000, true, b""));
    // The INVITE in three segments, the middle one arriving last.
    let (p1, p2, p3) = (&invite[..50], &invite[50..200], &invite[200..]);
    assert!(f.send(1, &tcp(a, b, 1001, false, p1)).is_empty());
    assert!(f.send(2, &tcp(a, b, 1001 + 200, false, p3)).is_empty());
    let ev = f.send(3, &tcp(a, b, 1001 + 50, false, p2));
    assert!(
        matches!(&ev[..], [MediaEvent::DialogStarted { from_user, to_user, at: 3, .. }] if from_user == "alice" && to_user == "bob")
    );
    // 100 Trying, 180 Ringing and 200 OK in one segment.
    let mut burst = sip("SIP/2.0 100 Trying", call, "1 INVITE", ALICE, BOB, "");
    burst.extend(sip(
        "SIP/2.0 180 Ringing",
        call,
        "1 INVITE",
        ALICE,
        BOB_TAGGED,
        "",
    ));
    burst.extend(sip(
        "SIP/2.0 200 OK",
        call,
        "1 INVITE",
        ALICE,
        BOB_TAGGED,
        &sdp("10.1.1.2", 6000, "8", ""),
    ));
    let ev = f.send(4, &tcp(b, a, 5001, false, &burst));
    assert_eq!(
        ev,
        vec![MediaEvent::DialogAnswered {
            dialog: call.into(),
            at: 4
        }]
    );
    // A-law to alice's address: the callee's audio.
    let ev = f.send(
        5,
        &udp(
            addr("10.1.1.2:6000"),
            addr("10.1.1.1:4000"),
            &rtp(8, 1, 0, 1, &[0xd5; 160]),
        ),
    );
    assert!(
        matches!(&ev[..], [MediaEvent::Audio { side: Side::Callee, pcm, .. }] if pcm.iter().all(|&s| s == 8))
    );
    assert_eq!(f.tracker.stats().snapshot().sip_messages, 4);
}

#[test]
fn rejection_after_a_credentials_challenge() {
    let (a, b) = (addr("10.0.0.1:5060"), addr("10.0.0.2:5060"));
    let call = "busy";
    let mut f = Feed::new();
    let inv1 = sip("INVITE sip:bob@x SIP/2.0", call, "1 INVITE", ALICE, BOB, "");
    f.send(0, &udp(a, b, &inv1));
    // 407: the caller retries with credentials on the same Call-ID; still ringing.
    assert!(
        f.send(
            1,
            &udp(
                b,
                a,
                &sip(
                    "SIP/2.0 407 Proxy Authentication Required",
                    call,
                    "1 INVITE",
                    ALICE,
                    BOB_TAGGED,
                    ""
                )
            )
        )
        .is_empty()
    );
    assert!(
        f.send(
            2,
            &udp(
                a,
                b,
                &sip("INVITE sip:bob@x SIP/2.0", call, "2 INVITE", ALICE, BOB, "")
            )
        )
        .is_empty()
    );
    let ev = f.send(
        3,
        &udp(
            b,
            a,
            &sip(
                "SIP/2.0 486 Busy Here",
                call,
                "2 INVITE",
                ALICE,
                BOB_TAGGED,
                "",
            ),
        ),
    );
    assert_eq!(
        ev,
        vec![MediaEvent::DialogEnded {
            dialog: call.into(),
            at: 3,
            reason: "486 Busy Here".into()
        }]
    );
    // Retransmissions of the response and the INVITE start nothing new.
    assert!(
        f.send(
            4,
            &udp(
                b,
                a,
                &sip(
                    "SIP/2.0 486 Busy Here",
                    call,
                    "2 INVITE",
                    ALICE,
                    BOB_TAGGED,
                    ""
                )
            )
        )
        .is_empty()
    );
    assert!(f.send(5, &udp(a, b, &inv1)).is_empty());
    assert_eq!(f.tracker.stats().snapshot().calls, 1);
}

#[test]
fn cancel_ends_a_ringing_call() {
    let (a, b) = (addr("10.0.0.1:5060"), addr("10.0.0.2:5060"));
    let mut f = Feed::new();
    f.send(
        0,
        &udp(
            a,
            b,
            &sip("INVITE sip:bob@x SIP/2.0", "c", "1 INVITE", ALICE, BOB, ""),
        ),
    );
    f.send(
        1,
        &udp(
            b,
            a,
            &sip(
                "SIP/2.0 180 Ringing",
                "c",
                "1 INVITE",
                ALICE,
                BOB_TAGGED,
                "",
            ),
        ),
    );
    let ev = f.send(
        2,
        &udp(
            a,
            b,
            &sip("CANCEL sip:bob@x SIP/2.0", "c", "1 CANCEL", ALICE, BOB, ""),
        ),
    );
    assert_eq!(
        ev,
        vec![MediaEvent::DialogEnded {
            dialog: "c".into(),
            at: 2,
            reason: "CANCEL".into()
        }]
    );
    assert!(
        f.send(
            3,
            &udp(
                b,
                a,
                &sip(
                    "SIP/2.0 487 Request Terminated",
                    "c",
                    "1 INVITE",
                    ALICE,
                    BOB_TAGGED,
                    ""
                )
            )
        )
        .is_empty()
    );
}

#[test]
fn delayed_offer_and_callee_reinvite_moving_its_media() {
    let (a, b) = (addr("10.0.0.1:5060"), addr("10.0.0.2:5060"));
    let call = "late";
    let mut f = Feed::new();
    // INVITE without SDP; the offer comes in the 200 OK and the answer in the ACK.
    f.send(
        0,
        &udp(
            a,
            b,
            &sip("INVITE sip:bob@x SIP/2.0", call, "1 INVITE", ALICE, BOB, ""),
        ),
    );
    f.send(
        1,
        &udp(
            b,
            a,
            &sip(
                "SIP/2.0 200 OK",
                call,
                "1 INVITE",
                ALICE,
                BOB_TAGGED,
                &sdp("10.0.0.2", 6000, "0", ""),
            ),
        ),
    );
    f.send(
        2,
        &udp(
            a,
            b,
            &sip(
                "ACK sip:bob@x SIP/2.0",
                call,
                "1 ACK",
                ALICE,
                BOB_TAGGED,
                &sdp("10.0.0.1", 4000, "0", ""),
            ),
        ),
    );
    let to_bob = |port| {
        udp(
            addr("10.0.0.1:4000"),
            addr(&format!("10.0.0.2:{port}")),
            &rtp(0, port, 0, 3, &[0xff; 160]),
        )
    };
    let to_alice = udp(
        addr("10.0.0.2:6000"),
        addr("10.0.0.1:4000"),
        &rtp(0, 1, 0, 4, &[0xff; 160]),
    );
    assert!(matches!(
        &f.send(3, &to_bob(6000))[..],
        [MediaEvent::Audio {
            side: Side::Caller,
            ..
        }]
    ));
    assert!(matches!(
        &f.send(4, &to_alice)[..],
        [MediaEvent::Audio {
            side: Side::Callee,
            ..
        }]
    ));
    // Bob re-INVITEs (From is bob now) and moves his media to port 7000.
    let reinvite = sip(
        "INVITE sip:alice@x SIP/2.0",
        call,
        "1 INVITE",
        BOB_TAGGED,
        "<sip:alice@example.com>;tag=a1",
        &sdp("10.0.0.2", 7000, "0", ""),
    );
    f.send(5, &udp(b, a, &reinvite));
    assert!(matches!(
        &f.send(6, &to_bob(7000))[..],
        [MediaEvent::Audio {
            side: Side::Caller,
            ..
        }]
    ));
    // The old port is no longer bob's: packets sent there (not from alice's announced
    // address either) are ignored.
    let stray = udp(
        addr("10.0.0.9:1234"),
        addr("10.0.0.2:6000"),
        &rtp(0, 9, 0, 5, &[0xff; 160]),
    );
    assert!(f.send(7, &stray).is_empty());
    let ev = f.tracker.finish(8);
    assert_eq!(
        ev,
        vec![MediaEvent::DialogEnded {
            dialog: call.into(),
            at: 8,
            reason: "end of capture".into()
        }]
    );
}
