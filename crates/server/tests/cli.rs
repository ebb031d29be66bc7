//! `callvault export`: a call replayed by the server, then exported by the command line,
//! from the running server (`--server`) and, once the server has stopped, from its data
//! directory.

mod common;
#[path = "common/rtp.rs"]
mod rtp;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{Server, ServerBuilder, cli, cli_export as export, field, sections, testdata};

/// Runs `callvault export --server <s's WebAPI>` with `args`.
fn export_from(s: &Server, args: &[&str]) -> Output {
    cli()
        .arg("--server")
        .arg(format!("http://{}", s.http))
        .args(args)
        .output()
        .expect("run callvault export")
}

fn succeeded(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A failed export: exit status 1, a one-line message on stderr holding each of `wanted`.
fn failed(out: &Output, wanted: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    for w in wanted {
        assert!(stderr.contains(w), "{w:?} not in {stderr}");
    }
}

/// An option clap refuses: exit status 2 and its message, holding each of `wanted`.
fn usage_error(out: &Output, wanted: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for w in wanted {
        assert!(stderr.contains(w), "{w:?} not in {stderr}");
    }
}

/// The names of the files in `dir`, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Extracts `archive` into `out` with unzip.py (pyzipper when there is a password); Ok(the
/// entry names), or Err(exit status: 3 for a wrong password).
fn unzip(archive: &Path, out: &Path, password: Option<&str>) -> Result<Vec<String>, i32> {
    let mut cmd = Command::new("python3");
    cmd.arg(testdata("delivery/unzip.py")).arg(archive).arg(out);
    cmd.args(password);
    let o = cmd.output().expect("python3 runs");
    if !o.status.success() {
        return Err(o.status.code().unwrap_or(-1));
    }
    Ok(String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect())
}

/// A server that has replayed one call, that call's RECORDID and its WAV as EXPORT sends it.
fn replayed(data: &Path) -> (Server, String, Vec<u8>) {
    let s = ServerBuilder::new(data).replay("sip-call-rtp-g711.pcap");
    let list = s.api("type=calllist&requestid=2");
    let record_id = field(&sections(&list, "CALL")[0], "RECORDID");
    let served = s.get(&format!(
        "/webAPI.aspx?type=export&requestid=3&uniquefield=recordid&uniqueid={record_id}&media_format=wav"
    ));
    assert_eq!(served.status, 200);
    (s, record_id, served.body)
}

const READ_ZIP: &str = r#"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    assert z.testzip() is None
    for info in z.infolist():
        print("ENTRY", info.filename, info.file_size)
    sys.stdout.write(z.read("manifest.csv").decode())
"#;

/// The entry names and the manifest of an unencrypted ZIP, read by Python's zipfile.
fn read_zip(path: &Path) -> (Vec<String>, String) {
    let py = Command::new("python3")
        .arg("-c")
        .arg(READ_ZIP)
        .arg(path)
        .output()
        .expect("python3 runs");
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let listing = String::from_utf8(py.stdout).unwrap();
    let entries = listing
        .lines()
        .filter_map(|l| l.strip_prefix("ENTRY "))
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    (entries, listing)
}

/// The MP3 at `mp3` decodes to the `frames` samples of the recording's WAV, within 20 ms.
fn assert_mp3_length(mp3: &Path, frames: usize) {
    let samples = common::decode("ffmpeg", mp3, 1).len();
    assert!(
        samples.abs_diff(frames) <= 160,
        "MP3 decodes to {samples} samples, the WAV has {frames}"
    );
}

/// The WEBM export of `--ident <record_id>,999999` at `zip`: the recording and a manifest
/// of both IDENTs, the second not found.
fn assert_ident_zip(zip: &Path, record_id: &str) {
    let (entries, listing) = read_zip(zip);
    assert_eq!(
        entries,
        [format!("{record_id}.webm"), "manifest.csv".into()]
    );
    assert!(
        listing.contains(&format!("{record_id},{record_id}.webm,exported,\r\n")),
        "{listing}"
    );
    assert!(listing.contains("999999,,not found,\r\n"), "{listing}");
}

/// The AES-256 ZIP at `archive` opens with `password` to the entries `names`, the first
/// holding `first`; with `wrong` it does not open (unzip.py exits 3).
fn assert_encrypted(archive: &Path, password: &str, wrong: &str, names: &[String], first: &[u8]) {
    let opened = tempfile::tempdir().unwrap();
    assert_eq!(
        unzip(archive, opened.path(), Some(password)),
        Ok(names.to_vec())
    );
    assert!(
        std::fs::read(opened.path().join(&names[0])).unwrap() == first,
        "{} does not hold the export",
        names[0]
    );
    let refused = tempfile::tempdir().unwrap();
    assert_eq!(unzip(archive, refused.path(), Some(wrong)), Err(3));
}

/// The exports both modes make, `run` being `callvault export` in one of them with these
/// arguments, into `out_dir`: call.wav, the very bytes of the server's EXPORT (`served_wav`,
/// returned); call.mp3, which decodes to the recording's duration; call.zip, that MP3 as
/// the only entry of an AES-256 ZIP, as EXPORT with ENCRYPT=Y; calls.zip, `--ident
/// <record_id>,999999` as MULTIEXPORT's ZIP and manifest.
fn exports(
    run: impl Fn(&[&str]) -> Output,
    out_dir: &Path,
    record_id: &str,
    idents: &str,
    served_wav: &[u8],
) -> Vec<u8> {
    let path = |name: &str| out_dir.join(name).to_string_lossy().into_owned();
    // WAV, the default format.
    succeeded(&run(&["--recordid", record_id, "-o", &path("call.wav")]));
    let wav = std::fs::read(out_dir.join("call.wav")).unwrap();
    assert!(
        wav == served_wav,
        "the WAV differs from the server's EXPORT"
    );
    let frames = rtp::read_wav(&wav).channels[0].len();

    let mp3 = path("call.mp3");
    succeeded(&run(&[
        "--recordid",
        record_id,
        "--format",
        "MP3",
        "-o",
        &mp3,
    ]));
    assert_mp3_length(Path::new(&mp3), frames);

    succeeded(&run(&[
        "--recordid",
        record_id,
        "--format",
        "mp3",
        "--password",
        "sécret pw",
        "-o",
        &path("call.zip"),
    ]));
    assert_encrypted(
        &out_dir.join("call.zip"),
        "sécret pw",
        "secret pw",
        &[format!("{record_id}.mp3")],
        &std::fs::read(&mp3).unwrap(),
    );

    let calls = path("calls.zip");
    succeeded(&run(&["--ident", idents, "--format", "webm", "-o", &calls]));
    assert_ident_zip(Path::new(&calls), record_id);
    wav
}

#[test]
fn export_from_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut s, record_id, served_wav) = replayed(&data);
    assert!(s.terminate().success());

    let out_dir = dir.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let idents = format!("{record_id},999999");
    exports(
        |args| export(&data, args),
        &out_dir,
        &record_id,
        &idents,
        &served_wav,
    );
    // The temporary files are gone: only the outputs are left.
    let names = files_in(&out_dir);
    assert_eq!(names, ["call.mp3", "call.wav", "call.zip", "calls.zip"]);

    // Errors: a message, exit status 1 and no file.
    let missing = out_dir.join("missing.wav");
    for (args, message) in [
        (
            vec!["--recordid", "999999", "--format", "wav"],
            "no recording has RECORDID 999999",
        ),
        (
            vec!["--ident", "1,x"],
            "IDENT values must be RECORDIDs, not \"x\"",
        ),
    ] {
        let mut all = args.clone();
        all.extend(["-o", missing.to_str().unwrap()]);
        failed(&export(&data, &all), &[message]);
        assert!(!missing.exists(), "{args:?} left a file");
    }
    // More recordings than MULTIEXPORT takes at once: the server's limit and message.
    let config = dir.path().join("small.toml");
    std::fs::write(&config, "[export]\nmultiexport_max = 1\n").unwrap();
    let over = export(
        &data,
        &[
            "--config",
            config.to_str().unwrap(),
            "--ident",
            &idents,
            "-o",
            missing.to_str().unwrap(),
        ],
    );
    failed(
        &over,
        &["IDENT names 2 recordings; at most 1 may be exported at once"],
    );
    // An unknown format is an option mistake, refused with the formats there are; any
    // case, and the aliases, are taken.
    let in_format = |format: &str| {
        export(
            &data,
            &[
                "--recordid",
                &record_id,
                "--format",
                format,
                "-o",
                missing.to_str().unwrap(),
            ],
        )
    };
    for format in ["flac", "ogg"] {
        usage_error(
            &in_format(format),
            &[
                &format!("invalid value '{format}' for '--format <FORMAT>'"),
                "[possible values: WAV, GSMWAV, MP3, WEBM]",
            ],
        );
    }
    for format in ["gsm", "Gsm_Wav", "webma"] {
        succeeded(&in_format(format));
        std::fs::remove_file(&missing).unwrap();
    }
    // A blank password is refused before anything is done.
    let blank = export(
        &data,
        &[
            "--recordid",
            &record_id,
            "--password",
            " ",
            "-o",
            missing.to_str().unwrap(),
        ],
    );
    usage_error(&blank, &["the password must not be blank"]);
    // An output in a directory that does not exist: the path given and the system's
    // reason, not the temporary file's name.
    let nowhere = dir.path().join("no/such/dir/call.wav");
    let out = export(
        &data,
        &["--recordid", &record_id, "-o", nowhere.to_str().unwrap()],
    );
    failed(&out, &[]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "callvault export: cannot write {}: No such file or directory (os error 2)\n",
            nowhere.display()
        )
    );
    // A catalog that cannot be opened: where (its password hidden) and why, once.
    let out = cli()
        .args([
            "--database",
            "postgres://postgres:s3cret-pw@127.0.0.1:1/callvault",
        ])
        .args(["--recordid", &record_id, "-o", missing.to_str().unwrap()])
        .output()
        .unwrap();
    failed(
        &out,
        &[
            "cannot open the catalog at postgres://postgres:***@127.0.0.1:1/callvault: ",
            "refused",
        ],
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("s3cret-pw"));
    assert_eq!(files_in(&out_dir), names);
}

#[test]
fn export_from_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let (s, record_id, served_wav) = replayed(&dir.path().join("data"));
    let out_dir = dir.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let path = |name: &str| out_dir.join(name).to_string_lossy().into_owned();

    // --ident, one RECORDID unknown and a blank after the comma.
    let idents = format!("{record_id}, 999999");
    let wav = exports(
        |args| export_from(&s, args),
        &out_dir,
        &record_id,
        &idents,
        &served_wav,
    );
    // The permissions of any file the user creates (0666 less the umask), not 0600.
    let reference = dir.path().join("reference");
    std::fs::write(&reference, b"").unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode();
    assert_eq!(mode(&out_dir.join("call.wav")), mode(&reference));

    // CALLVAULT_EXPORT_PASSWORD stands for --password.
    let out = cli()
        .arg("--server")
        .arg(format!("http://{}/", s.http))
        .args(["--ident", &idents, "-o", &path("secret.zip")])
        .env("CALLVAULT_EXPORT_PASSWORD", "pw 2")
        .output()
        .unwrap();
    succeeded(&out);
    assert_encrypted(
        &out_dir.join("secret.zip"),
        "pw 2",
        "pw 3",
        &[format!("{record_id}.wav"), "manifest.csv".into()],
        &wav,
    );
    let names = files_in(&out_dir);
    assert_eq!(
        names,
        [
            "call.mp3",
            "call.wav",
            "call.zip",
            "calls.zip",
            "secret.zip"
        ]
    );

    // The server's answer instead of a file: its code and message, exit 1, no file.
    let missing = path("missing.wav");
    for (args, wanted) in [
        (
            vec!["--recordid", "999999"],
            [
                "code 31",
                "API_RECORDING_NOT_FOUND: no recording has RECORDID \"999999\"",
            ],
        ),
        (
            vec!["--ident", "1,x"],
            ["code 17", "IDENT values must be RECORDIDs, not \"x\""],
        ),
    ] {
        let mut all = args.clone();
        all.extend(["-o", missing.as_str()]);
        failed(&export_from(&s, &all), &wanted);
    }
    // No server there: a free port, closed again.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = cli()
        .args(["--server", &format!("http://{closed}")])
        .args(["--recordid", &record_id, "-o", &missing])
        .output()
        .unwrap();
    failed(&out, &["no answer from the server at", "refused"]);
    // Not an address (no http://), and options that belong to the data directory: option
    // mistakes.
    let out = cli()
        .args([
            "--server",
            "127.0.0.1:2012",
            "--recordid",
            "1",
            "-o",
            &missing,
        ])
        .output()
        .unwrap();
    usage_error(
        &out,
        &[
            "invalid value '127.0.0.1:2012' for '--server <URL>': it must be the server's http:// address, like http://127.0.0.1:2012",
        ],
    );
    let out = cli()
        .args([
            "--server",
            &format!("http://{}", s.http),
            "--data-dir",
            "/srv",
        ])
        .args(["--recordid", "1", "-o", &missing])
        .output()
        .unwrap();
    usage_error(
        &out,
        &["'--server <URL>' cannot be used with '--data-dir <DATA_DIR>'"],
    );
    // The environment variable stands for the option.
    let out = cli()
        .args(["--server", &format!("http://{}", s.http)])
        .args(["--recordid", "1", "-o", &missing])
        .env("CALLVAULT_DATABASE", "/srv/catalog.db")
        .output()
        .unwrap();
    usage_error(
        &out,
        &["'--server <URL>' cannot be used with '--database <URL>'"],
    );
    assert_eq!(files_in(&out_dir), names);
}

#[test]
fn an_output_that_is_a_directory_is_refused_before_anything_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data")).start();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let existing = out_dir.to_string_lossy().into_owned();
    let slashed = format!("{}/new/", dir.path().display());
    for (output, wanted) in [
        (
            existing.as_str(),
            format!("--output {existing} is a directory"),
        ),
        (
            slashed.as_str(),
            format!("--output {slashed} is a directory"),
        ),
    ] {
        // The recording does not exist: only the output is looked at, before the server.
        let out = export_from(&s, &["--recordid", "1", "-o", output]);
        failed(&out, &[wanted.as_str()]);
        let out = export(&s.data_dir, &["--recordid", "1", "-o", output]);
        failed(&out, &[wanted.as_str()]);
    }
    assert!(files_in(&out_dir).is_empty());
    assert_eq!(files_in(dir.path()), ["data", "out"]);
}

#[test]
fn a_password_the_server_refuses_is_refused_from_the_data_directory_too() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data")).start();
    let output = dir.path().join("call.zip");
    let long = "p".repeat(1025);
    for (password, code, says) in [
        (
            "bell\u{7}",
            "code 16",
            "PASSWORD contains a control character",
        ),
        (
            long.as_str(),
            "code 26",
            "PASSWORD is longer than 1024 characters",
        ),
    ] {
        let args = [
            "--recordid",
            "1",
            "--password",
            password,
            "-o",
            output.to_str().unwrap(),
        ];
        failed(&export_from(&s, &args), &[code, says]);
        failed(
            &export(&s.data_dir, &args),
            &[&format!("--password: {says}")],
        );
    }
    assert_eq!(files_in(dir.path()), ["data"]);
}

#[test]
fn an_output_among_the_recordings_is_refused_and_replaces_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_s, record_id, _) = replayed(&data);
    let recordings = data.join("recordings");
    let stored = files_in(&recordings);
    let wav = recordings.join(&stored[0]);
    let before = std::fs::read(&wav).unwrap();
    for output in [wav.clone(), recordings.join("new.mp3")] {
        let out = export(
            &data,
            &[
                "--recordid",
                &record_id,
                "--format",
                "mp3",
                "-o",
                output.to_str().unwrap(),
            ],
        );
        failed(&out, &["--output must not be in the recordings directory"]);
    }
    assert_eq!(files_in(&recordings), stored);
    assert!(
        std::fs::read(&wav).unwrap() == before,
        "the stored WAV is unchanged"
    );
}

/// A stand-in for a server that fails half-way through a download (the real one cannot be
/// made to): for each connection, it reads one request, sends `head` and `body`, holds the
/// connection open for `hold`, then drops it.
fn failing_server(head: &'static str, body: &'static [u8], hold: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            std::thread::spawn(move || {
                read_request(&stream);
                stream.write_all(head.as_bytes()).unwrap();
                stream.write_all(body).unwrap();
                std::thread::sleep(hold);
            });
        }
    });
    format!("http://{addr}")
}

/// Reads a request's head and its Content-Length body.
fn read_request(stream: &TcpStream) {
    let mut reader = BufReader::new(stream);
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
}

#[test]
fn a_download_cut_short_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("call.mp3");
    for (head, what) in [
        (
            "HTTP/1.1 200 OK\r\nContent-Type: audio/mpeg\r\nContent-Length: 100000\r\n\r\n",
            "Content-Length",
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n",
            "chunked",
        ),
    ] {
        let server = failing_server(head, &[7; 1024], Duration::ZERO);
        let out = cli()
            .args(["--server", &server, "--recordid", "1", "-o"])
            .arg(&output)
            .output()
            .unwrap();
        failed(&out, &["the download from", "stopped"]);
        assert!(files_in(dir.path()).is_empty(), "{what}: a file is left");
    }
}

#[test]
fn an_interrupted_download_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let server = failing_server(
        "HTTP/1.1 200 OK\r\nContent-Type: audio/mpeg\r\nContent-Length: 1000000\r\n\r\n",
        &[7; 100_000],
        Duration::from_secs(30),
    );
    for (signal, status) in [("-INT", 2), ("-TERM", 15)] {
        let child = cli()
            .args(["--server", &server, "--recordid", "1", "-o"])
            .arg(dir.path().join("call.mp3"))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The download has begun: its temporary file holds some of the bytes sent so far.
        common::wait_for(Duration::from_secs(10), || {
            let entry = std::fs::read_dir(dir.path()).unwrap().next()?.unwrap();
            (entry.metadata().unwrap().len() > 0).then_some(())
        });
        let pid = child.id().to_string();
        Command::new("kill").args([signal, &pid]).status().unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(128 + status), "{signal}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("interrupted; nothing was written"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(files_in(dir.path()).is_empty(), "{signal}: a file is left");
    }
}
