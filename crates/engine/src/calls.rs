//! Call handling: CALLSTART, CALLSTOP, CALLUPDATE, RECORDSTART, RECORDSTOP, and the steps
//! they share (begin a call, open and close recordings, end a call).

use store::{CallMeta, CallRow, Micros, RecordingKind, RecordingRow, RecordingState, Write};
use tokio::sync::MutexGuard;
use wire::Code;

use crate::events::EventKind;
use crate::state::{CallView, LiveCall, LiveRecording, State};
use crate::{ApiError, Engine, MetaUpdate, now_micros};

/// REASON of a captured call that ended without being answered, so never recorded.
pub(crate) const NOT_ANSWERED: &str = "NOT_ANSWERED";

/// Recordings to finalize once the lock is released: (record id, end time).
pub(crate) type Finishing = Vec<(i64, Micros)>;

/// How a new call comes about.
pub(crate) struct NewCall<'a> {
    pub device_id: &'a str,
    pub instance: &'a str,
    pub meta: &'a MetaUpdate,
    pub start: Micros,
    pub cti: bool,
    /// Open the full recording now (CTI) or only once the call is answered (capture).
    pub record_now: bool,
}

impl Engine {
    /// CALLSTART: a new call on (device, instance). A call already live on that instance with
    /// the same CALLID only has its metadata updated; otherwise it is ended first.
    pub async fn call_start(
        &self,
        device_id: &str,
        instance: &str,
        meta: &MetaUpdate,
    ) -> Result<CallView, ApiError> {
        let mut writes = Vec::new();
        let mut finishing = Vec::new();
        let mut guard = self.inner.state.lock().await;
        let view = {
            let st = &mut *guard;
            self.ensure_device(st, device_id)?;
            let now = now_micros();
            let dev = device_mut(st, device_id)?;
            dev.last_event = Some(now);
            let duplicate = dev.live_index(Some(instance)).and_then(|i| {
                let same = meta.call_id.as_deref().unwrap_or("") == dev.calls[i].row.meta.call_id;
                same.then_some(i)
            });
            if let Some(i) = duplicate {
                let mut call = dev.calls.remove(i);
                update_call(&mut call, meta);
                if call.implicit {
                    // RECORDSTART made this call; the CTI now says it is a real call, which
                    // the schedule records in full and only CALLSTOP ends.
                    call.implicit = false;
                    if !call.full_recording_open() {
                        self.start_full_recording(st, &mut call, now, meta).await;
                        st.events.full_recording_started(&call);
                    }
                }
                device_mut(st, device_id)?.calls.insert(i, call);
                self.follow_agent(st, device_id, i);
                let call = &st.devices[device_id].calls[i];
                writes.extend(call.writes());
                let view = call.view();
                st.events.call(EventKind::CallUpdate, view.clone());
                view
            } else {
                if let Some(i) = dev.live_index(Some(instance)) {
                    let at = dev.calls[i].now();
                    end_call(st, device_id, i, at, &mut writes, &mut finishing);
                }
                let call = self
                    .begin_call(
                        st,
                        NewCall {
                            device_id,
                            instance,
                            meta,
                            start: now,
                            cti: true,
                            record_now: true,
                        },
                    )
                    .await;
                st.events.call_started(&call);
                writes.extend(call.writes());
                let view = call.view();
                device_mut(st, device_id)?.calls.push(call);
                view
            }
        };
        guard.device_state_changed(device_id);
        self.apply(guard, writes, finishing).await?;
        Ok(view)
    }

    /// CALLSTOP: ends the call on `instance`, or the device's most recent call.
    pub async fn call_stop(
        &self,
        device_id: &str,
        instance: Option<&str>,
    ) -> Result<CallView, ApiError> {
        let mut writes = Vec::new();
        let mut finishing = Vec::new();
        let mut guard = self.inner.state.lock().await;
        let view = {
            let st = &mut *guard;
            let i = live_call(st, device_id, instance, Code::DeviceNotInCall)?;
            let at = st.devices[device_id].calls[i].now();
            end_call(st, device_id, i, at, &mut writes, &mut finishing)
        };
        self.apply(guard, writes, finishing).await?;
        Ok(view)
    }

    /// CALLUPDATE on a live call; with `update_if_not_recording`, a device with no live call
    /// has its most recent recording updated instead.
    pub async fn call_update(
        &self,
        device_id: &str,
        instance: Option<&str>,
        meta: &MetaUpdate,
        update_if_not_recording: bool,
    ) -> Result<CallView, ApiError> {
        let mut guard = self.inner.state.lock().await;
        let st = &mut *guard;
        let dev = known_device(st, device_id)?;
        if let Some(i) = dev.live_index(instance) {
            dev.last_event = Some(now_micros());
            update_call(&mut dev.calls[i], meta);
            // A new AGENTID moves the call under (or out of) that agent's blackout.
            self.follow_agent(st, device_id, i);
            let call = &st.devices[device_id].calls[i];
            let (writes, view) = (call.writes(), call.view());
            st.events.call(EventKind::CallUpdate, view.clone());
            self.apply(guard, writes, Vec::new()).await?;
            return Ok(view);
        }
        if !update_if_not_recording {
            return Err(no_call(device_id, instance));
        }
        // Reads that feed a write wait for every queued write first, so they never see a
        // row older than the engine's own.
        self.inner.store.submit(Vec::new()).await?;
        let Some(rec) = self
            .inner
            .store
            .latest_recording_of_device(device_id)
            .await?
        else {
            return Err(ApiError::new(
                Code::DeviceNotInCall,
                format!("device {device_id} has no call and no recording to update"),
            ));
        };
        self.write_back(guard, rec, meta).await
    }

    /// CALLUPDATE with RECORDID: updates one recording, live or finished.
    pub async fn update_recording(
        &self,
        record_id: i64,
        meta: &MetaUpdate,
    ) -> Result<CallView, ApiError> {
        let mut guard = self.inner.state.lock().await;
        let st = &mut *guard;
        if let Some(id) = crate::sessions::session_of_record(st, record_id) {
            if let Some(session) = st.sessions.get_mut(&id) {
                meta.apply_recording(&mut session.row);
            }
            // A new AGENTID moves the session under (or out of) that agent's blackout.
            self.follow_session_agent(st, &id);
            let session = &st.sessions[&id];
            let writes = session.writes();
            let view = crate::sessions::live_view(session.row.clone(), now_micros());
            st.events.call(EventKind::CallUpdate, view.clone());
            self.apply(guard, writes, Vec::new()).await?;
            return Ok(view);
        }
        for dev in st.devices.values_mut() {
            for call in &mut dev.calls {
                if let Some(rec) = call
                    .recordings
                    .iter_mut()
                    .find(|r| r.row.record_id == record_id)
                {
                    meta.apply_recording(&mut rec.row);
                    let writes = vec![Write::Recording(rec.row.clone())];
                    let view = CallView::from_recording(rec.row.clone());
                    st.events.call(EventKind::CallUpdate, view.clone());
                    self.apply(guard, writes, Vec::new()).await?;
                    return Ok(view);
                }
            }
        }
        self.inner.store.submit(Vec::new()).await?;
        let Some(rec) = self.inner.store.recording(record_id).await? else {
            return Err(ApiError::new(
                Code::RecordingNotFound,
                format!("no recording has RECORDID {record_id}"),
            ));
        };
        self.write_back(guard, rec, meta).await
    }

    /// RECORDSTART: an additional, partial recording of the call on `instance` (or the most
    /// recent call); an idle device gets an implicit call that RECORDSTOP ends.
    pub async fn record_start(
        &self,
        device_id: &str,
        instance: Option<&str>,
        meta: &MetaUpdate,
        agent_initiated: bool,
    ) -> Result<CallView, ApiError> {
        let mut writes = Vec::new();
        let mut guard = self.inner.state.lock().await;
        let st = &mut *guard;
        let created = self.ensure_device(st, device_id)?;
        let view = match self
            .start_partial(st, device_id, instance, meta, agent_initiated, &mut writes)
            .await
        {
            Ok(view) => view,
            Err(e) => {
                // A refused request leaves no trace, not even the device it named.
                if created {
                    st.devices.remove(device_id);
                }
                return Err(e);
            }
        };
        st.device_state_changed(device_id);
        self.apply(guard, writes, Vec::new()).await?;
        Ok(view)
    }

    async fn start_partial(
        &self,
        st: &mut State,
        device_id: &str,
        instance: Option<&str>,
        meta: &MetaUpdate,
        agent_initiated: bool,
        writes: &mut Vec<Write>,
    ) -> Result<CallView, ApiError> {
        let dev = device_mut(st, device_id)?;
        let view = match dev.live_index(instance) {
            Some(i) => {
                let call = &dev.calls[i];
                if call
                    .recordings
                    .iter()
                    .any(|r| r.is_open() && r.row.kind == RecordingKind::Partial)
                {
                    return Err(ApiError::new(
                        Code::AlreadyRecording,
                        format!(
                            "a partial recording is already running on device {device_id}, instance '{}'",
                            call.row.call_instance
                        ),
                    ));
                }
                let at = call.now();
                let mut row = call.row.clone();
                meta.apply_meta(&mut row.meta);
                let mut rec = self
                    .open_recording(st, &row, RecordingKind::Partial, at)
                    .await?;
                rec.row.agent_initiated = agent_initiated;
                meta.apply_recording(&mut rec.row);
                let call = &mut device_mut(st, device_id)?.calls[i];
                update_call(call, meta);
                call.recordings.push(rec);
                call.cover_recordings();
                self.follow_agent(st, device_id, i);
                let call = &st.devices[device_id].calls[i];
                writes.extend(call.writes());
                CallView {
                    call: call.row.clone(),
                    recording: call.recordings.last().map(|r| r.row.clone()),
                    recording_now: true,
                }
            }
            None => {
                let now = now_micros();
                let mut call = self
                    .begin_call(
                        st,
                        NewCall {
                            device_id,
                            instance: instance.unwrap_or(""),
                            meta,
                            start: now,
                            cti: true,
                            record_now: false,
                        },
                    )
                    .await;
                call.implicit = true;
                let mut rec = self
                    .open_recording(st, &call.row, RecordingKind::Partial, now)
                    .await?;
                rec.row.agent_initiated = agent_initiated;
                meta.apply_recording(&mut rec.row);
                call.row.recorded = true;
                call.row.reason.clear();
                let view = CallView {
                    call: call.row.clone(),
                    recording: Some(rec.row.clone()),
                    recording_now: true,
                };
                call.recordings.push(rec);
                call.cover_recordings();
                st.events.call(EventKind::CallStart, call.view());
                writes.extend(call.writes());
                device_mut(st, device_id)?.calls.push(call);
                view
            }
        };
        st.events.call(EventKind::RecordingStarted, view.clone());
        device_mut(st, device_id)?.last_event = Some(now_micros());
        Ok(view)
    }

    /// RECORDSTOP: stops the partial recording(s) of the call; ends an implicit call.
    pub async fn record_stop(
        &self,
        device_id: &str,
        instance: Option<&str>,
    ) -> Result<CallView, ApiError> {
        let mut writes = Vec::new();
        let mut finishing = Vec::new();
        let mut guard = self.inner.state.lock().await;
        let view = {
            let st = &mut *guard;
            let i = live_call(st, device_id, instance, Code::DeviceNotRecording)?;
            let call = &mut st
                .devices
                .get_mut(device_id)
                .ok_or_else(|| unknown(device_id))?
                .calls[i];
            let at = call.now();
            let mut stopped = None;
            for rec in &mut call.recordings {
                if rec.is_open() && rec.row.kind == RecordingKind::Partial {
                    close_recording(&mut st.channels, &st.recorder, rec, at);
                    finishing.push((rec.row.record_id, at));
                    st.events
                        .recording(EventKind::RecordingStopped, &call.row, &rec.row);
                    stopped = Some(rec.row.clone());
                }
            }
            let Some(stopped) = stopped else {
                return Err(ApiError::new(
                    Code::DeviceNotRecording,
                    format!(
                        "device {device_id} has no partial recording running on instance '{}'",
                        call.row.call_instance
                    ),
                ));
            };
            let mut view = if call.implicit && !call.any_recording_open() {
                end_call(st, device_id, i, at, &mut writes, &mut Vec::new())
            } else {
                writes.extend(call.writes());
                call.view()
            };
            view.recording = Some(stopped);
            view.recording_now = false;
            st.device_state_changed(device_id);
            view
        };
        self.apply(guard, writes, finishing).await?;
        Ok(view)
    }

    /// Queues the writes of a change applied under `guard`, releases the lock, and waits
    /// until they are durable (and the stopped recordings finalized).
    async fn apply(
        &self,
        guard: MutexGuard<'_, State>,
        writes: Vec<Write>,
        finishing: Finishing,
    ) -> Result<(), ApiError> {
        let pending = self.queue(writes);
        drop(guard);
        self.settle(pending, finishing).await
    }

    /// Updates a recording read back from the catalog and stores it.
    async fn write_back(
        &self,
        mut guard: MutexGuard<'_, State>,
        mut rec: RecordingRow,
        meta: &MetaUpdate,
    ) -> Result<CallView, ApiError> {
        meta.apply_recording(&mut rec);
        refresh_last(&mut guard, &rec);
        let view = CallView::from_recording(rec.clone());
        guard.events.call(EventKind::CallUpdate, view.clone());
        self.apply(guard, vec![Write::Recording(rec)], Vec::new())
            .await?;
        Ok(view)
    }

    /// Queues writes in the order the engine applied them. Call it while holding the state
    /// lock, so the catalog sees changes in the same order as the engine.
    pub(crate) fn queue(&self, writes: Vec<Write>) -> store::Pending {
        self.inner.store.submit(writes)
    }

    /// Waits until queued writes are durable, then finalizes the recordings that stopped.
    pub(crate) async fn settle(
        &self,
        pending: store::Pending,
        finishing: Finishing,
    ) -> Result<(), ApiError> {
        let durable = pending.await;
        for (id, end) in finishing {
            if let Err(e) = self.inner.recorder.finish(id, end).await {
                tracing::error!(record_id = id, error = %e, "cannot finalize recording");
            }
        }
        durable.map_err(ApiError::from)
    }

    /// Creates the device on first use when the configuration allows it; says whether it
    /// did, so a request refused later can take the new device back. Refuses everything once
    /// shutdown has begun.
    pub(crate) fn ensure_device(&self, st: &mut State, device_id: &str) -> Result<bool, ApiError> {
        if st.stopping {
            return Err(ApiError::new(
                Code::SchedulerNotRunning,
                "the server is shutting down",
            ));
        }
        if device_id.is_empty() {
            return Err(ApiError::new(Code::DeviceInvalid, "no device was named"));
        }
        if st.devices.contains_key(device_id) {
            return Ok(false);
        }
        if !self.inner.config.auto_create_devices {
            return Err(unknown(device_id));
        }
        st.devices.insert(device_id.to_string(), Default::default());
        Ok(true)
    }

    /// Starts a call: allocates its key, asks the schedule, and (when `record_now`) opens the
    /// full recording. A recording that cannot start leaves the call unrecorded with the reason.
    /// The caller announces the call (`events.call_started`) once it is sure to keep it.
    pub(crate) async fn begin_call(&self, st: &mut State, new: NewCall<'_>) -> LiveCall {
        let mut meta = CallMeta::default();
        new.meta.apply_meta(&mut meta);
        if new.meta.agent_id.is_none() {
            // The agent on a call is the one whose phone the device is at call start.
            match self.inner.store.agent_of_phone(new.device_id).await {
                Ok(Some((user_id, name))) => {
                    meta.agent_id = user_id.to_string();
                    meta.agent_name = name;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(device = %new.device_id, error = %e, "cannot look up the phone's agent; the call has none");
                }
            }
        }
        let mut call = LiveCall {
            row: CallRow {
                call_key: st.call_key(),
                device_id: new.device_id.to_string(),
                call_instance: new.instance.to_string(),
                meta,
                start: new.start,
                end: None,
                // The default schedule records every call.
                recorded: true,
                reason: String::new(),
                cti_initiated: new.cti,
            },
            recordings: Vec::new(),
            implicit: false,
            dialog: None,
            device_is_caller: false,
            clock_offset: 0,
            record_on_answer: false,
            blackout: None,
            blackout_spans: Vec::new(),
        };
        if self.inner.config.agent_blackouts
            && st
                .agent_blackouts
                .contains_key(&crate::blackout::owner(&call.row))
        {
            // The agent is under a blackout: so is every call of theirs that begins.
            call.black_out(new.start);
        }
        if new.record_now {
            self.start_full_recording(st, &mut call, new.start, new.meta)
                .await;
        }
        call
    }

    /// Opens the call's full recording, or records on the call why it could not.
    pub(crate) async fn start_full_recording(
        &self,
        st: &mut State,
        call: &mut LiveCall,
        at: Micros,
        meta: &MetaUpdate,
    ) {
        call.record_on_answer = false;
        match self
            .open_recording(st, &call.row, RecordingKind::Full, at)
            .await
        {
            Ok(mut rec) => {
                meta.apply_recording(&mut rec.row);
                call.recordings.push(rec);
                call.cover_recordings();
            }
            Err(e) => {
                tracing::warn!(device = %call.row.device_id, error = %e, "call not recorded");
                call.row.recorded = false;
                call.row.reason = e.code.label().to_string();
            }
        }
    }

    /// Takes a channel and creates the recording's file, or says why it cannot (2, 3, 18).
    pub(crate) async fn open_recording(
        &self,
        st: &mut State,
        call: &CallRow,
        kind: RecordingKind,
        at: Micros,
    ) -> Result<LiveRecording, ApiError> {
        let (free, total) = self.disk();
        if total > 0 && free < self.inner.config.min_free_bytes {
            return Err(ApiError::new(
                Code::OutOfDiskSpace,
                format!(
                    "{free} bytes free on the recording disk, below the floor of {} bytes",
                    self.inner.config.min_free_bytes
                ),
            ));
        }
        let Some(channel) = st.free_channel() else {
            return Err(ApiError::new(
                Code::NoFreeChannels,
                format!("all {} channels are recording", st.channels.len()),
            ));
        };
        let record_id = st.record_id();
        if let Err(e) = self.inner.recorder.open(record_id, at).await {
            tracing::error!(record_id, error = %e, "cannot create recording file");
            return Err(ApiError::new(
                Code::NoDefaultRecordingPath,
                "the recording path is not usable",
            ));
        }
        st.channels[channel] = Some(record_id);
        Ok(LiveRecording {
            row: RecordingRow {
                record_id,
                call_key: call.call_key,
                device_id: call.device_id.clone(),
                call_instance: call.call_instance.clone(),
                meta: call.meta.clone(),
                call_start: call.start,
                call_end: None,
                recording_start: at,
                duration_ms: None,
                kind,
                audio: false,
                // The configured defaults; the request's values, if any, are applied next.
                keep_days: self.inner.config.keep_days,
                archive_action: self.inner.config.archive_action.clone(),
                cti_initiated: call.cti_initiated,
                agent_initiated: false,
                blackouts: 0,
                locked: false,
                state: RecordingState::Open,
                media_path: format!("{record_id}.wav"),
                purged: None,
            },
            channel: Some(channel),
            spans: Vec::new(),
        })
    }
}

/// Applies request metadata to a live call and every recording of it.
fn update_call(call: &mut LiveCall, meta: &MetaUpdate) {
    meta.apply_meta(&mut call.row.meta);
    for rec in &mut call.recordings {
        meta.apply_recording(&mut rec.row);
    }
}

/// Closes an open recording at `at`, freeing its channel and ending its blackout span.
pub(crate) fn close_recording(
    channels: &mut [Option<i64>],
    recorder: &recorder::Recorder,
    rec: &mut LiveRecording,
    at: Micros,
) {
    crate::blackout::end_span(recorder, rec, at);
    if let Some(ch) = rec.channel.take()
        && let Some(slot) = channels.get_mut(ch)
    {
        *slot = None;
    }
    rec.row.duration_ms = Some((at - rec.row.recording_start).max(0) / 1000);
    rec.row.state = RecordingState::Closed;
}

/// Ends the live call at index `i` of the device: closes its recordings, keeps it as the
/// device's last call, and returns its view.
pub(crate) fn end_call(
    st: &mut State,
    device_id: &str,
    i: usize,
    at: Micros,
    writes: &mut Vec<Write>,
    finishing: &mut Finishing,
) -> CallView {
    let Some(dev) = st.devices.get_mut(device_id) else {
        return CallView {
            call: CallRow {
                call_key: 0,
                device_id: device_id.to_string(),
                call_instance: String::new(),
                meta: CallMeta::default(),
                start: at,
                end: Some(at),
                recorded: false,
                reason: String::new(),
                cti_initiated: false,
            },
            recording: None,
            recording_now: false,
        };
    };
    let mut call = dev.calls.remove(i);
    let at = at.max(call.row.start);
    call.row.end = Some(at);
    dev.last_event = Some(at);
    if call.record_on_answer {
        // The schedule would have recorded it, but it was never answered.
        call.row.recorded = false;
        call.row.reason = NOT_ANSWERED.to_string();
    }
    if call.blackout.take().is_some()
        && let Some(span) = call.blackout_spans.last_mut()
    {
        span.1 = Some(at);
    }
    for rec in &mut call.recordings {
        rec.row.call_end = Some(at);
        if rec.is_open() {
            close_recording(&mut st.channels, &st.recorder, rec, at);
            finishing.push((rec.row.record_id, at));
            st.events
                .recording(EventKind::RecordingStopped, &call.row, &rec.row);
        }
    }
    writes.extend(call.writes());
    let view = call.view();
    dev.last = Some(view.clone());
    if let Some(d) = &call.dialog {
        st.dialogs.remove(d);
    }
    st.events.call(EventKind::CallStop, view.clone());
    st.device_state_changed(device_id);
    view
}

/// Keeps a device's last-call view in step with a recording updated after the call.
fn refresh_last(st: &mut State, rec: &RecordingRow) {
    if let Some(last) = st
        .devices
        .get_mut(&rec.device_id)
        .and_then(|d| d.last.as_mut())
        && last.recording.as_ref().map(|r| r.record_id) == Some(rec.record_id)
    {
        last.call.meta = rec.meta.clone();
        last.recording = Some(rec.clone());
    }
}

fn unknown(device_id: &str) -> ApiError {
    ApiError::new(
        Code::DeviceInvalid,
        format!("device {device_id} is not known"),
    )
}

fn no_call(device_id: &str, instance: Option<&str>) -> ApiError {
    match instance {
        Some(i) => ApiError::new(
            Code::DeviceNotInCall,
            format!("device {device_id} has no call on instance '{i}'"),
        ),
        None => ApiError::new(
            Code::DeviceNotInCall,
            format!("device {device_id} is not in a call"),
        ),
    }
}

fn device_mut<'a>(
    st: &'a mut State,
    device_id: &str,
) -> Result<&'a mut crate::state::Device, ApiError> {
    st.devices
        .get_mut(device_id)
        .ok_or_else(|| unknown(device_id))
}

fn known_device<'a>(
    st: &'a mut State,
    device_id: &str,
) -> Result<&'a mut crate::state::Device, ApiError> {
    if device_id.is_empty() {
        return Err(ApiError::new(Code::DeviceInvalid, "no device was named"));
    }
    device_mut(st, device_id)
}

/// The index of the live call a stop names; `missing` is the code when there is none.
fn live_call(
    st: &mut State,
    device_id: &str,
    instance: Option<&str>,
    missing: Code,
) -> Result<usize, ApiError> {
    let dev = known_device(st, device_id)?;
    dev.live_index(instance).ok_or_else(|| {
        let mut e = no_call(device_id, instance);
        e.code = missing;
        e
    })
}
