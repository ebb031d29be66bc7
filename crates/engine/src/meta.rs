//! Call metadata given by a request: only the fields present change anything.

use store::{CallMeta, RecordingRow};

/// The CALLSTART/CALLUPDATE metadata fields a request carried. `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetaUpdate {
    pub device_alias: Option<String>,
    pub station_name: Option<String>,
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    pub ani: Option<String>,
    pub dnis: Option<String>,
    pub call_direction: Option<String>,
    pub call_id: Option<String>,
    pub gate: Option<String>,
    pub sgroup: Option<String>,
    pub user: [Option<String>; 15],
    pub keep_days: Option<i64>,
    pub archive_action: Option<String>,
    pub locked: Option<bool>,
}

impl MetaUpdate {
    pub fn apply_meta(&self, m: &mut CallMeta) {
        let pairs: [(&Option<String>, &mut String); 10] = [
            (&self.device_alias, &mut m.device_alias),
            (&self.station_name, &mut m.station_name),
            (&self.agent_id, &mut m.agent_id),
            (&self.agent_name, &mut m.agent_name),
            (&self.ani, &mut m.ani),
            (&self.dnis, &mut m.dnis),
            (&self.call_direction, &mut m.call_direction),
            (&self.call_id, &mut m.call_id),
            (&self.gate, &mut m.gate),
            (&self.sgroup, &mut m.sgroup),
        ];
        for (given, field) in pairs {
            if let Some(v) = given {
                field.clone_from(v);
            }
        }
        for (given, field) in self.user.iter().zip(m.user.iter_mut()) {
            if let Some(v) = given {
                field.clone_from(v);
            }
        }
    }

    /// Applies the metadata and the per-recording settings (retention, lock) to a recording.
    pub fn apply_recording(&self, r: &mut RecordingRow) {
        self.apply_meta(&mut r.meta);
        if let Some(k) = self.keep_days {
            r.keep_days = Some(k);
        }
        if let Some(a) = &self.archive_action {
            r.archive_action.clone_from(a);
        }
        if let Some(l) = self.locked {
            r.locked = l;
        }
    }
}
