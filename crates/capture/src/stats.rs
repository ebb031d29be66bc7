//! Counters of what the capture path saw, shared with whoever reports on it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where a replay or live capture stands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CaptureState {
    /// Packets are being read.
    #[default]
    Running,
    /// The whole capture was read.
    Finished,
    /// Reading stopped because of this error.
    Failed(String),
}

/// Counters updated while packets flow; cheap to share in an `Arc` and read at any time.
#[derive(Debug, Default)]
pub struct CaptureStats {
    /// Every packet read from the capture.
    pub packets: AtomicU64,
    /// SIP messages parsed (over UDP or reassembled from TCP).
    pub sip_messages: AtomicU64,
    /// RTP packets that belonged to a known dialog.
    pub rtp_packets: AtomicU64,
    /// Packets that could not be decoded at all: truncated, not IP, IP fragments, broken
    /// SIP, unknown link types, duplicates.
    pub dropped_packets: AtomicU64,
    /// UDP/TCP packets that were neither SIP nor RTP on an address announced in SDP.
    pub ignored_packets: AtomicU64,
    /// RTP packets of a dialog whose codec we cannot decode.
    pub undecodable_packets: AtomicU64,
    /// Dialogs started (INVITEs with a new Call-ID).
    pub calls: AtomicU64,
    /// UDP packets that parse as RTP but were sent where no SIP call announced media (also
    /// counted in `ignored_packets`): the media of calls whose signalling is not in the
    /// capture.
    pub stray_rtp_packets: AtomicU64,
    /// Distinct streams (source, destination, SSRC) among `stray_rtp_packets`, up to 4096.
    pub stray_rtp_streams: AtomicU64,
    state: Mutex<CaptureState>,
}

/// A copy of the counters at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaptureStatsSnapshot {
    pub packets: u64,
    pub sip_messages: u64,
    pub rtp_packets: u64,
    pub dropped_packets: u64,
    pub ignored_packets: u64,
    pub undecodable_packets: u64,
    pub calls: u64,
    pub stray_rtp_packets: u64,
    pub stray_rtp_streams: u64,
    pub state: CaptureState,
}

impl CaptureStats {
    /// Reads every counter (each one atomically; together they are close, not exact, while
    /// packets still flow).
    pub fn snapshot(&self) -> CaptureStatsSnapshot {
        CaptureStatsSnapshot {
            packets: self.packets.load(Ordering::Relaxed),
            sip_messages: self.sip_messages.load(Ordering::Relaxed),
            rtp_packets: self.rtp_packets.load(Ordering::Relaxed),
            dropped_packets: self.dropped_packets.load(Ordering::Relaxed),
            ignored_packets: self.ignored_packets.load(Ordering::Relaxed),
            undecodable_packets: self.undecodable_packets.load(Ordering::Relaxed),
            calls: self.calls.load(Ordering::Relaxed),
            stray_rtp_packets: self.stray_rtp_packets.load(Ordering::Relaxed),
            stray_rtp_streams: self.stray_rtp_streams.load(Ordering::Relaxed),
            state: self.state(),
        }
    }

    /// The current state of the capture.
    pub fn state(&self) -> CaptureState {
        // A poisoned lock only means a panic elsewhere while setting the state; the value
        // itself is still a whole enum, so read it anyway.
        match self.state.lock() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Sets the state of the capture.
    pub fn set_state(&self, state: CaptureState) {
        match self.state.lock() {
            Ok(mut s) => *s = state,
            Err(poisoned) => *poisoned.into_inner() = state,
        }
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
