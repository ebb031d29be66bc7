//! Chat and screen sessions (CHATSTART, CHATSTOP, CHATUPDATE): SCREEN recordings with no
//! audio, named by the client's SESSIONID. A session is a recording in the catalog like any
//! other (CALLLIST shows it), but it is not on a device, holds no channel and has no media
//! file. Its CALLINSTANCE is the SESSIONID. It stays active across restarts: the catalog
//! row stays OPEN until CHATSTOP, and start-up takes it back as a live session.
//!
//! In agent mode the agent's blackout covers its sessions like its calls: each session
//! keeps its blackout spans with its recording (see `blackout`).

use store::{CallMeta, Micros, RecordingKind, RecordingRow, RecordingState, Write};
use wire::Code;

use crate::blackout::session_owner;
use crate::events::EventKind;
use crate::state::{CallView, LiveSession, State};
use crate::{ApiError, Engine, MetaUpdate, now_micros};

impl Engine {
    /// CHATSTART: a new SCREEN recording for the session; 1 when the session is already
    /// active. `meta` carries the agent, the station, USER1–USER15, KEEPDAYS, ARCHIVEACTION.
    pub async fn chat_start(
        &self,
        session_id: &str,
        meta: &MetaUpdate,
    ) -> Result<CallView, ApiError> {
        let mut guard = self.inner.state.lock().await;
        let st = &mut *guard;
        if st.stopping {
            return Err(ApiError::new(
                Code::SchedulerNotRunning,
                "the server is shutting down",
            ));
        }
        if st.sessions.contains_key(session_id) {
            return Err(ApiError::new(
                Code::AlreadyRecording,
                format!("session {session_id:?} is already active"),
            ));
        }
        let now = now_micros();
        let mut row = new_session_row(st, session_id, now);
        meta.apply_recording(&mut row);
        let mut session = LiveSession {
            row,
            spans: Vec::new(),
        };
        // A session that starts under its agent's open blackout is covered from its start.
        if self.inner.config.agent_blackouts
            && session_owner(&session.row).is_some_and(|o| st.agent_blackouts.contains_key(&o))
        {
            session.black_out(now);
        }
        st.events.session(EventKind::ChatStart, &session.row);
        let writes = session.writes();
        let row = session.row.clone();
        st.sessions.insert(session_id.to_string(), session);
        let pending = self.queue(writes);
        drop(guard);
        self.settle(pending, Vec::new()).await?;
        Ok(live_view(row, now))
    }

    /// CHATSTOP: ends the session now; 35 when no such session is active.
    pub async fn chat_stop(&self, session_id: &str) -> Result<CallView, ApiError> {
        let mut guard = self.inner.state.lock().await;
        let Some(mut session) = guard.sessions.remove(session_id) else {
            return Err(not_found(session_id));
        };
        let at = now_micros().max(session.row.recording_start);
        // A blackout span still open ends with the session.
        session.lift(at);
        let row = &mut session.row;
        row.call_end = Some(at);
        row.duration_ms = Some((at - row.recording_start) / 1000);
        row.state = RecordingState::Closed;
        guard.events.session(EventKind::ChatStop, &session.row);
        let pending = self.queue(session.writes());
        drop(guard);
        self.settle(pending, Vec::new()).await?;
        Ok(CallView::from_recording(session.row))
    }

    /// CHATUPDATE: changes an active session's USER1–USER15, KEEPDAYS, ARCHIVEACTION (what
    /// `meta` carries); 35 when no such session is active.
    pub async fn chat_update(
        &self,
        session_id: &str,
        meta: &MetaUpdate,
    ) -> Result<CallView, ApiError> {
        let mut guard = self.inner.state.lock().await;
        let Some(row) = guard.sessions.get_mut(session_id).map(|s| &mut s.row) else {
            return Err(not_found(session_id));
        };
        meta.apply_recording(row);
        let row = row.clone();
        let pending = self.queue(vec![Write::Recording(row.clone())]);
        drop(guard);
        self.settle(pending, Vec::new()).await?;
        Ok(live_view(row, now_micros()))
    }
}

/// The SESSIONID of the active session holding recording `record_id`, if any (CALLUPDATE by
/// RECORDID).
pub(crate) fn session_of_record(st: &State, record_id: i64) -> Option<String> {
    st.sessions
        .iter()
        .find(|(_, s)| s.row.record_id == record_id)
        .map(|(id, _)| id.clone())
}

/// The catalog row of a session starting at `now`: ids from the engine, no device, no
/// channel, no media.
fn new_session_row(st: &mut State, session_id: &str, now: Micros) -> RecordingRow {
    RecordingRow {
        record_id: st.record_id(),
        call_key: st.call_key(),
        device_id: String::new(),
        call_instance: session_id.to_string(),
        meta: CallMeta::default(),
        call_start: now,
        call_end: None,
        recording_start: now,
        duration_ms: None,
        kind: RecordingKind::Screen,
        audio: false,
        keep_days: None,
        archive_action: String::new(),
        cti_initiated: true,
        agent_initiated: false,
        blackouts: 0,
        locked: false,
        state: RecordingState::Open,
        media_path: String::new(),
        purged: None,
    }
}

/// An active session as results show it: its length so far.
pub(crate) fn live_view(mut row: RecordingRow, now: Micros) -> CallView {
    row.duration_ms = Some((now - row.recording_start).max(0) / 1000);
    CallView::from_recording(row)
}

fn not_found(session_id: &str) -> ApiError {
    ApiError::new(
        Code::SessionNotFound,
        format!("no active session has SESSIONID {session_id:?}"),
    )
}
