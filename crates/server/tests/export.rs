//! EXPORT in every format, end to end: a call replayed from a capture, downloaded over the
//! WebAPI with each MEDIA_FORMAT token, and each file decoded by an independent decoder
//! (ffmpeg; sox for GSM WAV, as it honours the `fact` chunk) and compared with the WAV
//! export of the same recording.

mod common;
#[path = "common/rtp.rs"]
mod rtp;

use std::path::Path;
use std::process::Command;

use common::{Server, ServerBuilder, field, sections};

/// EXPORT with `token`: checks Content-Type and the file name, returns the body.
fn export(s: &Server, record_id: &str, token: &str, content_type: &str, ext: &str) -> Vec<u8> {
    let r = s.get(&format!(
        "/webAPI.aspx?type=export&requestid=7&uniquefield=recordid&uniqueid={record_id}&media_format={token}"
    ));
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some(content_type),
        "{token}: {:?}",
        String::from_utf8_lossy(&r.body[..r.body.len().min(400)])
    );
    let disposition = r.header("content-disposition").unwrap_or_default();
    assert_eq!(
        disposition,
        format!("attachment; filename=\"{record_id}.{ext}\""),
        "{token}"
    );
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str()),
        "{token}"
    );
    r.body
}

fn snr_db(reference: &[i16], decoded: &[i16]) -> f64 {
    let (mut signal, mut noise) = (0f64, 0f64);
    for (&r, &d) in reference.iter().zip(decoded) {
        signal += (r as f64).powi(2);
        noise += (r as f64 - d as f64).powi(2);
    }
    10.0 * (signal / noise.max(1e-9)).log10()
}

#[test]
fn a_replayed_call_exports_in_every_format() {
    let (dir, s) = common::replay("sip-call-rtp-g711.pcap");
    let list = s.api("type=calllist&requestid=2");
    let record_id = field(&sections(&list, "CALL")[0], "RECORDID");
    let before = recordings_dir(dir.path());

    let wav = rtp::read_wav(&export(&s, &record_id, "wav", "audio/wav", "wav"));
    let [left, right] = &wav.channels;
    // The mono exports mix the channels as (left + right) >> 1.
    let mixed: Vec<i16> = left
        .iter()
        .zip(right)
        .map(|(&a, &b)| ((a as i32 + b as i32) >> 1) as i16)
        .collect();
    let frames = mixed.len();
    assert!(frames > 20 * 8000, "{frames} frames");

    // (token, content type, extension, decoder, minimum SNR in dB against the mix,
    // samples the decoder may add: a GSM WAV is whole 320-sample blocks)
    let cases = [
        ("MP3", "audio/mpeg", "mp3", "ffmpeg", 15.0, 160),
        ("mp3", "audio/mpeg", "mp3", "ffmpeg", 15.0, 160),
        ("WEBM", "audio/webm", "webm", "ffmpeg", 12.0, 160),
        ("webma", "audio/webm", "webm", "ffmpeg", 12.0, 160),
        ("GSMWAV", "audio/wav", "wav", "sox", 6.0, 319),
        ("gsm", "audio/wav", "wav", "sox", 6.0, 319),
        ("GSM_WAV", "audio/wav", "wav", "sox", 6.0, 319),
        ("GSM%20WAV", "audio/wav", "wav", "sox", 6.0, 319),
    ];
    for (token, content_type, ext, tool, min_snr, slack) in cases {
        let body = export(&s, &record_id, token, content_type, ext);
        let path = dir.path().join(format!("export.{ext}"));
        std::fs::write(&path, &body).unwrap();
        let decoded = common::decode(tool, &path, 1);
        assert!(
            decoded.len() >= frames && decoded.len() - frames <= slack,
            "{token}: {} samples decoded, {frames} recorded",
            decoded.len()
        );
        let snr = snr_db(&mixed, &decoded);
        println!("{token}: SNR {snr:.1} dB");
        assert!(
            snr >= min_snr,
            "{token}: SNR {snr:.1} dB, below {min_snr} dB"
        );
    }
    // The encoding left no temporary file among the recordings.
    assert_eq!(recordings_dir(dir.path()), before);
}

fn recordings_dir(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("data/recordings"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Channel count and decoded samples (interleaved) of an exported file, by ffprobe/ffmpeg.
fn probe_channels(path: &Path) -> usize {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "a:0",
            "-show_entries",
            "stream=channels",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs (scripts/setup.sh installs ffmpeg)");
    assert!(out.status.success(), "ffprobe failed on {}", path.display());
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn stereo_export_keeps_both_sides_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data"))
        .config("[export]\nchannels = \"stereo\"\n")
        .replay("sip-call-rtp-g711.pcap");
    let list = s.api("type=calllist&requestid=2");
    let record_id = field(&sections(&list, "CALL")[0], "RECORDID");
    let wav = rtp::read_wav(&export(&s, &record_id, "wav", "audio/wav", "wav"));
    let [left, right] = &wav.channels;
    for (token, content_type, ext, min_snr) in [
        ("MP3", "audio/mpeg", "mp3", 15.0),
        ("WEBM", "audio/webm", "webm", 12.0),
    ] {
        let body = export(&s, &record_id, token, content_type, ext);
        let path = dir.path().join(format!("stereo.{ext}"));
        std::fs::write(&path, &body).unwrap();
        assert_eq!(probe_channels(&path), 2, "{token}");
        let decoded = common::decode("ffmpeg", &path, 2);
        let (l, r): (Vec<i16>, Vec<i16>) = decoded.chunks_exact(2).map(|f| (f[0], f[1])).unzip();
        for (side, reference, got) in [("left", left, &l), ("right", right, &r)] {
            let snr = snr_db(reference, got);
            println!("{token} {side}: SNR {snr:.1} dB");
            assert!(snr >= min_snr, "{token} {side}: SNR {snr:.1} dB");
        }
    }
    // GSM stays mono whatever the setting.
    let body = export(&s, &record_id, "GSMWAV", "audio/wav", "wav");
    let path = dir.path().join("stereo-gsm.wav");
    std::fs::write(&path, &body).unwrap();
    assert_eq!(probe_channels(&path), 1);
}
