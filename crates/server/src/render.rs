//! The `<CALL>` and `<DEVICE>` sections results share (PROTOCOL §4, §5).

use engine::{CallView, DeviceView};
use wire::Node;

use crate::commands::Ctx;

fn yn(b: bool) -> String {
    if b { "Y" } else { "N" }.to_string()
}

/// Seconds with millisecond precision, e.g. `26.430`.
pub fn seconds(ms: i64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// One `<CALL>` section. RECORDING says whether the recording is being made right now.
pub fn call(ctx: &Ctx, v: &CallView) -> Node {
    let c = &v.call;
    let r = v.recording.as_ref();
    let m = r.map(|r| &r.meta).unwrap_or(&c.meta);
    let duration = match r {
        Some(r) => r.duration_ms,
        None => c.end.map(|e| (e - c.start) / 1000),
    };
    let mut fields = vec![
        (
            "RECORDID",
            r.map(|r| r.record_id.to_string()).unwrap_or_default(),
        ),
        ("DEVICEID", c.device_id.clone()),
        ("DEVICEALIAS", m.device_alias.clone()),
        ("CALLINSTANCE", c.call_instance.clone()),
        ("STATIONNAME", m.station_name.clone()),
        ("AGENTID", m.agent_id.clone()),
        ("AGENTNAME", m.agent_name.clone()),
        ("ANI", m.ani.clone()),
        ("DNIS", m.dnis.clone()),
        ("CALLDIRECTION", m.call_direction.clone()),
        ("CALLID", m.call_id.clone()),
        ("GATE", m.gate.clone()),
        ("SGROUP", m.sgroup.clone()),
        ("CALLSTARTTIME", ctx.time(Some(c.start))),
        ("CALLENDTIME", ctx.time(c.end)),
        ("RECORDINGTIME", ctx.time(r.map(|r| r.recording_start))),
        ("DURATION", duration.map(seconds).unwrap_or_default()),
        (
            "RECORDINGTYPE",
            r.map(|r| r.kind.as_str().to_string()).unwrap_or_default(),
        ),
        ("AUDIO", yn(r.is_some_and(|r| r.audio))),
        ("RECORDING", yn(v.recording_now)),
        ("REASON", c.reason.clone()),
        (
            "KEEPDAYS",
            r.and_then(|r| r.keep_days)
                .map(|k| k.to_string())
                .unwrap_or_default(),
        ),
        (
            "ARCHIVEACTION",
            r.map(|r| r.archive_action.clone()).unwrap_or_default(),
        ),
        ("CTIINITIATED", yn(c.cti_initiated)),
        ("AGENTINITIATED", yn(r.is_some_and(|r| r.agent_initiated))),
        ("BLACKOUTS", r.map(|r| r.blackouts).unwrap_or(0).to_string()),
        ("PURGEDTIME", ctx.time(r.and_then(|r| r.purged))),
    ]
    .into_iter()
    .map(|(n, v)| Node::field(n, v))
    .collect::<Vec<_>>();
    for (i, u) in m.user.iter().enumerate() {
        fields.push(Node::field(format!("USER{}", i + 1), u.clone()));
    }
    Node::Section("CALL".to_string(), fields)
}

const STATE_DESC: [&str; 10] = [
    "On Hook",
    "Off Hook",
    "Recording",
    "Playback",
    "Waiting",
    "Error",
    "Resetting",
    "Recording Prep",
    "Finish Recording",
    "Dialing For Playback",
];

pub fn state_desc(state: u8) -> &'static str {
    STATE_DESC.get(usize::from(state)).copied().unwrap_or("")
}

/// One `<DEVICE>` section with its highest-priority instance.
pub fn device(ctx: &Ctx, d: &DeviceView) -> Node {
    Node::Section("DEVICE".to_string(), device_fields(ctx, d))
}

/// The fields of a `<DEVICE>` section.
pub fn device_fields(ctx: &Ctx, d: &DeviceView) -> Vec<Node> {
    let c = d.call.as_ref();
    let m = c.map(|c| {
        c.recording
            .as_ref()
            .map(|r| &r.meta)
            .unwrap_or(&c.call.meta)
    });
    let meta = |f: fn(&store::CallMeta) -> &String| m.map(|m| f(m).clone()).unwrap_or_default();
    let fields = vec![
        ("DEVICEID", d.device_id.clone()),
        ("DEVICEALIAS", meta(|m| &m.device_alias)),
        ("STATIONNAME", meta(|m| &m.station_name)),
        ("STATE", d.state.to_string()),
        ("STATEDESC", state_desc(d.state).to_string()),
        ("AGENTID", meta(|m| &m.agent_id)),
        ("AGENTNAME", meta(|m| &m.agent_name)),
        (
            "CALLINSTANCE",
            c.map(|c| c.call.call_instance.clone()).unwrap_or_default(),
        ),
        ("CALLSTARTTIME", ctx.time(c.map(|c| c.call.start))),
        ("ANI", meta(|m| &m.ani)),
        ("DNIS", meta(|m| &m.dnis)),
        ("CALLDIRECTION", meta(|m| &m.call_direction)),
        ("CALLID", meta(|m| &m.call_id)),
        ("RECORDING", yn(c.is_some_and(|c| c.recording_now))),
        (
            "RECORDID",
            c.and_then(|c| c.recording.as_ref())
                .map(|r| r.record_id.to_string())
                .unwrap_or_default(),
        ),
        ("BLACKOUT", yn(d.blackout)),
        ("LASTEVENTTIME", ctx.time(d.last_event)),
    ];
    fields.into_iter().map(|(n, v)| Node::field(n, v)).collect()
}
