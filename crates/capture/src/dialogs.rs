//! The synchronous core: follows SIP dialogs by Call-ID, learns from their SDP where each
//! party receives audio, and turns the RTP sent there into timed PCM.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use crate::packet_decoding::{self, LinkType, Skip, Transport};
use crate::sdp::{self, AudioMedia};
use crate::sip::{self, SipMessage, StartLine};
use crate::stats::CaptureStats;
use crate::tcp_reassembly::{TcpReassembler, TcpSegment};
use crate::{MediaEvent, Micros, Side, g711, rtp};

/// Call-IDs remembered after their dialog ended, so retransmissions and the 200 OK to a
/// BYE do not start anything new.
const MAX_ENDED: usize = 65_536;
/// RTP streams (side × SSRC) followed per dialog; a dialog cycling through more SSRCs
/// than this starts over with fresh anchors.
const MAX_STREAMS: usize = 64;
/// Streams (source, destination, SSRC) of RTP no SIP call set up that are told apart for
/// the stray-stream count; beyond this the count stops growing.
const MAX_STRAY_STREAMS: usize = 4096;
/// Recent sequence numbers per stream used to drop duplicated packets (SPAN ports often
/// see a packet twice).
const DUP_WINDOW: usize = 64;
/// How far the RTP clock may run from the capture clock inside a talkspurt before the
/// stream is re-anchored anyway: beyond this a timestamp jump (a sender restart, a
/// re-INVITE reusing the SSRC) is more likely than jitter.
const MAX_DRIFT: Micros = 1_000_000;
/// RTP timestamp step, beyond the previous packet's own length, still taken as the next
/// packet of the same talkspurt (10 ms at 8 kHz). A larger step is a gap: silence
/// suppression, a lost packet, a DTMF event or comfort noise in between.
const TS_TOLERANCE: i64 = 80;
/// How much later than its RTP timestamp says a packet may arrive after the previous one
/// and still be taken as the next packet of the same talkspurt.
const MAX_ARRIVAL_GAP: Micros = 60_000;
/// Microseconds per sample at 8 kHz.
const MICROS_PER_SAMPLE: i64 = 125;

impl Side {
    fn other(self) -> Side {
        match self {
            Side::Caller => Side::Callee,
            Side::Callee => Side::Caller,
        }
    }

    fn index(self) -> usize {
        match self {
            Side::Caller => 0,
            Side::Callee => 1,
        }
    }
}

/// Places one RTP stream's packets on the capture clock.
///
/// Each talkspurt starts at the capture time of its first packet; inside it, packets
/// follow the sender's RTP clock, so network jitter does not chop the speech. Gaps
/// (silence suppression, loss) therefore become silence of their real length, and the
/// sender's clock drifting from the capture clock cannot accumulate across silences. A
/// packet never starts before the end of the stream's previous packet, so no audio is
/// overwritten.
struct StreamClock {
    anchor_capture: Micros,
    anchor_ext: i64,
    last_rtp: u32,
    last_ext: i64,
    /// The previous placed packet: capture time, samples, and where its samples end.
    /// `None` until the first one.
    last: Option<Placed>,
    recent_seqs: VecDeque<u16>,
}

#[derive(Clone, Copy)]
struct Placed {
    capture: Micros,
    samples: i64,
    end: Micros,
}

impl StreamClock {
    fn new(ts: Micros, rtp_ts: u32) -> Self {
        StreamClock {
            anchor_capture: ts,
            anchor_ext: i64::from(rtp_ts),
            last_rtp: rtp_ts,
            last_ext: i64::from(rtp_ts),
            last: None,
            recent_seqs: VecDeque::with_capacity(DUP_WINDOW),
        }
    }

    /// True if this sequence number was seen recently (a duplicate).
    fn is_duplicate(&mut self, seq: u16) -> bool {
        if self.recent_seqs.contains(&seq) {
            return true;
        }
        if self.recent_seqs.len() == DUP_WINDOW {
            self.recent_seqs.pop_front();
        }
        self.recent_seqs.push_back(seq);
        false
    }

    /// Capture time of the first sample of a packet of `samples` samples with this RTP
    /// timestamp and marker bit that arrived at `ts`.
    fn place(&mut self, ts: Micros, rtp_ts: u32, marker: bool, samples: usize) -> Micros {
        // Extend the 32-bit timestamp across wraparound: the step from the previous packet
        // is taken as a signed 32-bit difference.
        let step = i64::from(rtp_ts.wrapping_sub(self.last_rtp) as i32);
        let ext = self.last_ext + step;
        self.last_rtp = rtp_ts;
        self.last_ext = ext;
        let at = self.anchor_capture + (ext - self.anchor_ext) * MICROS_PER_SAMPLE;
        let talkspurt_starts = match self.last {
            None => true,
            Some(last) => {
                marker
                    || step < 0
                    || step > last.samples + TS_TOLERANCE
                    || (ts - last.capture) - step * MICROS_PER_SAMPLE > MAX_ARRIVAL_GAP
                    || (at - ts).abs() > MAX_DRIFT
            }
        };
        let mut at = if talkspurt_starts { ts } else { at };
        if let Some(last) = self.last {
            at = at.max(last.end);
        }
        if talkspurt_starts {
            self.anchor_capture = at;
            self.anchor_ext = ext;
        }
        let samples = samples as i64;
        self.last = Some(Placed {
            capture: ts,
            samples,
            end: at + samples * MICROS_PER_SAMPLE,
        });
        at
    }
}

struct Dialog {
    /// Start order, so the end-of-capture events come out in a stable order.
    order: u64,
    /// From tag of the initial INVITE: requests carrying it come from the caller.
    caller_tag: Option<String>,
    answered: bool,
    /// Each party's receive description, by `Side::index`.
    media: [Option<AudioMedia>; 2],
    streams: HashMap<(Side, u32), StreamClock>,
    reported_undecodable: HashSet<(Side, String)>,
    /// Highest CSeq number of an INVITE seen, to tell retransmissions from new INVITEs.
    invite_cseq: u32,
}

impl Dialog {
    /// Which party sent a message, from the From tag: requests with the caller's tag come
    /// from the caller, responses to them from the callee, and the reverse. Comparing tags
    /// rather than addresses keeps this right behind proxies and B2BUAs.
    fn sender(&self, msg: &SipMessage) -> Side {
        let from_tag = msg.header("from").and_then(sip::tag);
        let from_caller = from_tag == self.caller_tag;
        match (&msg.start, from_caller) {
            (StartLine::Request { .. }, true) | (StartLine::Response { .. }, false) => Side::Caller,
            _ => Side::Callee,
        }
    }
}

/// How a decoded payload type is treated.
enum Codec {
    Pcmu,
    Pcma,
    /// Comfort noise, DTMF events: not audio; the gap they leave becomes silence.
    NotAudio,
    Undecodable(String),
}

fn classify(name: &str) -> Codec {
    if name.eq_ignore_ascii_case("PCMU") {
        Codec::Pcmu
    } else if name.eq_ignore_ascii_case("PCMA") {
        Codec::Pcma
    } else if name.eq_ignore_ascii_case("CN") || name.eq_ignore_ascii_case("telephone-event") {
        Codec::NotAudio
    } else {
        Codec::Undecodable(name.to_string())
    }
}

/// Follows SIP dialogs and their RTP through a stream of captured frames.
pub struct Tracker {
    stats: Arc<CaptureStats>,
    tcp: TcpReassembler,
    dialogs: HashMap<String, Dialog>,
    /// Ended Call-IDs → highest INVITE CSeq seen, oldest first in `ended_order`.
    ended: HashMap<String, u32>,
    ended_order: VecDeque<String>,
    /// RTP receive address announced in SDP → (dialog, party that receives there).
    media: HashMap<SocketAddr, (String, Side)>,
    /// Streams of RTP sent where no SIP call announced media (see `stray_rtp_streams`).
    stray_streams: HashSet<(SocketAddr, SocketAddr, u32)>,
    next_order: u64,
    last_ts: Option<Micros>,
}

impl Default for Tracker {
    fn default() -> Self {
        Self::new(Arc::new(CaptureStats::default()))
    }
}

impl Tracker {
    /// A tracker that counts into `stats`.
    pub fn new(stats: Arc<CaptureStats>) -> Self {
        Tracker {
            stats,
            tcp: TcpReassembler::new(),
            dialogs: HashMap::new(),
            ended: HashMap::new(),
            ended_order: VecDeque::new(),
            media: HashMap::new(),
            stray_streams: HashSet::new(),
            next_order: 0,
            last_ts: None,
        }
    }

    /// The counters this tracker updates.
    pub fn stats(&self) -> &Arc<CaptureStats> {
        &self.stats
    }

    /// Capture time of the last packet fed in.
    pub fn last_packet_ts(&self) -> Option<Micros> {
        self.last_ts
    }

    /// Number of dialogs currently open.
    pub fn open_dialogs(&self) -> usize {
        self.dialogs.len()
    }

    /// Feeds one captured frame; returns what it caused, in order.
    pub fn packet(&mut self, ts: Micros, data: &[u8], linktype: LinkType) -> Vec<MediaEvent> {
        let mut events = Vec::new();
        CaptureStats::bump(&self.stats.packets);
        self.last_ts = Some(ts);
        let seg = match packet_decoding::decode(linktype, data) {
            Ok(seg) => seg,
            Err(Skip::Broken) => {
                CaptureStats::bump(&self.stats.dropped_packets);
                return events;
            }
            Err(Skip::NotUdpTcp) => {
                CaptureStats::bump(&self.stats.ignored_packets);
                return events;
            }
        };
        match seg.transport {
            Transport::Udp { payload } => {
                if sip::looks_like_sip(payload) {
                    self.sip_bytes(ts, payload, &mut events);
                } else {
                    self.rtp(ts, seg.src, seg.dst, payload, &mut events);
                }
            }
            Transport::Tcp {
                seq,
                syn,
                fin,
                rst,
                payload,
            } => {
                let out = self.tcp.segment(
                    ts,
                    TcpSegment {
                        src: seg.src,
                        dst: seg.dst,
                        seq,
                        syn,
                        fin,
                        rst,
                        payload,
                    },
                );
                if out.discarded > 0 {
                    CaptureStats::bump(&self.stats.ignored_packets);
                }
                for msg in out.messages {
                    self.sip_bytes(ts, &msg, &mut events);
                }
            }
        }
        events
    }

    /// Ends every open dialog at `last_ts` (the last packet of the capture), in the order
    /// they started, and forgets all state.
    pub fn finish(&mut self, last_ts: Micros) -> Vec<MediaEvent> {
        let mut open: Vec<(u64, String)> = self
            .dialogs
            .iter()
            .map(|(id, d)| (d.order, id.clone()))
            .collect();
        open.sort();
        let events = open
            .into_iter()
            .map(|(_, dialog)| MediaEvent::DialogEnded {
                dialog,
                at: last_ts,
                reason: "end of capture".to_string(),
            })
            .collect();
        self.dialogs.clear();
        self.media.clear();
        self.stray_streams.clear();
        self.ended.clear();
        self.ended_order.clear();
        self.tcp = TcpReassembler::new();
        events
    }

    fn sip_bytes(&mut self, ts: Micros, data: &[u8], events: &mut Vec<MediaEvent>) {
        match sip::parse(data) {
            Ok(msg) => {
                CaptureStats::bump(&self.stats.sip_messages);
                self.sip(ts, &msg, events);
            }
            Err(_) => CaptureStats::bump(&self.stats.dropped_packets),
        }
    }

    fn sip(&mut self, ts: Micros, msg: &SipMessage, events: &mut Vec<MediaEvent>) {
        let (Some(call_id), Some((cseq, cseq_method))) = (msg.call_id(), msg.cseq()) else {
            return;
        };
        let call_id = call_id.to_string();
        match &msg.start {
            StartLine::Request { method, .. } => match method.as_str() {
                "INVITE" => self.invite(ts, &call_id, cseq, msg, events),
                "BYE" => self.end(&call_id, ts, "BYE", events),
                "CANCEL" => {
                    // A CANCEL after the answer has no effect on the call (RFC 3261 §9.2).
                    if self.dialogs.get(&call_id).is_some_and(|d| !d.answered) {
                        self.end(&call_id, ts, "CANCEL", events);
                    }
                }
                // ACK (late offer/answer), PRACK, UPDATE may carry SDP too.
                _ => self.learn_from(&call_id, msg),
            },
            StartLine::Response { code, reason } => {
                let Some(dialog) = self.dialogs.get_mut(&call_id) else {
                    return;
                };
                if cseq_method != "INVITE" {
                    return;
                }
                match code {
                    100..=199 => self.learn_from(&call_id, msg),
                    200..=299 => {
                        let first = !dialog.answered;
                        dialog.answered = true;
                        self.learn_from(&call_id, msg);
                        if first {
                            events.push(MediaEvent::DialogAnswered {
                                dialog: call_id,
                                at: ts,
                            });
                        }
                    }
                    // 401/407 (credentials), 422 (session timer) and 491 (glare) are
                    // answered by the caller with a new INVITE on the same Call-ID: the
                    // call is still ringing.
                    401 | 407 | 422 | 491 => {}
                    _ if !dialog.answered => {
                        let why = format!("{code} {reason}").trim().to_string();
                        self.end(&call_id, ts, &why, events);
                    }
                    // A failed re-INVITE leaves the call as it was.
                    _ => {}
                }
            }
        }
    }

    fn invite(
        &mut self,
        ts: Micros,
        call_id: &str,
        cseq: u32,
        msg: &SipMessage,
        events: &mut Vec<MediaEvent>,
    ) {
        if let Some(dialog) = self.dialogs.get_mut(call_id) {
            // A retransmission or a re-INVITE (hold, new address, new codec).
            dialog.invite_cseq = dialog.invite_cseq.max(cseq);
            self.learn_from(call_id, msg);
            return;
        }
        if let Some(&seen) = self.ended.get(call_id) {
            // Retransmissions of an ended dialog's INVITE start nothing; a later INVITE on
            // the same Call-ID (after a redirect) is a new attempt.
            if cseq <= seen {
                return;
            }
            self.ended.remove(call_id);
        }
        let from = msg.header("from").unwrap_or("");
        let to = msg.header("to").unwrap_or("");
        let order = self.next_order;
        self.next_order += 1;
        self.dialogs.insert(
            call_id.to_string(),
            Dialog {
                order,
                caller_tag: sip::tag(from),
                answered: false,
                media: [None, None],
                streams: HashMap::new(),
                reported_undecodable: HashSet::new(),
                invite_cseq: cseq,
            },
        );
        CaptureStats::bump(&self.stats.calls);
        events.push(MediaEvent::DialogStarted {
            dialog: call_id.to_string(),
            at: ts,
            from_user: sip::user_part(from),
            to_user: sip::user_part(to),
        });
        self.learn_from(call_id, msg);
    }

    /// Learns the sender's receive address and payload types from a message's SDP.
    fn learn_from(&mut self, call_id: &str, msg: &SipMessage) {
        let Some(dialog) = self.dialogs.get_mut(call_id) else {
            return;
        };
        let Some(media) = msg.sdp_body().and_then(sdp::parse_audio) else {
            return;
        };
        let party = dialog.sender(msg);
        let old = dialog.media[party.index()]
            .as_ref()
            .and_then(|m| Some(SocketAddr::new(m.addr?, m.port)));
        // An unspecified address (0.0.0.0 hold, RFC 2543 style) or port 0 says "send me
        // nothing": keep the old mapping so late packets still find their dialog.
        let new = media
            .addr
            .filter(|a| !a.is_unspecified() && media.port != 0)
            .map(|a| SocketAddr::new(a, media.port));
        let keep_addr = new.is_none();
        let mut media = media;
        if keep_addr && let Some(prev) = &dialog.media[party.index()] {
            media.addr = prev.addr;
            media.port = prev.port;
        }
        dialog.media[party.index()] = Some(media);
        if let Some(new) = new
            && old != Some(new)
        {
            if let Some(old) = old
                && self
                    .media
                    .get(&old)
                    .is_some_and(|(c, p)| c == call_id && *p == party)
            {
                self.media.remove(&old);
            }
            self.media.insert(new, (call_id.to_string(), party));
        }
    }

    fn end(&mut self, call_id: &str, ts: Micros, reason: &str, events: &mut Vec<MediaEvent>) {
        let Some(dialog) = self.dialogs.remove(call_id) else {
            return;
        };
        self.media.retain(|_, (c, _)| c != call_id);
        if self.ended_order.len() >= MAX_ENDED
            && let Some(old) = self.ended_order.pop_front()
        {
            self.ended.remove(&old);
        }
        self.ended.insert(call_id.to_string(), dialog.invite_cseq);
        self.ended_order.push_back(call_id.to_string());
        events.push(MediaEvent::DialogEnded {
            dialog: call_id.to_string(),
            at: ts,
            reason: reason.to_string(),
        });
    }

    fn rtp(
        &mut self,
        ts: Micros,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
        events: &mut Vec<MediaEvent>,
    ) {
        // Audio sent to a party's announced address was sent by the other party; with
        // symmetric RTP a packet from a party's announced address was sent by it.
        let found = match self.media.get(&dst) {
            Some((call, receiver)) => Some((call.clone(), receiver.other())),
            None => self.media.get(&src).map(|(call, p)| (call.clone(), *p)),
        };
        let Some((call_id, sender)) = found else {
            CaptureStats::bump(&self.stats.ignored_packets);
            if let Some(packet) = rtp::parse(payload) {
                CaptureStats::bump(&self.stats.stray_rtp_packets);
                if self.stray_streams.len() < MAX_STRAY_STREAMS
                    && self.stray_streams.insert((src, dst, packet.ssrc))
                {
                    CaptureStats::bump(&self.stats.stray_rtp_streams);
                }
            }
            return;
        };
        let Some(packet) = rtp::parse(payload) else {
            // RTCP multiplexed on the port, STUN, or garbage.
            CaptureStats::bump(&self.stats.ignored_packets);
            return;
        };
        let Some(dialog) = self.dialogs.get_mut(&call_id) else {
            return;
        };
        CaptureStats::bump(&self.stats.rtp_packets);
        if !dialog.answered {
            // Early media is not recorded: recording starts at the answer.
            return;
        }
        let pt = packet.payload_type;
        let receiver = sender.other();
        // The receiver's SDP defines the payload types it expects; senders sometimes use
        // their own numbering, so fall back to it, then to the static table.
        let name = dialog.media[receiver.index()]
            .as_ref()
            .and_then(|m| m.codec(pt))
            .or_else(|| {
                dialog.media[sender.index()]
                    .as_ref()
                    .and_then(|m| m.codec(pt))
            })
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .or_else(|| sdp::static_codec(pt).map(str::to_string))
            .unwrap_or_else(|| format!("payload type {pt}"));
        let decode: fn(&[u8], &mut Vec<i16>) = match classify(&name) {
            Codec::Pcmu => g711::decode_ulaw,
            Codec::Pcma => g711::decode_alaw,
            Codec::NotAudio => return,
            Codec::Undecodable(codec) => {
                CaptureStats::bump(&self.stats.undecodable_packets);
                if dialog.reported_undecodable.insert((sender, codec.clone())) {
                    events.push(MediaEvent::UndecodableMedia {
                        dialog: call_id,
                        side: sender,
                        codec,
                    });
                }
                return;
            }
        };
        if dialog.streams.len() >= MAX_STREAMS
            && !dialog.streams.contains_key(&(sender, packet.ssrc))
        {
            dialog.streams.clear();
        }
        let clock = dialog
            .streams
            .entry((sender, packet.ssrc))
            .or_insert_with(|| StreamClock::new(ts, packet.timestamp));
        if clock.is_duplicate(packet.seq) {
            CaptureStats::bump(&self.stats.dropped_packets);
            return;
        }
        if packet.payload.is_empty() {
            return;
        }
        let mut pcm = Vec::with_capacity(packet.payload.len());
        decode(packet.payload, &mut pcm);
        let at = clock.place(ts, packet.timestamp, packet.marker, pcm.len());
        events.push(MediaEvent::Audio {
            dialog: call_id,
            side: sender,
            at,
            pcm,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn talkspurt_follows_rtp_clock_through_jitter_and_wrap() {
        let mut c = StreamClock::new(1_000_000, u32::MAX - 159);
        assert_eq!(c.place(1_000_000, u32::MAX - 159, true, 160), 1_000_000);
        // 20.5 ms later, timestamp wrapped past zero: 20 ms by the RTP clock.
        assert_eq!(c.place(1_020_500, 0, false, 160), 1_020_000);
        // Jitter of -15 and +40 ms (the arrival gap stays under 60 ms) does not move it.
        assert_eq!(c.place(1_025_000, 160, false, 160), 1_040_000);
        assert_eq!(c.place(1_100_000, 320, false, 160), 1_060_000);
        assert_eq!(c.place(1_080_000, 480, false, 160), 1_080_000);
    }

    #[test]
    fn marker_bit_starts_a_talkspurt_at_capture_time() {
        let mut c = StreamClock::new(0, 0);
        assert_eq!(c.place(0, 0, true, 160), 0);
        // Contiguous timestamps, but the marker says a new talkspurt: capture time.
        assert_eq!(c.place(27_000, 160, true, 160), 27_000);
        assert_eq!(c.place(46_000, 320, false, 160), 47_000);
    }

    #[test]
    fn timestamp_jump_starts_a_talkspurt_at_capture_time() {
        let mut c = StreamClock::new(1_000_000, 0);
        assert_eq!(c.place(1_000_000, 0, false, 160), 1_000_000);
        // 500 ms of silence suppression by the RTP clock, 470 ms by the capture clock, no
        // marker: the gap is the capture clock's.
        assert_eq!(c.place(1_490_000, 160 + 3840, false, 160), 1_490_000);
        assert_eq!(c.place(1_511_000, 160 + 4000, false, 160), 1_510_000);
        // One lost packet (a step of 320 samples) is a gap too.
        assert_eq!(c.place(1_552_000, 160 + 4320, false, 160), 1_552_000);
        // Steps up to 10 ms more than the previous packet's length are not.
        assert_eq!(c.place(1_580_000, 160 + 4560, false, 160), 1_582_000);
        // A jump of 10 s in the RTP clock while only 30 ms passed: capture time.
        assert_eq!(c.place(1_610_000, 90_000, false, 160), 1_610_000);
        assert_eq!(c.place(1_630_000, 90_160, false, 160), 1_630_000);
    }

    #[test]
    fn backwards_timestamp_starts_a_talkspurt() {
        let mut c = StreamClock::new(0, 10_000);
        assert_eq!(c.place(0, 10_000, false, 160), 0);
        assert_eq!(c.place(20_000, 10_160, false, 160), 20_000);
        // A sender restart with an older timestamp: capture time, not 1.25 s earlier.
        assert_eq!(c.place(60_000, 160, false, 160), 60_000);
        assert_eq!(c.place(80_000, 320, false, 160), 80_000);
    }

    #[test]
    fn arrival_gap_starts_a_talkspurt() {
        let mut c = StreamClock::new(0, 0);
        assert_eq!(c.place(0, 0, false, 160), 0);
        // Contiguous timestamps, 60 ms later than they say: still the same talkspurt.
        assert_eq!(c.place(80_000, 160, false, 160), 20_000);
        // 61 ms later than they say: a new talkspurt at capture time.
        assert_eq!(c.place(181_000, 320, false, 160), 181_000);
        assert_eq!(c.place(200_000, 480, false, 160), 201_000);
    }

    #[test]
    fn packets_never_overlap() {
        let mut c = StreamClock::new(0, 0);
        assert_eq!(c.place(0, 0, false, 160), 0);
        assert_eq!(c.place(20_000, 160, false, 160), 20_000);
        // A new talkspurt whose capture time falls inside the previous packet (its RTP
        // clock ran ahead of the capture clock): after the previous packet instead.
        assert_eq!(c.place(30_000, 1_000, true, 160), 40_000);
        assert_eq!(c.place(50_000, 1_160, false, 160), 60_000);
        // A timestamp repeated under a new sequence number: after, not on top.
        assert_eq!(c.place(70_000, 1_160, false, 160), 80_000);
        // A short packet, then one right after it by the RTP clock.
        assert_eq!(c.place(90_000, 1_320, false, 1), 100_000);
        assert_eq!(c.place(90_200, 1_321, false, 160), 100_125);
    }

    #[test]
    fn duplicates_are_seen() {
        let mut c = StreamClock::new(0, 0);
        assert!(!c.is_duplicate(5));
        assert!(c.is_duplicate(5));
        assert!(!c.is_duplicate(6));
    }
}
