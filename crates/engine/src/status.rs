//! What the status commands read: devices, instances, channels, the system.

use store::{Micros, RecordingKind};

use crate::state::{ChannelView, Device, DeviceView, InstanceView};
use crate::{Engine, now_micros};

/// Figures for SYSTEMSTATUS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineStatus {
    pub started: Micros,
    pub now: Micros,
    pub channels: usize,
    pub channels_in_use: usize,
    pub active_calls: usize,
    pub active_recordings: usize,
    pub disk_free: u64,
    pub disk_total: u64,
}

impl Engine {
    /// Every known device, or the named ones (unknown names are left out), in name order.
    pub async fn devices(&self, only: Option<&[String]>) -> Vec<DeviceView> {
        let st = self.inner.state.lock().await;
        let mut views: Vec<DeviceView> = match only {
            None => st
                .devices
                .iter()
                .map(|(id, d)| device_view(id, d))
                .collect(),
            Some(ids) => ids
                .iter()
                .filter_map(|id| st.devices.get(id).map(|d| device_view(id, d)))
                .collect(),
        };
        for v in &mut views {
            v.blackout =
                self.device_blacked_out(&st, &v.device_id, v.call.as_ref().map(|c| &c.call));
        }
        views
    }

    /// Every live call instance of each named device, with its recordings.
    pub async fn instances(&self, ids: &[String]) -> Vec<(String, Vec<InstanceView>)> {
        let st = self.inner.state.lock().await;
        ids.iter()
            .filter_map(|id| {
                let dev = st.devices.get(id)?;
                let instances = dev
                    .calls
                    .iter()
                    .map(|c| {
                        let open: Vec<i64> = c
                            .recordings
                            .iter()
                            .filter(|r| r.is_open())
                            .map(|r| r.row.record_id)
                            .collect();
                        InstanceView {
                            call_instance: c.row.call_instance.clone(),
                            recording: !open.is_empty(),
                            record_ids: open,
                            blackout: c.blackout.is_some(),
                            blackouts: c.blackout_spans.clone(),
                        }
                    })
                    .collect();
                Some((id.clone(), instances))
            })
            .collect()
    }

    pub async fn channels(&self) -> Vec<ChannelView> {
        let st = self.inner.state.lock().await;
        let mut views: Vec<ChannelView> = (1..=st.channels.len())
            .map(|channel| ChannelView {
                channel,
                recording: None,
            })
            .collect();
        for dev in st.devices.values() {
            for call in &dev.calls {
                for rec in &call.recordings {
                    if let Some(view) = rec.channel.and_then(|ch| views.get_mut(ch)) {
                        view.recording = Some(rec.row.clone());
                    }
                }
            }
        }
        views
    }

    pub async fn status(&self) -> EngineStatus {
        let st = self.inner.state.lock().await;
        let (disk_free, disk_total) = self.disk();
        let calls = st.devices.values().flat_map(|d| d.calls.iter());
        EngineStatus {
            started: self.inner.started,
            now: now_micros(),
            channels: st.channels.len(),
            channels_in_use: st.channels_in_use(),
            active_calls: calls.clone().count(),
            active_recordings: calls
                .flat_map(|c| c.recordings.iter())
                .filter(|r| r.is_open())
                .count(),
            disk_free,
            disk_total,
        }
    }
}

pub(crate) fn device_view(id: &str, dev: &Device) -> DeviceView {
    // The active instance: the newest one recording, else the most recent live one.
    let live = dev
        .calls
        .iter()
        .rev()
        .find(|c| c.any_recording_open())
        .or_else(|| dev.calls.last());
    let call = live.map(|c| c.view()).or_else(|| dev.last.clone());
    let state = match live {
        None => 0,
        Some(c)
            if c.recordings
                .iter()
                .any(|r| r.is_open() && r.row.kind != RecordingKind::Screen) =>
        {
            2
        }
        Some(_) => 1,
    };
    DeviceView {
        device_id: id.to_string(),
        state,
        call,
        last_event: dev.last_event,
        blackout: false,
    }
}
