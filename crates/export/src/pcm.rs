//! Reading the recording's PCM, and the two WAV outputs (PCM copy and GSM).

use std::io::{self, Read, Write};

use crate::Error;
use crate::gsm;

/// The one sample rate recordings have.
pub const SAMPLE_RATE: u32 = 8000;

/// Mixes two channels to one: `(a + b) >> 1`, the mean rounded towards minus infinity.
pub fn mix(a: i16, b: i16) -> i16 {
    ((a as i32 + b as i32) >> 1) as i16
}

/// Reads the PCM of a 16-bit 8 kHz WAV file with one or two channels, in blocks.
pub struct PcmReader<R> {
    input: R,
    channels: u16,
    /// Sample frames (one sample per channel) not yet read.
    remaining: u64,
    frames: u64,
    buf: Vec<u8>,
}

fn input_error(why: impl Into<String>) -> Error {
    Error::Input(why.into())
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl<R: Read> PcmReader<R> {
    /// Reads the header, up to the start of the `data` chunk.
    pub fn new(mut input: R) -> Result<Self, Error> {
        let mut riff = [0u8; 12];
        input
            .read_exact(&mut riff)
            .map_err(|_| input_error("shorter than a RIFF header"))?;
        if &riff[0..4] != b"RIFF" || &riff[8..12] != b"WAVE" {
            return Err(input_error("no RIFF/WAVE header"));
        }
        let mut channels = None;
        loop {
            let mut head = [0u8; 8];
            input
                .read_exact(&mut head)
                .map_err(|_| input_error("no data chunk"))?;
            let size = u32_at(&head, 4) as u64;
            match &head[0..4] {
                b"fmt " => {
                    if !(16..=1024).contains(&size) {
                        return Err(input_error(format!("a fmt chunk of {size} bytes")));
                    }
                    let mut fmt = vec![0u8; (size + size % 2) as usize];
                    input
                        .read_exact(&mut fmt)
                        .map_err(|_| input_error("truncated fmt chunk"))?;
                    let (tag, ch, rate, bits) = (
                        u16_at(&fmt, 0),
                        u16_at(&fmt, 2),
                        u32_at(&fmt, 4),
                        u16_at(&fmt, 14),
                    );
                    if tag != 1 || !(1..=2).contains(&ch) || rate != SAMPLE_RATE || bits != 16 {
                        return Err(input_error(format!(
                            "format tag {tag}, {ch} channels, {rate} Hz, {bits} bits; \
                             expected 16-bit PCM at 8000 Hz, 1 or 2 channels"
                        )));
                    }
                    channels = Some(ch);
                }
                b"data" => {
                    let channels = channels.ok_or_else(|| input_error("data before fmt"))?;
                    let frames = size / (2 * channels as u64);
                    return Ok(PcmReader {
                        input,
                        channels,
                        remaining: frames,
                        frames,
                        buf: Vec::new(),
                    });
                }
                _ => {
                    let skip = size + size % 2;
                    let skipped = io::copy(&mut (&mut input).take(skip), &mut io::sink())?;
                    if skipped != skip {
                        return Err(input_error("truncated chunk"));
                    }
                }
            }
        }
    }

    pub fn channels(&self) -> u16 {
        self.channels
    }

    /// Sample frames in the recording.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Reads up to `max_frames` sample frames, interleaved, into `out` (cleared first).
    /// Returns the number of frames read; 0 at the end. A data chunk cut short (a file
    /// still being copied, say) ends early rather than failing.
    pub fn read_frames(&mut self, max_frames: usize, out: &mut Vec<i16>) -> Result<usize, Error> {
        out.clear();
        let frames = (max_frames as u64).min(self.remaining) as usize;
        let bytes = frames * 2 * self.channels as usize;
        self.buf.resize(bytes, 0);
        let mut got = 0;
        while got < bytes {
            match self.input.read(&mut self.buf[got..bytes]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        let frame_bytes = 2 * self.channels as usize;
        let frames = got / frame_bytes;
        if frames < (bytes / frame_bytes) {
            self.remaining = 0;
        } else {
            self.remaining -= frames as u64;
        }
        out.extend(
            self.buf[..frames * frame_bytes]
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]])),
        );
        Ok(frames)
    }

    /// Reads up to `max_frames` frames mixed to mono into `out` (cleared first).
    pub fn read_mono(
        &mut self,
        max_frames: usize,
        scratch: &mut Vec<i16>,
        out: &mut Vec<i16>,
    ) -> Result<usize, Error> {
        let n = self.read_frames(max_frames, scratch)?;
        out.clear();
        if self.channels == 2 {
            out.extend(scratch.chunks_exact(2).map(|f| mix(f[0], f[1])));
        } else {
            out.extend_from_slice(scratch);
        }
        Ok(n)
    }
}

/// Frames read per block: one second.
pub const BLOCK_FRAMES: usize = 8000;

fn riff_size(data_bytes: u64, header: u64) -> Result<u32, Error> {
    u32::try_from(data_bytes + data_bytes % 2 + header - 8)
        .map_err(|_| input_error("too long for a WAV file"))
}

/// WAV, 16-bit PCM, as many channels as the recording.
pub fn copy_wav<R: Read, W: Write>(mut pcm: PcmReader<R>, mut out: W) -> Result<(), Error> {
    let channels = pcm.channels();
    let data_bytes = pcm.frames() * 2 * channels as u64;
    let mut h = Vec::with_capacity(44);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&riff_size(data_bytes, 44)?.to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&channels.to_le_bytes());
    h.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    h.extend_from_slice(&(SAMPLE_RATE * 2 * channels as u32).to_le_bytes());
    h.extend_from_slice(&(2 * channels).to_le_bytes());
    h.extend_from_slice(&16u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&(data_bytes as u32).to_le_bytes());
    out.write_all(&h)?;

    let (mut frames, mut bytes) = (Vec::new(), Vec::new());
    let mut written = 0u64;
    while pcm.read_frames(BLOCK_FRAMES, &mut frames)? > 0 {
        bytes.clear();
        bytes.extend(frames.iter().flat_map(|s| s.to_le_bytes()));
        out.write_all(&bytes)?;
        written += bytes.len() as u64;
    }
    // A data chunk cut short is completed with silence, so the header stays true.
    io::copy(&mut io::repeat(0).take(data_bytes - written), &mut out)?;
    if data_bytes % 2 == 1 {
        out.write_all(&[0])?;
    }
    out.flush()?;
    Ok(())
}

/// Mono GSM 06.10 in WAV (format tag 0x31, 65-byte blocks of two frames), laid out as sox
/// lays it out: `fmt ` of 20 bytes (cbSize 2, 320 samples per block), `fact` with the
/// sample count, `data`. The last block is completed with silence. One difference from
/// sox: when the number of blocks is odd, sox counts the RIFF pad byte in the data chunk's
/// size; we do not, as RIFF says.
pub fn gsm_wav<R: Read, W: Write>(mut pcm: PcmReader<R>, mut out: W) -> Result<(), Error> {
    let samples = pcm.frames();
    let samples_u32 = u32::try_from(samples).map_err(|_| input_error("too long for a WAV file"))?;
    let blocks = samples.div_ceil(2 * gsm::FRAME_SAMPLES as u64);
    let data_bytes = blocks * gsm::BLOCK_BYTES as u64;
    let mut h = Vec::with_capacity(60);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&riff_size(data_bytes, 60)?.to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&20u32.to_le_bytes());
    h.extend_from_slice(&0x31u16.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    // 8000 samples/s at 65 bytes per 320 samples.
    h.extend_from_slice(&1625u32.to_le_bytes());
    h.extend_from_slice(&(gsm::BLOCK_BYTES as u16).to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&(2 * gsm::FRAME_SAMPLES as u16).to_le_bytes());
    h.extend_from_slice(b"fact");
    h.extend_from_slice(&4u32.to_le_bytes());
    h.extend_from_slice(&samples_u32.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&(data_bytes as u32).to_le_bytes());
    out.write_all(&h)?;

    let mut encoder = gsm::Encoder::new();
    let (mut scratch, mut mono) = (Vec::new(), Vec::new());
    let block_samples = 2 * gsm::FRAME_SAMPLES;
    // One second of blocks at a time (25 blocks of 320 samples).
    let mut encoded = Vec::with_capacity(25 * gsm::BLOCK_BYTES);
    let mut done = 0u64;
    while done < blocks {
        let n_blocks = (blocks - done).min(25) as usize;
        pcm.read_mono(n_blocks * block_samples, &mut scratch, &mut mono)?;
        // The last block, or a data chunk cut short, is completed with silence.
        mono.resize(n_blocks * block_samples, 0);
        encoded.clear();
        for block in mono.chunks_exact(block_samples) {
            let (a, b) = block.split_at(gsm::FRAME_SAMPLES);
            let first = encoder.encode(a.try_into().map_err(|_| input_error("frame"))?);
            let second = encoder.encode(b.try_into().map_err(|_| input_error("frame"))?);
            encoded.extend_from_slice(&gsm::pack_wav49(&first, &second));
        }
        out.write_all(&encoded)?;
        done += n_blocks as u64;
    }
    if data_bytes % 2 == 1 {
        out.write_all(&[0])?;
    }
    out.flush()?;
    Ok(())
}
