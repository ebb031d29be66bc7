//! Start-up refuses what it cannot serve, and says why; a stop is prompt and clean.

mod common;

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{ServerBuilder, code, field};

fn serve(args: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_callvault"))
        .arg("serve")
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--http", "127.0.0.1:0", "--socket", "127.0.0.1:0"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_missing_capture_file_stops_start_up() {
    let (ok, err) = serve(&["--capture-file", "/nonexistent/call.pcap"]);
    assert!(!ok);
    assert!(err.contains("/nonexistent/call.pcap"), "{err}");
}

#[test]
fn a_bad_configuration_file_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(&file, "[recorder]\nchannels = \"many\"\n").unwrap();
    let (ok, err) = serve(&["--config", file.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("channels"), "{err}");
}

#[test]
fn an_unusable_recordings_directory_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        format!(
            "[recorder]\npath = \"{}\"\n",
            blocker.join("recordings").display()
        ),
    )
    .unwrap();
    let (ok, err) = serve(&["--config", file.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("recorder"), "{err}");
}

#[test]
fn sigterm_stops_promptly_despite_a_half_sent_request_and_ends_calls() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = ServerBuilder::new(&data).start();
    assert_eq!(code(&s.api("type=callstart&requestid=1&deviceid=42")), 20);
    let mut half = std::net::TcpStream::connect(s.http).unwrap();
    half.write_all(b"GET /webAPI.aspx HTTP/1.1\r\n").unwrap();
    let mut partial_socket = s.connect_socket();
    partial_socket
        .write_all(b"<REQUEST><TYPE>TEST</TYPE>")
        .unwrap();
    let asked = Instant::now();
    assert!(s.terminate().success());
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "took {:?}",
        asked.elapsed()
    );
    drop(half);
    let s = ServerBuilder::new(&data).start();
    let list = s.api("type=calllist&requestid=2&deviceid=42");
    assert_eq!(field(&list, "COUNT"), "1");
    assert_eq!(field(&list, "RECORDING"), "N");
    assert!(!field(&list, "CALLENDTIME").is_empty());
}
