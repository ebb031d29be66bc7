//! Shared by the export tests: input signals (synthetic, and speech from the corpus
//! captures), WAV building, and the independent tools (sox, ffmpeg) the outputs are
//! checked with.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub const RATE: usize = 8000;

pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/pcap")
        .join(name)
}

/// Runs a command, failing the test with its standard error when it fails.
pub fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (scripts/test.sh installs it)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn to_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

pub fn from_bytes(bytes: &[u8]) -> Vec<i16> {
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// A 16-bit 8 kHz PCM WAV file holding `interleaved` samples of `channels` channels.
pub fn wav(channels: u16, interleaved: &[i16]) -> Vec<u8> {
    let data = to_bytes(interleaved);
    let mut h = Vec::new();
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&channels.to_le_bytes());
    h.extend_from_slice(&8000u32.to_le_bytes());
    h.extend_from_slice(&(16000 * channels as u32).to_le_bytes());
    h.extend_from_slice(&(2 * channels).to_le_bytes());
    h.extend_from_slice(&16u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&(data.len() as u32).to_le_bytes());
    h.extend_from_slice(&data);
    h
}

pub fn interleave(left: &[i16], right: &[i16]) -> Vec<i16> {
    left.iter().zip(right).flat_map(|(&a, &b)| [a, b]).collect()
}

/// A deterministic pseudo-random generator (xorshift), so failures reproduce.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

pub fn silence(n: usize) -> Vec<i16> {
    vec![0; n]
}

/// Full-scale square wave at 400 Hz.
pub fn square(n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| {
            if (i / 10) % 2 == 0 {
                i16::MAX
            } else {
                i16::MIN
            }
        })
        .collect()
}

/// Sine sweep from 100 Hz to 3900 Hz at amplitude `amp`.
pub fn sweep(n: usize, amp: f64) -> Vec<i16> {
    let (f0, f1) = (100.0, 3900.0);
    let dur = n as f64 / RATE as f64;
    (0..n)
        .map(|i| {
            let t = i as f64 / RATE as f64;
            let phase = 2.0 * std::f64::consts::PI * (f0 * t + (f1 - f0) * t * t / (2.0 * dur));
            (amp * phase.sin()).round() as i16
        })
        .collect()
}

/// White noise, full 16-bit range.
pub fn noise(n: usize, seed: u64) -> Vec<i16> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rng.next() as i16).collect()
}

/// The G.711 payloads of the RTP stream to `dst_port` with payload type `pt` (0 µ-law,
/// 8 A-law), in capture order, read straight from a pcap file (Ethernet or Linux cooked).
pub fn rtp_payloads(pcap: &Path, dst_port: u16, pt: u8) -> Vec<u8> {
    let data = std::fs::read(pcap).expect("capture readable");
    assert_eq!(&data[0..4], &[0xd4, 0xc3, 0xb2, 0xa1], "little-endian pcap");
    let linktype = u32::from_le_bytes([data[20], data[21], data[22], data[23]]);
    let link_len = match linktype {
        1 => 14,
        113 => 16,
        other => panic!("linktype {other}"),
    };
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= data.len() {
        let caplen = u32::from_le_bytes([data[at + 8], data[at + 9], data[at + 10], data[at + 11]]);
        let pkt = &data[at + 16..(at + 16 + caplen as usize).min(data.len())];
        at += 16 + caplen as usize;
        let ethertype = u16::from_be_bytes([pkt[link_len - 2], pkt[link_len - 1]]);
        if ethertype != 0x0800 {
            continue;
        }
        let ip = &pkt[link_len..];
        let ihl = (ip[0] & 0x0f) as usize * 4;
        if ip[9] != 17 {
            continue;
        }
        let udp = &ip[ihl..];
        if u16::from_be_bytes([udp[2], udp[3]]) != dst_port {
            continue;
        }
        let rtp = &udp[8..];
        if rtp.len() < 12 || rtp[0] >> 6 != 2 || rtp[1] & 0x7f != pt {
            continue;
        }
        let csrc = (rtp[0] & 0x0f) as usize * 4;
        out.extend_from_slice(&rtp[12 + csrc..]);
    }
    out
}

/// G.711 bytes decoded to 16-bit PCM by sox.
pub fn sox_g711(bytes: &[u8], ulaw: bool) -> Vec<i16> {
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, output) = (dir.path().join("in.raw"), dir.path().join("out.raw"));
    std::fs::write(&input, bytes).expect("write");
    let encoding = if ulaw { "u-law" } else { "a-law" };
    run(Command::new("sox")
        .args([
            "-t", "raw", "-r", "8000", "-e", encoding, "-b", "8", "-c", "1",
        ])
        .arg(&input)
        .args(["-t", "raw", "-e", "signed", "-b", "16"])
        .arg(&output));
    from_bytes(&std::fs::read(&output).expect("read"))
}

/// 16.7 s of speech (speech_8k_ulaw.pcap) and 26 s of a real call's far end
/// (sip-call-rtp-g711.pcap), decoded by sox.
pub fn corpus_speech() -> (Vec<i16>, Vec<i16>) {
    let speech = sox_g711(
        &rtp_payloads(&testdata("speech_8k_ulaw.pcap"), 6000, 0),
        true,
    );
    let call = sox_g711(
        &rtp_payloads(&testdata("sip-call-rtp-g711.pcap"), 8000, 8),
        false,
    );
    (speech, call)
}

/// Decodes any audio file with ffmpeg to 16-bit PCM at 8 kHz with `channels` channels.
pub fn ffmpeg_decode(path: &Path, channels: u16) -> Vec<i16> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "s16le", "-acodec", "pcm_s16le", "-ar", "8000", "-ac"])
        .arg(channels.to_string())
        .arg("-")
        .output()
        .expect("ffmpeg runs (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "ffmpeg failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    from_bytes(&out.stdout)
}

/// Signal-to-noise ratio in dB of `decoded` against `reference`, over their common length.
pub fn snr_db(reference: &[i16], decoded: &[i16]) -> f64 {
    let (mut signal, mut noise) = (0f64, 0f64);
    for (&r, &d) in reference.iter().zip(decoded) {
        signal += (r as f64).powi(2);
        noise += (r as f64 - d as f64).powi(2);
    }
    10.0 * (signal / noise.max(1e-9)).log10()
}

/// Decodes any audio file sox reads to 16-bit PCM at 8 kHz with `channels` channels.
pub fn sox_decode(path: &Path, channels: u16) -> Vec<i16> {
    let out = Command::new("sox")
        .arg(path)
        .args(["-t", "raw", "-e", "signed", "-b", "16", "-r", "8000", "-c"])
        .arg(channels.to_string())
        .arg("-")
        .output()
        .expect("sox runs (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "sox failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    from_bytes(&out.stdout)
}
