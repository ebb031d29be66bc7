//! CALLLIST: recordings matching every filter given, newest first.

use engine::{ApiError, CallView};
use store::{NameKey, RecordingFilter, RecordingKind, TextField, TextMatch};
use wire::{Code, Node, Request};

use super::{Ctx, Done, Params, invalid};
use crate::render;

/// Parameters that filter on a text column; a trailing `%` asks for a prefix match.
const TEXT_FILTERS: [(&str, TextField); 9] = [
    ("DEVICEID", TextField::DeviceId),
    ("AGENTID", TextField::AgentId),
    ("STATIONNAME", TextField::StationName),
    ("ANI", TextField::Ani),
    ("DNIS", TextField::Dnis),
    ("CALLID", TextField::CallId),
    ("GATE", TextField::Gate),
    ("SGROUP", TextField::SGroup),
    ("CALLDIRECTION", TextField::CallDirection),
];

pub async fn call_list(ctx: &Ctx, req: &Request) -> Result<Done, ApiError> {
    let filter = filter(ctx, &Params(req)).await?;
    let rows = ctx.engine.store().recordings(&filter).await?;
    let mut body = vec![Node::field("COUNT", rows.len().to_string())];
    body.extend(
        rows.into_iter()
            .map(|r| render::call(ctx, &CallView::from_recording(r))),
    );
    Ok(Done::ok(body))
}

fn text_match(value: &str) -> TextMatch {
    match value.strip_suffix('%') {
        Some(prefix) => TextMatch::Prefix(prefix.to_string()),
        None => TextMatch::Exact(value.to_string()),
    }
}

async fn filter(ctx: &Ctx, p: &Params<'_>) -> Result<RecordingFilter, ApiError> {
    let date = |name: &str| -> Result<Option<i64>, ApiError> {
        p.get(name)
            .map(|v| {
                wire::values::parse_datetime(v, ctx.tz).ok_or_else(|| {
                    invalid(format!(
                        "{name} {v:?} is not a date-time (use 2026-12-03T14:05:00 or 12/3/2026 2:05:00 PM)"
                    ))
                })
            })
            .transpose()
    };
    let seconds = |name: &str| -> Result<Option<i64>, ApiError> {
        p.get(name)
            .map(|v| match v.trim().parse::<f64>() {
                Ok(s) if s.is_finite() && s >= 0.0 => Ok((s * 1000.0).round() as i64),
                _ => Err(invalid(format!(
                    "{name} must be a number of seconds, not {v:?}"
                ))),
            })
            .transpose()
    };
    let limit = match p.integer("CALLCOUNT")? {
        None => ctx.calllist_default,
        Some(n) if n >= 1 => u32::try_from(n).unwrap_or(u32::MAX).min(ctx.calllist_max),
        Some(n) => return Err(invalid(format!("CALLCOUNT must be at least 1, not {n}"))),
    };
    let mut f = RecordingFilter {
        from: date("CALLDATESTART")?,
        to: date("CALLDATEEND")?,
        record_id: p
            .get("RECORDID")
            .map(|v| {
                v.trim()
                    .parse()
                    .map_err(|_| invalid(format!("RECORDID must be a number, not {v:?}")))
            })
            .transpose()?,
        min_duration_ms: seconds("MINDURATION")?,
        max_duration_ms: seconds("MAXDURATION")?,
        group_id: None,
        limit,
        text: Vec::new(),
    };
    for (name, field) in TEXT_FILTERS {
        if let Some(v) = p.get(name) {
            let v = if field == TextField::CallDirection {
                wire::values::parse_direction(v)
                    .ok_or_else(|| invalid(format!("CALLDIRECTION must be I or O, not {v:?}")))?
                    .to_string()
            } else {
                v.to_string()
            };
            f.text.push((field, text_match(&v)));
        }
    }
    if let Some(v) = p.get("RECORDINGTYPE") {
        let kind = RecordingKind::parse(v).ok_or_else(|| {
            invalid(format!(
                "RECORDINGTYPE must be FULL, PARTIAL or SCREEN, not {v:?}"
            ))
        })?;
        f.text.push((
            TextField::RecordingType,
            TextMatch::Exact(kind.as_str().to_string()),
        ));
    }
    for n in 1..=15u8 {
        if let Some(v) = p.get(&format!("USER{n}")) {
            f.text.push((TextField::User(n), text_match(v)));
        }
    }
    if let Some(g) = p.integer("GROUPID")? {
        if ctx.engine.store().group(&NameKey::Id(g)).await?.is_none() {
            return Err(ApiError::new(
                Code::NoGroup,
                format!("no group has GROUPID {g}"),
            ));
        }
        f.group_id = Some(g);
    }
    Ok(f)
}
