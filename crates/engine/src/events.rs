//! Events for the events port (PROTOCOL §7): what the engine applied, in the order it
//! applied it. Every event is numbered and sent while the state lock is held, so EVENTIDs
//! follow the engine's own order and increase by one per event. Sending never waits: the
//! events go into a bounded broadcast channel, and a receiver that falls behind by more than
//! its capacity loses the oldest ones and is told how many (`RecvError::Lagged`).

use std::collections::HashMap;
use std::sync::Arc;

use store::{CallRow, Micros, RecordingKind, RecordingRow};
use tokio::sync::broadcast;

use crate::state::{CallView, LiveCall, State};
use crate::{Engine, now_micros};

/// The kinds of event, as EVENTTYPE spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    CallStart,
    CallStop,
    CallUpdate,
    RecordingStarted,
    RecordingStopped,
    BlackoutStart,
    BlackoutStop,
    ChatStart,
    ChatStop,
    DeviceState,
    SystemAlert,
}

impl EventKind {
    pub const ALL: [EventKind; 11] = [
        EventKind::CallStart,
        EventKind::CallStop,
        EventKind::CallUpdate,
        EventKind::RecordingStarted,
        EventKind::RecordingStopped,
        EventKind::BlackoutStart,
        EventKind::BlackoutStop,
        EventKind::ChatStart,
        EventKind::ChatStop,
        EventKind::DeviceState,
        EventKind::SystemAlert,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::CallStart => "CALLSTART",
            EventKind::CallStop => "CALLSTOP",
            EventKind::CallUpdate => "CALLUPDATE",
            EventKind::RecordingStarted => "RECORDINGSTARTED",
            EventKind::RecordingStopped => "RECORDINGSTOPPED",
            EventKind::BlackoutStart => "BLACKOUTSTART",
            EventKind::BlackoutStop => "BLACKOUTSTOP",
            EventKind::ChatStart => "CHATSTART",
            EventKind::ChatStop => "CHATSTOP",
            EventKind::DeviceState => "DEVICESTATE",
            EventKind::SystemAlert => "SYSTEMALERT",
        }
    }

    /// The kind an EVENTTYPE names, in any case.
    pub fn parse(s: &str) -> Option<EventKind> {
        let s = s.trim();
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
    }
}

/// What an event carries besides its kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventData {
    /// The call (and the recording the event is about) as a `<CALL>` shows it.
    Call(Box<CallView>),
    /// A device's new state code (§4).
    DeviceState(u8),
    /// A message for the operator.
    Alert(String),
}

/// One event, numbered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub id: u64,
    pub kind: EventKind,
    /// Wall-clock time at which the engine applied it.
    pub at: Micros,
    /// Empty for events that concern no device (chat sessions, alerts).
    pub device_id: String,
    pub call_instance: String,
    pub data: EventData,
}

/// The numbering and the channel; part of the engine's state, so only the lock holder emits.
pub(crate) struct Events {
    tx: broadcast::Sender<Arc<Event>>,
    last_id: u64,
    /// The state code last announced per device, so DEVICESTATE says only what changed.
    device_states: HashMap<String, u8>,
}

impl Events {
    /// `capacity`: how many events a receiver may fall behind before it loses some.
    pub fn new(capacity: usize) -> Events {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Events {
            tx,
            last_id: 0,
            device_states: HashMap::new(),
        }
    }

    /// Numbers the event and sends it to every receiver; never waits.
    pub fn emit(&mut self, kind: EventKind, device_id: &str, call_instance: &str, data: EventData) {
        self.last_id += 1;
        let event = Event {
            id: self.last_id,
            kind,
            at: now_micros(),
            device_id: device_id.to_string(),
            call_instance: call_instance.to_string(),
            data,
        };
        // No receiver connected: nobody misses it.
        let _ = self.tx.send(Arc::new(event));
    }

    /// An event about a call (or a recording of it).
    pub fn call(&mut self, kind: EventKind, view: CallView) {
        let (device, instance) = (view.call.device_id.clone(), view.call.call_instance.clone());
        self.emit(kind, &device, &instance, EventData::Call(Box::new(view)));
    }

    /// RECORDINGSTARTED or RECORDINGSTOPPED: the call with the recording concerned.
    pub fn recording(&mut self, kind: EventKind, call: &CallRow, rec: &RecordingRow) {
        let view = CallView {
            call: call.clone(),
            recording: Some(rec.clone()),
            recording_now: kind == EventKind::RecordingStarted,
        };
        self.call(kind, view);
    }

    /// CALLSTART for a new call, then RECORDINGSTARTED when its full recording is open.
    pub fn call_started(&mut self, call: &LiveCall) {
        self.call(EventKind::CallStart, call.view());
        self.full_recording_started(call);
    }

    /// RECORDINGSTARTED for the call's full recording, when one is open.
    pub fn full_recording_started(&mut self, call: &LiveCall) {
        if let Some(rec) = call
            .recordings
            .iter()
            .find(|r| r.is_open() && r.row.kind == RecordingKind::Full)
        {
            self.recording(EventKind::RecordingStarted, &call.row, &rec.row);
        }
    }

    /// CHATSTART/CHATSTOP: a session's SCREEN recording; CALLINSTANCE is the SESSIONID.
    pub fn session(&mut self, kind: EventKind, row: &RecordingRow) {
        self.call(kind, CallView::from_recording(row.clone()));
    }
}

impl State {
    /// DEVICESTATE when the device's state code is not the one last announced.
    pub(crate) fn device_state_changed(&mut self, device_id: &str) {
        let Some(dev) = self.devices.get(device_id) else {
            return;
        };
        let view = crate::status::device_view(device_id, dev);
        let before = self
            .events
            .device_states
            .insert(device_id.to_string(), view.state)
            .unwrap_or(0);
        if before != view.state {
            let instance = view.call.map(|c| c.call.call_instance).unwrap_or_default();
            self.events.emit(
                EventKind::DeviceState,
                device_id,
                &instance,
                EventData::DeviceState(view.state),
            );
        }
    }
}

impl Engine {
    /// Every event from now on, in order. A receiver more than the configured queue behind
    /// loses the oldest events and gets `RecvError::Lagged` with how many.
    pub async fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.inner.state.lock().await.events.tx.subscribe()
    }

    /// A SYSTEMALERT for every client.
    pub async fn alert(&self, message: &str) {
        let mut st = self.inner.state.lock().await;
        st.events.emit(
            EventKind::SystemAlert,
            "",
            "",
            EventData::Alert(message.to_string()),
        );
    }
}
