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
        .args([
            "--http",
            "127.0.0.1:0",
            "--socket",
            "127.0.0.1:0",
            "--events",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
        ])
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
fn an_unreachable_database_stops_start_up_without_showing_the_password() {
    // Nothing listens on port 1: the connection is refused.
    let started = Instant::now();
    let (ok, err) = serve(&[
        "--database",
        "postgres://callvault:s3cret-pw@127.0.0.1:1/callvault",
    ]);
    assert!(!ok);
    assert!(
        err.contains("cannot open the catalog at postgres://callvault:***@127.0.0.1:1/callvault"),
        "{err}"
    );
    assert!(err.contains("refused"), "{err}");
    assert!(!err.contains("s3cret-pw"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_wrong_database_url_stops_start_up_without_showing_the_password() {
    for url in [
        // A database that does not exist (or, without a server, a refused connection).
        "postgres://postgres:s3cret-pw@127.0.0.1:5432/callvault_no_such_database",
        "postgres://postgres@127.0.0.1:5432/callvault_no_such_database?password=s3cret-pw",
        // A backend callvault does not have.
        "mysql://callvault:s3cret-pw@127.0.0.1/callvault",
        // Not a URL at all.
        "postgres://callvault:s3cret-pw@127.0.0.1:notaport/callvault",
    ] {
        let (ok, err) = serve(&["--database", url]);
        assert!(!ok, "{url}");
        assert!(err.contains("cannot open the catalog at "), "{url}: {err}");
        assert!(!err.contains("s3cret-pw"), "{url}: {err}");
    }
    // The server's reason once, on the one line that says what failed.
    let (_, err) = serve(&[
        "--database",
        "postgres://postgres:s3cret-pw@127.0.0.1:5432/callvault_no_such_database",
    ]);
    let postgres = std::env::var("CALLVAULT_TEST_BACKEND").as_deref() == Ok("postgres");
    let unknown = "callvault serve: cannot open the catalog at postgres://postgres:***@127.0.0.1:5432/callvault_no_such_database: database \"callvault_no_such_database\" does not exist";
    let last = err.trim_end().lines().last().unwrap_or("");
    if postgres || !last.contains("refused") {
        assert_eq!(last, unknown, "{err}");
        assert_eq!(err.matches("does not exist").count(), 1, "{err}");
    }
}

#[test]
fn the_database_can_be_given_in_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_callvault"))
        .arg("serve")
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args([
            "--http",
            "127.0.0.1:0",
            "--socket",
            "127.0.0.1:0",
            "--events",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
        ])
        .env("CALLVAULT_DATABASE", "redis://:s3cret-pw@127.0.0.1/0")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("cannot open the catalog at redis://:***@127.0.0.1/0"),
        "{err}"
    );
    assert!(!err.contains("s3cret-pw"), "{err}");
}

#[test]
fn the_catalog_is_on_the_backend_the_run_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = ServerBuilder::new(&data).start();
    assert_eq!(code(&s.api("type=callstart&requestid=1&deviceid=42")), 20);
    let postgres = std::env::var("CALLVAULT_TEST_BACKEND").as_deref() == Ok("postgres");
    // SQLite keeps the catalog in the data directory; PostgreSQL must leave it empty of one.
    assert_eq!(data.join("catalog.db").exists(), !postgres);
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

#[test]
fn a_closed_standard_output_does_not_stop_the_server() {
    // A free port for the socket API, since the printed addresses cannot be read here.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_callvault"))
        .arg("serve")
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--http", "127.0.0.1:0", "--socket"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--events", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // nobody reads the listening lines
    let answer = common::wait_for(Duration::from_secs(30), || {
        assert!(child.try_wait().unwrap().is_none(), "the server exited");
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        s.write_all(b"<REQUEST><TYPE>TEST</TYPE><REQUESTID>1</REQUESTID></REQUEST>\r\n")
            .ok()?;
        Some(common::read_result(&mut s))
    });
    assert_eq!(code(&answer), 20, "{answer}");
    child.kill().unwrap();
    child.wait().unwrap();
}
