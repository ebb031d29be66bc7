//! Opus in WebM.
//!
//! Opus comes from libopus (the `opusic-c` crate, which builds libopus from bundled
//! sources; that build needs `cmake`). The recording is encoded at its own 8 kHz in 20 ms
//! packets, 24 kbit/s mono or 32 kbit/s stereo, with libopus's general `Audio` application
//! (as `opusenc` uses): on call recordings it keeps the waveform far better than `Voip`
//! (18 dB against 3.5 dB SNR on the test speech), and its delay is exactly the lookahead
//! the encoder reports, so the pre-skip lines the decoded audio up to the sample.
//!
//! The WebM container is written here. The WebM muxers on crates.io bind libwebm and need
//! a seekable output to go back and fill in sizes and cues; an audio-only file needs only a
//! handful of elements, all known up front or per cluster, so a short writer streams it
//! straight out: the EBML header, a Segment of unknown size, Info (with the duration),
//! Tracks (one Opus track with its OpusHead, CodecDelay and SeekPreRoll), then Clusters of
//! at most five seconds, each buffered whole so its size is known. The last packet carries
//! DiscardPadding, so decoders drop the encoder's tail and return the recording's length.

use std::io::{Read, Write};

use opusic_c::{Application, Bitrate, Channels, Encoder, SampleRate};

use crate::pcm::SAMPLE_RATE;
use crate::{Error, Options, PcmReader};

/// Samples per channel in one 20 ms packet at 8 kHz.
const PACKET_SAMPLES: usize = 160;
/// Packets per cluster: five seconds.
const CLUSTER_PACKETS: u64 = 250;
/// Nanoseconds per sample at 8 kHz.
const NS_PER_SAMPLE: u64 = 1_000_000_000 / SAMPLE_RATE as u64;

fn opus_error(what: &str, e: opusic_c::ErrorCode) -> Error {
    Error::Opus(format!("{what}: {}", e.message()))
}

// --- EBML ------------------------------------------------------------------------------

/// An element size as an EBML variable-length integer, in as few bytes as it takes.
fn put_size(out: &mut Vec<u8>, size: u64) {
    let mut len = 1;
    while len < 8 && size >= (1u64 << (7 * len)) - 1 {
        len += 1;
    }
    let marked = size | (1u64 << (7 * len));
    out.extend_from_slice(&marked.to_be_bytes()[8 - len..]);
}

fn element(out: &mut Vec<u8>, id: &[u8], payload: &[u8]) {
    out.extend_from_slice(id);
    put_size(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

fn uint(out: &mut Vec<u8>, id: &[u8], value: u64) {
    let bytes = value.to_be_bytes();
    let skip = (value.leading_zeros() as usize / 8).min(7);
    element(out, id, &bytes[skip..]);
}

fn float(out: &mut Vec<u8>, id: &[u8], value: f64) {
    element(out, id, &value.to_be_bytes());
}

/// A Block or SimpleBlock body: track 1, timestamp relative to the cluster, flags, data.
fn block_body(relative_ms: i16, flags: u8, packet: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(4 + packet.len());
    body.push(0x81);
    body.extend_from_slice(&relative_ms.to_be_bytes());
    body.push(flags);
    body.extend_from_slice(packet);
    body
}

fn header(channels: u8, pre_skip: u16, duration_ms: f64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ebml = Vec::new();
    uint(&mut ebml, &[0x42, 0x86], 1); // EBMLVersion
    uint(&mut ebml, &[0x42, 0xF7], 1); // EBMLReadVersion
    uint(&mut ebml, &[0x42, 0xF2], 4); // EBMLMaxIDLength
    uint(&mut ebml, &[0x42, 0xF3], 8); // EBMLMaxSizeLength
    element(&mut ebml, &[0x42, 0x82], b"webm"); // DocType
    uint(&mut ebml, &[0x42, 0x87], 4); // DocTypeVersion
    uint(&mut ebml, &[0x42, 0x85], 2); // DocTypeReadVersion
    element(&mut out, &[0x1A, 0x45, 0xDF, 0xA3], &ebml);

    // Segment, size unknown: the file is written in one pass.
    out.extend_from_slice(&[0x18, 0x53, 0x80, 0x67]);
    out.extend_from_slice(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);

    let mut info = Vec::new();
    uint(&mut info, &[0x2A, 0xD7, 0xB1], 1_000_000); // TimestampScale: milliseconds
    float(&mut info, &[0x44, 0x89], duration_ms); // Duration
    element(&mut info, &[0x4D, 0x80], b"callvault"); // MuxingApp
    element(&mut info, &[0x57, 0x41], b"callvault"); // WritingApp
    element(&mut out, &[0x15, 0x49, 0xA9, 0x66], &info);

    let mut opus_head = Vec::with_capacity(19);
    opus_head.extend_from_slice(b"OpusHead");
    opus_head.push(1); // version
    opus_head.push(channels);
    opus_head.extend_from_slice(&pre_skip.to_le_bytes());
    opus_head.extend_from_slice(&SAMPLE_RATE.to_le_bytes()); // input sample rate
    opus_head.extend_from_slice(&0i16.to_le_bytes()); // output gain
    opus_head.push(0); // channel mapping family

    let mut audio = Vec::new();
    float(&mut audio, &[0xB5], 48_000.0); // SamplingFrequency (Opus always decodes at 48 kHz)
    uint(&mut audio, &[0x9F], channels as u64); // Channels

    let mut track = Vec::new();
    uint(&mut track, &[0xD7], 1); // TrackNumber
    uint(&mut track, &[0x73, 0xC5], 1); // TrackUID
    uint(&mut track, &[0x83], 2); // TrackType: audio
    uint(&mut track, &[0x9C], 0); // FlagLacing
    element(&mut track, &[0x86], b"A_OPUS"); // CodecID
    element(&mut track, &[0x63, 0xA2], &opus_head); // CodecPrivate
    uint(
        &mut track,
        &[0x56, 0xAA],
        pre_skip as u64 * 1_000_000_000 / 48_000,
    ); // CodecDelay, ns
    uint(&mut track, &[0x56, 0xBB], 80_000_000); // SeekPreRoll: 80 ms
    element(&mut track, &[0xE1], &audio);
    let mut tracks = Vec::new();
    element(&mut tracks, &[0xAE], &track);
    element(&mut out, &[0x16, 0x54, 0xAE, 0x6B], &tracks);
    out
}

/// Collects the blocks of one cluster, then writes it whole.
struct Cluster {
    start_ms: u64,
    body: Vec<u8>,
}

impl Cluster {
    fn new(start_ms: u64) -> Self {
        let mut body = Vec::new();
        uint(&mut body, &[0xE7], start_ms); // Timestamp
        Cluster { start_ms, body }
    }

    fn add(&mut self, at_ms: u64, packet: &[u8], discard_ns: u64) {
        let relative = (at_ms - self.start_ms) as i16;
        if discard_ns == 0 {
            // SimpleBlock, keyframe: every Opus packet decodes on its own.
            element(&mut self.body, &[0xA3], &block_body(relative, 0x80, packet));
        } else {
            let mut group = Vec::new();
            element(&mut group, &[0xA1], &block_body(relative, 0x00, packet)); // Block
            element(&mut group, &[0x75, 0xA2], &discard_ns.to_be_bytes()); // DiscardPadding
            element(&mut self.body, &[0xA0], &group); // BlockGroup
        }
    }

    fn write_to(&self, out: &mut impl Write) -> Result<(), Error> {
        let mut head = vec![0x1F, 0x43, 0xB6, 0x75];
        put_size(&mut head, self.body.len() as u64);
        out.write_all(&head)?;
        out.write_all(&self.body)?;
        Ok(())
    }
}

pub fn encode<R: Read, W: Write>(
    mut pcm: PcmReader<R>,
    options: Options,
    mut out: W,
) -> Result<(), Error> {
    let stereo = options.stereo && pcm.channels() == 2;
    let (channels, bitrate) = if stereo {
        (Channels::Stereo, 32_000)
    } else {
        (Channels::Mono, 24_000)
    };
    let mut encoder = Encoder::new(channels, SampleRate::Hz8000, Application::Audio)
        .map_err(|e| opus_error("setup", e))?;
    encoder
        .set_bitrate(Bitrate::Value(bitrate))
        .map_err(|e| opus_error("bit rate", e))?;
    // Samples at 8 kHz the encoder delays its output by.
    let lookahead = encoder
        .get_look_ahead()
        .map_err(|e| opus_error("lookahead", e))? as u64;

    let samples = pcm.frames();
    let needed = samples + lookahead;
    let packets = needed.div_ceil(PACKET_SAMPLES as u64).max(1);
    let discard_ns = (packets * PACKET_SAMPLES as u64 - needed) * NS_PER_SAMPLE;
    let pre_skip = u16::try_from(lookahead * 6)
        .map_err(|_| Error::Opus(format!("lookahead of {lookahead} samples")))?;
    out.write_all(&header(
        channels as u8,
        pre_skip,
        samples as f64 * 1000.0 / SAMPLE_RATE as f64,
    ))?;

    let width = channels as usize;
    let (mut frames, mut mono) = (Vec::new(), Vec::new());
    let mut input: Vec<u16> = Vec::with_capacity(PACKET_SAMPLES * width);
    let mut packet = vec![0u8; 4000];
    let mut cluster = Cluster::new(0);
    for index in 0..packets {
        if stereo {
            pcm.read_frames(PACKET_SAMPLES, &mut frames)?;
        } else {
            pcm.read_mono(PACKET_SAMPLES, &mut frames, &mut mono)?;
            std::mem::swap(&mut frames, &mut mono);
        }
        // Past the end (the encoder's lookahead, or a data chunk cut short): silence.
        frames.resize(PACKET_SAMPLES * width, 0);
        input.clear();
        // The binding takes the i16 samples as u16 bit patterns.
        input.extend(frames.iter().map(|&s| s as u16));
        let len = encoder
            .encode_to_slice(&input, &mut packet)
            .map_err(|e| opus_error("encoding", e))?;

        let at_ms = index * 20;
        if index > 0 && index % CLUSTER_PACKETS == 0 {
            cluster.write_to(&mut out)?;
            cluster = Cluster::new(at_ms);
        }
        let discard = if index + 1 == packets { discard_ns } else { 0 };
        cluster.add(at_ms, &packet[..len], discard);
    }
    cluster.write_to(&mut out)?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_ebml_variable_length_integers() {
        let encoded = |size| {
            let mut v = Vec::new();
            put_size(&mut v, size);
            v
        };
        assert_eq!(encoded(0), [0x80]);
        assert_eq!(encoded(126), [0xFE]);
        // 127 in one byte would read as "unknown size".
        assert_eq!(encoded(127), [0x40, 0x7F]);
        assert_eq!(encoded(16382), [0x7F, 0xFE]);
        assert_eq!(encoded(16383), [0x20, 0x3F, 0xFF]);
    }

    #[test]
    fn unsigned_integers_use_the_fewest_bytes() {
        let mut v = Vec::new();
        uint(&mut v, &[0xD7], 1);
        assert_eq!(v, [0xD7, 0x81, 0x01]);
        v.clear();
        uint(&mut v, &[0xE7], 0);
        assert_eq!(v, [0xE7, 0x81, 0x00]);
        v.clear();
        uint(&mut v, &[0x2A, 0xD7, 0xB1], 1_000_000);
        assert_eq!(v, [0x2A, 0xD7, 0xB1, 0x83, 0x0F, 0x42, 0x40]);
    }
}
