//! Helpers shared by the integration tests. They read and write the documented on-disk
//! formats on their own (hound for WAV, a small parser for `.part`), so the tests check the
//! format, not the crate's reading of itself.
#![allow(dead_code)]

use std::path::Path;

use recorder::Micros;

pub const START: Micros = 1_700_000_000_000_000;

/// Time of frame `i` of a recording starting at START.
pub fn at(i: u64) -> Micros {
    START + i as i64 * 125
}

/// Distinct, never-zero sample values per channel and frame.
pub fn pattern(channel: usize, i: u64) -> i16 {
    let v = (i % 1000) as i16 + 1;
    if channel == 0 {
        v
    } else {
        -(((i * 3) % 1000) as i16) - 1
    }
}

pub fn chunk(channel: usize, first: u64, len: u64) -> Vec<i16> {
    (first..first + len).map(|i| pattern(channel, i)).collect()
}

/// All frames of a WAV, checking it is the format recordings promise.
pub fn read_wav(path: &Path) -> Vec<[i16; 2]> {
    let mut r = hound::WavReader::open(path).expect("open wav");
    let spec = r.spec();
    assert_eq!(spec.channels, 2);
    assert_eq!(spec.sample_rate, 8000);
    assert_eq!(spec.bits_per_sample, 16);
    assert_eq!(spec.sample_format, hound::SampleFormat::Int);
    let samples: Vec<i16> = r.samples::<i16>().map(|s| s.expect("sample")).collect();
    assert_eq!(samples.len() % 2, 0);
    let frames: Vec<[i16; 2]> = samples.chunks(2).map(|c| [c[0], c[1]]).collect();
    let len = std::fs::metadata(path).expect("stat wav").len();
    assert_eq!(
        len,
        44 + frames.len() as u64 * 4,
        "canonical 44-byte header"
    );
    frames
}

/// A record found in a `.part`, by the documented layout.
#[derive(Debug, Clone, Copy)]
pub enum Rec {
    Block {
        offset: usize,
        first: u64,
        frames: u32,
    },
    Silence {
        offset: usize,
        from: u64,
        to: u64,
    },
}

impl Rec {
    pub fn offset(&self) -> usize {
        match *self {
            Rec::Block { offset, .. } | Rec::Silence { offset, .. } => offset,
        }
    }
    pub fn len(&self) -> usize {
        match *self {
            Rec::Block { frames, .. } => 20 + frames as usize * 4,
            Rec::Silence { .. } => 24,
        }
    }
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"))
}

/// Parses a well-formed `.part`: (record id, start, records).
pub fn parse_part(b: &[u8]) -> (i64, Micros, Vec<Rec>) {
    assert_eq!(&b[0..4], b"CVPT");
    assert_eq!(u16::from_le_bytes([b[4], b[5]]), 1);
    assert_eq!(
        crc32fast::hash(&b[0..24]),
        u32::from_le_bytes(b[24..28].try_into().expect("4 bytes"))
    );
    let id = u64_at(b, 8) as i64;
    let start = u64_at(b, 16) as i64;
    let mut recs = Vec::new();
    let mut o = 28;
    while o < b.len() {
        match &b[o..o + 4] {
            b"CVBK" => {
                let frames = u32::from_le_bytes(b[o + 12..o + 16].try_into().expect("4"));
                let r = Rec::Block {
                    offset: o,
                    first: u64_at(b, o + 4),
                    frames,
                };
                o += r.len();
                recs.push(r);
            }
            b"CVSL" => {
                let r = Rec::Silence {
                    offset: o,
                    from: u64_at(b, o + 4),
                    to: u64_at(b, o + 12),
                };
                o += r.len();
                recs.push(r);
            }
            t => panic!("unknown tag {t:?} at {o}"),
        }
    }
    assert_eq!(o, b.len());
    (id, start, recs)
}

/// End (exclusive frame index) of the blocks among `recs`, progress markers included: how
/// far the file says the recording got.
pub fn data_end(recs: &[Rec]) -> u64 {
    recs.iter()
        .filter_map(|r| match *r {
            Rec::Block { first, frames, .. } => Some(first + frames as u64),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// End (exclusive frame index) of the blocks among `recs` that hold audio, leaving out
/// progress markers (zero-frame blocks).
pub fn audio_end(recs: &[Rec]) -> u64 {
    recs.iter()
        .filter_map(|r| match *r {
            Rec::Block { first, frames, .. } if frames > 0 => Some(first + frames as u64),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// Independent encoder of the `.part` format, for hand-made files.
pub fn part_header(id: i64, start: Micros) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"CVPT");
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&id.to_le_bytes());
    b.extend_from_slice(&start.to_le_bytes());
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

pub fn part_block(first: u64, frames: &[[i16; 2]]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"CVBK");
    b.extend_from_slice(&first.to_le_bytes());
    b.extend_from_slice(&(frames.len() as u32).to_le_bytes());
    let mut payload = Vec::new();
    for f in frames {
        payload.extend_from_slice(&f[0].to_le_bytes());
        payload.extend_from_slice(&f[1].to_le_bytes());
    }
    let mut h = crc32fast::Hasher::new();
    h.update(&b);
    h.update(&payload);
    b.extend_from_slice(&h.finalize().to_le_bytes());
    b.extend_from_slice(&payload);
    b
}

pub fn part_silence(from: u64, to: u64) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"CVSL");
    b.extend_from_slice(&from.to_le_bytes());
    b.extend_from_slice(&to.to_le_bytes());
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

/// Asserts frames [from, to) hold the pattern on each channel where `live(channel, i)` and
/// zeros elsewhere.
pub fn assert_frames(frames: &[[i16; 2]], live: impl Fn(usize, u64) -> bool) {
    for (i, f) in frames.iter().enumerate() {
        for (ch, &got) in f.iter().enumerate() {
            let i = i as u64;
            let want = if live(ch, i) { pattern(ch, i) } else { 0 };
            assert_eq!(got, want, "frame {i} channel {ch}");
        }
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
}
