//! An independent reading of the test captures, to check recordings against: a minimal
//! classic-pcap walker (Ethernet, IPv4, UDP), RTP payload extraction, the SIP answer time,
//! G.711 decoding by `sox`, and exact matching of decoded packets inside a WAV channel.
//! None of it uses the capture crate, so a bug there cannot hide in both.

#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::process::Command;

/// Capture timestamp in microseconds since the Unix epoch.
pub type Micros = i64;

/// One UDP datagram of a capture.
pub struct Udp {
    pub ts: Micros,
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub payload: Vec<u8>,
}

/// Every unfragmented IPv4/UDP datagram of a classic pcap file with Ethernet framing.
pub fn udp_packets(path: &Path) -> Vec<Udp> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(data.len() >= 24, "{} is too short for pcap", path.display());
    let (le, nanos) = match data[..4] {
        [0xd4, 0xc3, 0xb2, 0xa1] => (true, false),
        [0xa1, 0xb2, 0xc3, 0xd4] => (false, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => (true, true),
        [0xa1, 0xb2, 0x3c, 0x4d] => (false, true),
        _ => panic!("{} is not a classic pcap file", path.display()),
    };
    let u32_at = |off: usize| {
        let b: [u8; 4] = data[off..off + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    assert_eq!(u32_at(20) & 0xffff, 1, "link type must be Ethernet");
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= data.len() {
        let secs = i64::from(u32_at(off));
        let frac = i64::from(u32_at(off + 4));
        let incl = u32_at(off + 8) as usize;
        let start = off + 16;
        off = start + incl;
        if off > data.len() {
            break;
        }
        let ts = secs * 1_000_000 + if nanos { frac / 1000 } else { frac };
        if let Some((src, dst, payload)) = ethernet_udp(&data[start..off]) {
            out.push(Udp {
                ts,
                src,
                dst,
                payload: payload.to_vec(),
            });
        }
    }
    out
}

fn be16(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(off)?, *b.get(off + 1)?]))
}

fn ethernet_udp(frame: &[u8]) -> Option<(SocketAddrV4, SocketAddrV4, &[u8])> {
    let mut ethertype = be16(frame, 12)?;
    let mut p = 14;
    while ethertype == 0x8100 || ethertype == 0x88a8 {
        ethertype = be16(frame, p + 2)?;
        p += 4;
    }
    if ethertype != 0x0800 {
        return None;
    }
    let ip = frame.get(p..)?;
    if ip.len() < 20 || ip[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(be16(ip, 2)?).min(ip.len());
    // Fragments (more-fragments flag or an offset) are not reassembled.
    if be16(ip, 6)? & 0x3fff != 0 || ip[9] != 17 || total < ihl + 8 {
        return None;
    }
    let src_ip = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst_ip = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    let udp = &ip[ihl..total];
    let udp_len = usize::from(be16(udp, 4)?).clamp(8, udp.len());
    Some((
        SocketAddrV4::new(src_ip, be16(udp, 0)?),
        SocketAddrV4::new(dst_ip, be16(udp, 2)?),
        &udp[8..udp_len],
    ))
}

/// The fields of an RTP packet the checks need.
pub struct Rtp<'a> {
    pub payload_type: u8,
    pub seq: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: &'a [u8],
}

/// Parses an RTP packet: the 12-byte header, CSRCs, a header extension (X bit) and padding.
pub fn parse_rtp(b: &[u8]) -> Option<Rtp<'_>> {
    if b.len() < 12 || b[0] >> 6 != 2 {
        return None;
    }
    let mut header = 12 + 4 * usize::from(b[0] & 0x0f);
    if b[0] & 0x10 != 0 {
        let words = usize::from(be16(b, header + 2)?);
        header += 4 + 4 * words;
    }
    let mut end = b.len();
    if b[0] & 0x20 != 0 {
        end = end.checked_sub(usize::from(*b.last()?))?;
    }
    if header > end {
        return None;
    }
    Some(Rtp {
        payload_type: b[1] & 0x7f,
        seq: u16::from_be_bytes([b[2], b[3]]),
        timestamp: u32::from_be_bytes(b[4..8].try_into().unwrap()),
        ssrc: u32::from_be_bytes(b[8..12].try_into().unwrap()),
        payload: &b[header..end],
    })
}

/// The value of a SIP header (full or compact name), case-insensitively.
fn sip_header<'a>(msg: &'a str, names: &[&str]) -> Option<&'a str> {
    msg.split("\r\n")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            names
                .iter()
                .any(|n| name.trim().eq_ignore_ascii_case(n))
                .then(|| value.trim())
        })
}

/// Capture time of the first `200` response to the INVITE of `call_id` sent over UDP.
pub fn sip_answer_time(packets: &[Udp], call_id: &str) -> Option<Micros> {
    packets.iter().find_map(|p| {
        let text = std::str::from_utf8(&p.payload).ok()?;
        if !text.starts_with("SIP/2.0 200") {
            return None;
        }
        let cseq = sip_header(text, &["CSeq"])?;
        let id = sip_header(text, &["Call-ID", "i"])?;
        (cseq.split_whitespace().nth(1) == Some("INVITE") && id == call_id).then_some(p.ts)
    })
}

/// One RTP packet of a direction with its payload decoded.
pub struct Decoded {
    pub ts: Micros,
    pub seq: u16,
    pub rtp_ts: u32,
    pub payload_len: usize,
    pub samples: Vec<i16>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Law {
    A,
    Mu,
}

/// Decodes G.711 bytes with `sox` (the reference decoder): one sample per byte.
pub fn sox_decode(law: Law, bytes: &[u8]) -> Vec<i16> {
    let dir = tempfile::tempdir().unwrap();
    let kind = match law {
        Law::A => "al",
        Law::Mu => "ul",
    };
    let input = dir.path().join(format!("in.{kind}"));
    let output = dir.path().join("out.raw");
    std::fs::write(&input, bytes).unwrap();
    let status = Command::new("sox")
        .args(["-t", kind, "-r", "8000", "-c", "1"])
        .arg(&input)
        .args(["-t", "s16", "-e", "signed", "-L"])
        .arg(&output)
        .status()
        .expect("run sox (scripts/test.sh installs it)");
    assert!(status.success(), "sox failed: {status}");
    let raw = std::fs::read(&output).unwrap();
    assert_eq!(raw.len(), bytes.len() * 2, "sox gives one sample per byte");
    raw.chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
}

/// The RTP packets sent from `src` to `dst` with payload type `payload_type`, in capture
/// order, each decoded with sox (all payloads in one sox run, then split again).
pub fn decode_direction(
    packets: &[Udp],
    src: SocketAddrV4,
    dst: SocketAddrV4,
    payload_type: u8,
    law: Law,
) -> Vec<Decoded> {
    let mut bytes = Vec::new();
    let mut meta = Vec::new();
    for p in packets.iter().filter(|p| p.src == src && p.dst == dst) {
        let Some(rtp) = parse_rtp(&p.payload) else {
            continue;
        };
        if rtp.payload_type != payload_type || rtp.payload.is_empty() {
            continue;
        }
        bytes.extend_from_slice(rtp.payload);
        meta.push((p.ts, rtp.seq, rtp.timestamp, rtp.payload.len()));
    }
    let pcm = sox_decode(law, &bytes);
    let mut at = 0;
    meta.into_iter()
        .map(|(ts, seq, rtp_ts, len)| {
            let samples = pcm[at..at + len].to_vec();
            at += len;
            Decoded {
                ts,
                seq,
                rtp_ts,
                payload_len: len,
                samples,
            }
        })
        .collect()
}

/// A WAV file's format and its two channels.
pub struct Wav {
    pub spec: hound::WavSpec,
    pub channels: [Vec<i16>; 2],
}

pub fn read_wav(bytes: &[u8]) -> Wav {
    let mut reader = hound::WavReader::new(std::io::Cursor::new(bytes)).expect("a WAV file");
    let spec = reader.spec();
    assert_eq!(spec.channels, 2, "{spec:?}");
    assert_eq!(spec.bits_per_sample, 16, "{spec:?}");
    let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    let mut channels = [Vec::new(), Vec::new()];
    for frame in samples.chunks_exact(2) {
        channels[0].push(frame[0]);
        channels[1].push(frame[1]);
    }
    Wav { spec, channels }
}

/// Frame offset at 8 kHz of capture time `ts` in a recording that starts at `start`.
pub fn frame_of(start: Micros, ts: Micros) -> i64 {
    ((ts - start) * 8 + 500).div_euclid(1000)
}

/// The offset nearest to `expected` (within ±`window` frames) where `samples` appear
/// exactly in `channel`. A packet running past the end of the channel (the recording ended
/// inside it) matches on the part that fits.
pub fn find_exact(channel: &[i16], samples: &[i16], expected: i64, window: i64) -> Option<i64> {
    (0..=window)
        .flat_map(|d| [expected - d, expected + d])
        .find(|&off| {
            if off < 0 || off as usize >= channel.len() {
                return false;
            }
            let from = off as usize;
            let to = (from + samples.len()).min(channel.len());
            channel[from..to] == samples[..to - from]
        })
}

/// Where each packet of a direction was found in a channel.
pub struct Placement {
    /// Per packet (same order as given): the offset found, or None.
    pub found: Vec<Option<i64>>,
    /// Per packet: the offset it was searched around.
    pub expected: Vec<i64>,
}

impl Placement {
    pub fn matched(&self) -> usize {
        self.found.iter().filter(|f| f.is_some()).count()
    }

    /// Frames of the channel covered by matched packets.
    pub fn covered(&self, packets: &[Decoded], len: usize) -> Vec<bool> {
        let mut covered = vec![false; len];
        for (p, f) in packets.iter().zip(&self.found) {
            if let Some(off) = *f {
                let from = off as usize;
                let to = (from + p.samples.len()).min(len);
                covered[from..to].iter_mut().for_each(|c| *c = true);
            }
        }
        covered
    }

    /// Found offset minus the capture-time offset, per matched packet, in frames.
    pub fn shifts(&self, packets: &[Decoded], start: Micros) -> Vec<i64> {
        packets
            .iter()
            .zip(&self.found)
            .filter_map(|(p, f)| f.map(|f| f - frame_of(start, p.ts)))
            .collect()
    }
}

/// Searches each packet in `channel` within ±`window` frames of the frame `expected`
/// gives it.
pub fn place(
    channel: &[i16],
    packets: &[Decoded],
    expected: impl Fn(&Decoded) -> i64,
    window: i64,
) -> Placement {
    let expected: Vec<i64> = packets.iter().map(expected).collect();
    Placement {
        found: packets
            .iter()
            .zip(&expected)
            .map(|(p, &e)| find_exact(channel, &p.samples, e, window))
            .collect(),
        expected,
    }
}

/// Non-zero frames of `channel` that no matched packet covers.
pub fn stray_frames(channel: &[i16], covered: &[bool]) -> usize {
    channel
        .iter()
        .zip(covered)
        .filter(|(s, c)| **s != 0 && !**c)
        .count()
}

// Facts of sip-call-rtp-g711.pcap, measured with tshark by the capture crate's author
// (testdata/pcap/README.md and `tshark -z rtp,streams`).
pub const G711_CALL_ID: &str = "12013223@200.57.7.195";
pub const G711_UNANSWERED_CALL_ID: &str = "12015624@200.57.7.195";
/// 200 OK to the INVITE: 8.477925 s after the first packet; the capture ends (no BYE) at
/// 34.908735 s, so the recording lasts 34.908735 − 8.477925 = 26.43081 s.
pub const G711_ANSWER_EPOCH_MICROS: Micros = 1_105_725_491_443_869;
pub const G711_DURATION: f64 = 26.43081;
/// The caller (the gateway, 200.57.7.196) sends 891 A-law packets, 16 of them with a
/// one-byte payload; the callee (francisco, 200.57.7.204) sends 548 packets of 160 bytes.
pub const G711_CALLER_AUDIO: (&str, &str) = ("200.57.7.196:40376", "200.57.7.204:8000");
pub const G711_CALLEE_AUDIO: (&str, &str) = ("200.57.7.204:8000", "200.57.7.196:40376");
pub const G711_CALLER_PACKETS: usize = 891;
pub const G711_CALLER_ONE_BYTE_PACKETS: usize = 16;
pub const G711_CALLEE_PACKETS: usize = 548;
/// Callee packets that cannot be within ±20 ms of their capture time. Francisco's sender
/// puts more audio on its RTP clock than the capture clock sees pass (its timestamps gain
/// 0.30 s over the call): inside a talkspurt its 20 ms packets arrive about 20.06 ms
/// apart, but 24 times two of them arrive back to back (seq 103 and 104 0.30 ms apart,
/// seq 152 and 153 0.17 ms, ...), so the talkspurt's audio, laid end to end without
/// overlap, falls 20 ms further behind the arrivals each time, up to 50 ms in the 3.6 s
/// talkspurt from 20.4 s into the capture. It only catches up in the silences, where each
/// talkspurt starts again at its capture time. No exact, non-overlapping placement can do
/// much better: even packing every packet as early as 20 ms before its capture time, 79
/// would still start more than 20 ms late (the worst by 27.8 ms). Starting each talkspurt
/// at its capture time and following the RTP clock inside it (what the capture crate
/// does), 211 of the 548 start more than 20 ms late, the worst by 50.4 ms (from tshark's
/// frame.time_epoch, rtp.timestamp and rtp.marker).
pub const G711_CALLEE_LATE_PACKETS: usize = 211;
/// 50.4 ms at 8 kHz, rounded up.
pub const G711_CALLEE_MAX_LATE_FRAMES: i64 = 404;

/// The call to francisco in sip-call-rtp-g711.pcap, read independently: when it was
/// answered, and each direction's RTP packets decoded.
pub struct G711Call {
    pub start: Micros,
    pub callee: Vec<Decoded>,
    pub caller: Vec<Decoded>,
}

pub fn g711_call(pcap: &Path) -> G711Call {
    let packets = udp_packets(pcap);
    let start = sip_answer_time(&packets, G711_CALL_ID).expect("200 OK to the INVITE");
    let direction = |(src, dst): (&str, &str)| {
        let addr = |a: &str| a.parse().expect("address");
        decode_direction(&packets, addr(src), addr(dst), 8, Law::A)
    };
    G711Call {
        start,
        callee: direction(G711_CALLEE_AUDIO),
        caller: direction(G711_CALLER_AUDIO),
    }
}
