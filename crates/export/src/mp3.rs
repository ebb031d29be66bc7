//! MP3 by LAME (the `mp3lame-encoder` crate, which builds LAME from bundled sources).
//!
//! Constant bit rate at the recording's 8 kHz (MPEG-2.5 layer III, so nothing is
//! resampled): 32 kbit/s mono, 48 kbit/s joint stereo. The first frame is LAME's Info tag,
//! filled in once the audio is written (the one seek of an export): it carries the
//! encoder delay and padding, so decoders that honour it (ffmpeg, most players) return
//! exactly the recording's samples.

use std::io::{Read, Seek, SeekFrom, Write};

use mp3lame_encoder::{Bitrate, Builder, FlushGap, InterleavedPcm, Mode, MonoPcm, Quality};

use crate::pcm::{BLOCK_FRAMES, SAMPLE_RATE};
use crate::{Error, Options, PcmReader};

fn lame_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Mp3(format!("{what}: {e}"))
}

pub fn encode<R: Read, W: Write + Seek>(
    mut pcm: PcmReader<R>,
    options: Options,
    mut out: W,
) -> Result<(), Error> {
    let stereo = options.stereo && pcm.channels() == 2;
    let mut builder = Builder::new().ok_or_else(|| Error::Mp3("LAME cannot start".into()))?;
    let (channels, bitrate, mode) = if stereo {
        (2, Bitrate::Kbps48, Mode::JointStereo)
    } else {
        (1, Bitrate::Kbps32, Mode::Mono)
    };
    builder
        .set_num_channels(channels)
        .map_err(|e| lame_error("channels", e))?;
    builder
        .set_sample_rate(SAMPLE_RATE)
        .map_err(|e| lame_error("sample rate", e))?;
    builder
        .set_output_sample_rate(std::num::NonZeroU32::new(SAMPLE_RATE))
        .map_err(|e| lame_error("output sample rate", e))?;
    builder
        .set_brate(bitrate)
        .map_err(|e| lame_error("bit rate", e))?;
    builder.set_mode(mode).map_err(|e| lame_error("mode", e))?;
    builder
        .set_quality(Quality::Good)
        .map_err(|e| lame_error("quality", e))?;
    builder
        .set_to_write_vbr_tag(true)
        .map_err(|e| lame_error("LAME tag", e))?;
    let mut encoder = builder.build().map_err(|e| lame_error("setup", e))?;

    let start = out.stream_position()?;
    let (mut frames, mut mono, mut mp3) = (Vec::new(), Vec::new(), Vec::new());
    loop {
        let n = if stereo {
            pcm.read_frames(BLOCK_FRAMES, &mut frames)?
        } else {
            pcm.read_mono(BLOCK_FRAMES, &mut frames, &mut mono)?
        };
        if n == 0 {
            break;
        }
        mp3.clear();
        mp3.reserve(mp3lame_encoder::max_required_buffer_size(n));
        let written = if stereo {
            encoder.encode_to_vec(InterleavedPcm(&frames), &mut mp3)
        } else {
            encoder.encode_to_vec(MonoPcm(&mono), &mut mp3)
        };
        written.map_err(|e| lame_error("encoding", e))?;
        out.write_all(&mp3)?;
    }
    mp3.clear();
    mp3.reserve(7200);
    encoder
        .flush_to_vec::<FlushGap>(&mut mp3)
        .map_err(|e| lame_error("flushing", e))?;
    out.write_all(&mp3)?;

    // The Info tag replaces the placeholder frame LAME wrote first.
    mp3.clear();
    mp3.reserve(encoder.lame_tag_size());
    if encoder.lame_tag_encode_to_vec(&mut mp3).is_some() {
        let end = out.stream_position()?;
        out.seek(SeekFrom::Start(start))?;
        out.write_all(&mp3)?;
        out.seek(SeekFrom::Start(end))?;
    }
    out.flush()?;
    Ok(())
}
