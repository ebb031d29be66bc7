//! Every export format, decoded by an independent decoder (ffmpeg), against the recording
//! it came from: the length must match within 20 ms and the audio must be the recording's,
//! measured as the signal-to-noise ratio over the whole file. Lossy codecs do not keep the
//! waveform exactly; each threshold below sits a few dB under what the codec reaches on
//! this input, so a broken mix, channel swap, misalignment or wrong sample rate (all of
//! which drop the ratio to about 0 dB or below) fails.

mod common;

use std::io::Cursor;
use std::path::Path;

use common::*;
use export::{Format, Options};

/// The test recording: speech on the device's side (left), a real call's far end on the
/// other, 16.7 s, built from the corpus captures.
fn recording() -> (Vec<i16>, Vec<i16>) {
    let (speech, call) = corpus_speech();
    let n = speech.len().min(call.len());
    (speech[..n].to_vec(), call[..n].to_vec())
}

fn export_to(dir: &Path, format: Format, stereo: bool, input: &[u8]) -> std::path::PathBuf {
    let path = dir.join(format!("out-{format}-{stereo}.{}", format.extension()));
    let file = std::fs::File::create(&path).expect("create");
    export::encode(
        format,
        Options { stereo },
        Cursor::new(input),
        std::io::BufWriter::new(file),
    )
    .expect("export");
    path
}

/// Decodes an export: GSM WAV with sox, which honours the `fact` chunk's sample count
/// (ffmpeg ignores it and returns whole 320-sample blocks), the others with ffmpeg.
fn decode(format: Format, path: &Path, channels: u16) -> Vec<i16> {
    if format == Format::GsmWav {
        sox_decode(path, channels)
    } else {
        ffmpeg_decode(path, channels)
    }
}

/// How many samples a decoder may return beyond the recording's. 20 ms in general. A GSM
/// WAV holds whole 320-sample blocks, and neither sox nor ffmpeg trims the last one to the
/// `fact` chunk's count: up to 319 samples (40 ms) of silence. LAME's Info tag cannot trim
/// below one frame: an MP3 of less than 576 samples decodes to up to 576.
fn slack(format: Format, len: usize) -> usize {
    match format {
        Format::GsmWav => 319,
        Format::Mp3 if len < 576 => 576,
        _ => 160,
    }
}

/// Decodes `path` and checks its length and its SNR per channel.
fn check(format: Format, path: &Path, channels: &[&[i16]], min_snr_db: f64) -> Vec<f64> {
    let decoded = decode(format, path, channels.len() as u16);
    let frames = decoded.len() / channels.len();
    let expected = channels[0].len();
    assert!(
        frames.abs_diff(expected) <= slack(format, expected),
        "{}: {frames} samples decoded, {expected} expected",
        path.display()
    );
    let mut snrs = Vec::new();
    for (c, reference) in channels.iter().enumerate() {
        let got: Vec<i16> = decoded
            .iter()
            .skip(c)
            .step_by(channels.len())
            .copied()
            .collect();
        let snr = snr_db(reference, &got);
        println!("{}: channel {c}: SNR {snr:.1} dB", path.display());
        assert!(
            snr >= min_snr_db,
            "{}: channel {c}: SNR {snr:.1} dB, below {min_snr_db} dB",
            path.display()
        );
        snrs.push(snr);
    }
    snrs
}

#[test]
fn wav_is_the_recording_exactly() {
    let (left, right) = recording();
    let input = wav(2, &interleave(&left, &right));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = export_to(dir.path(), Format::Wav, false, &input);
    assert_eq!(std::fs::read(&path).expect("read"), input);
    let decoded = ffmpeg_decode(&path, 2);
    assert_eq!(decoded, interleave(&left, &right));
}

#[test]
fn gsm_wav_decodes_to_the_mixed_recording() {
    let (left, right) = recording();
    let mixed: Vec<i16> = left
        .iter()
        .zip(&right)
        .map(|(&a, &b)| export::mix(a, b))
        .collect();
    let input = wav(2, &interleave(&left, &right));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = export_to(dir.path(), Format::GsmWav, false, &input);
    check(Format::GsmWav, &path, &[&mixed], 7.0);
}

#[test]
fn mp3_decodes_to_the_recording_mono_and_stereo() {
    let (left, right) = recording();
    let mixed: Vec<i16> = left
        .iter()
        .zip(&right)
        .map(|(&a, &b)| export::mix(a, b))
        .collect();
    let input = wav(2, &interleave(&left, &right));
    let dir = tempfile::tempdir().expect("tempdir");
    let mono = export_to(dir.path(), Format::Mp3, false, &input);
    check(Format::Mp3, &mono, &[&mixed], 18.0);
    let stereo = export_to(dir.path(), Format::Mp3, true, &input);
    check(Format::Mp3, &stereo, &[&left, &right], 12.0);
}

#[test]
fn webm_decodes_to_the_recording_mono_and_stereo() {
    let (left, right) = recording();
    let mixed: Vec<i16> = left
        .iter()
        .zip(&right)
        .map(|(&a, &b)| export::mix(a, b))
        .collect();
    let input = wav(2, &interleave(&left, &right));
    let dir = tempfile::tempdir().expect("tempdir");
    let mono = export_to(dir.path(), Format::Webm, false, &input);
    check(Format::Webm, &mono, &[&mixed], 15.0);
    let stereo = export_to(dir.path(), Format::Webm, true, &input);
    check(Format::Webm, &stereo, &[&left, &right], 8.0);
}

#[test]
fn short_and_empty_recordings_export_in_every_format() {
    for len in [0usize, 1, 159, 161, 8000] {
        let samples = sweep(len, 10000.0);
        let input = wav(2, &interleave(&samples, &samples));
        let dir = tempfile::tempdir().expect("tempdir");
        for format in [Format::Wav, Format::GsmWav, Format::Mp3, Format::Webm] {
            let path = export_to(dir.path(), format, false, &input);
            let decoded = decode(format, &path, 1);
            assert!(
                decoded.len().abs_diff(len) <= slack(format, len),
                "{format} of {len} samples decoded to {}",
                decoded.len()
            );
        }
    }
}

#[test]
fn a_file_that_is_not_a_recording_is_refused() {
    let mut out = Cursor::new(Vec::new());
    let err = export::encode(
        Format::Mp3,
        Options::default(),
        Cursor::new(b"not a wav file at all".to_vec()),
        &mut out,
    )
    .expect_err("refused");
    assert!(matches!(err, export::Error::Input(_)), "{err}");
    // 16 kHz is not a recording either.
    let mut bad = wav(1, &[0; 100]);
    bad[24..28].copy_from_slice(&16000u32.to_le_bytes());
    let err = export::encode(Format::Wav, Options::default(), Cursor::new(bad), &mut out)
        .expect_err("refused");
    assert!(err.to_string().contains("16000 Hz"), "{err}");
}
