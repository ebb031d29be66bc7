//! The socket API over a real TCP connection: framing, pipelining, recovery.

mod common;

use std::io::Write;
use std::time::Duration;

use common::{ServerBuilder, code, field, read_result};

#[test]
fn fifty_pipelined_requests_are_answered_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data")).start();
    let mut c = s.connect_socket();
    let mut batch = String::new();
    for i in 0..50 {
        let t = if i % 2 == 0 { "TEST" } else { "DEVICELIST" };
        batch.push_str(&format!(
            "<REQUEST><TYPE>{t}</TYPE><REQUESTID>{}</REQUESTID></REQUEST>\r\n",
            1000 + i
        ));
    }
    c.write_all(batch.as_bytes()).unwrap();
    for i in 0..50 {
        let doc = read_result(&mut c);
        assert_eq!(field(&doc, "REQUESTID"), (1000 + i).to_string(), "{doc}");
        assert_eq!(code(&doc), 20, "{doc}");
    }
}

#[test]
fn a_malformed_request_between_good_ones_gets_its_own_error() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data")).start();
    let mut c = s.connect_socket();
    c.write_all(
        b"<REQUEST><TYPE>TEST</TYPE><REQUESTID>1</REQUESTID></REQUEST>\r\n\
          <REQUEST><TYPE>TEST</TYPE><REQUESTID>2</REQUESTID>\r\n\
          <REQUEST><TYPE>TEST</TYPE><REQUESTID>3</REQUESTID></REQUEST>\r\n\
          this is not xml\r\n\
          <REQUEST><TYPE>CALLSTART</TYPE><REQUESTID>4</REQUESTID><DEVICEID>55</DEVICEID></REQUEST>\r\n",
    )
    .unwrap();
    let a = read_result(&mut c);
    assert_eq!((field(&a, "REQUESTID"), code(&a)), ("1".into(), 20));
    let b = read_result(&mut c);
    assert_eq!(code(&b), 16, "{b}");
    let d = read_result(&mut c);
    assert_eq!((field(&d, "REQUESTID"), code(&d)), ("3".into(), 20));
    let e = read_result(&mut c);
    assert_eq!(code(&e), 16, "{e}");
    let f = read_result(&mut c);
    assert_eq!((field(&f, "REQUESTID"), code(&f)), ("4".into(), 20), "{f}");
}

#[test]
fn requests_split_across_writes_and_lines_and_an_unfinished_one_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data")).start();
    let mut c = s.connect_socket();
    let req = b"<REQUEST>\r\n  <TYPE>TEST</TYPE>\r\n  <REQUESTID>77</REQUESTID>\r\n</REQUEST>\r\n";
    for b in req {
        c.write_all(&[*b]).unwrap();
        c.flush().unwrap();
    }
    let doc = read_result(&mut c);
    assert_eq!(field(&doc, "REQUESTID"), "77");
    c.write_all(b"<REQUEST><TYPE>TEST</TYPE>").unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let doc = read_result(&mut c);
    assert_eq!(code(&doc), 16, "{doc}");
    // The connection is still usable.
    c.write_all(b"<REQUEST><TYPE>TEST</TYPE><REQUESTID>78</REQUESTID></REQUEST>\r\n")
        .unwrap();
    let doc = read_result(&mut c);
    assert_eq!((field(&doc, "REQUESTID"), code(&doc)), ("78".into(), 20));
}

#[test]
fn export_is_refused_on_the_socket_api() {
    let dir = tempfile::tempdir().unwrap();
    let s = ServerBuilder::new(&dir.path().join("data")).start();
    let mut c = s.connect_socket();
    c.write_all(b"<REQUEST><TYPE>EXPORT</TYPE><REQUESTID>1</REQUESTID><UNIQUEFIELD>RECORDID</UNIQUEFIELD><UNIQUEID>1</UNIQUEID><MEDIA_FORMAT>WAV</MEDIA_FORMAT></REQUEST>\r\n").unwrap();
    let doc = read_result(&mut c);
    assert_eq!(code(&doc), 15, "{doc}");
}
