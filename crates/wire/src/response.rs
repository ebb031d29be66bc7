//! The `<RESULT>` document (PROTOCOL §2.2).
//!
//! Layout, byte for byte: no XML declaration; `<RESULT>` on the first line; each child on
//! its own line, indented with one tab per level; a value on the same line as its tags,
//! `<X></X>` when empty; the document ends with `</RESULT>` and no line end (the socket
//! layer appends CR LF, the HTTP body is the document alone).

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::code::Code;
use crate::request::WireError;
use crate::xml_request::{is_xml_char, resolve_reference};

/// One piece of a result's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// `<NAME>value</NAME>`
    Field(String, String),
    /// `<NAME>` children `</NAME>`; an empty section is written `<NAME></NAME>`.
    Section(String, Vec<Node>),
}

impl Node {
    pub fn field(name: impl Into<String>, value: impl Into<String>) -> Node {
        Node::Field(name.into(), value.into())
    }

    pub fn section(name: impl Into<String>, children: Vec<Node>) -> Node {
        Node::Section(name.into(), children)
    }

    /// A Y/N flag, the usual spelling of booleans in results.
    pub fn flag(name: impl Into<String>, value: bool) -> Node {
        Node::Field(name.into(), if value { "Y" } else { "N" }.to_owned())
    }
}

/// A result, ready to encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub request_type: String,
    pub request_id: String,
    pub code: Code,
    /// Written after the label in RESULTMSG, as `LABEL: detail`.
    pub detail: Option<String>,
    /// The data after RESULTMSG, in order.
    pub body: Vec<Node>,
}

impl Response {
    pub fn new(
        request_type: impl Into<String>,
        request_id: impl Into<String>,
        code: Code,
    ) -> Response {
        Response {
            request_type: request_type.into(),
            request_id: request_id.into(),
            code,
            detail: None,
            body: Vec::new(),
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Response {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_body(mut self, body: Vec<Node>) -> Response {
        self.body = body;
        self
    }

    /// The result for a request that could not be parsed: its message becomes the detail.
    pub fn from_error(error: WireError) -> Response {
        Response {
            request_type: error.request_type,
            request_id: error.request_id,
            code: error.code,
            detail: Some(error.message),
            body: Vec::new(),
        }
    }

    /// RESULTMSG: the code's label, then the detail when there is one.
    pub fn message(&self) -> String {
        match &self.detail {
            Some(detail) => format!("{}: {detail}", self.code.label()),
            None => self.code.label().to_owned(),
        }
    }

    /// The `<RESULT>` document. Element names are written as given: they come from the
    /// program, never from a client.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(256);
        out.push_str("<RESULT>\n");
        let result_type = if self.code.is_success() {
            self.code.label()
        } else {
            "ERROR"
        };
        let message = self.message();
        write_field(&mut out, 1, "REQUESTTYPE", &self.request_type);
        write_field(&mut out, 1, "REQUESTID", &self.request_id);
        write_field(&mut out, 1, "RESULTTYPE", result_type);
        write_field(&mut out, 1, "RESULTCODE", &self.code.number().to_string());
        write_field(&mut out, 1, "RESULTMSG", &message);
        for node in &self.body {
            write_node(&mut out, 1, node);
        }
        out.push_str("</RESULT>");
        out
    }
}

/// A document in the `<RESULT>` layout under another root, such as the events port's
/// `<EVENT>`: `<ROOT>`, the children indented by tab, `</ROOT>` with no line end.
pub fn encode_document(root: &str, body: &[Node]) -> String {
    let mut out = String::with_capacity(256);
    out.push('<');
    out.push_str(root);
    out.push_str(">\n");
    for node in body {
        write_node(&mut out, 1, node);
    }
    out.push_str("</");
    out.push_str(root);
    out.push('>');
    out
}

fn write_node(out: &mut String, depth: usize, node: &Node) {
    match node {
        Node::Field(name, value) => write_field(out, depth, name, value),
        Node::Section(name, children) if children.is_empty() => {
            write_field(out, depth, name, "");
        }
        Node::Section(name, children) => {
            indent(out, depth);
            out.push('<');
            out.push_str(name);
            out.push_str(">\n");
            for child in children {
                write_node(out, depth + 1, child);
            }
            indent(out, depth);
            out.push_str("</");
            out.push_str(name);
            out.push_str(">\n");
        }
    }
}

fn write_field(out: &mut String, depth: usize, name: &str, value: &str) {
    indent(out, depth);
    out.push('<');
    out.push_str(name);
    out.push('>');
    escape_into(out, value);
    out.push_str("</");
    out.push_str(name);
    out.push_str(">\n");
}

fn indent(out: &mut String, depth: usize) {
    out.extend(std::iter::repeat_n('\t', depth));
}

/// Escapes text content. CR is written as `&#13;` because a reader would otherwise turn it
/// into LF; characters XML cannot carry at all (control characters from captured data, for
/// instance) become U+FFFD so the document stays readable by any XML parser.
fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c if !is_xml_char(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// What a client reads first in a `<RESULT>` document: the number in RESULTCODE and the
/// text of RESULTMSG. None when `doc` is not a well-formed `<RESULT>` with both.
pub fn read_result_status(doc: &[u8]) -> Option<(u32, String)> {
    let mut reader = Reader::from_str(std::str::from_utf8(doc).ok()?);
    let (mut depth, mut field, mut text) = (0, Vec::new(), String::new());
    let (mut code, mut message) = (None, None);
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => {
                if depth == 0 && e.name().as_ref() != b"RESULT" {
                    return None;
                }
                depth += 1;
                if depth == 2 {
                    field = e.name().as_ref().to_vec();
                    text.clear();
                }
            }
            Event::Text(t) if depth == 2 => text.push_str(&t.xml10_content().ok()?),
            Event::GeneralRef(r) if depth == 2 => text.push(resolve_reference(&r).ok()?),
            Event::End(_) => {
                if depth == 2 {
                    match field.as_slice() {
                        // The envelope's own, not a field of the data after it.
                        b"RESULTCODE" if code.is_none() => code = Some(text.trim().parse().ok()),
                        b"RESULTMSG" if message.is_none() => message = Some(text.clone()),
                        _ => {}
                    }
                }
                depth -= 1;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Some((code??, message?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Limits;
    use crate::xml_request::parse_xml;

    #[test]
    fn success_bytes() {
        let r = Response::new("TEST", "5", Code::Ok);
        assert_eq!(
            r.encode(),
            "<RESULT>\n\t<REQUESTTYPE>TEST</REQUESTTYPE>\n\t<REQUESTID>5</REQUESTID>\n\t<RESULTTYPE>API_OK</RESULTTYPE>\n\t<RESULTCODE>20</RESULTCODE>\n\t<RESULTMSG>API_OK</RESULTMSG>\n</RESULT>"
        );
    }

    #[test]
    fn other_successes_carry_their_label() {
        let r = Response::new("RECORDSTOP", "6", Code::RecordingStopped).encode();
        assert!(r.contains("\t<RESULTTYPE>API_RECORDING_STOPPED</RESULTTYPE>\n"));
        assert!(r.contains("\t<RESULTCODE>13</RESULTCODE>\n"));
    }

    #[test]
    fn error_bytes() {
        let e = WireError::new(Code::RequestIdInvalid, "REQUESTID is missing")
            .with_ids(Some("callstart"), None);
        assert_eq!(
            Response::from_error(e).encode(),
            "<RESULT>\n\t<REQUESTTYPE>CALLSTART</REQUESTTYPE>\n\t<REQUESTID></REQUESTID>\n\t<RESULTTYPE>ERROR</RESULTTYPE>\n\t<RESULTCODE>14</RESULTCODE>\n\t<RESULTMSG>API_REQUESTID_INVALID: REQUESTID is missing</RESULTMSG>\n</RESULT>"
        );
        let plain = Response::new("CALLSTOP", "2", Code::DeviceNotInCall).encode();
        assert!(plain.contains("\t<RESULTTYPE>ERROR</RESULTTYPE>\n"));
        assert!(plain.contains("\t<RESULTMSG>API_DEVICE_NOT_IN_CALL</RESULTMSG>\n"));
    }

    #[test]
    fn nested_list_bytes() {
        let r = Response::new("IMPORTUSER", "9", Code::Ok).with_body(vec![Node::section(
            "USERS",
            vec![
                Node::field("COUNT", "1"),
                Node::section(
                    "USER",
                    vec![
                        Node::field("USER_ID", "3"),
                        Node::field("EMAIL", ""),
                        Node::flag("LOCKED", false),
                        Node::section("PHONES", vec![Node::field("PHONE", "200")]),
                        Node::section("EMPTY", vec![]),
                    ],
                ),
            ],
        )]);
        assert_eq!(
            r.encode(),
            "<RESULT>\n\t<REQUESTTYPE>IMPORTUSER</REQUESTTYPE>\n\t<REQUESTID>9</REQUESTID>\n\t<RESULTTYPE>API_OK</RESULTTYPE>\n\t<RESULTCODE>20</RESULTCODE>\n\t<RESULTMSG>API_OK</RESULTMSG>\n\
             \t<USERS>\n\t\t<COUNT>1</COUNT>\n\t\t<USER>\n\t\t\t<USER_ID>3</USER_ID>\n\t\t\t<EMAIL></EMAIL>\n\t\t\t<LOCKED>N</LOCKED>\n\
             \t\t\t<PHONES>\n\t\t\t\t<PHONE>200</PHONE>\n\t\t\t</PHONES>\n\t\t\t<EMPTY></EMPTY>\n\t\t</USER>\n\t</USERS>\n</RESULT>"
        );
    }

    #[test]
    fn other_documents_share_the_layout() {
        let doc = encode_document(
            "EVENT",
            &[
                Node::field("EVENTTYPE", "CALLSTART"),
                Node::field("CALLINSTANCE", ""),
                Node::field("ANI", "a&b"),
            ],
        );
        assert_eq!(
            doc,
            "<EVENT>\n\t<EVENTTYPE>CALLSTART</EVENTTYPE>\n\t<CALLINSTANCE></CALLINSTANCE>\n\t<ANI>a&amp;b</ANI>\n</EVENT>"
        );
    }

    #[test]
    fn escaping_and_unicode_round_trip() {
        let tricky = "a & b < c > d ]]> \"q\" 'a' é 中文 😀👩‍👩‍👧 \t tab\r\nline";
        let doc = Response::new("TEST", "1", Code::Ok)
            .with_body(vec![Node::field("USER1", tricky)])
            .encode();
        assert!(doc.contains(
            "<USER1>a &amp; b &lt; c &gt; d ]]&gt; \"q\" 'a' é 中文 😀👩‍👩‍👧 \t tab&#13;\nline</USER1>"
        ));
        // Read back through our own XML reader: the value comes back byte for byte.
        let back = doc
            .replace("<RESULT>", "<TEST>")
            .replace("</RESULT>", "</TEST>")
            .replace("REQUESTTYPE", "X1")
            .replace("RESULTTYPE", "X2")
            .replace("RESULTCODE", "X3")
            .replace("RESULTMSG", "X4");
        let parsed = parse_xml(back.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(parsed.get("USER1"), Some(tricky));
    }

    #[test]
    fn a_client_reads_the_code_and_message_back() {
        let e = WireError::new(
            Code::RecordingNotFound,
            "no recording has RECORDID \"9 & <9>\"\r",
        )
        .with_ids(Some("export"), Some("1"));
        assert_eq!(
            read_result_status(Response::from_error(e).encode().as_bytes()),
            Some((
                31,
                "API_RECORDING_NOT_FOUND: no recording has RECORDID \"9 & <9>\"\r".to_string()
            ))
        );
        let ok = Response::new("EXPORT", "1", Code::Ok)
            .with_body(vec![Node::field("RESULTCODE", "99")])
            .encode();
        assert_eq!(
            read_result_status(ok.as_bytes()),
            Some((20, "API_OK".into()))
        );
        for not_a_result in [
            &b"<EVENT><RESULTCODE>20</RESULTCODE><RESULTMSG>x</RESULTMSG></EVENT>"[..],
            b"<RESULT><RESULTCODE>20</RESULTCODE></RESULT>",
            b"<RESULT><RESULTCODE>twenty</RESULTCODE><RESULTMSG>x</RESULTMSG></RESULT>",
            b"<RESULT><RESULTCODE>20</RESULTCODE><RESULTMSG>x",
            b"ID3\x04\x00 not xml \xff",
        ] {
            assert_eq!(read_result_status(not_a_result), None, "{not_a_result:?}");
        }
    }

    #[test]
    fn characters_xml_cannot_carry_are_replaced() {
        let doc = Response::new("TEST", "1", Code::Ok)
            .with_detail("bad \u{1} byte")
            .encode();
        assert!(doc.contains("<RESULTMSG>API_OK: bad \u{FFFD} byte</RESULTMSG>"));
    }
}
