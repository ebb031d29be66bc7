//! callvault capture: follows SIP dialogs and their RTP audio in packet captures, the way
//! a recorder on a SPAN port does, and turns them into [`MediaEvent`]s.
//!
//! The synchronous core is [`Tracker`] (feed it frames, get events); [`replay_file`]
//! drives it from a pcap/pcapng file on a tokio runtime.

pub mod dialogs;
pub mod error;
pub mod g711;
pub mod packet_decoding;
pub mod pcap_reading;
pub mod replay;
pub mod rtp;
pub mod sdp;
pub mod sip;
pub mod stats;
pub mod tcp_reassembly;

pub use dialogs::Tracker;
pub use error::CaptureError;
pub use packet_decoding::LinkType;
pub use replay::{Speed, replay_file};
pub use stats::{CaptureState, CaptureStats, CaptureStatsSnapshot};

/// Capture timestamp: microseconds since the Unix epoch.
pub type Micros = i64;

/// Who sent a stream of audio.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The party that sent the initial INVITE.
    Caller,
    /// The party the INVITE was sent to.
    Callee,
}

/// What the capture path reports, in capture order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaEvent {
    /// An INVITE that starts a new dialog was seen (the call rings).
    DialogStarted {
        /// The SIP Call-ID.
        dialog: String,
        at: Micros,
        /// User part of the From URI (empty when the URI has none).
        from_user: String,
        /// User part of the To URI.
        to_user: String,
    },
    /// The INVITE got a 2xx: the call is answered; recording starts here.
    DialogAnswered { dialog: String, at: Micros },
    /// Decoded audio: 8 kHz mono samples whose first sample belongs at `at`.
    Audio {
        dialog: String,
        side: Side,
        at: Micros,
        pcm: Vec<i16>,
    },
    /// Media in a codec we cannot decode (once per dialog, side and codec): the call is
    /// kept, its audio is not.
    UndecodableMedia {
        dialog: String,
        side: Side,
        codec: String,
    },
    /// BYE, CANCEL, a final error response to the INVITE, or the end of the capture.
    DialogEnded {
        dialog: String,
        at: Micros,
        reason: String,
    },
}
