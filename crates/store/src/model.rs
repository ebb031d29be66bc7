//! The rows the catalog keeps. Times are microseconds since the Unix epoch, UTC.

/// Microseconds since the Unix epoch, UTC.
pub type Micros = i64;

/// The descriptive fields of a call that CTI can set and update.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallMeta {
    pub device_alias: String,
    pub station_name: String,
    pub agent_id: String,
    pub agent_name: String,
    pub ani: String,
    pub dnis: String,
    /// `I`, `O` or empty.
    pub call_direction: String,
    pub call_id: String,
    pub gate: String,
    pub sgroup: String,
    /// USER1..USER15.
    pub user: [String; 15],
}

/// One call instance, recorded or not. The schedule's decision and its reason are kept so
/// "why was this not recorded" can always be answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRow {
    /// Internal number of the call, unique per catalog.
    pub call_key: i64,
    pub device_id: String,
    pub call_instance: String,
    pub meta: CallMeta,
    pub start: Micros,
    /// `None` while the call is live.
    pub end: Option<Micros>,
    /// The schedule's decision at call start.
    pub recorded: bool,
    /// Why the call is not recorded (a result label), empty when recorded.
    pub reason: String,
    pub cti_initiated: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordingKind {
    Full,
    Partial,
    Screen,
}

impl RecordingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingKind::Full => "FULL",
            RecordingKind::Partial => "PARTIAL",
            RecordingKind::Screen => "SCREEN",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "FULL" => Some(RecordingKind::Full),
            "PARTIAL" => Some(RecordingKind::Partial),
            "SCREEN" => Some(RecordingKind::Screen),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordingState {
    /// Audio is still being written.
    Open,
    /// Finalized by a stop.
    Closed,
    /// Left open by a crash and closed at the next start-up.
    Recovered,
}

impl RecordingState {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingState::Open => "OPEN",
            RecordingState::Closed => "CLOSED",
            RecordingState::Recovered => "RECOVERED",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "OPEN" => Some(RecordingState::Open),
            "CLOSED" => Some(RecordingState::Closed),
            "RECOVERED" => Some(RecordingState::Recovered),
            _ => None,
        }
    }
}

/// One stored recording. Call metadata is copied onto each recording (and kept in step by
/// the engine) so CALLLIST is one indexed query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordingRow {
    pub record_id: i64,
    pub call_key: i64,
    pub device_id: String,
    pub call_instance: String,
    pub meta: CallMeta,
    pub call_start: Micros,
    pub call_end: Option<Micros>,
    pub recording_start: Micros,
    /// `None` while open.
    pub duration_ms: Option<i64>,
    pub kind: RecordingKind,
    /// False for screen sessions and for calls whose media could not be decoded.
    pub audio: bool,
    pub keep_days: Option<i64>,
    pub archive_action: String,
    pub cti_initiated: bool,
    pub agent_initiated: bool,
    pub blackouts: i64,
    pub locked: bool,
    pub state: RecordingState,
    /// Media file path relative to the recordings directory; empty when there is none.
    pub media_path: String,
    /// When the retention purge took the recording's media (the row stays). Only the purge
    /// sets it: writing the row leaves it as it is.
    pub purged: Option<Micros>,
}

/// A write to the catalog. Rows are written whole: insert, or replace the row with the same key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write {
    Call(CallRow),
    Recording(RecordingRow),
    /// One blackout span of a recording (insert, or replace the one with the same number).
    BlackoutSpan(BlackoutSpan),
    /// An agent-mode blackout opened (`Some(start)`) or closed (`None`).
    OpenBlackout {
        owner: String,
        start: Option<Micros>,
    },
}

/// A span of a recording whose audio is silence because of a blackout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlackoutSpan {
    pub record_id: i64,
    /// 1 for the recording's first span, and so on.
    pub seq: i64,
    pub start: Micros,
    /// `None` while the span is open.
    pub end: Option<Micros>,
}

/// A text filter: exact, or prefix when the value given ended with `%`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TextMatch {
    Exact(String),
    Prefix(String),
}

/// The text columns CALLLIST can filter on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextField {
    DeviceId,
    AgentId,
    StationName,
    Ani,
    Dnis,
    CallId,
    CallDirection,
    Gate,
    SGroup,
    RecordingType,
    /// USER1..USER15 as 1..=15.
    User(u8),
}

/// CALLLIST's filters, ANDed. Results are newest recording first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordingFilter {
    /// Recordings whose call started at or after this time.
    pub from: Option<Micros>,
    /// Recordings whose call started at or before this time.
    pub to: Option<Micros>,
    pub record_id: Option<i64>,
    pub text: Vec<(TextField, TextMatch)>,
    pub min_duration_ms: Option<i64>,
    pub max_duration_ms: Option<i64>,
    /// Recordings of a QA group: made on a member phone while its member agent was the
    /// call's agent (or by a member agent on any phone, for whole-agent memberships).
    pub group_id: Option<i64>,
    /// At most this many rows.
    pub limit: u32,
}
