//! Untrusted input: damaged captures, random bytes, other encapsulations and file formats.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use capture::{CaptureError, CaptureStats, LinkType, MediaEvent, Speed, Tracker, replay_file};
use common::{capture, track};

/// A small deterministic PRNG (xorshift64*), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("callvault-capture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write temp file");
    path
}

/// Records of a little-endian µs pcap: (ts_sec, ts_usec, frame).
fn records(path: &Path) -> (u32, Vec<(u32, u32, Vec<u8>)>) {
    let file = std::fs::read(path).expect("read");
    let u32le = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let linktype = u32le(&file[20..24]);
    let mut out = Vec::new();
    let mut pos = 24;
    while pos + 16 <= file.len() {
        let len = u32le(&file[pos + 8..]) as usize;
        out.push((
            u32le(&file[pos..]),
            u32le(&file[pos + 4..]),
            file[pos + 16..pos + 16 + len].to_vec(),
        ));
        pos += 16 + len;
    }
    (linktype, out)
}

/// Writes a big-endian, nanosecond-resolution classic pcap.
fn pcap_be_ns(linktype: u32, recs: &[(u32, u32, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(0xa1b2_3c4d_u32.to_be_bytes());
    out.extend(2u16.to_be_bytes());
    out.extend(4u16.to_be_bytes());
    out.extend(0i32.to_be_bytes());
    out.extend(0u32.to_be_bytes());
    out.extend(65535u32.to_be_bytes());
    out.extend(linktype.to_be_bytes());
    for (sec, usec, data) in recs {
        out.extend(sec.to_be_bytes());
        out.extend((usec * 1000 + 999).to_be_bytes()); // sub-µs digits are dropped
        out.extend((data.len() as u32).to_be_bytes());
        out.extend((data.len() as u32).to_be_bytes());
        out.extend(data);
    }
    out
}

/// Writes a little-endian pcapng with one interface whose if_tsresol is nanoseconds.
fn pcapng_ns(linktype: u32, recs: &[(u32, u32, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    // Section header block.
    out.extend(0x0A0D_0D0A_u32.to_le_bytes());
    out.extend(28u32.to_le_bytes());
    out.extend(0x1A2B_3C4D_u32.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out.extend((-1i64).to_le_bytes());
    out.extend(28u32.to_le_bytes());
    // Interface description block with if_tsresol = 9.
    out.extend(1u32.to_le_bytes());
    out.extend(32u32.to_le_bytes());
    out.extend((linktype as u16).to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out.extend(65535u32.to_le_bytes());
    out.extend(9u16.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend([9, 0, 0, 0]);
    out.extend([0, 0, 0, 0]);
    out.extend(32u32.to_le_bytes());
    for (sec, usec, data) in recs {
        let ticks = u64::from(*sec) * 1_000_000_000 + u64::from(*usec) * 1000 + 7;
        let padded = data.len().div_ceil(4) * 4;
        let len = (32 + padded) as u32;
        out.extend(6u32.to_le_bytes());
        out.extend(len.to_le_bytes());
        out.extend(0u32.to_le_bytes());
        out.extend(((ticks >> 32) as u32).to_le_bytes());
        out.extend((ticks as u32).to_le_bytes());
        out.extend((data.len() as u32).to_le_bytes());
        out.extend((data.len() as u32).to_le_bytes());
        out.extend(data);
        out.extend(vec![0u8; padded - data.len()]);
        out.extend(len.to_le_bytes());
    }
    out
}

fn pcap_le_us(linktype: u32, recs: &[(u32, u32, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(0xa1b2_c3d4_u32.to_le_bytes());
    out.extend(2u16.to_le_bytes());
    out.extend(4u16.to_le_bytes());
    out.extend([0u8; 8]);
    out.extend(65535u32.to_le_bytes());
    out.extend(linktype.to_le_bytes());
    for (sec, usec, data) in recs {
        out.extend(sec.to_le_bytes());
        out.extend(usec.to_le_bytes());
        out.extend((data.len() as u32).to_le_bytes());
        out.extend((data.len() as u32).to_le_bytes());
        out.extend(data);
    }
    out
}

/// Re-wraps Ethernet frames: `f` gets the IP packet (Ethernet header removed).
fn rewrap(recs: &[(u32, u32, Vec<u8>)], f: impl Fn(&[u8]) -> Vec<u8>) -> Vec<(u32, u32, Vec<u8>)> {
    recs.iter()
        .map(|(s, u, frame)| {
            assert_eq!(frame[12..14], [0x08, 0x00]);
            (*s, *u, f(&frame[14..]))
        })
        .collect()
}

#[test]
fn other_formats_and_encapsulations_give_the_same_events() {
    for name in ["sip-over-tcp.pcap", "register-invite-reinvite-bye.pcap"] {
        let original = capture(name);
        let want = track(&original);
        assert!(want.len() > 10);
        let (lt, recs) = records(&original);
        assert_eq!(lt, 1);
        let sll = rewrap(&recs, |ip| {
            let mut v = vec![0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00];
            v.extend(ip);
            v
        });
        let sll2 = rewrap(&recs, |ip| {
            let mut v = vec![
                0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0,
            ];
            v.extend(ip);
            v
        });
        let raw = rewrap(&recs, |ip| ip.to_vec());
        let vlan: Vec<_> = recs
            .iter()
            .map(|(s, u, f)| {
                let mut v = f[..12].to_vec();
                v.extend([0x81, 0x00, 0x00, 0x64]); // 802.1Q, VLAN 100
                v.extend(&f[12..]);
                (*s, *u, v)
            })
            .collect();
        let variants = [
            ("be-ns.pcap", pcap_be_ns(1, &recs)),
            ("ns.pcapng", pcapng_ns(1, &recs)),
            ("sll.pcap", pcap_le_us(113, &sll)),
            ("sll2.pcap", pcap_le_us(276, &sll2)),
            ("raw.pcap", pcap_le_us(101, &raw)),
            ("vlan.pcap", pcap_le_us(1, &vlan)),
        ];
        for (suffix, bytes) in variants {
            let path = temp_file(&format!("{name}.{suffix}"), &bytes);
            assert_eq!(track(&path), want, "{name} as {suffix}");
        }
    }
}

/// Runs a file through the tracker, tolerating damage at the end like the replay does.
fn track_lenient(path: &Path) -> Result<Vec<MediaEvent>, CaptureError> {
    let reader = capture::pcap_reading::open_file(path)?;
    let mut tracker = Tracker::default();
    let mut events = Vec::new();
    for packet in reader {
        let Ok(packet) = packet else { break };
        events.extend(tracker.packet(packet.ts, &packet.data, packet.linktype));
    }
    if let Some(last) = tracker.last_packet_ts() {
        events.extend(tracker.finish(last));
    }
    Ok(events)
}

#[test]
fn truncated_captures_end_cleanly() {
    let bytes = std::fs::read(capture("sip-call-rtp-g711.pcap")).expect("read");
    let mut rng = Rng(7);
    let mut cuts: Vec<usize> = (0..40).map(|_| rng.below(bytes.len())).collect();
    cuts.extend([24, 25, 40, 24 + 16 + 100, bytes.len() - 1]);
    for cut in cuts {
        let path = temp_file("cut.pcap", &bytes[..cut]);
        let events = track_lenient(&path).expect("header intact");
        // Every dialog that started also ends.
        let started = events
            .iter()
            .filter(|e| matches!(e, MediaEvent::DialogStarted { .. }))
            .count();
        let ended = events
            .iter()
            .filter(|e| matches!(e, MediaEvent::DialogEnded { .. }))
            .count();
        assert_eq!(started, ended, "cut at {cut}");
    }
    // Shorter than a pcap header.
    let path = temp_file("cut-header.pcap", &bytes[..10]);
    assert!(matches!(
        track_lenient(&path),
        Err(CaptureError::BadHeader { .. })
    ));
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(42);
    // Random frames on every link type.
    let mut tracker = Tracker::default();
    for lt in [0, 1, 101, 108, 113, 228, 229, 276, 12345] {
        for _ in 0..2000 {
            let len = rng.below(300);
            let frame = rng.bytes(len);
            let _ = tracker.packet(0, &frame, LinkType(lt));
        }
    }
    // Random bytes after a valid pcap header.
    let mut file = pcap_le_us(1, &[]);
    file.extend(rng.bytes(100_000));
    let _ = track_lenient(&temp_file("random-body.pcap", &file));
    let mut file = pcapng_ns(1, &[]);
    file.extend(rng.bytes(100_000));
    let _ = track_lenient(&temp_file("random-body.pcapng", &file));
}

#[test]
fn mutated_real_captures_never_panic() {
    // Flip bytes inside the frames (not the record headers) of captures full of SIP, SDP
    // and RTP, so the parsers see almost-valid input.
    let mut rng = Rng(1234);
    for name in [
        "sip-over-tcp.pcap",
        "register-invite-reinvite-bye.pcap",
        "sip-rtp-g711.pcap",
    ] {
        let (lt, recs) = records(&capture(name));
        for round in 0..20 {
            let mutated: Vec<_> = recs
                .iter()
                .map(|(s, u, f)| {
                    let mut f = f.clone();
                    for _ in 0..=round % 4 {
                        if !f.is_empty() {
                            let i = rng.below(f.len());
                            f[i] = rng.next() as u8;
                        }
                    }
                    if rng.below(10) == 0 {
                        let keep = rng.below(f.len() + 1);
                        f.truncate(keep);
                    }
                    (*s, *u, f)
                })
                .collect();
            let mut tracker = Tracker::default();
            for (s, u, f) in &mutated {
                let ts = i64::from(*s) * 1_000_000 + i64::from(*u);
                let _ = tracker.packet(ts, f, LinkType(lt));
            }
            let _ = tracker.finish(0);
        }
    }
}

#[tokio::test]
async fn non_capture_files_are_errors() {
    let (tx, _rx) = tokio::sync::mpsc::channel(16);
    let stats = Arc::new(CaptureStats::default());
    let text = temp_file("notes.txt", b"this is not a capture file at all\n");
    let err = replay_file(&text, Speed::Max, tx.clone(), Arc::clone(&stats))
        .await
        .expect_err("not a capture");
    assert!(matches!(err, CaptureError::NotACapture { .. }), "{err}");
    assert!(matches!(stats.state(), capture::CaptureState::Failed(_)));

    let random = temp_file("random.bin", &Rng(9).bytes(4096));
    let err = replay_file(&random, Speed::Max, tx.clone(), Arc::clone(&stats))
        .await
        .expect_err("not a capture");
    assert!(matches!(err, CaptureError::NotACapture { .. }), "{err}");

    let missing = std::env::temp_dir().join("callvault-capture-no-such-file.pcap");
    let err = replay_file(&missing, Speed::Max, tx, stats)
        .await
        .expect_err("missing");
    assert!(matches!(err, CaptureError::Io { .. }), "{err}");
}
