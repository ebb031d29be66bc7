//! The events port end to end: several clients, CTI traffic on both transports and a
//! capture replay at once; order, numbering, completeness, EVENTFILTER, and a client that
//! stops reading.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Server, ServerBuilder, code, field, ok, read_result, sample};

/// One events connection, read a document at a time.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    /// Connects and waits until the server has subscribed the connection: the answer to its
    /// first request comes after that.
    fn connect(s: &Server) -> Client {
        let stream = TcpStream::connect(s.events).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut c = Client {
            writer: stream.try_clone().unwrap(),
            reader: BufReader::new(stream),
        };
        assert_eq!(code(&c.filter("<MODE>ALL</MODE>")), 20);
        c
    }

    /// The next `<EVENT>` or `<RESULT>` document, without its CR LF.
    fn next_doc(&mut self) -> String {
        let mut doc = String::new();
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).expect("read event");
            assert!(n > 0, "events connection closed after {doc:?}");
            doc.push_str(&line);
            if doc.ends_with("</EVENT>\r\n") || doc.ends_with("</RESULT>\r\n") {
                doc.truncate(doc.len() - 2);
                return doc;
            }
        }
    }

    /// Sends an EVENTFILTER and returns its result (sent before any traffic, so no event
    /// comes in between).
    fn filter(&mut self, params: &str) -> String {
        write!(
            self.writer,
            "<REQUEST><TYPE>EVENTFILTER</TYPE><REQUESTID>7</REQUESTID>{params}</REQUEST>\r\n"
        )
        .unwrap();
        let doc = self.next_doc();
        assert!(doc.starts_with("<RESULT>"), "{doc}");
        doc
    }

    /// Events up to and including the CALLSTART of `sentinel`.
    fn until_sentinel(&mut self, sentinel: &str) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let doc = self.next_doc();
            assert!(doc.starts_with("<EVENT>\n"), "{doc}");
            let done =
                field(&doc, "EVENTTYPE") == "CALLSTART" && field(&doc, "DEVICEID") == sentinel;
            out.push(doc);
            if done {
                return out;
            }
        }
    }
}

fn ids(events: &[String]) -> Vec<u64> {
    events
        .iter()
        .map(|e| field(e, "EVENTID").parse().unwrap())
        .collect()
}

fn types_of(events: &[String], device: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| field(e, "DEVICEID") == device)
        .map(|e| field(e, "EVENTTYPE"))
        .collect()
}

fn socket_request(c: &mut TcpStream, body: &str) -> String {
    c.write_all(format!("<REQUEST>{body}</REQUEST>\r\n").as_bytes())
        .unwrap();
    read_result(c)
}

#[test]
fn every_client_gets_every_event_in_order_and_filters_narrow_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data"))
        .config("[capture]\nstart_delay_ms = 1500\n")
        .capture("sip-call-rtp-g711.pcap", "max")
        .start();

    let mut all = Client::connect(&s);
    let mut stalled = Client::connect(&s);
    let mut starts = Client::connect(&s);
    assert_eq!(
        code(&starts.filter("<MODE>ADD</MODE><EVENTTYPE>CALLSTART</EVENTTYPE>")),
        20
    );
    let mut dev = Client::connect(&s);
    assert_eq!(
        code(&dev.filter("<MODE>add</MODE><DEVICEID>301</DEVICEID>")),
        20
    );
    let mut trimmed = Client::connect(&s);
    let r = trimmed.filter("<MODE>REMOVE</MODE><EVENTTYPE>DEVICESTATE,CALLUPDATE</EVENTTYPE>");
    assert_eq!(code(&r), 20);
    let mut reset = Client::connect(&s);
    reset.filter("<MODE>ADD</MODE><EVENTTYPE>CALLSTOP</EVENTTYPE>");
    assert_eq!(code(&reset.filter("<MODE>ALL</MODE>")), 20);
    let mut refused = Client::connect(&s);
    let r = refused.filter("<MODE>SET</MODE><EVENTTYPE>CALLSTART</EVENTTYPE>");
    assert_eq!(code(&r), 29, "{r}");
    let r = refused.filter("<MODE>ADD</MODE><EVENTTYPE>CALLSTART,HANGUP</EVENTTYPE>");
    assert_eq!(code(&r), 30, "{r}");
    let r = refused.filter("<MODE>ADD</MODE>");
    assert_eq!(code(&r), 26, "{r}");

    // CTI on both transports while the capture replays.
    let started = Instant::now();
    ok(
        &s,
        &[
            ("type", "callstart"),
            ("requestid", "1"),
            ("deviceid", "301"),
            ("ani", "5550100"),
        ],
        20,
    );
    ok(
        &s,
        &[
            ("type", "callupdate"),
            ("requestid", "2"),
            ("deviceid", "301"),
            ("user1", "x&y"),
        ],
        20,
    );
    ok(
        &s,
        &[
            ("type", "recordstart"),
            ("requestid", "3"),
            ("deviceid", "301"),
        ],
        0,
    );
    ok(
        &s,
        &[
            ("type", "recordstop"),
            ("requestid", "4"),
            ("deviceid", "301"),
        ],
        13,
    );
    let mut sock = s.connect_socket();
    let r = socket_request(
        &mut sock,
        "<TYPE>CALLSTART</TYPE><REQUESTID>5</REQUESTID><DEVICEID>302</DEVICEID>",
    );
    assert_eq!(code(&r), 20, "{r}");
    let r = socket_request(
        &mut sock,
        "<TYPE>EVENTFILTER</TYPE><REQUESTID>6</REQUESTID><MODE>ALL</MODE>",
    );
    assert_eq!(code(&r), 15, "{r}");
    ok(
        &s,
        &[
            ("type", "callstop"),
            ("requestid", "7"),
            ("deviceid", "301"),
        ],
        20,
    );
    let r = socket_request(
        &mut sock,
        "<TYPE>CALLSTOP</TYPE><REQUESTID>8</REQUESTID><DEVICEID>302</DEVICEID>",
    );
    assert_eq!(code(&r), 20, "{r}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "CTI took {:?} with a stalled events client",
        started.elapsed()
    );
    // Every captured event applied and stored.
    s.wait_capture_finished();
    common::end_call(&s);

    let everything = all.until_sentinel("end");
    let n = everything.len() as u64;
    assert_eq!(ids(&everything), (1..=n).collect::<Vec<_>>(), "EVENTIDs");
    assert_eq!(
        types_of(&everything, "301"),
        [
            "CALLSTART",
            "RECORDINGSTARTED",
            "DEVICESTATE",
            "CALLUPDATE",
            "RECORDINGSTARTED",
            "RECORDINGSTOPPED",
            "RECORDINGSTOPPED",
            "CALLSTOP",
            "DEVICESTATE",
        ]
    );
    assert_eq!(
        types_of(&everything, "302"),
        [
            "CALLSTART",
            "RECORDINGSTARTED",
            "DEVICESTATE",
            "RECORDINGSTOPPED",
            "CALLSTOP",
            "DEVICESTATE"
        ]
    );
    let of_301: Vec<&String> = everything
        .iter()
        .filter(|e| field(e, "DEVICEID") == "301")
        .collect();
    assert_eq!(field(of_301[0], "ANI"), "5550100");
    assert_eq!(field(of_301[0], "RECORDING"), "Y");
    assert!(!field(of_301[0], "RECORDID").is_empty());
    assert_eq!(field(of_301[2], "STATE"), "2");
    assert_eq!(field(of_301[3], "USER1"), "x&amp;y");
    assert_eq!(field(of_301[4], "RECORDINGTYPE"), "PARTIAL");
    assert_eq!(field(of_301[6], "RECORDINGTYPE"), "FULL");
    assert_eq!(field(of_301[6], "RECORDING"), "N");
    assert_eq!(field(of_301[8], "STATE"), "0");
    // The captured call, through the engine's media path.
    let captured = types_of(&everything, "francisco");
    let order: Vec<&str> = [
        "CALLSTART",
        "RECORDINGSTARTED",
        "RECORDINGSTOPPED",
        "CALLSTOP",
    ]
    .into_iter()
    .filter(|t| captured.iter().any(|c| c == t))
    .collect();
    assert_eq!(order.len(), 4, "{captured:?}");
    let first = |t: &str| captured.iter().position(|c| c == t).unwrap();
    assert!(first("CALLSTART") < first("RECORDINGSTARTED"));
    assert!(first("RECORDINGSTARTED") < first("RECORDINGSTOPPED"));
    assert!(first("RECORDINGSTOPPED") < first("CALLSTOP"));
    let stop = everything
        .iter()
        .find(|e| field(e, "DEVICEID") == "francisco" && field(e, "EVENTTYPE") == "CALLSTOP")
        .unwrap();
    assert_eq!(field(stop, "CTIINITIATED"), "N");
    assert_eq!(field(stop, "AUDIO"), "Y");

    // Unfiltered clients, a reset filter and refused filters all see the same stream.
    assert_eq!(reset.until_sentinel("end"), everything);
    assert_eq!(refused.until_sentinel("end"), everything);
    let want = |keep: &dyn Fn(&String) -> bool| -> Vec<String> {
        everything.iter().filter(|e| keep(e)).cloned().collect()
    };
    assert_eq!(
        starts.until_sentinel("end"),
        want(&|e| field(e, "EVENTTYPE") == "CALLSTART")
    );
    assert_eq!(
        trimmed.until_sentinel("end"),
        want(&|e| !["DEVICESTATE", "CALLUPDATE"].contains(&field(e, "EVENTTYPE").as_str()))
    );
    // DEVICEID narrows to device 301 (and the sentinel's CALLSTART ends the read).
    ok(
        &s,
        &[
            ("type", "callstart"),
            ("requestid", "11"),
            ("deviceid", "301"),
        ],
        20,
    );
    let mut mine = Vec::new();
    loop {
        let e = dev.next_doc();
        if field(&e, "EVENTTYPE") == "CALLSTART" && field(&e, "EVENTID").parse::<u64>().unwrap() > n
        {
            mine.push(e);
            break;
        }
        mine.push(e);
    }
    assert_eq!(
        mine[..mine.len() - 1],
        want(&|e| field(e, "DEVICEID") == "301")[..]
    );
    // The client that read nothing so far still gets everything from the start: the queue
    // was never exceeded.
    assert_eq!(stalled.until_sentinel("end"), everything);
}

/// CALLSTART/CALLSTOP pairs with every USER field filled, so each event is a few KiB.
fn heavy_traffic(s: &Server, connections: usize, pairs: usize) {
    let user = "u".repeat(250);
    let extra: String = (1..=15)
        .map(|i| format!("<USER{i}>{user}</USER{i}>"))
        .collect();
    common::call_pairs(s, connections, pairs, &extra);
}

#[test]
fn a_client_that_stops_reading_is_told_how_many_events_it_missed() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data"))
        .config("[events]\nqueue = 64\n")
        .start();
    let mut stalled = Client::connect(&s);
    // A client that keeps reading, on its own thread.
    let mut live = Client::connect(&s);
    let reading = std::thread::spawn(move || live.until_sentinel("end"));

    let started = Instant::now();
    heavy_traffic(&s, 4, 100);
    let took = started.elapsed();
    // The server kept answering while one client read nothing.
    let t = Instant::now();
    common::end_call(&s);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());

    let everything = reading.join().unwrap();
    let n = everything.len() as u64;
    assert_eq!(ids(&everything), (1..=n).collect::<Vec<_>>());
    assert!(
        everything
            .iter()
            .all(|e| field(e, "EVENTTYPE") != "SYSTEMALERT")
    );

    // Now the stalled client reads: what it got, then one alert with the number it lost,
    // then the events after the gap.
    let got = stalled.until_sentinel("end");
    let alerts: Vec<usize> = (0..got.len())
        .filter(|&i| field(&got[i], "EVENTTYPE") == "SYSTEMALERT")
        .collect();
    assert_eq!(
        alerts.len(),
        1,
        "traffic took {took:?}; {} events",
        got.len()
    );
    let a = alerts[0];
    let missed: u64 = field(&got[a], "MISSED").parse().unwrap();
    assert!(missed > 0);
    assert_eq!(field(&got[a], "EVENTID"), "");
    let before = ids(&got[..a]);
    let after = ids(&got[a + 1..]);
    assert_eq!(before, (1..=before.len() as u64).collect::<Vec<_>>());
    let resume = before.len() as u64 + missed + 1;
    assert_eq!(after, (resume..=n).collect::<Vec<_>>());
    // And it keeps receiving normally afterwards.
    ok(
        &s,
        &[
            ("type", "callstop"),
            ("requestid", "2"),
            ("deviceid", "end"),
        ],
        20,
    );
    let next = stalled.next_doc();
    assert_eq!(field(&next, "EVENTID"), (n + 1).to_string());
}

#[test]
fn a_failed_capture_source_is_a_system_alert() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pcap");
    std::fs::write(&garbage, b"GARBAGE, not a capture file at all".repeat(100)).unwrap();
    let s = ServerBuilder::new(&dir.path().join("data"))
        .config("[capture]\nstart_delay_ms = 1000\n")
        .arg("--capture-file")
        .arg(garbage.to_string_lossy().into_owned())
        .start();
    let mut c = Client::connect(&s);
    let alert = c.next_doc();
    assert_eq!(field(&alert, "EVENTTYPE"), "SYSTEMALERT", "{alert}");
    assert_eq!(field(&alert, "EVENTID"), "1");
    assert_eq!(field(&alert, "DEVICEID"), "");
    assert!(field(&alert, "MESSAGE").contains("garbage.pcap"), "{alert}");
}

#[test]
fn a_stop_is_prompt_with_events_clients_connected() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = ServerBuilder::new(&dir.path().join("data"))
        .config("[events]\nqueue = 4\n")
        .start();
    let _stalled = Client::connect(&s);
    let mut half = TcpStream::connect(s.events).unwrap();
    half.write_all(b"<REQUEST><TYPE>EVENTFILTER</TYPE>")
        .unwrap();
    heavy_traffic(&s, 2, 20);
    let asked = Instant::now();
    assert!(s.terminate().success());
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "took {:?}",
        asked.elapsed()
    );
}

#[test]
fn implicit_calls_chat_sessions_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data"))
        .config("[recorder]\nchannels = 1\n")
        .start();
    let mut c = Client::connect(&s);
    ok(
        &s,
        &[
            ("type", "recordstart"),
            ("requestid", "1"),
            ("deviceid", "401"),
        ],
        0,
    );
    // No channel left: refused, and nothing is announced.
    ok(
        &s,
        &[
            ("type", "recordstart"),
            ("requestid", "2"),
            ("deviceid", "402"),
        ],
        3,
    );
    ok(
        &s,
        &[
            ("type", "recordstop"),
            ("requestid", "3"),
            ("deviceid", "401"),
        ],
        13,
    );
    let user = field(
        &ok(
            &s,
            &[
                ("type", "importuser"),
                ("requestid", "4"),
                ("action", "add"),
                ("username", "ann"),
                ("password", "pw"),
                ("firstname", "Ann"),
                ("lastname", "Tester"),
            ],
            20,
        ),
        "USER_ID",
    );
    ok(
        &s,
        &[
            ("type", "chatstart"),
            ("requestid", "5"),
            ("sessionid", "s-1"),
            ("agentid", &user),
        ],
        0,
    );
    ok(
        &s,
        &[
            ("type", "chatstop"),
            ("requestid", "6"),
            ("sessionid", "s-1"),
        ],
        13,
    );
    common::end_call(&s);

    let got = c.until_sentinel("end");
    let seen: Vec<(String, String)> = got
        .iter()
        .map(|e| (field(e, "EVENTTYPE"), field(e, "DEVICEID")))
        .collect();
    let want = [
        ("CALLSTART", "401"),
        ("RECORDINGSTARTED", "401"),
        ("DEVICESTATE", "401"),
        ("RECORDINGSTOPPED", "401"),
        ("CALLSTOP", "401"),
        ("DEVICESTATE", "401"),
        ("CHATSTART", ""),
        ("CHATSTOP", ""),
        ("CALLSTART", "end"),
    ];
    assert_eq!(
        seen,
        want.map(|(t, d)| (t.to_string(), d.to_string())),
        "{got:#?}"
    );
    assert_eq!(ids(&got), (1..=got.len() as u64).collect::<Vec<_>>());
    assert_eq!(field(&got[0], "RECORDINGTYPE"), "PARTIAL");
    assert_eq!(field(&got[0], "RECORDING"), "Y");
    assert_eq!(field(&got[6], "CALLINSTANCE"), "s-1");
    assert_eq!(field(&got[6], "RECORDINGTYPE"), "SCREEN");
    assert_eq!(field(&got[7], "RECORDING"), "N");
}

#[test]
fn blackouts_are_announced_once_per_change() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data")).start();
    let mut c = Client::connect(&s);
    let call = [
        ("type", "callstart"),
        ("requestid", "1"),
        ("deviceid", "501"),
    ];
    ok(&s, &call, 20);
    for (kind, id) in [
        ("blackoutstart", "2"),
        ("blackoutstart", "3"),
        ("blackoutstop", "4"),
        ("blackoutstop", "5"),
    ] {
        ok(
            &s,
            &[("type", kind), ("requestid", id), ("deviceid", "501")],
            20,
        );
    }
    common::end_call(&s);
    let got = c.until_sentinel("end");
    assert_eq!(
        types_of(&got, "501"),
        [
            "CALLSTART",
            "RECORDINGSTARTED",
            "DEVICESTATE",
            "BLACKOUTSTART",
            "BLACKOUTSTOP"
        ]
    );
    let start = got
        .iter()
        .find(|e| field(e, "EVENTTYPE") == "BLACKOUTSTART")
        .unwrap();
    assert_eq!(field(start, "RECORDING"), "Y", "{start}");
    assert_eq!(
        ids(&got),
        (ids(&got)[0]..ids(&got)[0] + 6).collect::<Vec<_>>()
    );
}

#[test]
fn an_agent_blackout_is_announced_on_the_agents_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data")).start();
    let user = field(
        &ok(
            &s,
            &[
                ("type", "importuser"),
                ("requestid", "1"),
                ("action", "add"),
                ("username", "ann"),
                ("password", "pw"),
                ("firstname", "Ann"),
                ("lastname", "Tester"),
            ],
            20,
        ),
        "USER_ID",
    );
    ok(
        &s,
        &[
            ("type", "importagentphone"),
            ("requestid", "2"),
            ("action", "add"),
            ("agentid", &user),
            ("phoneid", "601"),
        ],
        20,
    );
    let mut c = Client::connect(&s);
    ok(
        &s,
        &[
            ("type", "chatstart"),
            ("requestid", "3"),
            ("sessionid", "s-1"),
            ("agentid", &user),
        ],
        0,
    );
    for (kind, id) in [
        ("blackoutstart", "4"),
        ("blackoutstart", "5"),
        ("blackoutstop", "6"),
        ("blackoutstop", "7"),
    ] {
        ok(
            &s,
            &[("type", kind), ("requestid", id), ("deviceid", "601")],
            20,
        );
    }
    common::end_call(&s);
    let got = c.until_sentinel("end");
    // The session carries the events: no alert naming the phone.
    assert!(types_of(&got, "601").is_empty(), "{got:#?}");
    let session: Vec<&String> = got
        .iter()
        .filter(|e| field(e, "CALLINSTANCE") == "s-1")
        .collect();
    let kinds: Vec<String> = session.iter().map(|e| field(e, "EVENTTYPE")).collect();
    assert_eq!(kinds, ["CHATSTART", "BLACKOUTSTART", "BLACKOUTSTOP"]);
    assert_eq!(field(session[1], "DEVICEID"), "");
    assert_eq!(field(session[1], "RECORDINGTYPE"), "SCREEN");
    assert_eq!(field(session[1], "BLACKOUTS"), "1", "{}", session[1]);
}

/// `callvault_event_clients` as `/metrics` shows it.
fn event_clients(s: &Server) -> f64 {
    let text = s.admin_get("/metrics").text();
    sample(&text, "callvault_event_clients").expect("callvault_event_clients")
}

/// Polls (for at most 5 s) until `callvault_event_clients` is `want`.
fn wait_event_clients(s: &Server, want: f64) {
    common::wait_for(Duration::from_secs(5), || {
        (event_clients(s) == want).then_some(())
    });
}

#[test]
fn a_closed_client_is_gone_at_once_and_a_half_closed_one_keeps_reading() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data")).start();
    assert_eq!(event_clients(&s), 0.0);

    // Closed with no event flowing: no longer counted, without waiting for an event.
    let closed = Client::connect(&s);
    wait_event_clients(&s, 1.0);
    drop(closed);
    wait_event_clients(&s, 0.0);

    // A subscriber that sends its filter and shuts its sending side: told once that its
    // requests ended, still counted, and still gets its events.
    let mut reader = Client::connect(&s);
    reader.filter("<MODE>ADD</MODE><EVENTTYPE>CALLSTART</EVENTTYPE>");
    reader.writer.shutdown(std::net::Shutdown::Write).unwrap();
    let notice = reader.next_doc();
    assert_eq!(field(&notice, "EVENTTYPE"), "SYSTEMALERT", "{notice}");
    assert_eq!(field(&notice, "EVENTID"), "", "{notice}");
    assert!(
        field(&notice, "MESSAGE").contains("no more requests"),
        "{notice}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(event_clients(&s), 1.0);
    ok(
        &s,
        &[
            ("type", "callstart"),
            ("requestid", "1"),
            ("deviceid", "700"),
        ],
        20,
    );
    let event = reader.next_doc();
    assert_eq!(field(&event, "EVENTTYPE"), "CALLSTART", "{event}");
    assert_eq!(field(&event, "DEVICEID"), "700", "{event}");
    // Its close sends nothing more (its side was shut already): TCP tells the server only
    // when it writes again, so it is gone at the next event it is sent.
    drop(reader);
    ok(
        &s,
        &[
            ("type", "callstart"),
            ("requestid", "2"),
            ("deviceid", "701"),
        ],
        20,
    );
    wait_event_clients(&s, 0.0);

    // A request cut off by the close is still answered (16) before the notice.
    let mut cut = Client::connect(&s);
    cut.writer.write_all(b"<REQUEST><TYPE>EVENTFIL").unwrap();
    cut.writer.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(code(&cut.next_doc()), 16);
    assert_eq!(field(&cut.next_doc(), "EVENTTYPE"), "SYSTEMALERT");
}
