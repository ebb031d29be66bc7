//! Per-flow TCP reassembly for SIP over TCP: puts segments back in sequence order, drops
//! retransmissions, and cuts the byte stream into SIP messages by Content-Length.
//!
//! Written here rather than taken from a crate: the maintained TCP reassembly code in Rust
//! lives inside whole network stacks (smoltcp) or IDS engines and expects to be one end of
//! the connection; a passive observer needs only ordering, overlap trimming and bounded
//! buffers, which are a few dozen lines. Everything is bounded: the number of flows, the
//! out-of-order segments per flow, and the bytes buffered per flow (one SIP message at
//! most, see [`crate::sip::MAX_MESSAGE`]).

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::Micros;
use crate::sip::{self, Framing};

/// Flows followed at once; the least recently active one is forgotten beyond this.
pub const MAX_FLOWS: usize = 4096;
/// Segments held while waiting for a missing one; beyond this the gap is given up.
pub const MAX_PENDING: usize = 64;

/// One TCP segment as the reassembler needs it.
#[derive(Clone, Copy, Debug)]
pub struct TcpSegment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    pub payload: &'a [u8],
}

#[derive(Default)]
struct Flow {
    /// Sequence number of the next byte expected in order.
    next_seq: u32,
    /// In-order bytes not yet framed into a message.
    buf: Vec<u8>,
    /// Segments that arrived ahead of a gap.
    pending: Vec<(u32, Vec<u8>)>,
    /// True until a segment starting with a SIP start line is seen: we joined the stream
    /// mid-message, or threw away garbage, and wait for a message boundary.
    resync: bool,
    last_seen: Micros,
}

/// What one segment produced.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reassembled {
    /// Complete SIP messages, in stream order.
    pub messages: Vec<Vec<u8>>,
    /// Bytes thrown away because they were not SIP or could not be placed.
    pub discarded: usize,
}

/// Reassembles the TCP flows of a capture.
#[derive(Default)]
pub struct TcpReassembler {
    flows: HashMap<(SocketAddr, SocketAddr), Flow>,
}

impl TcpReassembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of flows currently followed.
    pub fn flow_count(&self) -> usize {
        self.flows.len()
    }

    /// Feeds one segment; returns the SIP messages it completed.
    pub fn segment(&mut self, ts: Micros, seg: TcpSegment<'_>) -> Reassembled {
        let key = (seg.src, seg.dst);
        let mut out = Reassembled::default();
        if seg.rst {
            self.flows.remove(&key);
            return out;
        }
        if seg.syn {
            // A (re)starting connection: the first data byte follows the SYN.
            self.insert(
                key,
                Flow {
                    next_seq: seg.seq.wrapping_add(1),
                    last_seen: ts,
                    ..Flow::default()
                },
            );
            return out;
        }
        if !seg.payload.is_empty() {
            if !self.flows.contains_key(&key) {
                // Joined mid-connection: take this segment as the start and wait for a
                // message boundary.
                self.insert(
                    key,
                    Flow {
                        next_seq: seg.seq,
                        resync: true,
                        last_seen: ts,
                        ..Flow::default()
                    },
                );
            }
            if let Some(flow) = self.flows.get_mut(&key) {
                flow.last_seen = ts;
                flow.accept(seg.seq, seg.payload, &mut out);
            }
        }
        if seg.fin {
            self.flows.remove(&key);
        }
        out
    }

    fn insert(&mut self, key: (SocketAddr, SocketAddr), flow: Flow) {
        if self.flows.len() >= MAX_FLOWS
            && !self.flows.contains_key(&key)
            && let Some(oldest) = self
                .flows
                .iter()
                .min_by_key(|(_, f)| f.last_seen)
                .map(|(k, _)| *k)
        {
            self.flows.remove(&oldest);
        }
        self.flows.insert(key, flow);
    }
}

/// Signed distance from `a` to `b` in sequence space (RFC 1982 style).
fn seq_diff(b: u32, a: u32) -> i64 {
    i64::from(b.wrapping_sub(a) as i32)
}

impl Flow {
    fn accept(&mut self, seq: u32, payload: &[u8], out: &mut Reassembled) {
        let rel = seq_diff(seq, self.next_seq);
        if rel > 0 {
            // Ahead of a gap: keep it for later, unless too much is waiting, in which case
            // the missing bytes are taken as lost and the stream restarts at the earliest
            // waiting segment.
            if self.pending.iter().any(|(s, _)| *s == seq) {
                return;
            }
            self.pending.push((seq, payload.to_vec()));
            if self.pending.len() > MAX_PENDING {
                out.discarded += self.buf.len();
                self.buf.clear();
                self.resync = true;
                if let Some(first) = self
                    .pending
                    .iter()
                    .map(|(s, _)| *s)
                    .min_by_key(|s| seq_diff(*s, self.next_seq))
                {
                    self.next_seq = first;
                }
                self.drain_pending(out);
            }
            return;
        }
        self.append(seq, payload, out);
        self.drain_pending(out);
    }

    /// Appends a segment that starts at or before `next_seq`, trimming what was seen.
    fn append(&mut self, seq: u32, payload: &[u8], out: &mut Reassembled) {
        let overlap = usize::try_from(-seq_diff(seq, self.next_seq)).unwrap_or(usize::MAX);
        if overlap >= payload.len() {
            return; // a retransmission of bytes already taken
        }
        let fresh = &payload[overlap..];
        self.next_seq = self.next_seq.wrapping_add(fresh.len() as u32);
        if self.resync {
            // Only a segment that begins a SIP message ends the wait.
            let start = fresh
                .iter()
                .position(|&b| b != b'\r' && b != b'\n')
                .unwrap_or(fresh.len());
            if overlap == 0 && sip::looks_like_sip(&fresh[start..]) {
                self.resync = false;
            } else {
                out.discarded += fresh.len();
                return;
            }
        }
        self.buf.extend_from_slice(fresh);
        self.frame(out);
    }

    fn drain_pending(&mut self, out: &mut Reassembled) {
        while let Some(i) = self
            .pending
            .iter()
            .position(|(s, _)| seq_diff(*s, self.next_seq) <= 0)
        {
            let (seq, data) = self.pending.swap_remove(i);
            self.append(seq, &data, out);
        }
    }

    fn frame(&mut self, out: &mut Reassembled) {
        loop {
            match sip::frame_stream(&self.buf) {
                Framing::KeepAlive(n) => {
                    self.buf.drain(..n);
                }
                Framing::Message(n) => {
                    out.messages.push(self.buf.drain(..n).collect());
                }
                Framing::NeedMore => return,
                Framing::Garbage => {
                    out.discarded += self.buf.len();
                    self.buf.clear();
                    self.resync = true;
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(n: u32) -> Vec<u8> {
        let body = format!("v=0\r\nn={n}\r\n");
        format!(
            "MESSAGE sip:b@h SIP/2.0\r\nCall-ID: c{n}\r\nCSeq: {n} MESSAGE\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    fn seg(seq: u32, payload: &[u8]) -> TcpSegment<'_> {
        TcpSegment {
            src: "10.0.0.1:5000".parse().expect("addr"),
            dst: "10.0.0.2:5060".parse().expect("addr"),
            seq,
            syn: false,
            fin: false,
            rst: false,
            payload,
        }
    }

    fn syn(seq: u32) -> TcpSegment<'static> {
        TcpSegment {
            syn: true,
            ..seg(seq, b"")
        }
    }

    #[test]
    fn split_and_coalesced_messages() {
        let mut r = TcpReassembler::new();
        let mut stream = msg(1);
        stream.extend(msg(2));
        stream.extend(b"\r\n\r\n"); // keep-alive between messages
        stream.extend(msg(3));
        let base = u32::MAX - 10; // sequence numbers wrap inside the stream
        r.segment(0, syn(base));
        let mut got = Vec::new();
        let mut pos = 0usize;
        // Irregular cuts: inside headers, inside bodies, several messages at once.
        for cut in [7usize, 40, 90, 3, 200, 1000] {
            let end = (pos + cut).min(stream.len());
            let s = base.wrapping_add(1).wrapping_add(pos as u32);
            got.extend(r.segment(1, seg(s, &stream[pos..end])).messages);
            pos = end;
        }
        assert_eq!(got, vec![msg(1), msg(2), msg(3)]);
    }

    #[test]
    fn out_of_order_and_retransmitted() {
        let mut r = TcpReassembler::new();
        let mut stream = msg(1);
        stream.extend(msg(2));
        r.segment(0, syn(99));
        let (a, b, c) = (&stream[..30], &stream[30..80], &stream[80..]);
        let mut got = Vec::new();
        got.extend(r.segment(1, seg(100 + 80, c)).messages);
        got.extend(r.segment(1, seg(100, a)).messages);
        got.extend(r.segment(1, seg(100, a)).messages); // duplicate
        got.extend(r.segment(1, seg(100 + 20, &stream[20..80])).messages); // overlapping
        got.extend(r.segment(1, seg(100 + 30, b)).messages); // old again
        assert_eq!(got, vec![msg(1), msg(2)]);
    }

    #[test]
    fn joins_mid_stream_and_skips_garbage() {
        let mut r = TcpReassembler::new();
        let m1 = msg(1);
        let mut got = Vec::new();
        // No SYN seen, first segment is the tail of some message: skipped.
        got.extend(
            r.segment(0, seg(1000, b"tail of something\r\n\r\n"))
                .messages,
        );
        got.extend(r.segment(0, seg(1021, &m1)).messages);
        // Garbage in the middle resets the buffer; the next message is found again.
        let g = b"\x16\x03\x01 binary junk";
        let at = 1021 + m1.len() as u32;
        got.extend(r.segment(0, seg(at, g)).messages);
        let m2 = msg(2);
        got.extend(r.segment(0, seg(at + g.len() as u32, &m2)).messages);
        assert_eq!(got, vec![m1, m2]);
    }

    #[test]
    fn buffers_stay_bounded() {
        let mut r = TcpReassembler::new();
        r.segment(0, syn(0));
        let junk = vec![b'A'; 1400];
        let mut seq = 1u32;
        for _ in 0..1000 {
            r.segment(0, seg(seq, &junk));
            seq = seq.wrapping_add(1400);
        }
        let flow = r.flows.values().next().expect("flow");
        assert!(flow.buf.len() <= sip::MAX_MESSAGE + 1400);
        // Segments beyond a gap that never fills.
        for i in 0..500u32 {
            r.segment(0, seg(seq.wrapping_add(10_000 + i * 1400), &junk));
        }
        let flow = r.flows.values().next().expect("flow");
        assert!(flow.pending.len() <= MAX_PENDING);
        for i in 0..(MAX_FLOWS as u16 + 10) {
            let mut s = seg(0, b"x");
            s.src = SocketAddr::new(s.src.ip(), i);
            r.segment(i64::from(i), s);
        }
        assert!(r.flow_count() <= MAX_FLOWS);
    }
}
