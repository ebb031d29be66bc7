//! Calls followed from a capture: SIP dialogs become calls, decoded RTP becomes audio.

use capture::{MediaEvent, Side};
use store::Micros;

use crate::calls::{NewCall, end_call};
use crate::state::State;
use crate::{Engine, MetaUpdate, now_micros};

impl Engine {
    /// Applies one capture event. Catalog writes are queued in order; waiting for them (and
    /// for finalizing the recordings that ended) runs in the returned task, so the capture
    /// keeps reading packets at its own pace.
    pub async fn media(&self, event: MediaEvent) -> Option<tokio::task::JoinHandle<()>> {
        let mut writes = Vec::new();
        let mut finishing = Vec::new();
        let mut guard = self.inner.state.lock().await;
        {
            let st = &mut *guard;
            match event {
                MediaEvent::DialogStarted {
                    dialog,
                    at,
                    from_user,
                    to_user,
                } => {
                    self.dialog_started(st, dialog, at, from_user, to_user, &mut writes)
                        .await
                }
                MediaEvent::DialogAnswered { dialog, at } => {
                    let (device, i) = dialog_index(st, &dialog, at)?;
                    let mut call = take_call(st, &device, i)?;
                    if call.record_on_answer {
                        self.start_full_recording(st, &mut call, at, &MetaUpdate::default())
                            .await;
                        st.events.full_recording_started(&call);
                    }
                    writes.extend(call.writes());
                    put_call(st, &device, i, call);
                    st.device_state_changed(&device);
                }
                MediaEvent::Audio {
                    dialog,
                    side,
                    at,
                    pcm,
                } => {
                    let (device, i) = dialog_index(st, &dialog, at)?;
                    let call = st
                        .devices
                        .get_mut(&device)
                        .and_then(|d| d.calls.get_mut(i))?;
                    // Channel 1 (index 0) is the device's own voice.
                    let channel = if (side == Side::Caller) == call.device_is_caller {
                        0
                    } else {
                        1
                    };
                    // Audio inside a blackout never reaches the recorder.
                    let audible = call.audible_samples(at, pcm.len());
                    if audible == 0 {
                        return None;
                    }
                    let pcm = &pcm[..audible];
                    for rec in call.recordings.iter_mut().filter(|r| r.is_open()) {
                        self.inner
                            .recorder
                            .audio(rec.row.record_id, channel, at, pcm.to_vec());
                        if !rec.row.audio {
                            rec.row.audio = true;
                            writes.push(store::Write::Recording(rec.row.clone()));
                        }
                    }
                }
                MediaEvent::UndecodableMedia {
                    dialog,
                    side,
                    codec,
                } => {
                    let device = st.dialogs.get(&dialog).cloned().unwrap_or_default();
                    tracing::warn!(
                        call_id = %dialog,
                        %device,
                        ?side,
                        %codec,
                        "audio in this codec cannot be decoded yet; it is not recorded (the call is kept, AUDIO=N unless other audio arrives)"
                    );
                }
                MediaEvent::DialogEnded { dialog, at, reason } => {
                    let (device, i) = dialog_index(st, &dialog, at)?;
                    tracing::info!(call_id = %dialog, %device, %reason, "captured call ended");
                    end_call(st, &device, i, at, &mut writes, &mut finishing);
                }
            }
        }
        if writes.is_empty() && finishing.is_empty() {
            return None;
        }
        let pending = self.queue(writes);
        drop(guard);
        let engine = self.clone();
        Some(tokio::spawn(async move {
            if let Err(e) = engine.settle(pending, finishing).await {
                tracing::error!(error = %e, "cannot store a captured call");
            }
        }))
    }

    async fn dialog_started(
        &self,
        st: &mut State,
        dialog: String,
        at: Micros,
        from_user: String,
        to_user: String,
        writes: &mut Vec<store::Write>,
    ) {
        if st.dialogs.contains_key(&dialog) {
            return;
        }
        // The call belongs to the party that is a known device, else to the callee.
        let device_is_caller = !from_user.is_empty() && st.devices.contains_key(&from_user);
        let device = if device_is_caller {
            &from_user
        } else {
            &to_user
        };
        if device.is_empty() {
            tracing::warn!(call_id = %dialog, "captured call names no user; ignored");
            return;
        }
        if let Err(e) = self.ensure_device(st, device) {
            tracing::info!(call_id = %dialog, %device, error = %e, "captured call on an unknown device; ignored");
            return;
        }
        let meta = MetaUpdate {
            ani: Some(from_user.clone()),
            dnis: Some(to_user.clone()),
            call_id: Some(dialog.clone()),
            call_direction: Some(if device_is_caller { "O" } else { "I" }.to_string()),
            ..MetaUpdate::default()
        };
        let mut call = self
            .begin_call(
                st,
                NewCall {
                    device_id: device,
                    instance: &dialog,
                    meta: &meta,
                    start: at,
                    cti: false,
                    record_now: false,
                },
            )
            .await;
        call.dialog = Some(dialog.clone());
        call.device_is_caller = device_is_caller;
        // The schedule's decision is carried out when the call is answered.
        call.record_on_answer = call.row.recorded;
        call.clock_offset = at - now_micros();
        st.events.call_started(&call);
        writes.extend(call.writes());
        let device = device.clone();
        if let Some(dev) = st.devices.get_mut(&device) {
            dev.last_event = Some(at);
            dev.calls.push(call);
        }
        st.device_state_changed(&device);
        st.dialogs.insert(dialog, device);
    }
}

/// The device and index of a dialog's live call; keeps the call's capture clock current.
fn dialog_index(st: &mut State, dialog: &str, at: Micros) -> Option<(String, usize)> {
    let device = st.dialogs.get(dialog)?.clone();
    let dev = st.devices.get_mut(&device)?;
    let i = dev
        .calls
        .iter()
        .position(|c| c.dialog.as_deref() == Some(dialog))?;
    dev.calls[i].clock_offset = at - now_micros();
    dev.last_event = Some(at);
    Some((device, i))
}

fn take_call(st: &mut State, device: &str, i: usize) -> Option<crate::state::LiveCall> {
    let dev = st.devices.get_mut(device)?;
    (i < dev.calls.len()).then(|| dev.calls.remove(i))
}

fn put_call(st: &mut State, device: &str, i: usize, call: crate::state::LiveCall) {
    if let Some(dev) = st.devices.get_mut(device) {
        let i = i.min(dev.calls.len());
        dev.calls.insert(i, call);
    }
}
