//! Start-up: rebuild what the engine knows from the catalog, and close what a crash left open.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use recorder::{Recorder, Recovered};
use store::{RecordingKind, RecordingState, Store, Write};
use tokio::sync::Mutex;

use crate::blackout::session_owner;
use crate::state::{LiveSession, State};
use crate::{Engine, EngineConfig, Inner, now_micros};

impl Engine {
    /// Loads the catalog, closes every recording and call a crash left open — with the real
    /// duration of the audio that reached the disk — and returns the running engine.
    pub async fn start(
        config: EngineConfig,
        store: Store,
        recorder: Recorder,
        recovered: Vec<Recovered>,
    ) -> Result<Engine, store::StoreError> {
        let (max_call, max_record) = store.max_ids().await?;
        // A crash can leave a recording file whose catalog row never landed: its id is taken.
        let max_record = recovered
            .iter()
            .map(|r| r.record_id)
            .fold(max_record, i64::max);
        let mut state = State::new(
            config.channels,
            max_call,
            max_record,
            recorder.clone(),
            crate::events::Events::new(config.event_queue),
        );
        state.agent_blackouts = store.open_blackouts().await?.into_iter().collect();
        for device in store.device_ids().await? {
            state.devices.insert(device, Default::default());
        }
        // Chat and screen sessions outlive a restart: they stay active until CHATSTOP, and
        // so do their blackout spans while the agent's blackout stays open.
        let mut writes = Vec::new();
        let now = now_micros();
        for rec in store.open_recordings().await? {
            if rec.kind != RecordingKind::Screen {
                continue;
            }
            let spans = if rec.blackouts > 0 {
                store.blackout_spans(rec.record_id).await?
            } else {
                Vec::new()
            };
            let mut session = LiveSession { row: rec, spans };
            // Covered now exactly when the agent's blackout is open (agent mode): a span
            // left open with no blackout to carry it (the mode changed) ends at start-up,
            // and an open blackout with no span on the session opens one from start-up.
            let covered = config.agent_blackouts
                && session_owner(&session.row)
                    .is_some_and(|o| state.agent_blackouts.contains_key(&o));
            let was = session.blacked_out();
            if covered {
                session.black_out(now);
            } else {
                session.lift(now);
            }
            if was != session.blacked_out() {
                writes.extend(session.writes());
            }
            state
                .sessions
                .insert(session.row.call_instance.clone(), session);
        }
        writes.extend(close_left_open(&store, &recorder, recovered).await?);
        if !writes.is_empty() {
            store.submit(writes).await?;
        }
        let engine = Engine {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                store,
                recorder,
                config,
                started: now_micros(),
                disk_free: AtomicU64::new(0),
                disk_total: AtomicU64::new(0),
            }),
        };
        Ok(engine)
    }

    /// Ends every live call and finalizes every open recording (graceful shutdown).
    pub async fn shutdown(&self) {
        let mut writes = Vec::new();
        let mut finishing = Vec::new();
        let mut guard = self.inner.state.lock().await;
        let st = &mut *guard;
        st.stopping = true;
        let devices: Vec<String> = st.devices.keys().cloned().collect();
        for device in devices {
            while let Some(call) = st.devices.get(&device).and_then(|d| d.calls.last()) {
                let at = call.now();
                let i = st.devices[&device].calls.len() - 1;
                crate::calls::end_call(st, &device, i, at, &mut writes, &mut finishing);
            }
        }
        let pending = self.queue(writes);
        drop(guard);
        if let Err(e) = self.settle(pending, finishing).await {
            tracing::error!(error = %e, "cannot store the calls ended by shutdown");
        }
    }
}

/// Catalog writes that close the recordings and calls a crash left open.
async fn close_left_open(
    store: &Store,
    recorder: &Recorder,
    recovered: Vec<Recovered>,
) -> Result<Vec<Write>, store::StoreError> {
    let mut by_id: HashMap<i64, Recovered> =
        recovered.into_iter().map(|r| (r.record_id, r)).collect();
    let mut writes = Vec::new();
    let mut call_ends: HashMap<i64, i64> = HashMap::new();
    for mut rec in store.open_recordings().await? {
        if rec.kind == RecordingKind::Screen {
            // An active chat or screen session: no media, nothing to recover.
            continue;
        }
        let duration_ms = match by_id.remove(&rec.record_id) {
            Some(r) => r.duration_ms,
            None => {
                // No segment file survived: only a finished file (crash between rename and
                // catalog write) can still hold audio.
                let path = recorder.dir().join(&rec.media_path);
                match tokio::fs::metadata(&path).await {
                    Ok(m) => recorder::wav_duration_ms(m.len()),
                    Err(_) => {
                        rec.audio = false;
                        rec.media_path.clear();
                        0
                    }
                }
            }
        };
        let end = rec.recording_start + duration_ms * 1000;
        tracing::warn!(
            record_id = rec.record_id,
            duration_ms,
            "recording left open by an unclean stop was recovered"
        );
        rec.duration_ms = Some(duration_ms);
        rec.state = RecordingState::Recovered;
        rec.call_end = Some(rec.call_end.unwrap_or(end).max(end));
        let e = call_ends.entry(rec.call_key).or_insert(end);
        *e = (*e).max(end);
        if rec.blackouts > 0 {
            // A blackout open at the crash ends with the recording (its audio was never
            // written, so the recording is silent there already).
            for mut span in store.blackout_spans(rec.record_id).await? {
                if span.end.is_none() {
                    span.end = Some(end.max(span.start));
                    writes.push(Write::BlackoutSpan(span));
                }
            }
        }
        writes.push(Write::Recording(rec));
    }
    for orphan in by_id.values() {
        tracing::warn!(
            record_id = orphan.record_id,
            path = %orphan.path.display(),
            "a recovered recording has no catalog row; its file is kept"
        );
    }
    for mut call in store.open_calls().await? {
        let end = call_ends
            .get(&call.call_key)
            .copied()
            .unwrap_or(call.start)
            .max(call.start);
        call.end = Some(end);
        writes.push(Write::Call(call));
    }
    Ok(writes)
}
