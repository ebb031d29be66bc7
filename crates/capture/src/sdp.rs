//! The part of SDP (RFC 4566) that says where a party wants its audio and in which
//! payload types: `c=`, the first `m=audio` and its `a=rtpmap` lines.
//!
//! Written here rather than taken from a crate: the SDP crates (webrtc-sdp, sdp) validate
//! the whole description and reject it for one line they dislike, while bodies captured
//! from gateways and phones are often slightly off the grammar (this project's own test
//! capture has `a=SendRecv`). A recorder needs three line types, read leniently.

use std::net::IpAddr;

/// Where and how one party receives audio.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioMedia {
    /// Connection address (media-level `c=` over session-level); `None` if missing or
    /// unparseable.
    pub addr: Option<IpAddr>,
    /// RTP port of the first `m=audio` line; 0 means the stream is disabled.
    pub port: u16,
    /// Payload type → encoding name (from rtpmap, or the RFC 3551 static table).
    pub payload_types: Vec<(u8, String)>,
}

impl AudioMedia {
    /// The encoding name for a payload type, if this description announced it.
    pub fn codec(&self, pt: u8) -> Option<&str> {
        self.payload_types
            .iter()
            .find(|(p, _)| *p == pt)
            .map(|(_, n)| n.as_str())
    }
}

/// Names of the RFC 3551 static audio payload types.
pub fn static_codec(pt: u8) -> Option<&'static str> {
    Some(match pt {
        0 => "PCMU",
        3 => "GSM",
        4 => "G723",
        5 | 6 | 16 | 17 => "DVI4",
        7 => "LPC",
        8 => "PCMA",
        9 => "G722",
        10 | 11 => "L16",
        12 => "QCELP",
        13 => "CN",
        14 => "MPA",
        15 => "G728",
        18 => "G729",
        _ => return None,
    })
}

fn parse_c_line(value: &str) -> Option<IpAddr> {
    // "IN IP4 200.57.7.196" (multicast may add "/ttl").
    let mut parts = value.split_whitespace();
    let _net = parts.next()?;
    let _kind = parts.next()?;
    let addr = parts.next()?.split('/').next()?;
    addr.parse().ok()
}

/// Reads the first audio stream of an SDP body; `None` if it has no `m=audio` line.
pub fn parse_audio(body: &[u8]) -> Option<AudioMedia> {
    let text = String::from_utf8_lossy(body);
    let mut session_addr = None;
    let mut media: Option<AudioMedia> = None;
    let mut media_addr = None;
    let mut in_audio = false;
    let mut seen_audio = false;
    for raw in text.lines() {
        let line = raw.trim();
        let Some((kind, value)) = line.split_once('=') else {
            continue;
        };
        match kind {
            "c" if !seen_audio => session_addr = parse_c_line(value),
            "c" if in_audio => media_addr = parse_c_line(value),
            "m" => {
                if seen_audio {
                    // Only the first audio stream is followed.
                    in_audio = false;
                    continue;
                }
                let mut parts = value.split_whitespace();
                if parts.next() != Some("audio") {
                    continue;
                }
                // "audio <port>[/<count>] <proto> <fmt>..."
                let port = parts
                    .next()
                    .and_then(|p| p.split('/').next())
                    .and_then(|p| p.parse().ok());
                let Some(port) = port else { continue };
                let _proto = parts.next();
                let payload_types = parts
                    .filter_map(|f| f.parse::<u8>().ok())
                    .filter(|pt| *pt < 128)
                    .map(|pt| (pt, static_codec(pt).unwrap_or("").to_string()))
                    .collect();
                media = Some(AudioMedia {
                    addr: None,
                    port,
                    payload_types,
                });
                in_audio = true;
                seen_audio = true;
            }
            "a" if in_audio => {
                let Some(rtpmap) = value.strip_prefix("rtpmap:") else {
                    continue;
                };
                // "96 opus/48000/2"
                let mut parts = rtpmap.split_whitespace();
                let pt = parts.next().and_then(|p| p.parse::<u8>().ok());
                let name = parts.next().and_then(|e| e.split('/').next());
                if let (Some(pt), Some(name), Some(m)) = (pt, name, media.as_mut())
                    && let Some(entry) = m.payload_types.iter_mut().find(|(p, _)| *p == pt)
                {
                    entry.1 = name.to_string();
                }
            }
            _ => {}
        }
    }
    let mut m = media?;
    m.addr = media_addr.or(session_addr);
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offer_with_session_connection() {
        let body = b"v=0\r\no=Clarent 120386 120387 IN IP4 200.57.7.196\r\ns=Clarent C5CM\r\nc=IN IP4 200.57.7.196\r\nt=0 0\r\nm=audio 40376 RTP/AVP 8 18 4 0\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:18 G729/8000\r\na=SendRecv\r\n";
        let m = parse_audio(body).expect("audio");
        assert_eq!(m.addr, Some("200.57.7.196".parse().expect("ip")));
        assert_eq!(m.port, 40376);
        assert_eq!(m.codec(8), Some("PCMA"));
        assert_eq!(m.codec(0), Some("PCMU"));
        assert_eq!(m.codec(18), Some("G729"));
        assert_eq!(m.codec(101), None);
    }

    #[test]
    fn media_level_connection_and_dynamic_types() {
        let body = b"v=0\nc=IN IP4 1.1.1.1\nm=video 5000 RTP/AVP 96\nc=IN IP4 9.9.9.9\nm=audio 6000 RTP/AVP 96 101\nc=IN IP6 ::1\na=rtpmap:96 opus/48000/2\na=rtpmap:101 telephone-event/8000\nm=audio 7000 RTP/AVP 0\n";
        let m = parse_audio(body).expect("audio");
        assert_eq!(m.addr, Some("::1".parse().expect("ip")));
        assert_eq!(m.port, 6000);
        assert_eq!(m.codec(96), Some("opus"));
        assert_eq!(m.codec(101), Some("telephone-event"));
    }

    #[test]
    fn garbage_gives_nothing() {
        assert_eq!(parse_audio(b""), None);
        assert_eq!(parse_audio(b"m=audio x RTP/AVP 0"), None);
        assert_eq!(parse_audio(&[0xff, 0xfe, b'=', b'\n']), None);
        let m = parse_audio(b"m=audio 4000 RTP/AVP 300 0\nc=IN IP4 nonsense").expect("audio");
        assert_eq!(m.addr, None);
        assert_eq!(m.payload_types, vec![(0, "PCMU".to_string())]);
    }
}
