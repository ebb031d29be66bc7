//! Our GSM 06.10 WAV must be sox's, byte for byte: the same mono PCM goes to both
//! `export::encode` and `sox -t raw -r 8000 -e signed -b 16 -c 1 in.raw -e gsm-full-rate
//! out.wav`. The one header difference (sox counts the pad byte in the data chunk's size
//! when the block count is odd; RIFF says not to) is checked for exactly.

mod common;

use std::io::Cursor;
use std::process::Command;

use common::*;
use export::{Format, Options};

fn ours(channels: u16, interleaved: &[i16]) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    export::encode(
        Format::GsmWav,
        Options::default(),
        Cursor::new(wav(channels, interleaved)),
        &mut out,
    )
    .expect("GSM export");
    out.into_inner()
}

fn sox(mono: &[i16]) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, output) = (dir.path().join("in.raw"), dir.path().join("out.wav"));
    std::fs::write(&input, to_bytes(mono)).expect("write");
    run(Command::new("sox")
        .args([
            "-t", "raw", "-r", "8000", "-e", "signed", "-b", "16", "-c", "1",
        ])
        .arg(&input)
        .args(["-e", "gsm-full-rate"])
        .arg(&output));
    std::fs::read(&output).expect("read")
}

/// Compares whole files; returns the number of GSM blocks compared.
fn assert_same(name: &str, ours: &[u8], sox: &[u8]) -> usize {
    assert_eq!(ours.len(), sox.len(), "{name}: file length");
    assert_eq!(ours[..56], sox[..56], "{name}: header up to the data size");
    let blocks = (ours.len() - 60) / 65;
    let data_ours = u32::from_le_bytes([ours[56], ours[57], ours[58], ours[59]]) as usize;
    let data_sox = u32::from_le_bytes([sox[56], sox[57], sox[58], sox[59]]) as usize;
    assert_eq!(data_ours, blocks * 65, "{name}: our data size");
    assert_eq!(
        data_sox,
        data_ours + blocks % 2,
        "{name}: sox counts the pad byte"
    );
    if let Some(at) = (60..ours.len()).find(|&i| ours[i] != sox[i]) {
        panic!(
            "{name}: GSM data differs from sox's at byte {at} (block {}, byte {} of it)",
            (at - 60) / 65,
            (at - 60) % 65
        );
    }
    blocks
}

#[test]
fn synthetic_signals_match_sox_byte_for_byte() {
    let n = 3 * RATE + 123; // not a whole block: the last one is completed with silence
    let signals = [
        ("silence", silence(n)),
        ("square", square(n)),
        ("sweep", sweep(n, 30000.0)),
        ("quiet sweep", sweep(n, 300.0)),
        ("noise", noise(n, 7)),
        ("one frame", noise(160, 8)),
        ("more noise", noise(10 * RATE, 9)),
        ("quiet noise", noise(n, 10).iter().map(|s| s >> 8).collect()),
        ("empty", Vec::new()),
    ];
    for (name, signal) in signals {
        assert_same(name, &ours(1, &signal), &sox(&signal));
    }
}

#[test]
fn corpus_speech_matches_sox_byte_for_byte() {
    let (speech, call) = corpus_speech();
    assert!(
        speech.len() > 16 * RATE && call.len() > 10 * RATE,
        "{} {}",
        speech.len(),
        call.len()
    );
    for (name, signal) in [("speech_8k_ulaw", &speech), ("sip-call-rtp-g711", &call)] {
        let blocks = assert_same(name, &ours(1, signal), &sox(signal));
        assert!(blocks > 200);
    }
    // Speech amplified 8 times and clipped: saturation everywhere in the encoder.
    let loud: Vec<i16> = speech.iter().map(|&s| s.saturating_mul(8)).collect();
    assert_same("loud speech", &ours(1, &loud), &sox(&loud));
}

#[test]
fn a_two_channel_recording_is_mixed_then_matches_sox() {
    let (speech, call) = corpus_speech();
    let n = speech.len().min(call.len());
    let (left, right) = (&speech[..n], &call[..n]);
    let mixed: Vec<i16> = left
        .iter()
        .zip(right)
        .map(|(&a, &b)| export::mix(a, b))
        .collect();
    assert_same("mixed", &ours(2, &interleave(left, right)), &sox(&mixed));
}
