//! CHATSTART, CHATSTOP, CHATUPDATE: chat and screen sessions, named by SESSIONID.

use engine::{ApiError, MetaUpdate};
use store::{User, UserKey};
use wire::{Code, Request};

use super::{Ctx, Done, Params, invalid};
use crate::render;

/// The directory fields CHATSTART's KEYNAME may name.
const KEYNAMES: [(&str, UserKey); 5] = [
    ("USERNAME", UserKey::Username),
    ("SYS_USER", UserKey::SysUser),
    ("CRM_USER", UserKey::CrmUser),
    ("EMPLOYEE_ID", UserKey::EmployeeId),
    ("EMAIL", UserKey::Email),
];

pub async fn chat_start(ctx: &Ctx, req: &Request) -> Result<Done, ApiError> {
    let p = Params(req);
    let session_id = p.required("SESSIONID")?;
    let mut meta = session_fields(&p)?;
    meta.station_name = p.raw("STATIONNAME").map(str::to_string);
    if meta.keep_days.is_none() {
        meta.keep_days = ctx.chat_keep_days;
    }
    if meta.archive_action.is_none() {
        meta.archive_action = Some(ctx.chat_archive_action.clone());
    }
    let user = agent(ctx, &p).await?;
    let name = ctx.engine.store().user_name(user.user_id).await?;
    meta.agent_id = Some(user.user_id.to_string());
    meta.agent_name = Some(name.unwrap_or_default());
    let view = ctx.engine.chat_start(session_id, &meta).await?;
    Ok(Done {
        code: Code::RecordingStarted,
        body: vec![render::call(ctx, &view)],
    })
}

pub async fn chat_stop(ctx: &Ctx, req: &Request) -> Result<Done, ApiError> {
    let p = Params(req);
    let session_id = p.required("SESSIONID")?;
    let view = ctx.engine.chat_stop(session_id).await?;
    Ok(Done {
        code: Code::RecordingStopped,
        body: vec![render::call(ctx, &view)],
    })
}

pub async fn chat_update(ctx: &Ctx, req: &Request) -> Result<Done, ApiError> {
    let p = Params(req);
    let session_id = p.required("SESSIONID")?;
    let meta = session_fields(&p)?;
    let view = ctx.engine.chat_update(session_id, &meta).await?;
    Ok(Done::ok(vec![render::call(ctx, &view)]))
}

/// USER1–USER15, KEEPDAYS and ARCHIVEACTION as the request gives them.
fn session_fields(p: &Params<'_>) -> Result<MetaUpdate, ApiError> {
    let mut m = MetaUpdate::default();
    for (i, slot) in m.user.iter_mut().enumerate() {
        *slot = p.raw(&format!("USER{}", i + 1)).map(str::to_string);
    }
    p.retention(&mut m)?;
    Ok(m)
}

/// The session's agent: AGENTID (a USER_ID), else the user whose KEYNAME field equals
/// KEYVALUE. 24 when no such agent (unknown, deleted, or not an agent); 25 when the agent is
/// inactive; 22 when KEYVALUE matches more than one user; 17 for another KEYNAME.
async fn agent(ctx: &Ctx, p: &Params<'_>) -> Result<User, ApiError> {
    let store = ctx.engine.store();
    let user = if let Some(id) = p.integer("AGENTID")? {
        store
            .user(id)
            .await?
            .filter(|u| !u.deleted)
            .ok_or_else(|| not_found(format!("no agent has USER_ID {id}")))?
    } else {
        let Some(keyname) = p.get("KEYNAME") else {
            return Err(ApiError::new(
                Code::BlankRequiredValue,
                "AGENTID, or KEYNAME and KEYVALUE, is required",
            ));
        };
        let keyname = keyname.trim().to_ascii_uppercase();
        let Some(&(_, key)) = KEYNAMES.iter().find(|(name, _)| *name == keyname) else {
            let names: Vec<&str> = KEYNAMES.iter().map(|(name, _)| *name).collect();
            return Err(invalid(format!(
                "KEYNAME must be one of {}",
                names.join(", ")
            )));
        };
        let value = p.required("KEYVALUE")?;
        let mut matching = store.users_with(key, value).await?;
        if matching.len() > 1 {
            return Err(ApiError::new(
                Code::KeysNotUnique,
                format!("{} users have {keyname} {value:?}", matching.len()),
            ));
        }
        matching
            .pop()
            .ok_or_else(|| not_found(format!("no agent has {keyname} {value:?}")))?
    };
    if !user.agent {
        return Err(not_found(format!("user {} is not an agent", user.user_id)));
    }
    if !user.active {
        return Err(ApiError::new(
            Code::AgentNotActive,
            format!("user {} is not an active agent", user.user_id),
        ));
    }
    Ok(user)
}

fn not_found(message: String) -> ApiError {
    ApiError::new(Code::AgentNotFound, message)
}
