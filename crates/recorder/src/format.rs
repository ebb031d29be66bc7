//! The two file formats: the append-only `.part` segment file and the canonical WAV.
//!
//! `.part` layout (all integers little-endian):
//!
//! ```text
//! header  (28 bytes): "CVPT" | version u16 = 1 | reserved u16 = 0 | record_id i64 | start µs i64
//!                     | crc32 u32 of the 24 bytes before it
//! then any number of records, each starting with a 4-byte tag:
//! block   (20 + 4n):  "CVBK" | first frame index u64 | frame count n u32 | crc32 u32
//!                     | n × (channel 0 i16, channel 1 i16); crc covers tag, index, count, payload
//! silence (24 bytes): "CVSL" | from frame u64 | to frame u64 (exclusive) | crc32 u32 of the 20 before
//! ```
//!
//! Frames not covered by any block are silence. A block with zero frames is a progress
//! marker: it says the recording had reached its index even though the tail was silent (or
//! no audio came at all: the writer appends one as wall time passes).
//! Everything after the first record that is truncated, has an unknown tag or fails its
//! checksum is ignored: it can only be the torn tail of a write interrupted by a crash.

use std::fs::File;
use std::io::{self, BufReader, Read};

use crate::Micros;

pub(crate) const PART_MAGIC: [u8; 4] = *b"CVPT";
pub(crate) const PART_VERSION: u16 = 1;
pub(crate) const HEADER_LEN: usize = 28;
pub(crate) const BLOCK_TAG: [u8; 4] = *b"CVBK";
pub(crate) const SILENCE_TAG: [u8; 4] = *b"CVSL";
pub(crate) const BLOCK_HEADER_LEN: usize = 20;
pub(crate) const SILENCE_LEN: usize = 24;
pub(crate) const BYTES_PER_FRAME: u64 = 4;

/// Upper bound on one block. The writer never comes near it (it commits every 500 ms);
/// the reader uses it so a corrupt count cannot make it allocate gigabytes.
pub(crate) const MAX_BLOCK_FRAMES: u32 = 8000 * 60;

/// Canonical PCM WAV header size.
pub(crate) const WAV_HEADER_LEN: u64 = 44;
/// The RIFF size field is a u32, so this is the longest WAV we can write (about 37 hours).
pub(crate) const MAX_WAV_FRAMES: u64 = (u32::MAX as u64 - 36) / BYTES_PER_FRAME;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartHeader {
    pub record_id: i64,
    pub start: Micros,
}

pub(crate) fn encode_header(h: PartHeader) -> [u8; HEADER_LEN] {
    let mut b = [0u8; HEADER_LEN];
    b[0..4].copy_from_slice(&PART_MAGIC);
    b[4..6].copy_from_slice(&PART_VERSION.to_le_bytes());
    // b[6..8] reserved, zero
    b[8..16].copy_from_slice(&h.record_id.to_le_bytes());
    b[16..24].copy_from_slice(&h.start.to_le_bytes());
    let crc = crc32fast::hash(&b[0..24]);
    b[24..28].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Why a header was refused; becomes part of a log line and an error message.
pub(crate) fn decode_header(b: &[u8]) -> Result<PartHeader, &'static str> {
    let b: &[u8; HEADER_LEN] = b
        .get(..HEADER_LEN)
        .and_then(|s| s.try_into().ok())
        .ok_or("file shorter than its header")?;
    if b[0..4] != PART_MAGIC {
        return Err("bad magic");
    }
    if u16::from_le_bytes([b[4], b[5]]) != PART_VERSION {
        return Err("unsupported version");
    }
    if crc32fast::hash(&b[0..24]) != u32::from_le_bytes([b[24], b[25], b[26], b[27]]) {
        return Err("header checksum mismatch");
    }
    Ok(PartHeader {
        record_id: i64::from_le_bytes(arr8(&b[8..16])),
        start: i64::from_le_bytes(arr8(&b[16..24])),
    })
}

fn arr8(s: &[u8]) -> [u8; 8] {
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    a
}

/// Appends one block record to `out`.
pub(crate) fn encode_block(first: u64, frames: &[[i16; 2]], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&BLOCK_TAG);
    out.extend_from_slice(&first.to_le_bytes());
    // Callers split at MAX_BLOCK_FRAMES, so the count always fits.
    let count = u32::try_from(frames.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&count.to_le_bytes());
    let crc_at = out.len();
    out.extend_from_slice(&[0; 4]);
    for f in frames {
        out.extend_from_slice(&f[0].to_le_bytes());
        out.extend_from_slice(&f[1].to_le_bytes());
    }
    let mut h = crc32fast::Hasher::new();
    h.update(&out[start..crc_at]);
    h.update(&out[crc_at + 4..]);
    let crc = h.finalize();
    out[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
}

pub(crate) fn encode_silence(from: u64, to: u64) -> [u8; SILENCE_LEN] {
    let mut b = [0u8; SILENCE_LEN];
    b[0..4].copy_from_slice(&SILENCE_TAG);
    b[4..12].copy_from_slice(&from.to_le_bytes());
    b[12..20].copy_from_slice(&to.to_le_bytes());
    let crc = crc32fast::hash(&b[0..20]);
    b[20..24].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Where a valid block's payload sits in the `.part` file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockRef {
    pub payload_offset: u64,
    pub first: u64,
    pub frames: u32,
}

/// What a pass over a `.part` found before its first invalid record.
#[derive(Debug)]
pub(crate) struct Scan {
    pub header: PartHeader,
    pub blocks: Vec<BlockRef>,
    pub silences: Vec<(u64, u64)>,
    /// One past the last frame any valid block covers (or marks as reached).
    pub data_end: u64,
    /// Why reading stopped early, if it did (torn tail, bad checksum...).
    pub stopped: Option<&'static str>,
}

pub(crate) enum ScanError {
    Io(io::Error),
    Header(&'static str),
}

impl From<io::Error> for ScanError {
    fn from(e: io::Error) -> Self {
        ScanError::Io(e)
    }
}

/// Reads as many bytes as the file still has, up to `buf.len()`; a short count means EOF.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Validates a whole `.part` file, verifying every checksum, without keeping audio in memory
/// (payloads are read one block at a time and only their positions are kept).
pub(crate) fn scan(file: &File) -> Result<Scan, ScanError> {
    let mut r = BufReader::with_capacity(64 * 1024, file);
    let mut head = [0u8; HEADER_LEN];
    let n = read_up_to(&mut r, &mut head)?;
    let header = decode_header(&head[..n]).map_err(ScanError::Header)?;
    let mut scan = Scan {
        header,
        blocks: Vec::new(),
        silences: Vec::new(),
        data_end: 0,
        stopped: None,
    };
    let mut offset = HEADER_LEN as u64;
    let mut payload = Vec::new();
    loop {
        let mut tag = [0u8; 4];
        let n = read_up_to(&mut r, &mut tag)?;
        if n == 0 {
            break;
        }
        if n < tag.len() {
            scan.stopped = Some("truncated record tag");
            break;
        }
        if tag == BLOCK_TAG {
            let mut h = [0u8; BLOCK_HEADER_LEN - 4];
            if read_up_to(&mut r, &mut h)? < h.len() {
                scan.stopped = Some("truncated block header");
                break;
            }
            let first = u64::from_le_bytes(arr8(&h[0..8]));
            let frames = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
            let crc = u32::from_le_bytes([h[12], h[13], h[14], h[15]]);
            if frames > MAX_BLOCK_FRAMES {
                scan.stopped = Some("block frame count out of range");
                break;
            }
            let Some(end) = first.checked_add(u64::from(frames)) else {
                scan.stopped = Some("block index out of range");
                break;
            };
            let len = frames as usize * BYTES_PER_FRAME as usize;
            payload.resize(len, 0);
            if read_up_to(&mut r, &mut payload)? < len {
                scan.stopped = Some("truncated block payload");
                break;
            }
            let mut hasher = crc32fast::Hasher::new();
            hasher.update(&tag);
            hasher.update(&h[0..12]);
            hasher.update(&payload);
            if hasher.finalize() != crc {
                scan.stopped = Some("block checksum mismatch");
                break;
            }
            scan.blocks.push(BlockRef {
                payload_offset: offset + BLOCK_HEADER_LEN as u64,
                first,
                frames,
            });
            scan.data_end = scan.data_end.max(end);
            offset += BLOCK_HEADER_LEN as u64 + len as u64;
        } else if tag == SILENCE_TAG {
            let mut b = [0u8; SILENCE_LEN];
            b[0..4].copy_from_slice(&tag);
            if read_up_to(&mut r, &mut b[4..])? < SILENCE_LEN - 4 {
                scan.stopped = Some("truncated silence record");
                break;
            }
            if crc32fast::hash(&b[0..20]) != u32::from_le_bytes([b[20], b[21], b[22], b[23]]) {
                scan.stopped = Some("silence checksum mismatch");
                break;
            }
            let from = u64::from_le_bytes(arr8(&b[4..12]));
            let to = u64::from_le_bytes(arr8(&b[12..20]));
            if from < to {
                scan.silences.push((from, to));
            }
            offset += SILENCE_LEN as u64;
        } else {
            scan.stopped = Some("unknown record tag");
            break;
        }
    }
    Ok(scan)
}

/// The canonical 44-byte header of a 2-channel, 8 kHz, 16-bit PCM WAV with `frames` frames.
/// `frames` must not exceed [`MAX_WAV_FRAMES`].
pub(crate) fn wav_header(frames: u64) -> [u8; WAV_HEADER_LEN as usize] {
    let data = u32::try_from(frames * BYTES_PER_FRAME).unwrap_or(u32::MAX - 36);
    let mut h = [0u8; WAV_HEADER_LEN as usize];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&(36 + data).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes()); // PCM
    h[22..24].copy_from_slice(&2u16.to_le_bytes()); // channels
    h[24..28].copy_from_slice(&crate::SAMPLE_RATE.to_le_bytes());
    h[28..32].copy_from_slice(&(crate::SAMPLE_RATE * 4).to_le_bytes()); // byte rate
    h[32..34].copy_from_slice(&4u16.to_le_bytes()); // block align
    h[34..36].copy_from_slice(&16u16.to_le_bytes()); // bits per sample
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data.to_le_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_rejects_damage() {
        let h = PartHeader {
            record_id: -42,
            start: 1_700_000_000_000_000,
        };
        let b = encode_header(h);
        assert_eq!(decode_header(&b), Ok(h));
        for i in 0..HEADER_LEN {
            let mut d = b;
            d[i] ^= 0x10;
            assert!(decode_header(&d).is_err(), "flip at byte {i} accepted");
        }
        assert!(decode_header(&b[..HEADER_LEN - 1]).is_err());
    }

    #[test]
    fn wav_header_is_canonical() {
        let h = wav_header(8000);
        assert_eq!(&h[0..4], b"RIFF");
        assert_eq!(u32::from_le_bytes([h[4], h[5], h[6], h[7]]), 36 + 32000);
        assert_eq!(u32::from_le_bytes([h[40], h[41], h[42], h[43]]), 32000);
    }
}
