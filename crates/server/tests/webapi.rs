//! The WebAPI over real HTTP: the request forms, the envelope, the limits.

mod common;

use common::{ServerBuilder, code, field, sections};

fn server() -> (tempfile::TempDir, common::Server) {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data")).start();
    (dir, s)
}

#[test]
fn test_answers_api_ok_with_exact_bytes() {
    let (_d, s) = server();
    let r = s.get("/webAPI.aspx?type=test&requestid=5");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/xml; charset=utf-8"));
    assert_eq!(
        r.text(),
        "<RESULT>\n\t<REQUESTTYPE>TEST</REQUESTTYPE>\n\t<REQUESTID>5</REQUESTID>\n\t<RESULTTYPE>API_OK</RESULTTYPE>\n\t<RESULTCODE>20</RESULTCODE>\n\t<RESULTMSG>API_OK</RESULTMSG>\n</RESULT>"
    );
}

#[test]
fn vendor_callupdate_example_by_get_and_by_post_with_empty_body() {
    let (_d, s) = server();
    let start = s.api("type=callstart&requestid=1&deviceid=200&ani=5550100");
    assert_eq!(code(&start), 20, "{start}");
    assert_eq!(field(&start, "RECORDING"), "Y");
    let q = "type=callupdate&requestid=18213567&deviceid=200&user1=SpecialCall&user2=10121968&keepdays=3650";
    let got = s.api(q);
    assert_eq!(field(&got, "REQUESTTYPE"), "CALLUPDATE");
    assert_eq!(field(&got, "REQUESTID"), "18213567");
    assert_eq!(code(&got), 20, "{got}");
    assert_eq!(field(&got, "USER1"), "SpecialCall");
    assert_eq!(field(&got, "USER2"), "10121968");
    assert_eq!(field(&got, "KEEPDAYS"), "3650");

    // A real client sends the same as POST with an empty body, to a differently cased path.
    let q2 = q.replace("user1=SpecialCall", "user1=Second");
    let r = s.post(
        &format!("/Webapi.aspx?{q2}"),
        "application/x-www-form-urlencoded",
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(code(&r.text()), 20, "{}", r.text());
    assert_eq!(field(&r.text(), "USER1"), "Second");

    let stop = s.api("type=callstop&requestid=2&deviceid=200");
    assert_eq!(code(&stop), 20, "{stop}");
    let list = s.api("type=calllist&requestid=3&deviceid=200");
    assert_eq!(field(&list, "COUNT"), "1");
    assert_eq!(field(&list, "USER1"), "Second");
    assert_eq!(field(&list, "USER2"), "10121968");
    assert_eq!(field(&list, "KEEPDAYS"), "3650");
}

#[test]
fn form_body_and_xml_body_are_the_same_request() {
    let (_d, s) = server();
    let r = s.post(
        "/webAPI.aspx?type=callstart",
        "application/x-www-form-urlencoded",
        b"requestid=9&deviceid=300&ani=555%200100",
    );
    assert_eq!(code(&r.text()), 20, "{}", r.text());
    assert_eq!(field(&r.text(), "ANI"), "555 0100");
    let xml = b"<REQUEST>\r\n<TYPE>CALLSTOP</TYPE>\r\n<REQUESTID>10</REQUESTID>\r\n<DEVICEID>300</DEVICEID>\r\n</REQUEST>";
    let r = s.post("/webapi", "text/xml", xml);
    assert_eq!(field(&r.text(), "REQUESTTYPE"), "CALLSTOP");
    assert_eq!(code(&r.text()), 20, "{}", r.text());
    // A root named after the type, and lower-case element names.
    let r = s.post(
        "/WEBAPI.ASPX",
        "application/xml",
        b"<devicestatus><requestid>11</requestid><deviceid>300</deviceid></devicestatus>",
    );
    assert_eq!(field(&r.text(), "REQUESTTYPE"), "DEVICESTATUS");
    assert_eq!(code(&r.text()), 20, "{}", r.text());
    assert_eq!(field(&r.text(), "DEVICEID"), "300");
}

#[test]
fn bad_requests_get_a_result_with_the_right_code_and_change_nothing() {
    let (_d, s) = server();
    let cases: &[(&str, u32)] = &[
        ("type=callstart&deviceid=1", 14),
        ("type=callstart&requestid=&deviceid=1", 14),
        ("type=callstart&requestid=abc&deviceid=1", 14),
        (
            "type=callstart&requestid=1234567890123456789&deviceid=1",
            14,
        ),
        ("type=callstart&requestid=1&deviceid=1&deviceid=2", 17),
        ("type=callstart&requestid=1&DeviceID=1&DEVICEID=2", 17),
        ("type=callstart&requestid=1&deviceid=%FF%FE", 16),
        ("requestid=1&deviceid=1", 17),
        ("type=nosuchthing&requestid=1", 10),
        (
            "type=callstart&requestid=1&deviceid=1&calldirection=sideways",
            17,
        ),
        ("type=callstart&requestid=1&deviceid=1&keepdays=forever", 17),
    ];
    for (q, want) in cases {
        let doc = s.api(q);
        assert_eq!(code(&doc), *want, "{q} → {doc}");
        assert_eq!(field(&doc, "RESULTTYPE"), "ERROR", "{doc}");
        assert!(
            field(&doc, "RESULTMSG").contains(": "),
            "message explains: {doc}"
        );
    }
    let long = "x".repeat(256);
    let doc = s.api(&format!(
        "type=callstart&requestid=1&deviceid=1&user1={long}"
    ));
    assert_eq!(code(&doc), 26, "{doc}");
    assert!(field(&doc, "RESULTMSG").contains("USER1"), "{doc}");
    // Nothing above created a device or a call.
    let list = s.api("type=devicelist&requestid=2");
    assert_eq!(field(&list, "COUNT"), "0", "{list}");
    let calls = s.api("type=calllist&requestid=3");
    assert_eq!(field(&calls, "COUNT"), "0", "{calls}");
}

#[test]
fn xml_limits() {
    let (_d, s) = server();
    let dtd = b"<!DOCTYPE r [<!ENTITY x \"boom\">]><REQUEST><TYPE>TEST</TYPE><REQUESTID>1</REQUESTID></REQUEST>";
    assert_eq!(code(&s.post("/webAPI.aspx", "text/xml", dtd).text()), 16);
    let broken = b"<REQUEST><TYPE>TEST</TYPE><REQUESTID>1</REQUESTID>";
    assert_eq!(code(&s.post("/webAPI.aspx", "text/xml", broken).text()), 16);
    let nested =
        b"<REQUEST><TYPE>TEST</TYPE><REQUESTID>1</REQUESTID><A><B><C>1</C></B></A></REQUEST>";
    assert_eq!(code(&s.post("/webAPI.aspx", "text/xml", nested).text()), 17);
    let dup =
        b"<REQUEST><TYPE>TEST</TYPE><REQUESTID>1</REQUESTID><ANI>1</ANI><ani>2</ani></REQUEST>";
    assert_eq!(code(&s.post("/webAPI.aspx", "text/xml", dup).text()), 17);
    let mut big = b"<REQUEST><TYPE>TEST</TYPE><REQUESTID>1</REQUESTID><USER1>".to_vec();
    big.extend(std::iter::repeat_n(b'a', 70 * 1024));
    big.extend_from_slice(b"</USER1></REQUEST>");
    let r = s.post("/webAPI.aspx", "text/xml", &big);
    assert_eq!(r.status, 413);
    assert_eq!(code(&r.text()), 16);
}

#[test]
fn other_paths_are_404_and_escaping_round_trips() {
    let (_d, s) = server();
    assert_eq!(s.get("/other.aspx?type=test&requestid=1").status, 404);
    let doc = s.api("type=callstart&requestid=1&deviceid=7&user3=%3Cb%3EA%26B%3C%2Fb%3E%20%22q%22%20%F0%9F%98%80");
    assert_eq!(code(&doc), 20, "{doc}");
    assert_eq!(field(&doc, "USER3"), "&lt;b&gt;A&amp;B&lt;/b&gt; \"q\" 😀");
    let status = s.api("type=devicestatus&requestid=2&deviceid=7");
    assert_eq!(sections(&status, "DEVICE").len(), 1);
}

#[test]
fn a_body_cut_short_is_400_with_a_result() {
    let (_d, s) = server();
    let r = s.http_raw_then_close(
        b"POST /webAPI.aspx HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 100\r\n\r\n<REQUEST><TYPE>TEST",
    );
    assert_eq!(r.status, 400);
    assert_eq!(code(&r.text()), 16);
    assert!(
        field(&r.text(), "RESULTMSG").contains("could not be read"),
        "{}",
        r.text()
    );
}

#[test]
fn a_body_trickled_in_is_answered_408_and_runs_nothing() {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data"))
        .config("[api]\nhttp_request_timeout_ms = 500\n")
        .start();
    let body = b"type=callstart&requestid=1&deviceid=555&ani=1";
    let mut c = std::net::TcpStream::connect(s.http).unwrap();
    c.write_all(
        format!(
            "POST /webAPI.aspx HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            body.len() + 10
        )
        .as_bytes(),
    )
    .unwrap();
    // Byte by byte, the whole body but never the last ten bytes it announced.
    c.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut sent = 0;
    while started.elapsed() < Duration::from_secs(20) {
        if sent < body.len() {
            let _ = c.write_all(&body[sent..sent + 1]);
            sent += 1;
        }
        let mut buf = [0u8; 4096];
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(_) if answer.is_empty() => {}
            Err(_) => break,
        }
    }
    let r = common::parse_http(&answer);
    assert_eq!(r.status, 408, "{}", String::from_utf8_lossy(&answer));
    assert_eq!(code(&r.text()), 16);
    assert_eq!(
        field(&r.text(), "RESULTMSG"),
        "API_INVALID_MESSAGE_FORMAT: the request body was not received within 500ms"
    );
    let devices = s.api("type=devicelist&requestid=2");
    assert!(sections(&devices, "DEVICE").is_empty(), "{devices}");
}
