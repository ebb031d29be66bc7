//! Encrypted EXPORT, MULTIEXPORT and EMAILEXPORT, end to end: the archives are opened by
//! independent readers (Python's zipfile, and pyzipper for WinZip AES), and messages are
//! sent to a real local SMTP server (aiosmtpd). scripts/setup.sh installs both modules.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{Server, ServerBuilder, code, field, sections, testdata};

fn replay(dir: &Path) -> Server {
    replay_with(dir, "")
}

fn first_record_id(s: &Server) -> String {
    let list = s.api("type=calllist&requestid=2");
    field(&sections(&list, "CALL")[0], "RECORDID")
}

/// Extracts `archive` into `out` with unzip.py; Ok(entry names) or Err(exit code, stderr).
fn unzip(archive: &Path, out: &Path, password: Option<&str>) -> Result<Vec<String>, (i32, String)> {
    let mut cmd = Command::new("python3");
    cmd.arg(testdata("delivery/unzip.py")).arg(archive).arg(out);
    if let Some(p) = password {
        cmd.arg(p);
    }
    let o = cmd.output().expect("python3 runs");
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_string)
            .collect())
    } else {
        Err((
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        ))
    }
}

fn plain_export(s: &Server, record_id: &str, format: &str) -> Vec<u8> {
    let r = s.get(&format!(
        "/webAPI.aspx?type=export&requestid=7&uniquefield=recordid&uniqueid={record_id}&media_format={format}"
    ));
    assert_eq!(r.status, 200);
    assert_ne!(
        r.header("content-type"),
        Some("text/xml; charset=utf-8"),
        "{}",
        r.text()
    );
    r.body
}

#[test]
fn encrypted_export_opens_only_with_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let s = replay(dir.path());
    let id = first_record_id(&s);
    for format in ["wav", "mp3"] {
        let plain = plain_export(&s, &id, format);
        let r = s.get(&format!(
            "/webAPI.aspx?type=export&requestid=8&uniquefield=recordid&uniqueid={id}&media_format={format}&encrypt=Y&password=s%C3%A9cret%20pw"
        ));
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("content-type"),
            Some("application/zip"),
            "{:?}",
            String::from_utf8_lossy(&r.body[..r.body.len().min(300)])
        );
        assert_eq!(
            r.header("content-disposition"),
            Some(format!("attachment; filename=\"{id}.zip\"").as_str())
        );
        let archive = dir.path().join(format!("{id}-{format}.zip"));
        std::fs::write(&archive, &r.body).unwrap();
        let out = dir.path().join(format!("out-{format}"));
        let names = unzip(&archive, &out, Some("sécret pw")).unwrap();
        assert_eq!(names, [format!("{id}.{format}")]);
        let inside = std::fs::read(out.join(format!("{id}.{format}"))).unwrap();
        assert!(
            inside == plain,
            "{format}: the archive holds the plain export"
        );
        let wrong = unzip(&archive, &dir.path().join("wrong"), Some("secret pw"));
        assert_eq!(
            wrong.map_err(|(c, _)| c),
            Err(3),
            "{format}: a wrong password fails"
        );
    }
    // ENCRYPT=Y needs a PASSWORD.
    for extra in [
        "&encrypt=Y",
        "&encrypt=Y&password=",
        "&encrypt=Y&password=%20",
    ] {
        let doc = s.api(&format!(
            "type=export&requestid=9&uniquefield=recordid&uniqueid={id}&media_format=wav{extra}"
        ));
        assert_eq!(code(&doc), 26, "{extra}: {doc}");
    }
}

#[test]
fn multiexport_zips_every_recording_with_a_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let s = replay(dir.path());
    let id = first_record_id(&s);
    // A recording still being made.
    let live = s.api("type=callstart&requestid=3&deviceid=4242");
    let live_id = field(&sections(&live, "CALL")[0], "RECORDID");
    assert!(!live_id.is_empty(), "{live}");
    let plain = plain_export(&s, &id, "mp3");

    let idents = format!("{id}, 999999 ,{live_id},{id}");
    for password in [None, Some("pw 1")] {
        let mut q = format!(
            "/webAPI.aspx?type=multiexport&requestid=4&ident={}&media_format=MP3",
            idents.replace(' ', "%20")
        );
        if let Some(p) = password {
            q.push_str(&format!("&encrypt=Y&password={}", p.replace(' ', "%20")));
        }
        let r = s.get(&q);
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("content-type"),
            Some("application/zip"),
            "{:?}",
            String::from_utf8_lossy(&r.body[..r.body.len().min(300)])
        );
        assert_eq!(
            r.header("content-disposition"),
            Some("attachment; filename=\"recordings.zip\"")
        );
        // Streamed: no length known in advance.
        assert_eq!(r.header("transfer-encoding"), Some("chunked"));
        let tag = if password.is_some() { "enc" } else { "plain" };
        let archive = dir.path().join(format!("multi-{tag}.zip"));
        std::fs::write(&archive, &r.body).unwrap();
        let out = dir.path().join(format!("multi-{tag}"));
        let names = unzip(&archive, &out, password).unwrap();
        assert_eq!(names, [format!("{id}.mp3"), "manifest.csv".to_string()]);
        assert!(std::fs::read(out.join(format!("{id}.mp3"))).unwrap() == plain);
        let manifest = std::fs::read_to_string(out.join("manifest.csv")).unwrap();
        assert_eq!(
            manifest,
            format!(
                "IDENT,FILE,OUTCOME,DETAIL\r\n{id},{id}.mp3,exported,\r\n999999,,not found,\r\n{live_id},,still recording,\r\n"
            )
        );
        if let Some(p) = password {
            assert!(unzip(&archive, &dir.path().join("wrong"), Some(&format!("{p}x"))).is_err());
            assert!(unzip(&archive, &dir.path().join("none"), None).is_err());
        }
    }

    // Errors come before anything is sent, as a RESULT.
    for (ident, want) in [
        (format!("{id},abc"), 17),
        ("1.5".to_string(), 17),
        ("%20,%20,".to_string(), 26),
        (String::new(), 26),
    ] {
        let doc = s.api(&format!(
            "type=multiexport&requestid=5&ident={ident}&media_format=wav"
        ));
        assert_eq!(code(&doc), want, "{ident:?}: {doc}");
    }
    let doc = s.api(&format!(
        "type=multiexport&requestid=5&ident={id}&media_format=ogg"
    ));
    assert_eq!(code(&doc), 34, "{doc}");
    let doc = s.api(&format!(
        "type=multiexport&requestid=5&ident={id}&media_format=wav&encrypt=Y"
    ));
    assert_eq!(code(&doc), 26, "{doc}");
}

/// Each entry of the ZIP at `archive` with its time (`YYYY-MM-DDTHH:MM:SS`), read by Python's
/// zipfile.
fn zip_times(archive: &Path) -> Vec<(String, String)> {
    let o = Command::new("python3")
        .arg(testdata("delivery/zip_times.py"))
        .arg(archive)
        .output()
        .expect("python3 runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let (name, time) = l.rsplit_once(' ').unwrap();
            (name.to_string(), time.to_string())
        })
        .collect()
}

/// ZIP entries are dated: a recording when it started, the manifest when the archive was
/// made, both in the configured time zone (ZIP times have none, and count in 2 s steps).
#[test]
fn zip_entries_carry_the_recordings_time_and_the_archives() {
    let dir = tempfile::tempdir().unwrap();
    let s = replay_with(dir.path(), "[api]\ntimezone = \"America/New_York\"\n");
    let list = s.api("type=calllist&requestid=2");
    let call = &sections(&list, "CALL")[0];
    let id = field(call, "RECORDID");
    // `2026-12-04T12:00:01-05:00`: the local time, to the even second below.
    let recorded = field(call, "RECORDINGTIME");
    let second: u32 = recorded[17..19].parse().unwrap();
    let recorded = format!("{}{:02}", &recorded[..17], second - second % 2);
    let now = || {
        let epoch = std::time::UNIX_EPOCH.elapsed().unwrap().as_secs();
        chrono::DateTime::from_timestamp(epoch as i64, 0)
            .unwrap()
            .with_timezone(&chrono_tz::America::New_York)
            .format("%Y-%m-%dT%H:%M:%S")
            .to_string()
    };

    let r = s.get(&format!(
        "/webAPI.aspx?type=export&requestid=3&uniquefield=recordid&uniqueid={id}&media_format=wav&encrypt=Y&password=pw"
    ));
    assert_eq!(r.header("content-type"), Some("application/zip"));
    let single = dir.path().join("single.zip");
    std::fs::write(&single, &r.body).unwrap();
    assert_eq!(
        zip_times(&single),
        [(format!("{id}.wav"), recorded.clone())]
    );

    for encrypt in ["", "&encrypt=Y&password=pw"] {
        let before = now();
        let r = s.get(&format!(
            "/webAPI.aspx?type=multiexport&requestid=4&ident={id}&media_format=mp3{encrypt}"
        ));
        let after = now();
        assert_eq!(r.header("content-type"), Some("application/zip"));
        let multi = dir.path().join("multi.zip");
        std::fs::write(&multi, &r.body).unwrap();
        let times = zip_times(&multi);
        assert_eq!(
            times[0],
            (format!("{id}.mp3"), recorded.clone()),
            "{encrypt}"
        );
        let (name, made) = &times[1];
        assert_eq!(name, "manifest.csv");
        // `before` less up to one second (the even second below), to `after`.
        let floor = |t: &str| {
            let s: u32 = t[17..19].parse().unwrap();
            format!("{}{:02}", &t[..17], s - s % 2)
        };
        assert!(
            floor(&before) <= *made && *made <= after,
            "{encrypt}: {before} <= {made} <= {after}"
        );
    }
}

#[test]
fn multiexport_list_is_capped_and_refused_on_the_socket_api() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data"))
        .config("[export]\nmultiexport_max = 2\n")
        .start();
    let doc = s.api("type=multiexport&requestid=1&ident=1,2,3&media_format=wav");
    assert_eq!(code(&doc), 26, "{doc}");
    // Two unknown recordings: an archive with only the manifest.
    let r = s.get("/webAPI.aspx?type=multiexport&requestid=2&ident=1,2,2&media_format=wav");
    assert_eq!(r.header("content-type"), Some("application/zip"));
    let mut c = s.connect_socket();
    c.write_all(b"<REQUEST><TYPE>MULTIEXPORT</TYPE><REQUESTID>3</REQUESTID><IDENT>1</IDENT><MEDIA_FORMAT>WAV</MEDIA_FORMAT></REQUEST>\r\n").unwrap();
    let doc = common::read_result(&mut c);
    assert_eq!(code(&doc), 15, "{doc}");
}

#[test]
fn the_server_answers_while_a_multiexport_is_being_sent() {
    let dir = tempfile::tempdir().unwrap();
    let s = replay(dir.path());
    let id = first_record_id(&s);
    // A client that reads the start of a WAV archive and then stops reading: the archive
    // (well over the stream's buffers) waits for it, and nothing else does.
    let mut slow = TcpStream::connect(s.http).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        slow,
        "GET /webAPI.aspx?type=multiexport&requestid=1&ident={id}&media_format=wav HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut start = [0u8; 4096];
    let n = slow.read(&mut start).unwrap();
    assert!(String::from_utf8_lossy(&start[..n]).starts_with("HTTP/1.1 200"));
    for i in 0..5 {
        let doc = s.api(&format!("type=test&requestid=1{i}"));
        assert_eq!(code(&doc), 20, "{doc}");
        let r = s.get(&format!(
            "/webAPI.aspx?type=export&requestid=2{i}&uniquefield=recordid&uniqueid={id}&media_format=wav"
        ));
        assert_eq!(r.header("content-type"), Some("audio/wav"));
    }
    // The slow client still gets the whole archive.
    let mut rest = start[..n].to_vec();
    slow.read_to_end(&mut rest).unwrap();
    let r = common::parse_http(&rest);
    let archive = dir.path().join("slow.zip");
    std::fs::write(&archive, &r.body).unwrap();
    let names = unzip(&archive, &dir.path().join("slow"), None).unwrap();
    assert_eq!(names, [format!("{id}.wav"), "manifest.csv".to_string()]);
}

/// A local SMTP server (aiosmtpd with testdata/delivery/smtp_sink.py) on a free port,
/// writing what it accepts to `out`; stopped when dropped.
struct SmtpSink {
    child: std::process::Child,
    port: u16,
}

impl SmtpSink {
    fn start(out: &Path) -> SmtpSink {
        std::fs::create_dir_all(out).unwrap();
        let port = free_port();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "smtp_sink.Sink"])
            .arg(out)
            .env("PYTHONPATH", testdata("delivery"))
            .spawn()
            .expect("python3 -m aiosmtpd runs (scripts/setup.sh installs it)");
        common::wait_for(Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ())
        });
        SmtpSink { child, port }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn smtp_config(port: u16) -> String {
    format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"Recordings <recordings@callvault.test>\"\n"
    )
}

fn replay_with(dir: &Path, config: &str) -> Server {
    ServerBuilder::new(&dir.join("data"))
        .config(config)
        .replay("sip-call-rtp-g711.pcap")
}

#[test]
fn emailexport_sends_the_export_through_smtp() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    let smtp = SmtpSink::start(&inbox);
    let s = replay_with(dir.path(), &smtp_config(smtp.port));
    let id = first_record_id(&s);
    let plain = plain_export(&s, &id, "mp3");

    let doc = s.api(&format!(
        "type=emailexport&requestid=3&uniquefield=recordid&uniqueid={id}&media_format=MP3&email=supervisor@example.test"
    ));
    assert_eq!(code(&doc), 20, "{doc}");
    // Accepted means delivered to the server already: the message is there.
    let eml = inbox.join("1.eml");
    assert!(
        eml.exists(),
        "the SMTP server has the message when 20 is answered"
    );
    assert_eq!(
        std::fs::read_to_string(inbox.join("1.rcpt")).unwrap(),
        "supervisor@example.test"
    );
    let out = dir.path().join("attached.mp3");
    let o = Command::new("python3")
        .arg(testdata("delivery/attachment.py"))
        .arg(&eml)
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let printed = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(printed.lines().next(), Some(format!("{id}.mp3").as_str()));
    assert_eq!(printed.lines().nth(1), Some("supervisor@example.test"));
    assert!(
        std::fs::read(&out).unwrap() == plain,
        "the attachment is the plain export"
    );

    // The SMTP server refuses the recipient: 38 with its answer.
    let doc = s.api(&format!(
        "type=emailexport&requestid=4&uniquefield=recordid&uniqueid={id}&media_format=wav&email=refused@example.test"
    ));
    assert_eq!(code(&doc), 38, "{doc}");
    assert!(doc.contains("mailbox unavailable"), "{doc}");

    // Parameters: all required (26); a bad address 17; an unknown recording 31.
    for (query, want) in [
        (
            format!("uniquefield=recordid&uniqueid={id}&media_format=wav"),
            26,
        ),
        (
            format!("uniquefield=recordid&uniqueid={id}&email=a@b.test"),
            26,
        ),
        (
            format!("uniquefield=recordid&uniqueid={id}&media_format=wav&email=not-an-address"),
            17,
        ),
        (
            "uniquefield=recordid&uniqueid=999999&media_format=wav&email=a@b.test".to_string(),
            31,
        ),
        (
            format!("uniquefield=recordid&uniqueid={id}&media_format=ogg&email=a@b.test"),
            34,
        ),
    ] {
        let doc = s.api(&format!("type=emailexport&requestid=5&{query}"));
        assert_eq!(code(&doc), want, "{query}: {doc}");
    }
    // A bad address says which, and nothing else.
    let doc = s.api(&format!(
        "type=emailexport&requestid=6&uniquefield=recordid&uniqueid={id}&media_format=wav&email=notanaddress"
    ));
    assert_eq!(code(&doc), 17, "{doc}");
    assert_eq!(
        field(&doc, "RESULTMSG"),
        "API_INVALID_MESSAGE_FORMAT: EMAIL \"notanaddress\" is not an e-mail address",
        "{doc}"
    );
    assert!(!inbox.join("2.eml").exists());
}

#[test]
fn emailexport_without_a_reachable_smtp_server_is_38() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on this port.
    let s = replay_with(dir.path(), &smtp_config(free_port()));
    let id = first_record_id(&s);
    let doc = s.api(&format!(
        "type=emailexport&requestid=3&uniquefield=recordid&uniqueid={id}&media_format=wav&email=a@b.test"
    ));
    assert_eq!(code(&doc), 38, "{doc}");
    drop(s);
    // No SMTP server configured at all.
    let dir = tempfile::tempdir().unwrap();
    let s = replay_with(dir.path(), "");
    let id = first_record_id(&s);
    let doc = s.api(&format!(
        "type=emailexport&requestid=3&uniquefield=recordid&uniqueid={id}&media_format=wav&email=a@b.test"
    ));
    assert_eq!(code(&doc), 38, "{doc}");
    assert!(doc.contains("no SMTP server"), "{doc}");
}

#[test]
fn multiexport_takes_a_list_of_five_thousand_recordids() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data")).start();
    // 5,000 ids: far longer than any other parameter may be, well inside the request limit.
    let ids: Vec<String> = (100_000..105_000).map(|i| i.to_string()).collect();
    let body = format!(
        "type=multiexport&requestid=1&media_format=wav&ident={}",
        ids.join(",")
    );
    let r = s.post(
        "/webAPI.aspx",
        "application/x-www-form-urlencoded",
        body.as_bytes(),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/zip"),
        "{:?}",
        String::from_utf8_lossy(&r.body[..r.body.len().min(300)])
    );
    let archive = dir.path().join("many.zip");
    std::fs::write(&archive, &r.body).unwrap();
    let out = dir.path().join("many");
    assert_eq!(unzip(&archive, &out, None).unwrap(), ["manifest.csv"]);
    let manifest = std::fs::read_to_string(out.join("manifest.csv")).unwrap();
    let rows: Vec<&str> = manifest.lines().skip(1).collect();
    assert_eq!(rows.len(), 5_000);
    assert_eq!(rows[0], "100000,,not found,");
    assert_eq!(rows[4_999], "104999,,not found,");
}
