//! Encoding a 10-minute two-channel call in every export format, against the reference
//! command-line encoders on the same audio in the same run: sox for GSM WAV (and for the
//! WAV copy), lame for MP3, opusenc for Opus. The reference tools are given the mono mix
//! ready-made as raw PCM, at the settings our encoders use; ours read the two-channel WAV
//! and mix it themselves. Each figure is the best of three runs.
//!
//! Under `cargo test` (which runs it without `--bench`) the same steps run once on ten
//! seconds of audio: the suite checks that the bench works, and that our GSM data is sox's,
//! without spending minutes on it.
//!
//! Run: cargo bench -p callvault-export --bench encode
//! Only some formats: cargo bench -p callvault-export --bench encode -- gsm mp3
//! (each word is matched against the format column, ignoring case).

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use export::{Format, Options};

/// How long the encoded call is, and how many times each encoder runs (the best counts).
struct Run {
    seconds: usize,
    times: usize,
}

impl Run {
    fn best_of(&self, mut f: impl FnMut()) -> Duration {
        (0..self.times)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .min()
            .unwrap_or_default()
    }

    fn ours(&self, format: Format, input: &Path, output: &Path) -> Duration {
        self.best_of(|| {
            let reader = std::io::BufReader::new(std::fs::File::open(input).expect("input"));
            let writer = std::io::BufWriter::new(std::fs::File::create(output).expect("output"));
            export::encode(format, Options::default(), reader, writer).expect("encode");
        })
    }

    fn tool(&self, program: &str, args: &[String]) -> Duration {
        self.best_of(|| run(Command::new(program).args(args)))
    }
}

fn main() {
    let run = if std::env::args().any(|a| a == "--bench") {
        Run {
            seconds: 600,
            times: 3,
        }
    } else {
        Run {
            seconds: 10,
            times: 1,
        }
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let p = |name: &str| dir.path().join(name);
    let s = |name: &str| p(name).to_string_lossy().into_owned();

    // Ten minutes of the corpus speech on one side and the corpus call on the other.
    let (speech, call) = corpus_speech();
    let n = run.seconds * RATE;
    let left: Vec<i16> = speech.iter().cycle().take(n).copied().collect();
    let right: Vec<i16> = call
        .iter()
        .cycle()
        .skip(3 * RATE)
        .take(n)
        .copied()
        .collect();
    let mixed: Vec<i16> = left
        .iter()
        .zip(&right)
        .map(|(&a, &b)| export::mix(a, b))
        .collect();
    std::fs::write(p("call.wav"), wav(2, &interleave(&left, &right))).expect("write");
    std::fs::write(p("mono.raw"), to_bytes(&mixed)).expect("write");
    let raw_in = [
        "-t", "raw", "-r", "8000", "-e", "signed", "-b", "16", "-c", "1",
    ];
    let (mono, call) = (s("mono.raw"), s("call.wav"));

    // (format, our encoder and output file, reference tool and its command line)
    let cases = [
        (
            "WAV (copy)",
            Format::Wav,
            "ours.wav",
            "sox (copy)",
            ["sox", &call, &s("sox.wav")].map(String::from).to_vec(),
        ),
        (
            "GSM WAV",
            Format::GsmWav,
            "ours-gsm.wav",
            "sox -e gsm-full-rate",
            [
                &["sox"][..],
                &raw_in,
                &[&mono, "-e", "gsm-full-rate", &s("sox-gsm.wav")],
            ]
            .concat()
            .into_iter()
            .map(String::from)
            .collect(),
        ),
        (
            "MP3 32 kbit/s mono",
            Format::Mp3,
            "ours.mp3",
            "lame -b 32 --cbr -q 5",
            [
                "lame",
                "--quiet",
                "-r",
                "-s",
                "8",
                "--bitwidth",
                "16",
                "--signed",
                "--little-endian",
                "-m",
                "m",
                "-b",
                "32",
                "--cbr",
                "-q",
                "5",
                &mono,
                &s("lame.mp3"),
            ]
            .map(String::from)
            .to_vec(),
        ),
        (
            "WebM/Opus 24 kbit/s mono",
            Format::Webm,
            "ours.webm",
            "opusenc --bitrate 24",
            [
                "opusenc",
                "--quiet",
                "--raw",
                "--raw-rate",
                "8000",
                "--raw-chan",
                "1",
                "--bitrate",
                "24",
                &mono,
                &s("opusenc.opus"),
            ]
            .map(String::from)
            .to_vec(),
        ),
    ];

    // Words given after `--` select formats; `cargo bench` itself passes `--bench`.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .map(|a| a.to_lowercase())
        .collect();
    let selected = |format: &str| {
        only.is_empty()
            || only
                .iter()
                .any(|w| format.to_lowercase().contains(w.as_str()))
    };

    println!(
        "Encoding {} s of two-channel 8 kHz audio (best of {} runs)\n",
        run.seconds, run.times
    );
    println!("| format | ours | reference | reference time | ours/reference | ours, × real time |");
    println!("|---|---|---|---|---|---|");
    for (format, ours_format, ours_file, reference, command) in cases {
        if !selected(format) {
            continue;
        }
        let ours = run.ours(ours_format, &p("call.wav"), &p(ours_file));
        let theirs = run.tool(&command[0], &command[1..]);
        println!(
            "| {format} | {:.3} s | {reference} | {:.3} s | {:.2} | {:.0}× |",
            ours.as_secs_f64(),
            theirs.as_secs_f64(),
            ours.as_secs_f64() / theirs.as_secs_f64(),
            run.seconds as f64 / ours.as_secs_f64(),
        );
    }
    if selected("GSM WAV") {
        let same = std::fs::read(p("ours-gsm.wav"))
            .ok()
            .map(|f| f[60..].to_vec())
            == std::fs::read(p("sox-gsm.wav"))
                .ok()
                .map(|f| f[60..].to_vec());
        println!("\nGSM data identical to sox's: {same}");
        assert!(same, "our GSM data differs from sox's");
    }
}
