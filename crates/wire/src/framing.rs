//! Socket API framing (PROTOCOL §1.2): cutting a byte stream into requests.
//!
//! A cheap byte-at-a-time scanner follows just enough XML (tags, quotes inside tags,
//! comments, CDATA, processing instructions, declarations) to know the element depth, so it
//! sees where a request's root element closes. The bytes of that request are then handed to
//! [`parse_xml`], which does the real checking. Memory is bounded by
//! [`Limits::max_request_bytes`]: a larger request is answered at once and the rest of it is
//! scanned without being kept.
//!
//! Recovery from broken input:
//! - a `<REQUEST>` start tag, or one named like the open root, inside an unfinished request
//!   ends that request (answered 16) and begins a new one. A request element is never a valid
//!   parameter, so this applies at any depth, not only directly under the root;
//! - text that cannot be XML (outside any element, or markup that cannot be read) is
//!   answered 16 when its line ends, and everything up to that line end is dropped;
//! - [`SocketFramer::on_idle_timeout`] answers an unfinished request 16 and drops it.

use std::collections::VecDeque;

use crate::code::Code;
use crate::request::{Limits, Request, WireError};
use crate::xml_request::parse_xml;

/// One request cut from the stream, or the error it is answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Request(Request),
    Error(WireError),
}

impl Frame {
    pub fn into_result(self) -> Result<Request, WireError> {
        match self {
            Frame::Request(r) => Ok(r),
            Frame::Error(e) => Err(e),
        }
    }
}

impl From<Result<Request, WireError>> for Frame {
    fn from(result: Result<Request, WireError>) -> Frame {
        match result {
            Ok(r) => Frame::Request(r),
            Err(e) => Frame::Error(e),
        }
    }
}

/// Longest element name remembered for recovery. `REQUEST` and any type name are far
/// shorter; a longer root name simply cannot be recovered by name.
const MAX_TRACKED_NAME: usize = 64;

/// Where the framer is between requests.
#[derive(Debug)]
enum Mode {
    /// Between requests: whitespace and blank lines are skipped.
    Idle,
    /// Between requests, inside a UTF-8 byte order mark (`matched` bytes of it seen), which
    /// some .NET writers put before each document.
    ByteOrderMark { matched: usize },
    /// Inside a request whose bytes are kept.
    Collecting,
    /// Inside a request already answered for being too large; its bytes are not kept.
    Skipping,
    /// Dropping bytes up to the next line end, then answering with `pending` if any.
    Discarding { pending: Option<WireError> },
}

/// Where the scanner is inside a request.
#[derive(Debug, Clone, Copy)]
enum Lex {
    Text,
    /// Just after `<`.
    Open,
    /// Reading a start tag's name.
    StartName,
    /// After a start tag's name, up to `>`.
    StartRest {
        quote: Option<u8>,
        slash: bool,
    },
    /// Inside `</...>`.
    EndTag,
    /// After `<!`.
    Bang,
    /// After `<!-`.
    BangDash,
    Comment {
        dashes: u8,
    },
    /// Matching `[CDATA[` after `<!`; `matched` bytes of it seen so far.
    CdataOpen {
        matched: usize,
    },
    Cdata {
        brackets: u8,
    },
    /// `<!DOCTYPE ...>` and other declarations, with an internal subset in brackets.
    Declaration {
        quote: Option<u8>,
        brackets: u32,
    },
    /// `<?...?>`; `question` when the last byte was `?`.
    Instruction {
        question: bool,
    },
}

/// Cuts a socket byte stream into requests.
#[derive(Debug)]
pub struct SocketFramer {
    limits: Limits,
    ready: VecDeque<Frame>,
    mode: Mode,
    lex: Lex,
    /// The current request's bytes (in `Collecting` mode).
    buf: Vec<u8>,
    /// Position in `buf` of the `<` of the tag being read.
    tag_start: usize,
    /// The name of the start tag being read, as sent (at most `MAX_TRACKED_NAME + 1` bytes).
    tag_name: Vec<u8>,
    /// Element depth: 0 before the root opens.
    depth: usize,
    /// The root's name as sent, if short enough to track.
    root_name: Option<Vec<u8>>,
}

const CDATA_OPEN: &[u8] = b"[CDATA[";
const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

impl SocketFramer {
    pub fn new(limits: Limits) -> SocketFramer {
        SocketFramer {
            limits,
            ready: VecDeque::new(),
            mode: Mode::Idle,
            lex: Lex::Text,
            buf: Vec::new(),
            tag_start: 0,
            tag_name: Vec::new(),
            depth: 0,
            root_name: None,
        }
    }

    /// Feeds bytes as they arrive; finished requests become available from `next_frame`.
    pub fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.byte(b);
        }
    }

    /// The next finished request (or its error), in the order they were sent.
    pub fn next_frame(&mut self) -> Option<Frame> {
        self.ready.pop_front()
    }

    /// Whether an unfinished request is waiting for more bytes. The server arms its partial
    /// timeout while this is true.
    pub fn has_partial(&self) -> bool {
        !matches!(self.mode, Mode::Idle | Mode::ByteOrderMark { .. })
    }

    /// Called when an unfinished request got no bytes for the partial timeout: answers it
    /// with 16 and drops it. `None` when there was nothing unfinished, or when the unfinished
    /// request was already answered (an oversized one being skipped).
    pub fn on_idle_timeout(&mut self) -> Option<Frame> {
        let mode = std::mem::replace(&mut self.mode, Mode::Idle);
        let frame = match mode {
            Mode::Idle | Mode::ByteOrderMark { .. } | Mode::Skipping => None,
            Mode::Collecting => Some(Frame::Error(self.error_for_partial(
                &self.buf,
                "the request was left unfinished: no more bytes arrived",
            ))),
            Mode::Discarding { pending } => pending.map(Frame::Error),
        };
        self.reset_request();
        frame
    }

    fn reset_request(&mut self) {
        self.buf.clear();
        if self.buf.capacity() > 4096 {
            // Do not keep a large allocation around after one large request.
            self.buf.shrink_to(4096);
        }
        self.lex = Lex::Text;
        self.tag_start = 0;
        self.tag_name.clear();
        self.depth = 0;
        self.root_name = None;
    }

    fn byte(&mut self, b: u8) {
        match &mut self.mode {
            Mode::Idle => {
                if is_space(b) {
                    return;
                }
                if b == BYTE_ORDER_MARK[0] {
                    self.mode = Mode::ByteOrderMark { matched: 1 };
                } else if b == b'<' {
                    self.reset_request();
                    self.mode = Mode::Collecting;
                    self.buf.push(b);
                    self.scan(b);
                } else {
                    self.mode = Mode::Discarding {
                        pending: Some(WireError::malformed("the request is not XML")),
                    };
                }
            }
            Mode::ByteOrderMark { matched } => {
                if BYTE_ORDER_MARK.get(*matched) == Some(&b) {
                    *matched += 1;
                    if *matched == BYTE_ORDER_MARK.len() {
                        self.mode = Mode::Idle;
                    }
                } else {
                    self.mode = Mode::Discarding {
                        pending: Some(WireError::malformed("the request is not XML")),
                    };
                    if is_line_end(b) {
                        self.byte(b);
                    }
                }
            }
            Mode::Discarding { pending } => {
                if is_line_end(b) {
                    if let Some(e) = pending.take() {
                        self.ready.push_back(Frame::Error(e));
                    }
                    self.mode = Mode::Idle;
                }
            }
            Mode::Collecting => {
                self.buf.push(b);
                if self.buf.len() > self.limits.max_request_bytes {
                    let e = self.error_for_partial(
                        &self.buf,
                        &format!(
                            "the request is larger than {} bytes",
                            self.limits.max_request_bytes
                        ),
                    );
                    self.ready.push_back(Frame::Error(e));
                    self.buf.clear();
                    self.mode = Mode::Skipping;
                }
                self.scan(b);
            }
            Mode::Skipping => self.scan(b),
        }
    }

    /// Advances the scanner by one byte of the current request (already in `buf` when
    /// collecting).
    fn scan(&mut self, b: u8) {
        match self.lex {
            Lex::Text => {
                if b == b'<' {
                    self.tag_start = self.buf.len().saturating_sub(1);
                    self.lex = Lex::Open;
                } else if self.depth == 0 && !is_space(b) {
                    self.broken(b, "the request holds text outside its root element");
                }
            }
            Lex::Open => match b {
                b'/' => self.lex = Lex::EndTag,
                b'!' => self.lex = Lex::Bang,
                b'?' => self.lex = Lex::Instruction { question: false },
                _ if is_name_start(b) => {
                    self.tag_name.clear();
                    self.tag_name.push(b);
                    self.lex = Lex::StartName;
                }
                _ => self.broken(b, "the request holds a `<` that does not start a tag"),
            },
            Lex::StartName => {
                if is_space(b) || b == b'/' || b == b'>' {
                    self.start_name_done(b);
                    self.lex = Lex::StartRest {
                        quote: None,
                        slash: false,
                    };
                    self.scan(b);
                } else if b == b'<' {
                    self.broken(b, "the request holds a tag that is not closed");
                } else if self.tag_name.len() <= MAX_TRACKED_NAME {
                    self.tag_name.push(b);
                }
            }
            Lex::StartRest { quote, slash } => match (quote, b) {
                (Some(q), _) => {
                    if b == q {
                        self.lex = Lex::StartRest { quote: None, slash };
                    }
                }
                (None, b'"' | b'\'') => {
                    self.lex = Lex::StartRest {
                        quote: Some(b),
                        slash: false,
                    }
                }
                (None, b'>') => {
                    self.lex = Lex::Text;
                    self.start_tag_closed(slash);
                }
                (None, b'/') => self.lex = Lex::StartRest { quote, slash: true },
                (None, b'<') => self.broken(b, "the request holds a tag that is not closed"),
                (None, _) if is_space(b) => {}
                (None, _) => {
                    self.lex = Lex::StartRest {
                        quote,
                        slash: false,
                    }
                }
            },
            Lex::EndTag => match b {
                b'>' => {
                    self.lex = Lex::Text;
                    if self.depth == 0 {
                        self.broken(b, "the request holds an end tag that closes nothing");
                    } else {
                        self.depth -= 1;
                        if self.depth == 0 {
                            self.complete();
                        }
                    }
                }
                b'<' => self.broken(b, "the request holds a tag that is not closed"),
                _ => {}
            },
            Lex::Bang => match b {
                b'-' => self.lex = Lex::BangDash,
                b'[' => self.lex = Lex::CdataOpen { matched: 1 },
                _ => {
                    self.lex = Lex::Declaration {
                        quote: None,
                        brackets: 0,
                    }
                }
            },
            Lex::BangDash => {
                if b == b'-' {
                    self.lex = Lex::Comment { dashes: 0 };
                } else {
                    self.broken(b, "the request holds a `<!-` that does not start a comment");
                }
            }
            Lex::Comment { dashes } => {
                self.lex = match b {
                    b'-' => Lex::Comment {
                        dashes: (dashes + 1).min(2),
                    },
                    b'>' if dashes >= 2 => Lex::Text,
                    _ => Lex::Comment { dashes: 0 },
                }
            }
            Lex::CdataOpen { matched } => {
                if CDATA_OPEN.get(matched) == Some(&b) {
                    self.lex = if matched + 1 == CDATA_OPEN.len() {
                        Lex::Cdata { brackets: 0 }
                    } else {
                        Lex::CdataOpen {
                            matched: matched + 1,
                        }
                    };
                } else {
                    self.broken(b, "the request holds a `<![` that does not start CDATA");
                }
            }
            Lex::Cdata { brackets } => {
                self.lex = match b {
                    b']' => Lex::Cdata {
                        brackets: (brackets + 1).min(2),
                    },
                    b'>' if brackets >= 2 => Lex::Text,
                    _ => Lex::Cdata { brackets: 0 },
                }
            }
            Lex::Declaration { quote, brackets } => {
                self.lex = match (quote, b) {
                    (Some(q), _) if b == q => Lex::Declaration {
                        quote: None,
                        brackets,
                    },
                    (Some(_), _) => self.lex,
                    (None, b'"' | b'\'') => Lex::Declaration {
                        quote: Some(b),
                        brackets,
                    },
                    (None, b'[') => Lex::Declaration {
                        quote,
                        brackets: brackets.saturating_add(1),
                    },
                    (None, b']') => Lex::Declaration {
                        quote,
                        brackets: brackets.saturating_sub(1),
                    },
                    (None, b'>') if brackets == 0 => Lex::Text,
                    _ => self.lex,
                }
            }
            Lex::Instruction { question } => {
                self.lex = match b {
                    b'>' if question => Lex::Text,
                    _ => Lex::Instruction {
                        question: b == b'?',
                    },
                }
            }
        }
    }

    /// A start tag's name is known: if it begins a new request inside an unfinished one,
    /// the unfinished one ends here.
    fn start_name_done(&mut self, delimiter: u8) {
        if self.depth == 0 {
            return;
        }
        let name = &self.tag_name;
        let restarts = name.eq_ignore_ascii_case(b"REQUEST")
            || self
                .root_name
                .as_ref()
                .is_some_and(|root| root.eq_ignore_ascii_case(name));
        if !restarts {
            return;
        }
        match self.mode {
            Mode::Collecting => {
                let end = self.tag_start.min(self.buf.len());
                let unfinished: Vec<u8> = self.buf.drain(..end).collect();
                let e = self.error_for_partial(
                    &unfinished,
                    "the request was not finished before the next one began",
                );
                self.ready.push_back(Frame::Error(e));
            }
            _ => {
                // Already answered (too large): start keeping bytes again, from this tag.
                self.buf.clear();
                self.buf.push(b'<');
                self.buf.extend_from_slice(&self.tag_name);
                self.buf.push(delimiter);
                self.mode = Mode::Collecting;
            }
        }
        self.tag_start = 0;
        self.depth = 0;
        self.root_name = None;
    }

    fn start_tag_closed(&mut self, empty: bool) {
        if self.depth == 0 {
            self.root_name =
                (self.tag_name.len() <= MAX_TRACKED_NAME).then(|| self.tag_name.clone());
            if empty {
                self.complete();
                return;
            }
        }
        if !empty {
            self.depth += 1;
        }
    }

    /// The root element closed: the request is complete.
    fn complete(&mut self) {
        if matches!(self.mode, Mode::Collecting) {
            let frame = Frame::from(parse_xml(&self.buf, &self.limits));
            self.ready.push_back(frame);
        }
        self.mode = Mode::Idle;
        self.reset_request();
    }

    /// The request cannot be XML: drop the rest of its line and answer it then (at once if
    /// `b` itself ends the line).
    fn broken(&mut self, b: u8, why: &str) {
        let pending = match self.mode {
            Mode::Collecting => Some(self.error_for_partial(&self.buf, why)),
            _ => None,
        };
        self.reset_request();
        self.mode = Mode::Discarding { pending };
        if is_line_end(b) {
            self.byte(b);
        }
    }

    /// A 16 for an unfinished or broken request, with whatever TYPE and REQUESTID can be
    /// read from its bytes so far.
    fn error_for_partial(&self, bytes: &[u8], why: &str) -> WireError {
        let unlimited = Limits {
            max_request_bytes: usize::MAX,
            ..self.limits.clone()
        };
        let (request_type, request_id) = match parse_xml(bytes, &unlimited) {
            Ok(r) => (r.request_type, r.request_id),
            Err(e) => (e.request_type, e.request_id),
        };
        WireError {
            code: Code::InvalidMessageFormat,
            message: why.to_owned(),
            request_type,
            request_id,
        }
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_line_end(b: u8) -> bool {
    matches!(b, b'\r' | b'\n')
}

/// Bytes that can begin an element name (any non-ASCII byte may be part of a letter).
fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':' || b >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(id: &str) -> String {
        format!("<REQUEST><TYPE>TEST</TYPE><REQUESTID>{id}</REQUESTID></REQUEST>")
    }

    fn framer() -> SocketFramer {
        SocketFramer::new(Limits::default())
    }

    fn drain(f: &mut SocketFramer) -> Vec<Frame> {
        std::iter::from_fn(|| f.next_frame()).collect()
    }

    /// One line per frame: `ok TYPE ID` or `NN TYPE ID`.
    fn summary(frames: &[Frame]) -> Vec<String> {
        frames
            .iter()
            .map(|f| match f {
                Frame::Request(r) => format!("ok {} {}", r.request_type, r.request_id),
                Frame::Error(e) => {
                    format!("{} {} {}", e.code.number(), e.request_type, e.request_id)
                }
            })
            .collect()
    }

    fn feed(input: &str) -> Vec<String> {
        let mut f = framer();
        f.push(input.as_bytes());
        summary(&drain(&mut f))
    }

    #[test]
    fn pipelined_requests_in_one_push() {
        let input = format!(
            "{}\r\n{}\r\n{}\n{}\r",
            req("1"),
            req("2"),
            req("3"),
            req("4")
        );
        assert_eq!(
            feed(&input),
            ["ok TEST 1", "ok TEST 2", "ok TEST 3", "ok TEST 4"]
        );
    }

    #[test]
    fn split_byte_by_byte() {
        let input = format!(
            "{}\r\n\r\n<CALLSTART>\r\n\t<REQUESTID>2</REQUESTID>\r\n\t<USER1><![CDATA[a>b]]></USER1>\r\n\t<!-- x > y -->\r\n\t<DEVICEID a='>'>200</DEVICEID>\r\n</CALLSTART>\r\n",
            req("1")
        );
        let mut f = framer();
        let mut frames = Vec::new();
        for b in input.as_bytes() {
            f.push(std::slice::from_ref(b));
            frames.extend(drain(&mut f));
        }
        assert_eq!(summary(&frames), ["ok TEST 1", "ok CALLSTART 2"]);
        let Frame::Request(r) = &frames[1] else {
            panic!("expected a request")
        };
        assert_eq!(r.get("USER1"), Some("a>b"));
        assert_eq!(r.get("DEVICEID"), Some("200"));
        assert!(!f.has_partial());
    }

    #[test]
    fn multi_line_request_with_declaration_and_blank_lines() {
        let input = "\r\n\r\n<?xml version=\"1.0\"?>\r\n<REQUEST>\r\n<TYPE>CALLSTART</TYPE>\r\n<REQUESTID>7</REQUESTID>\r\n<DEVICEID>200</DEVICEID>\r\n</REQUEST>\r\n\r\n";
        assert_eq!(feed(input), ["ok CALLSTART 7"]);
    }

    #[test]
    fn each_frame_is_validated() {
        let input = "<REQUEST><TYPE>TEST</TYPE></REQUEST>\r\n<TEST><REQUESTID>1</REQUESTID><A/><A/></TEST>\r\n<TEST/>\r\n";
        assert_eq!(feed(input), ["14 TEST ", "17 TEST 1", "14 TEST "]);
    }

    #[test]
    fn unfinished_request_ended_by_the_next_one() {
        let input = format!(
            "{}\r\n<REQUEST><TYPE>TEST</TYPE><REQUESTID>2</REQUESTID>\r\n{}\r\n<CALLSTART><REQUESTID>4</REQUESTID><ANI>1\r\n<callstart><REQUESTID>5</REQUESTID></callstart>\r\n",
            req("1"),
            req("3")
        );
        assert_eq!(
            feed(&input),
            [
                "ok TEST 1",
                "16 TEST 2",
                "ok TEST 3",
                "16 CALLSTART 4",
                "ok CALLSTART 5"
            ]
        );
    }

    #[test]
    fn malformed_request_between_good_ones() {
        let input = format!(
            "{}\r\n<REQUEST><TYPE>TEST</TYPE><REQUESTID>2</REQUESTID><A>x</B></REQUEST>\r\n{}\r\n",
            req("1"),
            req("3")
        );
        assert_eq!(feed(&input), ["ok TEST 1", "16 TEST 2", "ok TEST 3"]);
    }

    #[test]
    fn garbage_text_is_one_16_per_line() {
        let input = format!(
            "hello there\r\n{}\r\nGET / HTTP/1.1\r\n\r\n< not a tag\r\n{}<<>>\r\n{}\r\n",
            req("1"),
            req("2"),
            req("3")
        );
        assert_eq!(
            feed(&input),
            [
                "16  ",
                "ok TEST 1",
                "16  ",
                "16  ",
                "ok TEST 2",
                "16  ",
                "ok TEST 3"
            ]
        );
    }

    #[test]
    fn broken_markup_inside_a_request_keeps_its_ids() {
        let input = format!(
            "<REQUEST><TYPE>TEST</TYPE><REQUESTID>2</REQUESTID><A <B>\r\n{}\r\n",
            req("3")
        );
        assert_eq!(feed(&input), ["16 TEST 2", "ok TEST 3"]);
    }

    #[test]
    fn oversized_request_is_answered_once_and_skipped() {
        let limits = Limits {
            max_request_bytes: 200,
            ..Limits::default()
        };
        let mut f = SocketFramer::new(limits);
        let big = format!(
            "<REQUEST><TYPE>TEST</TYPE><REQUESTID>9</REQUESTID><USER1>{}</USER1></REQUEST>\r\n",
            "x".repeat(10_000)
        );
        // Fed in pieces: the whole request is never kept.
        for chunk in big.as_bytes().chunks(97) {
            f.push(chunk);
            assert!(f.buf.len() <= 200);
        }
        f.push(format!("{}\r\n", req("10")).as_bytes());
        let frames = drain(&mut f);
        assert_eq!(summary(&frames), ["16 TEST 9", "ok TEST 10"]);
        let Frame::Error(e) = &frames[0] else {
            panic!("expected an error")
        };
        assert_eq!(e.message, "the request is larger than 200 bytes");
    }

    #[test]
    fn oversized_request_that_never_ends_is_cut_by_the_next_request() {
        let limits = Limits {
            max_request_bytes: 100,
            ..Limits::default()
        };
        let mut f = SocketFramer::new(limits);
        let input = format!(
            "<REQUEST><TYPE>TEST</TYPE><REQUESTID>1</REQUESTID><A>{}</A>\r\n{}\r\n",
            "y".repeat(500),
            req("2")
        );
        f.push(input.as_bytes());
        assert_eq!(summary(&drain(&mut f)), ["16 TEST 1", "ok TEST 2"]);
    }

    #[test]
    fn idle_timeout() {
        let mut f = framer();
        assert_eq!(f.on_idle_timeout(), None);
        f.push(b"<REQUEST><TYPE>TEST</TYPE><REQUESTID>4</REQUESTID>");
        assert!(f.has_partial());
        assert_eq!(f.next_frame(), None);
        let Some(Frame::Error(e)) = f.on_idle_timeout() else {
            panic!("expected an error")
        };
        assert_eq!(e.code, Code::InvalidMessageFormat);
        assert_eq!(
            (e.request_type.as_str(), e.request_id.as_str()),
            ("TEST", "4")
        );
        assert!(!f.has_partial());
        assert_eq!(f.on_idle_timeout(), None);
        // The connection stays usable.
        f.push(format!("{}\r\n", req("5")).as_bytes());
        assert_eq!(summary(&drain(&mut f)), ["ok TEST 5"]);

        // Garbage with no line end is answered by the timeout too.
        f.push(b"garbage");
        assert!(matches!(f.on_idle_timeout(), Some(Frame::Error(_))));
        assert_eq!(f.next_frame(), None);
    }

    #[test]
    fn idle_timeout_after_oversize_answers_nothing_more() {
        let mut f = SocketFramer::new(Limits {
            max_request_bytes: 50,
            ..Limits::default()
        });
        f.push(&[b'<', b'A', b'>'][..]);
        f.push("z".repeat(100).as_bytes());
        assert_eq!(summary(&drain(&mut f)), ["16 A "]);
        assert_eq!(f.on_idle_timeout(), None);
    }

    #[test]
    fn byte_order_marks_before_requests_are_skipped() {
        let mut f = framer();
        f.push(format!("\u{FEFF}{}\r\n\u{FEFF}{}\r\n", req("1"), req("2")).as_bytes());
        // A broken mark is not XML.
        f.push(b"\xEF\xBBx\r\n\xEF\n");
        f.push(format!("{}\r\n", req("3")).as_bytes());
        assert_eq!(
            summary(&drain(&mut f)),
            ["ok TEST 1", "ok TEST 2", "16  ", "16  ", "ok TEST 3"]
        );
    }

    #[test]
    fn unicode_survives_framing() {
        let input = "<TEST><REQUESTID>1</REQUESTID><USER1>😀 中文 é</USER1></TEST>\r\n";
        let mut f = framer();
        for b in input.as_bytes() {
            f.push(std::slice::from_ref(b));
        }
        let Some(Frame::Request(r)) = f.next_frame() else {
            panic!("expected a request")
        };
        assert_eq!(r.get("USER1"), Some("😀 中文 é"));
    }

    /// A tiny xorshift generator: deterministic, no dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn random_bytes_never_panic_and_stay_bounded() {
        // Bytes biased towards XML punctuation, so the scanner's states all get visited.
        const ALPHABET: &[u8] = b"<>/!?-[]\"'= \r\nREQUESTYPDCAabc&;#x01";
        let limits = Limits {
            max_request_bytes: 512,
            ..Limits::default()
        };
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for round in 0..400 {
            let mut f = SocketFramer::new(limits.clone());
            for _ in 0..40 {
                let len = (rng.next() % 64) as usize;
                let chunk: Vec<u8> = (0..len)
                    .map(|_| {
                        let r = rng.next();
                        if round & 1 == 0 {
                            r as u8
                        } else {
                            ALPHABET[(r % ALPHABET.len() as u64) as usize]
                        }
                    })
                    .collect();
                f.push(&chunk);
                while f.next_frame().is_some() {}
                assert!(f.buf.len() <= limits.max_request_bytes);
                if rng.next() & 7 == 0 {
                    let _ = f.on_idle_timeout();
                }
            }
            // After whatever came before, a clean request still gets through.
            let _ = f.on_idle_timeout();
            f.push(b"\r\n");
            while f.next_frame().is_some() {}
            f.push(format!("{}\r\n", req("77")).as_bytes());
            assert_eq!(summary(&drain(&mut f)), ["ok TEST 77"], "round {round}");
        }
    }
}
