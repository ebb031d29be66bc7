//! The informational commands: DEVICELIST, DEVICESTATUS, DEVICERECORDINGSTATUS,
//! SYSTEMSTATUS, CHANNELSTATUS. They change nothing.

use engine::ApiError;

use crate::capture_sources::SourceState;
use wire::{Code, Node, Request};

use super::{Ctx, Done, Params};
use crate::render;

fn count(n: usize) -> Node {
    Node::field("COUNT", n.to_string())
}

pub async fn device_list(ctx: &Ctx) -> Result<Done, ApiError> {
    let devices = ctx.engine.devices(None).await;
    let mut body = vec![count(devices.len())];
    body.extend(devices.iter().map(|d| render::device(ctx, d)));
    Ok(Done::ok(body))
}

/// The devices DEVICESTATUS and DEVICERECORDINGSTATUS name: exactly one key, DEVICEID may
/// be a comma list; the known ones, each once, in the order given (8 when none is known).
async fn named_devices(ctx: &Ctx, req: &Request) -> Result<Vec<String>, ApiError> {
    let p = Params(req);
    let keys = [
        "DEVICEID",
        "DEVICEALIAS",
        "STATIONNAME",
        "SYS_USER",
        "CRM_USER",
    ];
    let given: Vec<&str> = keys.into_iter().filter(|k| p.get(k).is_some()).collect();
    if given.len() > 1 {
        return Err(ApiError::new(
            Code::KeysNotUnique,
            format!("give only one of {}", given.join(", ")),
        ));
    }
    let mut ids: Vec<String> = Vec::new();
    match p.get("DEVICEID") {
        Some(list) => {
            for id in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let id = super::device_id(id)?.to_string();
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        None => ids.push(p.device(ctx).await?),
    }
    let known: Vec<String> = ctx
        .engine
        .devices(Some(&ids))
        .await
        .into_iter()
        .map(|d| d.device_id)
        .collect();
    if known.is_empty() {
        return Err(ApiError::new(
            Code::DeviceInvalid,
            format!("no known device is named ({})", ids.join(", ")),
        ));
    }
    Ok(known)
}

pub async fn device_status(ctx: &Ctx, req: &Request) -> Result<Done, ApiError> {
    let ids = named_devices(ctx, req).await?;
    let devices = ctx.engine.devices(Some(&ids)).await;
    let mut body = vec![count(devices.len())];
    body.extend(devices.iter().map(|d| render::device(ctx, d)));
    Ok(Done::ok(body))
}

pub async fn device_recording_status(ctx: &Ctx, req: &Request) -> Result<Done, ApiError> {
    let ids = named_devices(ctx, req).await?;
    let devices = ctx.engine.instances(&ids).await;
    let mut body = vec![count(devices.len())];
    for (id, instances) in devices {
        let mut fields = vec![Node::field("DEVICEID", id)];
        for i in instances {
            let status = if i.recording && i.blackout {
                "RECORDINGPAUSED"
            } else if i.recording {
                "RECORDING"
            } else {
                "NOTRECORDING"
            };
            let ids: Vec<String> = i.record_ids.iter().map(i64::to_string).collect();
            let mut instance = vec![
                Node::field("CALLINSTANCE", i.call_instance),
                Node::field("STATUS", status),
                Node::field("RECORDIDS", ids.join(",")),
            ];
            // The call's blackout spans, oldest first; END is empty while one is open.
            instance.extend(i.blackouts.iter().map(|&(start, end)| {
                Node::Section(
                    "BLACKOUT".to_string(),
                    vec![
                        Node::field("START", ctx.time(Some(start))),
                        Node::field("END", ctx.time(end)),
                    ],
                )
            }));
            fields.push(Node::Section("INSTANCE".to_string(), instance));
        }
        body.push(Node::Section("DEVICE".to_string(), fields));
    }
    Ok(Done::ok(body))
}

pub async fn system_status(ctx: &Ctx) -> Result<Done, ApiError> {
    let s = ctx.engine.status().await;
    let database = if ctx.engine.store().ping().await {
        "OK"
    } else {
        "ERROR"
    };
    let percent = if s.disk_total > 0 {
        format!("{:.1}", s.disk_free as f64 * 100.0 / s.disk_total as f64)
    } else {
        String::new()
    };
    // The last retention purge, read from the catalog so it survives restarts; empty when
    // none has run yet (or the catalog does not answer, which DATABASE says).
    let purge = ctx
        .engine
        .store()
        .last_purge_run()
        .await
        .unwrap_or_default();
    let purge_field = |f: fn(&store::PurgeRun) -> u64| {
        purge.as_ref().map(|r| f(r).to_string()).unwrap_or_default()
    };
    let mut capture = Vec::new();
    for source in ctx.captures.list() {
        let stats = source.stats.snapshot();
        let (state, why) = match source.state.lock().map(|s| s.clone()) {
            Ok(SourceState::Running) => ("RUNNING", String::new()),
            Ok(SourceState::Finished(why)) => ("FINISHED", why),
            Ok(SourceState::AlreadyReplayed(at)) => (
                "FINISHED",
                format!(
                    "already replayed to its end at {}; skipped \
                     (--capture-replay-again replays it)",
                    ctx.time(Some(at))
                ),
            ),
            Ok(SourceState::Failed(why)) => ("FAILED", why),
            Err(_) => ("FAILED", "state unavailable".to_string()),
        };
        capture.push(Node::Section(
            "SOURCE".to_string(),
            vec![
                Node::field("NAME", source.name.clone()),
                Node::field("STATE", state),
                Node::field("MESSAGE", why),
                Node::field("PACKETS", stats.packets.to_string()),
                Node::field("SIPMESSAGES", stats.sip_messages.to_string()),
                Node::field("RTPPACKETS", stats.rtp_packets.to_string()),
                Node::field("CALLS", stats.calls.to_string()),
            ],
        ));
    }
    let system = vec![
        Node::field("VERSION", env!("CARGO_PKG_VERSION")),
        Node::field("STARTTIME", ctx.time(Some(s.started))),
        Node::field("UPTIME", ((s.now - s.started) / 1_000_000).to_string()),
        Node::field("SCHEDULER", "RUNNING"),
        Node::field("DATABASE", database),
        Node::field("RECORDINGPATH", ctx.recordings_dir.display().to_string()),
        Node::field("DISKTOTAL", s.disk_total.to_string()),
        Node::field("DISKFREE", s.disk_free.to_string()),
        Node::field("DISKFREEPERCENT", percent),
        Node::field("CHANNELS", s.channels.to_string()),
        Node::field("CHANNELSINUSE", s.channels_in_use.to_string()),
        Node::field("ACTIVECALLS", s.active_calls.to_string()),
        Node::field("ACTIVERECORDINGS", s.active_recordings.to_string()),
        Node::field("LASTPURGE", ctx.time(purge.as_ref().map(|r| r.finished))),
        Node::field("LASTPURGECOUNT", purge_field(|r| r.purged)),
        Node::field("LASTPURGEBYTES", purge_field(|r| r.bytes_freed)),
        Node::field("LASTPURGEFAILED", purge_field(|r| r.failed)),
        Node::Section("CAPTURE".to_string(), capture),
    ];
    Ok(Done::ok(vec![Node::Section("SYSTEM".to_string(), system)]))
}

pub async fn channel_status(ctx: &Ctx) -> Result<Done, ApiError> {
    let channels = ctx.engine.channels().await;
    let mut body = vec![count(channels.len())];
    for ch in channels {
        let r = ch.recording.as_ref();
        let state: u8 = if r.is_some() { 2 } else { 0 };
        body.push(Node::Section(
            "CHANNEL".to_string(),
            vec![
                Node::field("CHANNEL", ch.channel.to_string()),
                Node::field("STATE", state.to_string()),
                Node::field("STATEDESC", render::state_desc(state)),
                Node::field(
                    "DEVICEID",
                    r.map(|r| r.device_id.clone()).unwrap_or_default(),
                ),
                Node::field(
                    "CALLINSTANCE",
                    r.map(|r| r.call_instance.clone()).unwrap_or_default(),
                ),
                Node::field(
                    "RECORDID",
                    r.map(|r| r.record_id.to_string()).unwrap_or_default(),
                ),
                Node::field("RECORDINGTIME", ctx.time(r.map(|r| r.recording_start))),
            ],
        ));
    }
    Ok(Done::ok(body))
}
