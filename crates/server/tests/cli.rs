//! `callvault export`: a call replayed by the server, the server stopped, then the call
//! exported from the same data directory by the command line.

mod common;
#[path = "common/rtp.rs"]
mod rtp;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{ServerBuilder, cli_export as export, field, sections};

fn decoded_samples(path: &Path) -> usize {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "s16le", "-ar", "8000", "-ac", "1", "-"])
        .output()
        .expect("ffmpeg runs (scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout.len() / 2
}

const READ_ZIP: &str = r#"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    assert z.testzip() is None
    for info in z.infolist():
        print("ENTRY", info.filename, info.file_size)
    sys.stdout.write(z.read("manifest.csv").decode())
"#;

#[test]
fn export_from_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = ServerBuilder::new(&data)
        .capture("sip-call-rtp-g711.pcap", "max")
        .start();
    common::wait_for(Duration::from_secs(30), || {
        let doc = s.api("type=systemstatus&requestid=1");
        let source = sections(&doc, "SOURCE").into_iter().next()?;
        (field(&source, "STATE") == "FINISHED").then_some(())
    });
    let list = s.api("type=calllist&requestid=2");
    let record_id = field(&sections(&list, "CALL")[0], "RECORDID");
    let r = s.get(&format!(
        "/webAPI.aspx?type=export&requestid=3&uniquefield=recordid&uniqueid={record_id}&media_format=wav"
    ));
    assert_eq!(r.status, 200);
    let served_wav = r.body;
    assert!(s.terminate().success());

    // WAV: the very bytes the server's EXPORT sends.
    let wav_path = dir.path().join("out/call.wav");
    std::fs::create_dir_all(wav_path.parent().unwrap()).unwrap();
    let out = export(
        &data,
        &[
            "--recordid",
            &record_id,
            "--format",
            "wav",
            "-o",
            wav_path.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wav = std::fs::read(&wav_path).unwrap();
    assert!(
        wav == served_wav,
        "the WAV differs from the server's EXPORT"
    );
    let frames = rtp::read_wav(&wav).channels[0].len();

    // MP3: decodes to the recording's duration, within 20 ms.
    let mp3_path = dir.path().join("out/call.mp3");
    let out = export(
        &data,
        &[
            "--recordid",
            &record_id,
            "--format",
            "MP3",
            "-o",
            mp3_path.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let samples = decoded_samples(&mp3_path);
    assert!(
        samples.abs_diff(frames) <= 160,
        "MP3 decodes to {samples} samples, the WAV has {frames}"
    );

    // --ident: a ZIP of the recordings found and a manifest of every IDENT.
    let zip_path = dir.path().join("out/calls.zip");
    let idents = format!("{record_id},999999");
    let out = export(
        &data,
        &[
            "--ident",
            &idents,
            "--format",
            "webm",
            "-o",
            zip_path.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let py = Command::new("python3")
        .arg("-c")
        .arg(READ_ZIP)
        .arg(&zip_path)
        .output()
        .expect("python3 runs");
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let listing = String::from_utf8(py.stdout).unwrap();
    let entries: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.strip_prefix("ENTRY "))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        entries,
        [format!("{record_id}.webm").as_str(), "manifest.csv"]
    );
    assert!(
        listing.contains(&format!("{record_id},{record_id}.webm,exported,\r\n")),
        "{listing}"
    );
    assert!(listing.contains("999999,,not found,\r\n"), "{listing}");

    // The temporary files are gone: only the three outputs are left.
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["call.mp3", "call.wav", "calls.zip"]);

    // Errors: a message, a non-zero exit and no file.
    let missing = dir.path().join("out/missing.wav");
    for (args, message) in [
        (
            vec!["--recordid", "999999", "--format", "wav"],
            "no recording has RECORDID 999999",
        ),
        (
            vec!["--recordid", record_id.as_str(), "--format", "ogg"],
            "MEDIA_FORMAT \"ogg\"",
        ),
    ] {
        let mut all = args.clone();
        all.extend(["-o", missing.to_str().unwrap()]);
        let out = export(&data, &all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(!missing.exists(), "{args:?} left a file");
    }
    // An output in a directory that does not exist.
    let nowhere = dir.path().join("no/such/dir/call.wav");
    let out = export(
        &data,
        &["--recordid", &record_id, "-o", nowhere.to_str().unwrap()],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot write"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut after: Vec<String> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    after.sort();
    assert_eq!(after, names);
}
