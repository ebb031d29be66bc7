//! Helpers shared by the integration tests. The pcap walker here is deliberately separate
//! from the crate's reading and decoding code, so tests compare against an independent
//! path.
#![allow(dead_code)]

use std::path::PathBuf;

use capture::{MediaEvent, Micros, Side, Tracker, pcap_reading};

/// Path of a capture in the repository's testdata/pcap.
pub fn capture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/pcap")
        .join(name)
}

/// Path of a file in tests/data.
pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Runs the synchronous tracker over a whole file, including the end-of-capture events.
pub fn track(path: &std::path::Path) -> Vec<MediaEvent> {
    let reader = pcap_reading::open_file(path).expect("capture opens");
    let mut tracker = Tracker::default();
    let mut events = Vec::new();
    for packet in reader {
        let packet = packet.expect("capture reads");
        events.extend(tracker.packet(packet.ts, &packet.data, packet.linktype));
    }
    let last = tracker.last_packet_ts().expect("capture has packets");
    events.extend(tracker.finish(last));
    events
}

/// Sox's expansion table (512-byte s16le file) as 256 samples.
pub fn sox_table(name: &str) -> Vec<i16> {
    let bytes = std::fs::read(data(name)).expect("reference table");
    assert_eq!(bytes.len(), 512);
    bytes
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
}

/// Seconds since the epoch as tshark prints frame.time_epoch ("1105725491.443869") to
/// microseconds, exactly (no floating point).
pub fn micros(epoch: &str) -> Micros {
    let (secs, frac) = epoch.split_once('.').unwrap_or((epoch, ""));
    let frac = format!("{frac:0<6}");
    let secs: Micros = secs.parse().expect("seconds");
    let frac: Micros = frac[..6].parse().expect("fraction");
    secs * 1_000_000 + frac
}

pub fn started(events: &[MediaEvent]) -> Vec<(String, Micros, String, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            MediaEvent::DialogStarted {
                dialog,
                at,
                from_user,
                to_user,
            } => Some((dialog.clone(), *at, from_user.clone(), to_user.clone())),
            _ => None,
        })
        .collect()
}

pub fn answered(events: &[MediaEvent], id: &str) -> Option<Micros> {
    events.iter().find_map(|e| match e {
        MediaEvent::DialogAnswered { dialog, at } if dialog == id => Some(*at),
        _ => None,
    })
}

pub fn ended(events: &[MediaEvent], id: &str) -> Option<(Micros, String)> {
    events.iter().find_map(|e| match e {
        MediaEvent::DialogEnded { dialog, at, reason } if dialog == id => {
            Some((*at, reason.clone()))
        }
        _ => None,
    })
}

/// The Audio events of one dialog and side: (at, pcm).
pub fn audio(events: &[MediaEvent], id: &str, which: Side) -> Vec<(Micros, Vec<i16>)> {
    events
        .iter()
        .filter_map(|e| match e {
            MediaEvent::Audio {
                dialog,
                side,
                at,
                pcm,
            } if dialog == id && *side == which => Some((*at, pcm.clone())),
            _ => None,
        })
        .collect()
}

pub fn undecodable(events: &[MediaEvent]) -> Vec<(String, Side, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            MediaEvent::UndecodableMedia {
                dialog,
                side,
                codec,
            } => Some((dialog.clone(), *side, codec.clone())),
            _ => None,
        })
        .collect()
}

/// One UDP datagram found by the independent walker.
pub struct Udp {
    pub ts: Micros,
    pub src: ([u8; 4], u16),
    pub dst: ([u8; 4], u16),
    pub payload: Vec<u8>,
}

/// Walks a little-endian microsecond pcap of Ethernet/IPv4 frames and returns its UDP
/// datagrams. Only what the test captures need; panics on anything else (test code).
pub fn walk_udp(path: &std::path::Path) -> Vec<Udp> {
    let file = std::fs::read(path).expect("read capture");
    assert_eq!(&file[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "LE µs pcap");
    let u32le = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    assert_eq!(u32le(&file[20..24]), 1, "Ethernet");
    let mut out = Vec::new();
    let mut pos = 24;
    while pos + 16 <= file.len() {
        let ts = i64::from(u32le(&file[pos..])) * 1_000_000 + i64::from(u32le(&file[pos + 4..]));
        let len = u32le(&file[pos + 8..]) as usize;
        let frame = &file[pos + 16..pos + 16 + len];
        pos += 16 + len;
        if frame.len() < 34 || frame[12..14] != [0x08, 0x00] {
            continue;
        }
        let ip = &frame[14..];
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        if ip[9] != 17 {
            continue;
        }
        let udp = &ip[ihl..total];
        let ulen = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
        out.push(Udp {
            ts,
            src: (
                [ip[12], ip[13], ip[14], ip[15]],
                u16::from_be_bytes([udp[0], udp[1]]),
            ),
            dst: (
                [ip[16], ip[17], ip[18], ip[19]],
                u16::from_be_bytes([udp[2], udp[3]]),
            ),
            payload: udp[8..ulen].to_vec(),
        });
    }
    out
}
