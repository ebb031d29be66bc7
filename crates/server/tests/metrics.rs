//! The admin listener: `/metrics` after known traffic, and `/healthz`.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::{Server, ServerBuilder, code, field, ok, read_result, sample, wait_for};

fn metrics(s: &Server) -> String {
    let r = s.admin_get("/metrics");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("application/openmetrics-text")),
        "{:?}",
        r.headers
    );
    r.text()
}

fn socket_request(c: &mut TcpStream, request_type: &str, id: u32, device: &str) -> String {
    c.write_all(
        format!(
            "<REQUEST><TYPE>{request_type}</TYPE><REQUESTID>{id}</REQUESTID><DEVICEID>{device}</DEVICEID></REQUEST>\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    read_result(c)
}

#[test]
fn metrics_count_requests_and_show_live_figures() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data")).start();
    let before = metrics(&s);
    assert!(!before.contains("callvault_requests_total{"), "{before}");
    assert_eq!(sample(&before, "callvault_active_calls"), Some(0.0));

    // Three CALLSTART, two CALLSTOP, one unknown type, over both transports.
    ok(
        &s,
        &[("type", "callstart"), ("requestid", "1"), ("deviceid", "A")],
        20,
    );
    ok(
        &s,
        &[("type", "callstart"), ("requestid", "2"), ("deviceid", "B")],
        20,
    );
    ok(
        &s,
        &[("type", "callstop"), ("requestid", "3"), ("deviceid", "A")],
        20,
    );
    ok(&s, &[("type", "nosuchthing"), ("requestid", "4")], 10);
    let mut c = s.connect_socket();
    assert_eq!(code(&socket_request(&mut c, "CALLSTART", 5, "C")), 20);
    assert_eq!(code(&socket_request(&mut c, "CALLSTOP", 6, "C")), 20);
    let events = TcpStream::connect(s.events).unwrap();
    events
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();

    let text = wait_for(Duration::from_secs(10), || {
        let text = metrics(&s);
        (sample(&text, "callvault_event_clients") == Some(1.0)).then_some(text)
    });
    assert!(text.contains("# TYPE callvault_requests counter"), "{text}");
    let requests = |labels: &str| sample(&text, &format!("callvault_requests_total{{{labels}}}"));
    assert_eq!(
        requests(r#"type="CALLSTART",code="20",transport="http""#),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        requests(r#"type="CALLSTART",code="20",transport="socket""#),
        Some(1.0)
    );
    assert_eq!(
        requests(r#"type="CALLSTOP",code="20",transport="http""#),
        Some(1.0)
    );
    assert_eq!(
        requests(r#"type="CALLSTOP",code="20",transport="socket""#),
        Some(1.0)
    );
    assert_eq!(
        requests(r#"type="UNKNOWN",code="10",transport="http""#),
        Some(1.0)
    );
    let requests_total: f64 = text
        .lines()
        .filter(|l| l.starts_with("callvault_requests_total{"))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum();
    assert_eq!(requests_total, 6.0, "{text}");
    assert_eq!(
        sample(
            &text,
            r#"callvault_request_duration_seconds_count{type="CALLSTART"}"#
        ),
        Some(3.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"callvault_request_duration_seconds_count{type="CALLSTOP"}"#
        ),
        Some(2.0)
    );
    assert_eq!(sample(&text, "callvault_active_calls"), Some(1.0));
    assert_eq!(sample(&text, "callvault_active_recordings"), Some(1.0));
    assert_eq!(sample(&text, "callvault_free_channels"), Some(63.0));
    assert_eq!(sample(&text, "callvault_events_missed_total"), Some(0.0));
    let commits = sample(&text, "callvault_store_commit_duration_seconds_count");
    assert!(commits.is_some_and(|n| n >= 1.0), "{text}");
    assert!(text.trim_end().ends_with("# EOF"), "{text}");

    // Scraping counts nothing by itself.
    let again = metrics(&s);
    assert_eq!(
        sample(
            &again,
            r#"callvault_requests_total{type="CALLSTART",code="20",transport="http"}"#
        ),
        Some(2.0)
    );
    drop(events);
}

#[test]
fn healthz_fails_when_the_recording_path_is_unusable() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data")).start();
    let r = s.admin_get("/healthz");
    assert_eq!((r.status, r.text().as_str()), (200, "ok\n"));

    let rec_dir = s.data_dir.join("recordings");
    std::fs::remove_dir_all(&rec_dir).unwrap();
    std::fs::write(&rec_dir, b"not a directory").unwrap();
    let r = s.admin_get("/healthz");
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().contains("recording path"), "{}", r.text());

    assert_eq!(s.admin_get("/nothing-here").status, 404);
}

#[test]
fn capture_counters_mirror_the_sources() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data"))
        .capture("sip-call-rtp-g711.pcap", "max")
        .start();
    let status = s.wait_capture_finished();
    let name = field(&status, "NAME");
    let packets: f64 = field(&status, "PACKETS").parse().unwrap();
    assert!(packets > 0.0, "{status}");
    let text = metrics(&s);
    assert_eq!(
        sample(
            &text,
            &format!("callvault_capture_packets_total{{source=\"{name}\"}}")
        ),
        Some(packets),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!("callvault_capture_dropped_packets_total{{source=\"{name}\"}}")
        ),
        Some(0.0),
        "{text}"
    );
}
