//! The part of SIP (RFC 3261) a passive recorder needs: start line, a few headers, body,
//! and message framing on a stream.
//!
//! Written here rather than taken from a crate: the SIP crates on crates.io (rsip and
//! friends) parse strictly and reject a whole message for one odd header, are not kept up,
//! and offer no framing of partial stream data. A recorder must instead read what it can
//! from whatever the network carried and skip the rest, which this small lenient reader
//! does.

/// The largest SIP message we accept; longer ones are garbage on a recording path.
pub const MAX_MESSAGE: usize = 256 * 1024;

/// Request or status line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartLine {
    Request { method: String, uri: String },
    Response { code: u16, reason: String },
}

/// One parsed SIP message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SipMessage {
    pub start: StartLine,
    /// Headers in order, names lower-cased and compact forms expanded.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why bytes were not a SIP message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SipError {
    #[error("no SIP start line")]
    NoStartLine,
    #[error("headers do not end")]
    UnterminatedHeaders,
    #[error("missing or repeated Call-ID/CSeq")]
    MissingHeaders,
}

impl SipMessage {
    /// The first header of that (lower-case, full) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn call_id(&self) -> Option<&str> {
        self.header("call-id")
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// CSeq number and method.
    pub fn cseq(&self) -> Option<(u32, String)> {
        let v = self.header("cseq")?;
        let mut parts = v.split_whitespace();
        let num = parts.next()?.parse().ok()?;
        let method = parts.next()?.to_ascii_uppercase();
        Some((num, method))
    }

    /// True when the body is an SDP session description.
    pub fn has_sdp(&self) -> bool {
        !self.body.is_empty()
            && self.header("content-type").is_some_and(|ct| {
                ct.split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/sdp"))
            })
    }

    /// The SDP body, also when it is one part of a multipart body (as with SIP-T/ISUP
    /// gateways, which send SDP next to the ISUP message).
    pub fn sdp_body(&self) -> Option<&[u8]> {
        if self.has_sdp() {
            return Some(&self.body);
        }
        let ct = self.header("content-type")?;
        if !ct
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("multipart/")
        {
            return None;
        }
        find_sdp_part(&self.body)
    }
}

fn find_sdp_part(body: &[u8]) -> Option<&[u8]> {
    // Look for a part whose headers name application/sdp; its body runs to the next
    // boundary line ("\r\n--").
    let text = body;
    let mut pos = 0;
    while let Some(rel) = find(&text[pos..], b"application/sdp") {
        let at = pos + rel;
        let after = &text[at..];
        let (hdr_end, sep) = header_end(after)?;
        let part = &after[hdr_end + sep..];
        let end = find(part, b"\r\n--")
            .or_else(|| find(part, b"\n--"))
            .unwrap_or(part.len());
        if end > 0 {
            return Some(&part[..end]);
        }
        pos = at + 1;
    }
    None
}

/// Where the header block ends: (index of the blank line, length of the separator).
fn header_end(data: &[u8]) -> Option<(usize, usize)> {
    let crlf = find(data, b"\r\n\r\n").map(|i| (i, 4));
    let lf = find(data, b"\n\n").map(|i| (i, 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses the first line; `None` if it is not a SIP request or status line.
fn parse_start_line(line: &str) -> Option<StartLine> {
    let line = line.trim_end_matches('\r');
    if let Some(rest) = line.strip_prefix("SIP/2.0 ") {
        let mut parts = rest.splitn(2, ' ');
        let code_str = parts.next()?;
        if code_str.len() != 3 {
            return None;
        }
        let code: u16 = code_str.parse().ok()?;
        if !(100..=699).contains(&code) {
            return None;
        }
        let reason = parts.next().unwrap_or("").trim().to_string();
        return Some(StartLine::Response { code, reason });
    }
    let mut parts = line.split(' ');
    let method = parts.next()?;
    let uri = parts.next()?;
    let version = parts.next()?;
    if parts.next().is_some()
        || version != "SIP/2.0"
        || method.is_empty()
        || !method
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_')
        || uri.is_empty()
    {
        return None;
    }
    Some(StartLine::Request {
        method: method.to_string(),
        uri: uri.to_string(),
    })
}

/// True when the data begins with a SIP request or status line. Cheap enough to run on
/// every UDP payload.
pub fn looks_like_sip(data: &[u8]) -> bool {
    let first = match data.first() {
        Some(b) => *b,
        None => return false,
    };
    // RTP, STUN, DNS and most binary protocols fail this first test.
    if !first.is_ascii_uppercase() {
        return false;
    }
    let window = &data[..data.len().min(1024)];
    let Some(eol) = window.iter().position(|&b| b == b'\n') else {
        return false;
    };
    match std::str::from_utf8(&window[..eol]) {
        Ok(line) => parse_start_line(line).is_some(),
        Err(_) => false,
    }
}

fn canonical_name(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    // RFC 3261 §7.3.3 compact forms.
    let full = match lower.as_str() {
        "i" => "call-id",
        "f" => "from",
        "t" => "to",
        "l" => "content-length",
        "c" => "content-type",
        "v" => "via",
        "m" => "contact",
        "e" => "content-encoding",
        "k" => "supported",
        "s" => "subject",
        _ => return lower,
    };
    full.to_string()
}

/// Splits the header block into (name, value) pairs, joining folded lines.
fn parse_headers(block: &str) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for raw in block.split('\n') {
        let line = raw.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((canonical_name(name), value.trim().to_string()));
        }
    }
    headers
}

fn content_length(headers: &[(String, String)]) -> Option<usize> {
    headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.trim().parse().ok())
}

/// Parses one whole message (a UDP datagram or a framed piece of a TCP stream). Without
/// Content-Length the body is the rest of the data, as RFC 3261 §18.3 allows on UDP; a
/// Content-Length longer than the data (a truncated capture) keeps what is there.
pub fn parse(data: &[u8]) -> Result<SipMessage, SipError> {
    let (hdr_end, sep) = header_end(data).ok_or(SipError::UnterminatedHeaders)?;
    let head = String::from_utf8_lossy(&data[..hdr_end]);
    let (first, rest) = head.split_once('\n').unwrap_or((&head, ""));
    let start = parse_start_line(first).ok_or(SipError::NoStartLine)?;
    let headers = parse_headers(rest);
    let body_all = &data[hdr_end + sep..];
    let body = match content_length(&headers) {
        Some(n) if n <= body_all.len() => &body_all[..n],
        _ => body_all,
    };
    let msg = SipMessage {
        start,
        headers,
        body: body.to_vec(),
    };
    if msg.call_id().is_none() || msg.cseq().is_none() {
        return Err(SipError::MissingHeaders);
    }
    Ok(msg)
}

/// How much of a stream buffer the next message takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// Leading empty lines (keep-alives, RFC 5626 §4.4.1) to discard.
    KeepAlive(usize),
    /// A whole message of this many bytes is at the front of the buffer.
    Message(usize),
    /// More bytes are needed.
    NeedMore,
    /// The front of the buffer is not SIP; the stream must be resynchronised.
    Garbage,
}

/// Frames the next message of a SIP stream (TCP) with its Content-Length, which RFC 3261
/// §18.3 makes mandatory on streams (missing means an empty body).
pub fn frame_stream(buf: &[u8]) -> Framing {
    let blank = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    if blank > 0 {
        return Framing::KeepAlive(blank);
    }
    if buf.is_empty() {
        return Framing::NeedMore;
    }
    // Judge the start line as soon as it is complete, so garbage is found early.
    match buf.iter().position(|&b| b == b'\n') {
        Some(_) if !looks_like_sip(buf) => return Framing::Garbage,
        None if buf.len() > 1024 || !buf[0].is_ascii_uppercase() => return Framing::Garbage,
        None => return Framing::NeedMore,
        Some(_) => {}
    }
    let Some((hdr_end, sep)) = header_end(buf) else {
        return if buf.len() > MAX_MESSAGE {
            Framing::Garbage
        } else {
            Framing::NeedMore
        };
    };
    let head = String::from_utf8_lossy(&buf[..hdr_end]);
    let headers = parse_headers(head.split_once('\n').map_or("", |(_, r)| r));
    let body_len = match headers.iter().find(|(n, _)| n == "content-length") {
        None => 0,
        Some((_, v)) => match v.trim().parse::<usize>() {
            Ok(n) => n,
            Err(_) => return Framing::Garbage,
        },
    };
    let total = hdr_end + sep + body_len;
    if total > MAX_MESSAGE {
        Framing::Garbage
    } else if buf.len() >= total {
        Framing::Message(total)
    } else {
        Framing::NeedMore
    }
}

/// The URI inside a From/To/Contact value: between angle brackets if present, otherwise
/// up to the first header parameter.
fn uri_of(value: &str) -> &str {
    if let Some(open) = value.find('<') {
        let rest = &value[open + 1..];
        return rest.find('>').map_or(rest, |close| &rest[..close]);
    }
    // Without brackets, ';' starts header parameters (RFC 3261 §20.10).
    value.split(';').next().unwrap_or("").trim()
}

/// User part of the URI in a From/To header value: `sip:francisco@bestel.com` gives
/// `francisco`; a URI without a user part (`sip:200.57.7.195`) gives an empty string;
/// `tel:` URIs give the number.
pub fn user_part(value: &str) -> String {
    let uri = uri_of(value).trim();
    let lower = uri.to_ascii_lowercase();
    if let Some(number) = lower.strip_prefix("tel:").map(|_| &uri[4..]) {
        return number.split(';').next().unwrap_or("").to_string();
    }
    let after_scheme = match uri.split_once(':') {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") =>
        {
            rest
        }
        _ => return String::new(),
    };
    match after_scheme.split_once('@') {
        // User parameters (";phone-context=...") are not part of who is called.
        Some((user, _)) => user.split(';').next().unwrap_or("").to_string(),
        None => String::new(),
    }
}

/// The `tag` parameter of a From/To header value.
pub fn tag(value: &str) -> Option<String> {
    let params = match value.find('>') {
        Some(close) => &value[close + 1..],
        None => value,
    };
    params.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("tag")
            .then(|| v.trim().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n\
f: \"Alice\" <sip:alice@example.com>;tag=abc\r\n\
t: sip:bob@example.com\r\n\
i: call-1@host\r\n\
CSeq: 1 INVITE\r\n\
Subject: folded\r\n  line\r\n\
c: application/sdp\r\n\
l: 4\r\n\
\r\n\
v=0\r\nEXTRA";

    #[test]
    fn parses_compact_headers_and_body() {
        let m = parse(INVITE.as_bytes()).expect("parses");
        assert_eq!(
            m.start,
            StartLine::Request {
                method: "INVITE".into(),
                uri: "sip:bob@example.com".into()
            }
        );
        assert_eq!(m.call_id(), Some("call-1@host"));
        assert_eq!(m.cseq(), Some((1, "INVITE".into())));
        assert_eq!(m.header("subject"), Some("folded line"));
        assert_eq!(m.body, b"v=0\r");
        assert!(m.has_sdp());
        assert_eq!(user_part(m.header("from").unwrap_or("")), "alice");
        assert_eq!(tag(m.header("from").unwrap_or("")).as_deref(), Some("abc"));
        assert_eq!(user_part(m.header("to").unwrap_or("")), "bob");
        assert_eq!(tag(m.header("to").unwrap_or("")), None);
    }

    #[test]
    fn user_parts() {
        assert_eq!(
            user_part("<sip:200.57.7.195:55061;user=phone>;tag=GR52"),
            ""
        );
        assert_eq!(
            user_part("\"francisco@bestel.com\" <sip:francisco@bestel.com:55060>"),
            "francisco"
        );
        assert_eq!(user_part("<tel:+15551234;phone-context=x>"), "+15551234");
        assert_eq!(
            user_part("\"Anonymous\" <sip:anonymous@anonymous.invalid>"),
            "anonymous"
        );
        assert_eq!(user_part("garbage"), "");
    }

    #[test]
    fn frames_a_stream() {
        let msg = INVITE.replace("EXTRA", "");
        let msg = msg.trim_end_matches('\r').to_string() + "\r\n";
        // "v=0\r\n" is 5 bytes but Content-Length says 4: framing follows the header.
        let two = format!("{msg}{msg}");
        let first = msg.len() - 3;
        assert_eq!(frame_stream(two.as_bytes()), Framing::Message(first));
        assert_eq!(
            frame_stream(&two.as_bytes()[..first - 1]),
            Framing::NeedMore
        );
        assert_eq!(frame_stream(b"\r\n\r\nINVITE"), Framing::KeepAlive(4));
        assert_eq!(frame_stream(b"GET / HTTP/1.1\r\n"), Framing::Garbage);
        assert_eq!(frame_stream(b"\x16\x03\x01"), Framing::Garbage);
    }

    #[test]
    fn garbage_is_refused() {
        assert!(!looks_like_sip(b"\x80\x08\x00\x01"));
        assert!(!looks_like_sip(b"HELLO"));
        assert!(looks_like_sip(b"SIP/2.0 200 OK\r\n"));
        assert!(parse(b"SIP/2.0 200 OK\r\n\r\n").is_err());
        assert!(parse(b"").is_err());
        assert!(parse("SIP/2.0 200 OK\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n".as_bytes()).is_ok());
    }

    #[test]
    fn multipart_sdp_is_found() {
        let body = b"--b1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\nm=audio 4 RTP/AVP 0\r\n--b1\r\nContent-Type: application/isup\r\n\r\n\x01\x02\r\n--b1--\r\n";
        assert_eq!(
            find_sdp_part(body),
            Some(&b"v=0\r\nm=audio 4 RTP/AVP 0"[..])
        );
    }
}
