//! Live state: devices, their live call instances, open recordings and channels.

use std::collections::{BTreeMap, HashMap};

use store::{BlackoutSpan, CallRow, Micros, RecordingRow, RecordingState, Write};

/// A call as results show it: the call, the recording to show with it, and whether that
/// recording is being made right now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallView {
    pub call: CallRow,
    pub recording: Option<RecordingRow>,
    pub recording_now: bool,
}

impl CallView {
    /// A CALLLIST row: everything a `<CALL>` shows is on the recording.
    pub fn from_recording(r: RecordingRow) -> CallView {
        CallView {
            call: CallRow {
                call_key: r.call_key,
                device_id: r.device_id.clone(),
                call_instance: r.call_instance.clone(),
                meta: r.meta.clone(),
                start: r.call_start,
                end: r.call_end,
                recorded: true,
                reason: String::new(),
                cti_initiated: r.cti_initiated,
            },
            recording_now: r.state == RecordingState::Open,
            recording: Some(r),
        }
    }
}

/// One device's state as DEVICELIST / DEVICESTATUS show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceView {
    pub device_id: String,
    /// Device state code (§4): 0 on hook, 1 off hook, 2 recording.
    pub state: u8,
    /// The active instance, else the most recent one.
    pub call: Option<CallView>,
    pub last_event: Option<Micros>,
    /// A blackout covers the device: one of its live calls, or its agent (agent mode).
    pub blackout: bool,
}

/// One call instance as DEVICERECORDINGSTATUS shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceView {
    pub call_instance: String,
    pub recording: bool,
    pub record_ids: Vec<i64>,
    /// Under a blackout now.
    pub blackout: bool,
    /// The call's blackout spans (start, end; no end while open), on the call's clock.
    pub blackouts: Vec<(Micros, Option<Micros>)>,
}

/// One channel as CHANNELSTATUS shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelView {
    /// 1-based channel number.
    pub channel: usize,
    pub recording: Option<RecordingRow>,
}

pub(crate) struct LiveRecording {
    pub row: RecordingRow,
    /// The channel it holds while open.
    pub channel: Option<usize>,
    /// Its blackout spans; an open one is last.
    pub spans: Vec<BlackoutSpan>,
}

impl LiveRecording {
    pub fn is_open(&self) -> bool {
        self.channel.is_some()
    }
}

pub(crate) struct LiveCall {
    pub row: CallRow,
    pub recordings: Vec<LiveRecording>,
    /// Made by RECORDSTART on an idle device: RECORDSTOP ends it.
    pub implicit: bool,
    /// For calls followed from a capture: the SIP Call-ID and whether the device placed the call.
    pub dialog: Option<String>,
    pub device_is_caller: bool,
    /// Capture time minus wall time at the call's latest capture event (0 for CTI calls), so
    /// a command on a call replayed from a file acts at the capture's own time.
    pub clock_offset: Micros,
    /// The schedule said record, but the recording waits for the answer (capture calls).
    pub record_on_answer: bool,
    /// Start of the blackout covering the call now, on the call's clock.
    pub blackout: Option<Micros>,
    /// Every blackout span of the call (start, end), for DEVICERECORDINGSTATUS.
    pub blackout_spans: Vec<(Micros, Option<Micros>)>,
}

impl LiveCall {
    pub fn now(&self) -> Micros {
        crate::now_micros() + self.clock_offset
    }

    pub fn full_recording_open(&self) -> bool {
        self.recordings
            .iter()
            .any(|r| r.is_open() && r.row.kind == store::RecordingKind::Full)
    }

    pub fn any_recording_open(&self) -> bool {
        self.recordings.iter().any(LiveRecording::is_open)
    }

    /// The view of this call: its full recording if any, else its newest recording.
    pub fn view(&self) -> CallView {
        let shown = self
            .recordings
            .iter()
            .find(|r| r.row.kind == store::RecordingKind::Full)
            .or_else(|| self.recordings.last());
        let now = self.now();
        CallView {
            call: self.row.clone(),
            recording: shown.map(|r| {
                let mut row = r.row.clone();
                if r.is_open() {
                    // The length so far, on the call's own clock (a capture's, when replayed).
                    row.duration_ms = Some((now - row.recording_start).max(0) / 1000);
                }
                row
            }),
            recording_now: self.any_recording_open(),
        }
    }

    pub fn writes(&self) -> Vec<Write> {
        let mut w = vec![Write::Call(self.row.clone())];
        for r in &self.recordings {
            w.push(Write::Recording(r.row.clone()));
            w.extend(r.spans.iter().copied().map(Write::BlackoutSpan));
        }
        w
    }
}

/// An active chat or screen session: its open SCREEN recording and its blackout spans (an
/// open one is last).
pub(crate) struct LiveSession {
    pub row: RecordingRow,
    pub spans: Vec<BlackoutSpan>,
}

impl LiveSession {
    /// The catalog writes that store the session whole: its recording, then its spans.
    pub fn writes(&self) -> Vec<Write> {
        let mut w = vec![Write::Recording(self.row.clone())];
        w.extend(self.spans.iter().copied().map(Write::BlackoutSpan));
        w
    }
}

#[derive(Default)]
pub(crate) struct Device {
    /// Live calls in the order they started; the last is the most recent.
    pub calls: Vec<LiveCall>,
    /// The most recent call that ended, for status when no call is live.
    pub last: Option<CallView>,
    pub last_event: Option<Micros>,
}

impl Device {
    /// The live call on `instance`, or the most recent live call when no instance is given.
    pub fn live_index(&self, instance: Option<&str>) -> Option<usize> {
        match instance {
            Some(i) => self.calls.iter().position(|c| c.row.call_instance == i),
            None => self.calls.len().checked_sub(1),
        }
    }
}

pub(crate) struct State {
    /// Agent-mode blackouts open now: owner (see `blackout::owner`) → start (wall clock).
    pub agent_blackouts: BTreeMap<String, Micros>,
    /// Blackout spans that end are silenced in the recording files through it.
    pub recorder: recorder::Recorder,
    pub devices: BTreeMap<String, Device>,
    /// `Some(record_id)` while a channel is held.
    pub channels: Vec<Option<i64>>,
    pub next_call_key: i64,
    pub next_record_id: i64,
    /// SIP Call-ID → device of the live call that follows it.
    pub dialogs: HashMap<String, String>,
    /// Set by shutdown: no call or recording starts any more.
    pub stopping: bool,
    /// Active chat and screen sessions by SESSIONID: their open SCREEN recordings.
    pub sessions: BTreeMap<String, LiveSession>,
    /// Events for the events port, numbered in the order they are applied.
    pub events: crate::events::Events,
}

impl State {
    pub fn new(
        channels: usize,
        max_call_key: i64,
        max_record_id: i64,
        recorder: recorder::Recorder,
        events: crate::events::Events,
    ) -> Self {
        State {
            agent_blackouts: BTreeMap::new(),
            recorder,
            devices: BTreeMap::new(),
            channels: vec![None; channels],
            next_call_key: max_call_key + 1,
            next_record_id: max_record_id + 1,
            dialogs: HashMap::new(),
            stopping: false,
            sessions: BTreeMap::new(),
            events,
        }
    }

    pub fn call_key(&mut self) -> i64 {
        let k = self.next_call_key;
        self.next_call_key += 1;
        k
    }

    pub fn record_id(&mut self) -> i64 {
        let k = self.next_record_id;
        self.next_record_id += 1;
        k
    }

    pub fn free_channel(&self) -> Option<usize> {
        self.channels.iter().position(Option::is_none)
    }

    pub fn channels_in_use(&self) -> usize {
        self.channels.iter().filter(|c| c.is_some()).count()
    }
}
