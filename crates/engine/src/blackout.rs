//! PCI blackouts (BLACKOUTSTART, BLACKOUTSTOP): spans of a call whose audio is never
//! written. While a call is under a blackout, the media path drops its audio before it
//! reaches the recorder; when the span ends, the recorder is told to keep the span silent
//! (which also blanks audio that arrives late for it). Each recording keeps its spans.
//!
//! Agent mode covers every call of the agent (or, for calls without an agent, of the
//! device) from start to stop, including calls that begin meanwhile, and every chat or
//! screen session of the agent the same way (a session has no audio: its spans only say
//! when it was covered); call mode covers one call instance and ends with it. Coverage
//! follows the agent: a CALLUPDATE that gives a live call or session another agent puts it
//! under that agent's blackout, or takes it out of the old one's, from that moment.

use store::{BlackoutSpan, CallRow, Micros, RecordingRow, Write};
use wire::Code;

use crate::events::{EventData, EventKind, Events};
use crate::state::{LiveCall, LiveRecording, LiveSession, State};
use crate::{ApiError, Engine, now_micros};

/// Whose blackout covers a call in agent mode: its agent, else its device.
pub(crate) fn owner(call: &CallRow) -> String {
    if call.meta.agent_id.is_empty() {
        format!("device:{}", call.device_id)
    } else {
        format!("agent:{}", call.meta.agent_id)
    }
}

/// Whose blackout covers a chat or screen session in agent mode: its agent (named as
/// `owner` names it); none when the session has no agent.
pub(crate) fn session_owner(row: &RecordingRow) -> Option<String> {
    (!row.meta.agent_id.is_empty()).then(|| format!("agent:{}", row.meta.agent_id))
}

impl LiveSession {
    /// Under a blackout now: its last span is open.
    pub(crate) fn blacked_out(&self) -> bool {
        self.spans.last().is_some_and(|s| s.end.is_none())
    }

    /// Opens a span from `at` (from the session's start at the earliest); nothing changes
    /// when one is open.
    pub(crate) fn black_out(&mut self, at: Micros) {
        if self.blacked_out() {
            return;
        }
        open_span(&mut self.spans, &mut self.row, at);
    }

    /// Ends the open span, if any, at `at`.
    pub(crate) fn lift(&mut self, at: Micros) {
        if let Some(span) = self.spans.last_mut()
            && span.end.is_none()
        {
            span.end = Some(at.max(span.start));
        }
    }
}

impl LiveCall {
    /// Puts the call under a blackout from `at` (nothing changes when it already is).
    pub(crate) fn black_out(&mut self, at: Micros) {
        if self.blackout.is_some() {
            return;
        }
        self.blackout = Some(at);
        self.blackout_spans.push((at, None));
        self.cover_recordings();
    }

    /// Opens a span on every open recording that has none while the call is under a
    /// blackout (a recording that starts during it is covered from its start).
    pub(crate) fn cover_recordings(&mut self) {
        let Some(from) = self.blackout else {
            return;
        };
        for rec in self.recordings.iter_mut().filter(|r| r.is_open()) {
            if rec.spans.last().is_some_and(|s| s.end.is_none()) {
                continue;
            }
            open_span(&mut rec.spans, &mut rec.row, from);
        }
    }

    /// Ends the call's blackout at `at`.
    fn lift(&mut self, recorder: &recorder::Recorder, at: Micros) {
        if self.blackout.take().is_none() {
            return;
        }
        if let Some(span) = self.blackout_spans.last_mut() {
            span.1 = Some(at);
        }
        for rec in &mut self.recordings {
            end_span(recorder, rec, at);
        }
    }

    /// How many samples of `len` starting at `at` come before the blackout (all of them when
    /// there is none): the rest is never written.
    pub(crate) fn audible_samples(&self, at: Micros, len: usize) -> usize {
        const MICROS_PER_SAMPLE: i64 = 1_000_000 / recorder::SAMPLE_RATE as i64;
        match self.blackout {
            None => len,
            Some(from) => {
                let before = (from - at).max(0);
                usize::try_from((before + MICROS_PER_SAMPLE - 1) / MICROS_PER_SAMPLE)
                    .unwrap_or(usize::MAX)
                    .min(len)
            }
        }
    }
}

/// Ends a recording's open span at `at` and has the recorder keep it silent.
pub(crate) fn end_span(recorder: &recorder::Recorder, rec: &mut LiveRecording, at: Micros) {
    if let Some(span) = rec.spans.last_mut()
        && span.end.is_none()
    {
        let end = at.max(span.start);
        span.end = Some(end);
        recorder.silence(rec.row.record_id, span.start, end);
    }
}

impl Engine {
    /// BLACKOUTSTART on the call of `device_id` on `instance` (or its most recent call).
    pub async fn blackout_start(
        &self,
        device_id: &str,
        instance: Option<&str>,
    ) -> Result<(), ApiError> {
        self.blackout(device_id, instance, true).await
    }

    /// BLACKOUTSTOP: ends the blackout BLACKOUTSTART opened; no blackout open is no error.
    pub async fn blackout_stop(
        &self,
        device_id: &str,
        instance: Option<&str>,
    ) -> Result<(), ApiError> {
        self.blackout(device_id, instance, false).await
    }

    async fn blackout(
        &self,
        device_id: &str,
        instance: Option<&str>,
        start: bool,
    ) -> Result<(), ApiError> {
        let agent_mode = self.inner.config.agent_blackouts;
        // The phone's agent names the blackout when the device has no call (agent mode).
        let phone_agent = if agent_mode {
            self.inner
                .store
                .agent_of_phone(device_id)
                .await?
                .map(|(id, _)| format!("agent:{id}"))
        } else {
            None
        };
        let mut writes = Vec::new();
        let mut guard = self.inner.state.lock().await;
        let st = &mut *guard;
        let Some(dev) = st.devices.get(device_id) else {
            if phone_agent.is_none() {
                return Err(ApiError::new(
                    Code::DeviceInvalid,
                    format!("device {device_id} is not known"),
                ));
            }
            return self
                .agent_blackout(guard, device_id, phone_agent, start, now_micros())
                .await;
        };
        let call = dev.live_index(instance);
        if !agent_mode {
            let Some(i) = call else {
                if !start {
                    return Ok(());
                }
                return Err(not_in_call(device_id, instance));
            };
            let State {
                devices,
                recorder,
                events,
                ..
            } = st;
            if let Some(call) = devices.get_mut(device_id).and_then(|d| d.calls.get_mut(i)) {
                switch(call, recorder, events, start);
                writes.extend(call.writes());
            }
            return self.apply_writes(guard, writes).await;
        }
        let owner = match call {
            Some(i) => Some(owner(&dev.calls[i].row)),
            None => phone_agent,
        };
        if owner.is_none() && start {
            return Err(not_in_call(device_id, instance));
        }
        self.agent_blackout(guard, device_id, owner, start, now_micros())
            .await
    }

    /// Opens or closes the agent-mode blackout of `owner` and applies it to the owner's
    /// live calls and active sessions.
    async fn agent_blackout(
        &self,
        mut guard: tokio::sync::MutexGuard<'_, State>,
        device_id: &str,
        owner: Option<String>,
        start: bool,
        now: Micros,
    ) -> Result<(), ApiError> {
        let Some(owner) = owner else {
            return Ok(());
        };
        let st = &mut *guard;
        let mut writes = Vec::new();
        let changed = if start {
            let opened = !st.agent_blackouts.contains_key(&owner);
            if opened {
                st.agent_blackouts.insert(owner.clone(), now);
                writes.push(Write::OpenBlackout {
                    owner: owner.clone(),
                    start: Some(now),
                });
            }
            opened
        } else {
            let closed = st.agent_blackouts.remove(&owner).is_some();
            if closed {
                writes.push(Write::OpenBlackout {
                    owner: owner.clone(),
                    start: None,
                });
            }
            closed
        };
        let State {
            devices,
            recorder,
            events,
            sessions,
            ..
        } = st;
        let mut covered = 0;
        for call in devices.values_mut().flat_map(|d| d.calls.iter_mut()) {
            if self::owner(&call.row) != owner {
                continue;
            }
            covered += 1;
            switch(call, recorder, events, start);
            writes.extend(call.writes());
        }
        // The agent's chat and screen sessions, on the wall clock (they have no other).
        for session in sessions.values_mut() {
            if session_owner(&session.row).as_deref() != Some(owner.as_str()) {
                continue;
            }
            covered += 1;
            let was = session.blacked_out();
            if start {
                session.black_out(now);
            } else {
                session.lift(now);
            }
            if was != session.blacked_out() {
                events.session(blackout_event(start), &session.row);
                writes.extend(session.writes());
            }
        }
        // With no live call or session to carry it, the event names the device the request
        // named.
        if changed && covered == 0 {
            let what = if start {
                "opened; it covers the agent's calls and sessions until BLACKOUTSTOP"
            } else {
                "closed"
            };
            events.emit(
                blackout_event(start),
                device_id,
                "",
                EventData::Alert(format!("the agent's blackout is {what}")),
            );
        }
        self.apply_writes(guard, writes).await
    }

    /// Agent mode: puts the live call at index `i` of the device under its owner's blackout,
    /// or takes it out, when its agent changed (CALLUPDATE, a repeated CALLSTART,
    /// RECORDSTART with AGENTID). Call mode leaves it alone: there the blackout is the call's.
    pub(crate) fn follow_agent(&self, st: &mut State, device_id: &str, i: usize) {
        if !self.inner.config.agent_blackouts {
            return;
        }
        let State {
            devices,
            agent_blackouts,
            recorder,
            events,
            ..
        } = st;
        let Some(call) = devices.get_mut(device_id).and_then(|d| d.calls.get_mut(i)) else {
            return;
        };
        let covered = agent_blackouts.contains_key(&owner(&call.row));
        if covered != call.blackout.is_some() {
            switch(call, recorder, events, covered);
        }
    }

    /// Agent mode: the same for the active session `session_id` (its agent changed through
    /// CALLUPDATE with its RECORDID), on the wall clock.
    pub(crate) fn follow_session_agent(&self, st: &mut State, session_id: &str) {
        if !self.inner.config.agent_blackouts {
            return;
        }
        let Some(session) = st.sessions.get_mut(session_id) else {
            return;
        };
        let covered =
            session_owner(&session.row).is_some_and(|o| st.agent_blackouts.contains_key(&o));
        if covered == session.blacked_out() {
            return;
        }
        if covered {
            session.black_out(now_micros());
        } else {
            session.lift(now_micros());
        }
        st.events.session(blackout_event(covered), &session.row);
    }

    async fn apply_writes(
        &self,
        guard: tokio::sync::MutexGuard<'_, State>,
        writes: Vec<Write>,
    ) -> Result<(), ApiError> {
        let pending = self.queue(writes);
        drop(guard);
        self.settle(pending, Vec::new()).await
    }

    /// Whether a blackout covers the device now: one of its live calls, or (agent mode) the
    /// agent of its shown call or the device itself.
    pub(crate) fn device_blacked_out(
        &self,
        st: &State,
        device_id: &str,
        shown: Option<&CallRow>,
    ) -> bool {
        let Some(dev) = st.devices.get(device_id) else {
            return false;
        };
        if dev.calls.iter().any(|c| c.blackout.is_some()) {
            return true;
        }
        self.inner.config.agent_blackouts
            && (st
                .agent_blackouts
                .contains_key(&format!("device:{device_id}"))
                || shown.is_some_and(|c| st.agent_blackouts.contains_key(&owner(c))))
    }
}

/// Starts or lifts the blackout of one call, announcing it when that changes anything.
fn switch(call: &mut LiveCall, recorder: &recorder::Recorder, events: &mut Events, start: bool) {
    let was = call.blackout.is_some();
    let at = call.now();
    if start {
        call.black_out(at);
    } else {
        call.lift(recorder, at);
    }
    if was != call.blackout.is_some() {
        events.call(blackout_event(start), call.view());
    }
}

fn blackout_event(start: bool) -> EventKind {
    if start {
        EventKind::BlackoutStart
    } else {
        EventKind::BlackoutStop
    }
}

/// Opens the next blackout span of a recording from `at` (its start at the earliest) and
/// counts it on the row.
fn open_span(spans: &mut Vec<BlackoutSpan>, row: &mut RecordingRow, at: Micros) {
    spans.push(BlackoutSpan {
        record_id: row.record_id,
        seq: spans.len() as i64 + 1,
        start: at.max(row.recording_start),
        end: None,
    });
    row.blackouts = spans.len() as i64;
}

fn not_in_call(device_id: &str, instance: Option<&str>) -> ApiError {
    let what = match instance {
        Some(i) => format!("device {device_id} has no call on instance '{i}'"),
        None => format!("device {device_id} is not in a call"),
    };
    ApiError::new(
        Code::DeviceNotInCall,
        format!("{what}; there is nothing to black out"),
    )
}
