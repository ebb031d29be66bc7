//! The supervisor page's JSON API on the admin listener, through the real binary: each
//! endpoint answers what its protocol command answers over the WebAPI (same rows, same
//! codes and messages), the media endpoint sends EXPORT's file, and `/api/live` pushes a
//! device's new row as calls start and stop.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Server, ServerBuilder, code, field, ok, query, sections};
use serde_json::Value;

fn json(s: &Server, path: &str, want_status: u16) -> Value {
    let r = s.admin_get(path);
    assert_eq!(r.status, want_status, "{path}: {}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"), "{path}");
    serde_json::from_slice(&r.body).unwrap()
}

/// Every field of an XML section, in order, as (name, value); nested sections left out.
fn xml_fields(section: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in section.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix('<') else {
            continue;
        };
        let Some((name, rest)) = rest.split_once('>') else {
            continue;
        };
        if let Some(value) = rest.strip_suffix(&format!("</{name}>")) {
            let value = value
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&");
            out.push((name.to_string(), value));
        }
    }
    out
}

/// Checks that the JSON object carries every field of the XML section with the same value.
fn same_fields(json: &Value, xml_section: &str) {
    let fields = xml_fields(xml_section);
    assert!(!fields.is_empty(), "{xml_section}");
    for (name, value) in fields {
        assert_eq!(json[&name], Value::String(value), "{name} in {json}");
    }
}

fn add_agent(s: &Server, first: &str, last: &str) -> String {
    let doc = ok(
        s,
        &[
            ("type", "importuser"),
            ("requestid", "1"),
            ("action", "add"),
            ("username", "ghopper"),
            ("password", "secret-1"),
            ("firstname", first),
            ("lastname", last),
        ],
        20,
    );
    field(&doc, "USER_ID")
}

#[test]
fn devices_snapshot_is_devicelist_with_the_call_clock() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data")).start();
    let empty = json(&s, "/api/devices", 200);
    assert_eq!(empty, serde_json::json!({"COUNT": "0", "DEVICE": []}));

    let agent = add_agent(&s, "Grace", "Hopper <&>");
    let q = query(&[
        ("type", "callstart"),
        ("requestid", "2"),
        ("deviceid", "desk-7"),
        ("agentid", &agent),
        ("ani", "5550100"),
        ("dnis", "8000"),
    ]);
    assert_eq!(common::code(&s.api(&q)), 20);
    ok(
        &s,
        &[
            ("type", "callstart"),
            ("requestid", "3"),
            ("deviceid", "a-1"),
        ],
        20,
    );
    ok(
        &s,
        &[
            ("type", "callstop"),
            ("requestid", "4"),
            ("deviceid", "a-1"),
        ],
        20,
    );

    let board = json(&s, "/api/devices", 200);
    let list = s.api("type=devicelist&requestid=5");
    assert_eq!(board["COUNT"], Value::String(field(&list, "COUNT")));
    let rows = board["DEVICE"].as_array().unwrap();
    let xml = sections(&list, "DEVICE");
    assert_eq!(rows.len(), 2);
    for (row, section) in rows.iter().zip(&xml) {
        same_fields(row, section);
    }
    let desk = &rows[1];
    assert_eq!(desk["DEVICEID"], "desk-7");
    assert_eq!(desk["AGENTNAME"], "Grace Hopper <&>");
    assert_eq!(desk["ANI"], "5550100");
    assert_eq!(desk["DNIS"], "8000");
    assert_eq!(desk["STATE"], "2");
    assert_eq!(desk["RECORDING"], "Y");
    assert_eq!(desk["BLACKOUT"], "N");
    assert_eq!(desk["CALLLIVE"], "Y");
    let seconds: i64 = desk["CALLSECONDS"].as_str().unwrap().parse().unwrap();
    assert!((0..5).contains(&seconds), "{desk}");
    // The stopped call keeps its length and stops ticking.
    assert_eq!(rows[0]["DEVICEID"], "a-1");
    assert_eq!(rows[0]["STATE"], "0");
    assert_eq!(rows[0]["CALLLIVE"], "N");
    assert_eq!(rows[0]["CALLSECONDS"], "0");
}

/// Server-sent events read over a plain socket (HTTP/1.0, so the body is not chunked).
struct Live {
    stream: TcpStream,
    buf: String,
}

impl Live {
    fn open(s: &Server) -> Live {
        let mut stream = TcpStream::connect(s.admin).unwrap();
        stream
            .write_all(b"GET /api/live HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let mut live = Live {
            stream,
            buf: String::new(),
        };
        let head = live.until("\r\n\r\n", Duration::from_secs(10));
        assert!(head.starts_with("HTTP/1.0 200"), "{head}");
        assert!(head.contains("content-type: text/event-stream"), "{head}");
        live
    }

    /// Reads up to and including `end`; panics after `timeout`.
    fn until(&mut self, end: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.buf.find(end) {
                let out = self.buf[..i + end.len()].to_string();
                self.buf.drain(..i + end.len());
                return out;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "nothing ending {end:?} within {timeout:?}: {:?}",
                self.buf
            );
            self.stream.set_read_timeout(Some(left)).unwrap();
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!("stream closed: {:?}", self.buf),
                Ok(n) => self.buf.push_str(std::str::from_utf8(&chunk[..n]).unwrap()),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// Reads until the server closes the stream; panics after `timeout`.
    fn until_closed(&mut self, timeout: Duration) {
        self.stream.set_read_timeout(Some(timeout)).unwrap();
        let mut rest = Vec::new();
        self.stream
            .read_to_end(&mut rest)
            .expect("the stream is closed");
    }

    /// The next event's name and data, within `timeout`.
    fn next(&mut self, timeout: Duration) -> (String, Value) {
        let block = self.until("\n\n", timeout);
        let mut name = String::new();
        let mut data = String::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event: ") {
                name = v.to_string();
            } else if let Some(v) = line.strip_prefix("data: ") {
                data.push_str(v);
            }
        }
        if name.is_empty() {
            // A keep-alive comment.
            return self.next(timeout);
        }
        (name, serde_json::from_str(&data).unwrap())
    }
}

#[test]
fn live_stream_sends_the_board_then_each_changed_row() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data")).start();
    ok(
        &s,
        &[
            ("type", "callstart"),
            ("requestid", "1"),
            ("deviceid", "100"),
        ],
        20,
    );
    let mut live = Live::open(&s);
    let (name, board) = live.next(Duration::from_secs(5));
    assert_eq!(name, "snapshot");
    assert_eq!(board["COUNT"], "1");
    assert_eq!(board["DEVICE"][0]["DEVICEID"], "100");

    let started = Instant::now();
    ok(
        &s,
        &[
            ("type", "callstart"),
            ("requestid", "2"),
            ("deviceid", "200"),
            ("ani", "5550123"),
        ],
        20,
    );
    // CALLSTART, RECORDINGSTARTED and DEVICESTATE each bring device 200's row.
    let (name, row) = live.next(Duration::from_secs(1));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(name, "device");
    assert_eq!(row["DEVICEID"], "200");
    assert_eq!(row["ANI"], "5550123");
    assert_eq!(row["CALLLIVE"], "Y");

    ok(
        &s,
        &[
            ("type", "callstop"),
            ("requestid", "3"),
            ("deviceid", "200"),
        ],
        20,
    );
    let stopped = loop {
        let (name, row) = live.next(Duration::from_secs(1));
        assert_eq!(name, "device");
        assert_eq!(row["DEVICEID"], "200");
        if row["CALLLIVE"] == "N" {
            break row;
        }
    };
    assert_eq!(stopped["STATE"], "0");
    assert_eq!(stopped["RECORDING"], "N");
    assert_eq!(stopped["ANI"], "5550123");
}

#[test]
fn a_stop_ends_the_live_stream() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = ServerBuilder::new(&dir.path().join("data")).start();
    let mut live = Live::open(&s);
    assert_eq!(live.next(Duration::from_secs(5)).0, "snapshot");
    // On a stop the server gives open connections 3 s before it cuts them: a live stream
    // that did not end by itself would hold the stop up that long.
    let asked = Instant::now();
    assert!(s.terminate().success());
    let took = asked.elapsed();
    assert!(took < Duration::from_millis(2500), "the stop took {took:?}");
    live.until_closed(Duration::from_secs(1));
}

#[test]
fn a_browser_that_stops_reading_gets_a_fresh_board() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data"))
        .config("[events]\nqueue = 64\n")
        .start();
    let mut live = Live::open(&s);
    assert_eq!(live.next(Duration::from_secs(5)).0, "snapshot");

    // Rows of about 5 KiB, thousands of them, while this browser reads nothing.
    let long = "9".repeat(1000);
    let extra: String = ["ANI", "DNIS", "CALLID", "STATIONNAME", "AGENTID"]
        .iter()
        .map(|name| format!("<{name}>{long}</{name}>"))
        .collect();
    common::call_pairs(&s, 4, 100, &extra);
    common::end_call(&s);

    // It reads again: some rows, then a snapshot instead of what it missed, then rows again,
    // until the last call's.
    let mut board: std::collections::BTreeMap<String, Value> = Default::default();
    let mut snapshots = 0;
    while !board.contains_key("end") {
        match live.next(Duration::from_secs(10)) {
            (name, row) if name == "device" => {
                board.insert(row["DEVICEID"].as_str().unwrap().to_string(), row);
            }
            (name, all) if name == "snapshot" => {
                snapshots += 1;
                board = all["DEVICE"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|row| (row["DEVICEID"].as_str().unwrap().to_string(), row.clone()))
                    .collect();
            }
            (name, _) => panic!("unexpected event {name}"),
        }
    }
    assert!(snapshots >= 1, "the stream never fell behind");
    // What the browser shows in the end is the board as it is.
    let now = json(&s, "/api/devices", 200);
    let rows: Vec<&Value> = board.values().collect();
    assert_eq!(rows.len(), 5);
    for (shown, actual) in rows.iter().zip(now["DEVICE"].as_array().unwrap()) {
        for field in ["DEVICEID", "STATE", "ANI", "RECORDING", "CALLLIVE"] {
            assert_eq!(shown[field], actual[field], "{field}");
        }
    }
    assert_eq!(board["h0"]["STATE"], "0");
    assert_eq!(board["h0"]["ANI"], long.as_str());
}

#[test]
fn recordings_search_media_and_status_answer_as_the_protocol_does() {
    let (_dir, s) = common::replay("sip-over-tcp.pcap");

    // The search: CALLLIST's rows, field for field.
    let found = json(&s, "/api/recordings?DEVICEID=201&RECORDINGTYPE=full", 200);
    let list = s.api("type=calllist&requestid=1&deviceid=201&recordingtype=full");
    assert_eq!(found["COUNT"], "1");
    let calls = found["CALL"].as_array().unwrap();
    same_fields(&calls[0], &sections(&list, "CALL")[0]);
    assert_eq!(calls[0]["ANI"], "101");
    assert_eq!(calls[0]["AUDIO"], "Y");
    let record_id = calls[0]["RECORDID"].as_str().unwrap().to_string();
    let none = json(&s, "/api/recordings?DEVICEID=20%25&MINDURATION=3600", 200);
    assert_eq!(none, serde_json::json!({"COUNT": "0"}));
    let prefix = json(&s, "/api/recordings?ani=10%25", 200);
    assert_eq!(prefix["CALL"][0]["RECORDID"], record_id.as_str());

    // A bad filter: 400 with CALLLIST's code and message.
    for (path, webapi) in [
        ("CALLDATESTART=yesterday", "calldatestart=yesterday"),
        ("MINDURATION=-1", "minduration=-1"),
        ("CALLDIRECTION=sideways", "calldirection=sideways"),
        ("GROUPID=99", "groupid=99"),
    ] {
        let refused = json(&s, &format!("/api/recordings?{path}"), 400);
        let doc = s.api(&format!("type=calllist&requestid=1&{webapi}"));
        assert_ne!(common::code(&doc), 20, "{doc}");
        assert_eq!(
            refused,
            serde_json::json!({"RESULTCODE": common::code(&doc), "RESULTMSG": field(&doc, "RESULTMSG")}),
            "{path}"
        );
    }

    // The media: EXPORT's file, headers and bytes.
    for (format, content_type, ext) in [("wav", "audio/wav", "wav"), ("MP3", "audio/mpeg", "mp3")] {
        let r = s.admin_get(&format!(
            "/api/recordings/{record_id}/media?format={format}"
        ));
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.header("content-type"), Some(content_type));
        assert_eq!(
            r.header("content-disposition"),
            Some(format!("attachment; filename=\"{record_id}.{ext}\"").as_str())
        );
        assert_eq!(
            r.header("content-length"),
            Some(r.body.len().to_string().as_str())
        );
        let exported = s.get(&format!(
            "/webAPI.aspx?type=export&requestid=1&uniquefield=recordid&uniqueid={record_id}&media_format={format}"
        ));
        assert!(r.body.len() > 1000);
        assert!(r.body == exported.body, "{format} differs from EXPORT's");
    }
    let refused = json(
        &s,
        &format!("/api/recordings/{record_id}/media?format=ogg"),
        400,
    );
    assert_eq!(refused["RESULTCODE"], 34);
    let refused = json(&s, &format!("/api/recordings/{record_id}/media"), 400);
    assert_eq!(refused["RESULTCODE"], 26);
    assert!(
        refused["RESULTMSG"]
            .as_str()
            .unwrap()
            .contains("MEDIA_FORMAT"),
        "{refused}"
    );
    let missing = json(&s, "/api/recordings/999/media?format=mp3", 404);
    assert_eq!(
        missing,
        serde_json::json!({"RESULTCODE": 31, "RESULTMSG": "API_RECORDING_NOT_FOUND: no recording has RECORDID \"999\""})
    );
    let refused = json(&s, "/api/recordings/abc/media?format=mp3", 400);
    assert_eq!(refused["RESULTCODE"], 17);

    // The status: SYSTEMSTATUS, with the capture source.
    let status = json(&s, "/api/status", 200);
    let system = &status["SYSTEM"][0];
    let doc = s.api("type=systemstatus&requestid=1");
    let source = &system["CAPTURE"][0]["SOURCE"][0];
    same_fields(source, &sections(&doc, "SOURCE")[0]);
    assert_eq!(source["STATE"], "FINISHED");
    assert!(
        source["NAME"]
            .as_str()
            .unwrap()
            .ends_with("sip-over-tcp.pcap")
    );
    assert!(
        system["DISKTOTAL"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    assert_eq!(system["DATABASE"], "OK");
    assert_eq!(system["CHANNELSINUSE"], "0");

    // The page's requests are counted under their own transport.
    let metrics = s.admin_get("/metrics").text();
    assert!(
        metrics.contains(
            "callvault_requests_total{type=\"CALLLIST\",code=\"20\",transport=\"admin\"} 3"
        ),
        "{metrics}"
    );

    // A recording whose file cannot be read: EXPORT's code 31 and message, label and all.
    std::fs::remove_file(
        s.data_dir
            .join("recordings")
            .join(format!("{record_id}.wav")),
    )
    .unwrap();
    let unreadable = json(
        &s,
        &format!("/api/recordings/{record_id}/media?format=mp3"),
        404,
    );
    let doc = s.api(&format!(
        "type=export&requestid=1&uniquefield=recordid&uniqueid={record_id}&media_format=mp3"
    ));
    assert_eq!(common::code(&doc), 31, "{doc}");
    assert_eq!(
        unreadable,
        serde_json::json!({"RESULTCODE": 31, "RESULTMSG": field(&doc, "RESULTMSG")})
    );
}

#[test]
fn a_garbled_query_is_refused_as_the_webapi_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data")).start();
    let long = "a".repeat(2000);
    for (search, webapi) in [
        ("AGENTNAME=a&agentname=b", "agentname=a&agentname=b"),
        ("AGENTNAME=%FF%FE", "agentname=%FF%FE"),
        ("%FF=1", "%FF=1"),
        ("1a=1", "1a=1"),
        (&format!("AGENTNAME={long}"), &format!("agentname={long}")),
        ("USER1=%01", "user1=%01"),
    ] {
        let refused = json(&s, &format!("/api/recordings?{search}"), 400);
        let doc = s.api(&format!("type=calllist&requestid=1&{webapi}"));
        assert_ne!(common::code(&doc), 20, "{doc}");
        assert_eq!(
            refused,
            serde_json::json!({"RESULTCODE": common::code(&doc), "RESULTMSG": field(&doc, "RESULTMSG")}),
            "{search}"
        );
    }
    let refused = json(&s, "/api/recordings?type=export&uniqueid=1", 400);
    assert_eq!(
        refused["RESULTMSG"],
        "API_INVALID_MESSAGE_FORMAT: TYPE is not taken here: the address says what the request is"
    );

    // The media endpoint reads its query, and its RECORDID, the same way.
    let refused = json(&s, "/api/recordings/1/media?format=wav&FORMAT=mp3", 400);
    assert_eq!(
        refused,
        serde_json::json!({"RESULTCODE": 17, "RESULTMSG": "API_INVALID_MESSAGE_FORMAT: FORMAT is given twice"})
    );
    let refused = json(&s, "/api/recordings/1/media?format=%C0", 400);
    assert_eq!(refused["RESULTCODE"], 16, "{refused}");
    let refused = json(&s, "/api/recordings/%FF/media?format=wav", 400);
    assert_eq!(
        refused,
        serde_json::json!({"RESULTCODE": 16, "RESULTMSG": "API_INVALID_MESSAGE_FORMAT: the RECORDID in the address is not valid UTF-8"})
    );
    let refused = json(
        &s,
        "/api/recordings/..%2F..%2Fetc%2Fpasswd/media?format=wav",
        400,
    );
    assert_eq!(refused["RESULTCODE"], 17, "{refused}");
}

#[test]
fn another_path_or_method_is_answered_with_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data")).start();
    for path in [
        "/api/nothing",
        "/api/recordings/1",
        "/index.html",
        "/assets/../etc/passwd",
    ] {
        let r = s.admin_get(path);
        assert_eq!(r.status, 404, "{path}");
        assert!(
            r.text()
                .starts_with("not found: the admin listener serves /, /api/devices"),
            "{path}: {}",
            r.text()
        );
    }
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        for path in [
            "/api/recordings?RECORDID=1",
            "/api/devices",
            "/metrics",
            "/",
        ] {
            let r = s.admin_raw(
                format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
                    .as_bytes(),
            );
            assert_eq!(r.status, 405, "{method} {path}");
            assert_eq!(r.header("allow"), Some("GET,HEAD"), "{method} {path}");
            assert_eq!(
                r.text(),
                "the admin listener takes only GET (and HEAD) requests\n"
            );
        }
    }
    // Nothing was run: no request reached the dispatcher.
    assert!(
        !s.admin_get("/metrics")
            .text()
            .contains("transport=\"admin\"")
    );
}

/// Reads until the server closes the connection; how long that took, or None if it was
/// still open after `limit`.
fn closed_within(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 256];
    while started.elapsed() < limit {
        match s.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return Some(started.elapsed()),
        }
        // A slowloris client: one more header line now and then, never the blank line.
        let _ = s.write_all(b"X-Slow: 1\r\n");
    }
    None
}

#[test]
fn a_client_that_trickles_its_headers_or_sits_idle_is_disconnected() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data"))
        .config("[api]\nhttp_request_timeout_ms = 500\n")
        .start();
    for addr in [s.admin, s.http] {
        let mut slow = TcpStream::connect(addr).unwrap();
        slow.write_all(b"GET /api/status HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        let mut idle = TcpStream::connect(addr).unwrap();
        for c in [&mut slow, &mut idle] {
            let took = closed_within(c, Duration::from_secs(20));
            assert!(took.is_some(), "{addr}: still open after 20 s");
        }
    }
    // A live stream, once its request is in, stays open beyond the timeout.
    let mut live = TcpStream::connect(s.admin).unwrap();
    live.write_all(b"GET /api/live HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 4096];
    live.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert!(live.read(&mut buf).unwrap() > 0);
    std::thread::sleep(Duration::from_millis(1500));
    live.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    match live.read(&mut buf) {
        Ok(0) => panic!("the live stream was closed"),
        Ok(_) => {}
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "{e}"
        ),
    }
    // Others are served as before.
    assert_eq!(s.admin_get("/healthz").status, 200);
    assert_eq!(code(&s.api("type=systemstatus&requestid=1")), 20);
}

/// Connections to the admin listener still open on the server's side (from
/// /proc/net/tcp: local port the admin port, any state but LISTEN and TIME_WAIT).
fn admin_connections(s: &Server) -> usize {
    let port = format!(":{:04X}", s.admin.port());
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap()
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields[1].ends_with(&port) && fields[3] != "0A" && fields[3] != "06"
        })
        .count()
}

fn live_clients(s: &Server) -> f64 {
    common::sample(&s.admin_get("/metrics").text(), "callvault_live_clients")
        .expect("callvault_live_clients is exported")
}

#[test]
fn hundreds_of_live_streams_that_vanish_release_everything() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data")).start();
    assert_eq!(live_clients(&s), 0.0);
    for round in 0..2 {
        let mut streams: Vec<Live> = (0..200).map(|_| Live::open(&s)).collect();
        for live in &mut streams {
            assert_eq!(live.next(Duration::from_secs(10)).0, "snapshot");
        }
        assert_eq!(live_clients(&s), 200.0, "round {round}");
        assert!(admin_connections(&s) >= 200);
        // Events flow while the browsers go away: some say goodbye, some just vanish.
        for (i, live) in streams.into_iter().enumerate() {
            if i % 10 == 0 {
                let device = format!("{}", 300 + round * 100 + i / 10);
                ok(
                    &s,
                    &[
                        ("type", "callstart"),
                        ("requestid", "1"),
                        ("deviceid", &device),
                    ],
                    20,
                );
            }
            if i % 2 == 0 {
                live.stream.shutdown(std::net::Shutdown::Both).unwrap();
            }
            drop(live);
        }
        common::wait_for(Duration::from_secs(20), || {
            (live_clients(&s) == 0.0).then_some(())
        });
    }
    common::wait_for(Duration::from_secs(10), || {
        (admin_connections(&s) == 0).then_some(())
    });
    // The engine was never held up: the board still answers, with every call.
    let board = json(&s, "/api/devices", 200);
    assert_eq!(board["COUNT"], "40");
}

#[test]
fn page_and_assets_come_from_callvault_alone() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data")).start();
    let page = s.admin_get("/");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        page.header("content-security-policy")
            .is_some_and(|p| p.starts_with("default-src 'self'")),
        "{:?}",
        page.headers
    );
    let html = page.text();
    for (asset, content_type) in [
        ("/assets/supervisor.css", "text/css; charset=utf-8"),
        ("/assets/supervisor.js", "text/javascript; charset=utf-8"),
    ] {
        assert!(html.contains(&format!("\"{asset}\"")), "{asset}");
        let r = s.admin_get(asset);
        assert_eq!(r.status, 200, "{asset}");
        assert_eq!(r.header("content-type"), Some(content_type), "{asset}");
        assert!(!r.text().contains("://"), "{asset} names another origin");
    }
    assert!(!html.contains("://"), "the page names another origin");
    // The search form offers every CALLLIST filter (USER1–USER15 through one field chooser,
    // filled in by the script).
    for filter in [
        "CALLDATESTART",
        "CALLDATEEND",
        "CALLCOUNT",
        "RECORDID",
        "DEVICEID",
        "AGENTID",
        "STATIONNAME",
        "ANI",
        "DNIS",
        "CALLID",
        "CALLDIRECTION",
        "GATE",
        "SGROUP",
        "GROUPID",
        "RECORDINGTYPE",
        "MINDURATION",
        "MAXDURATION",
    ] {
        assert!(
            html.contains(&format!("name=\"{filter}\"")),
            "the search form has no {filter} field"
        );
    }
    let icon = s.admin_get("/assets/favicon.svg");
    assert_eq!(icon.header("content-type"), Some("image/svg+xml"));
    assert!(html.contains("\"/assets/favicon.svg\""));
    assert_eq!(s.admin_get("/assets/other.js").status, 404);
}
