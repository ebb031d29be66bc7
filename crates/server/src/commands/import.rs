//! The import commands (PROTOCOL §5 "Import"): IMPORTUSER (alias IMPORTAGENT),
//! IMPORTAGENTPHONE, IMPORTSTATION. Each change is one store transaction; a refused
//! request changes nothing.

use engine::ApiError;
use store::{AgentKey, DirectoryError, NewUser, Refusal, User, UserChange};
use wire::{Code, Node, Request};

use super::{Ctx, Done, Params, invalid};

/// The store's refusals as result codes.
fn refused(e: DirectoryError) -> ApiError {
    match e {
        DirectoryError::Store(e) => e.into(),
        DirectoryError::Refused(r) => match r {
            Refusal::DuplicateUser { user_id, what } => ApiError::new(
                Code::KeysNotUnique,
                format!("user {user_id} already has this {what}"),
            ),
            Refusal::UserNotFound => ApiError::new(Code::UserNotFound, "no such USERID"),
            Refusal::AgentNotFound => ApiError::new(Code::AgentNotFound, "no such agent"),
            Refusal::AgentNotActive { user_id } => ApiError::new(
                Code::AgentNotActive,
                format!("user {user_id} is not an active agent"),
            ),
            Refusal::PhoneHeld { user_id } => ApiError::new(
                Code::KeysNotUnique,
                format!("the phone is assigned to another agent ({user_id})"),
            ),
        },
    }
}

/// ACTION, upper-cased; 26 when missing, 21 when not one of `allowed`.
fn action(p: &Params, allowed: &[&str]) -> Result<String, ApiError> {
    let a = p.required("ACTION")?.trim().to_ascii_uppercase();
    if allowed.contains(&a.as_str()) {
        Ok(a)
    } else {
        Err(ApiError::new(
            Code::InvalidAction,
            format!("ACTION must be one of {}", allowed.join(", ")),
        ))
    }
}

/// The first of `names` that is present (even blank), as given.
fn raw_any<'a>(p: &Params<'a>, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|n| p.raw(n))
}

/// The first of `names` that is present and not blank; 26 naming the first otherwise.
fn required_any<'a>(p: &Params<'a>, names: &[&str]) -> Result<&'a str, ApiError> {
    match names.iter().find_map(|n| p.get(n)) {
        Some(v) => Ok(v),
        None => p.required(names[0]),
    }
}

const FIRST: [&str; 2] = ["FIRSTNAME", "FIRST_NAME"];
const LAST: [&str; 2] = ["LASTNAME", "LAST_NAME"];

/// SITE_ID: a whole number; blank or -1 means none.
fn site_id(p: &Params) -> Result<Option<Option<i64>>, ApiError> {
    let Some(raw) = p.raw("SITE_ID") else {
        return Ok(None);
    };
    if raw.trim().is_empty() {
        return Ok(Some(None));
    }
    let id = p.integer("SITE_ID")?;
    Ok(Some(id.filter(|&i| i != -1)))
}

/// STATUS on MODIFY: A (active) or I (inactive).
fn status(p: &Params) -> Result<Option<bool>, ApiError> {
    p.get("STATUS")
        .map(|s| match s.trim().to_ascii_uppercase().as_str() {
            "A" | "ACTIVE" => Ok(true),
            "I" | "INACTIVE" => Ok(false),
            _ => Err(invalid(format!("STATUS must be A or I, not {s:?}"))),
        })
        .transpose()
}

/// One `<USER>` item as LIST writes it (the password is never part of it).
fn user_node(ctx: &Ctx, u: &User) -> Node {
    let phones = u
        .phones
        .iter()
        .map(|ph| Node::field("PHONE", ph.phone_id.clone()))
        .collect();
    Node::section(
        "USER",
        vec![
            Node::field("USER_ID", u.user_id.to_string()),
            Node::field("USERNAME", u.username.clone()),
            Node::field("EMPLOYEE_ID", u.employee_id.clone()),
            Node::field("FIRST_NAME", u.first_name.clone()),
            Node::field("LAST_NAME", u.last_name.clone()),
            Node::field("AGENT", if u.agent { "TRUE" } else { "FALSE" }),
            Node::field("STATUS", if u.active { "A" } else { "I" }),
            Node::field("ADD_TIME", ctx.time(Some(u.add_time))),
            Node::field("MOD_TIME", ctx.time(Some(u.mod_time))),
            Node::field("SYS_USER", u.sys_user.clone()),
            Node::field("SYS_DOMAIN", u.sys_domain.clone()),
            Node::field("EMAIL", u.email.clone()),
            Node::field("CRM_USER", u.crm_user.clone()),
            Node::field(
                "SITE_ID",
                u.site_id
                    .map_or_else(|| "-1".to_string(), |s| s.to_string()),
            ),
            Node::section("PHONES", phones),
        ],
    )
}

fn user_id(p: &Params) -> Result<i64, ApiError> {
    p.required("USERID")?;
    Ok(p.integer("USERID")?.unwrap_or_default())
}

/// IMPORTUSER / IMPORTAGENT.
pub async fn import_user(ctx: &Ctx, req: &Request) -> Result<Done, ApiError> {
    let p = Params(req);
    let store = ctx.engine.store();
    let now = engine::now_micros();
    match action(&p, &["ADD", "MODIFY", "DELETE", "LIST"])?.as_str() {
        "ADD" => {
            let new = NewUser {
                username: p.required("USERNAME")?.to_string(),
                password: p.required("PASSWORD")?.to_string(),
                first_name: required_any(&p, &FIRST)?.to_string(),
                last_name: required_any(&p, &LAST)?.to_string(),
                employee_id: p.raw("EMPLOYEE_ID").unwrap_or_default().to_string(),
                agent: p.flag("AGENT")?.unwrap_or(true),
                sys_user: p.raw("SYS_USER").unwrap_or_default().to_string(),
                sys_domain: p.raw("SYS_DOMAIN").unwrap_or_default().to_string(),
                email: p.raw("EMAIL").unwrap_or_default().to_string(),
                crm_user: p.raw("CRM_USER").unwrap_or_default().to_string(),
                site_id: site_id(&p)?.flatten(),
            };
            let user = store.add_user(&new, now).await.map_err(refused)?;
            Ok(Done::ok(vec![user_node(ctx, &user)]))
        }
        "MODIFY" => {
            let id = user_id(&p)?;
            // Present means "set"; the names and the password may not be set blank.
            let keep = |names: &[&str]| -> Result<Option<String>, ApiError> {
                match raw_any(&p, names) {
                    None => Ok(None),
                    Some(_) => required_any(&p, names).map(|v| Some(v.to_string())),
                }
            };
            let text = |name: &str| p.raw(name).map(str::to_string);
            let change = UserChange {
                username: keep(&["USERNAME"])?,
                password: keep(&["PASSWORD"])?,
                first_name: keep(&FIRST)?,
                last_name: keep(&LAST)?,
                employee_id: text("EMPLOYEE_ID"),
                agent: p.flag("AGENT")?,
                active: status(&p)?,
                sys_user: text("SYS_USER"),
                sys_domain: text("SYS_DOMAIN"),
                email: text("EMAIL"),
                crm_user: text("CRM_USER"),
                site_id: site_id(&p)?,
            };
            let user = store.modify_user(id, &change, now).await.map_err(refused)?;
            Ok(Done::ok(vec![user_node(ctx, &user)]))
        }
        "DELETE" => {
            let id = user_id(&p)?;
            let mut user = store.delete_user(id, now).await.map_err(refused)?;
            user.phones.clear();
            user.deleted = true;
            user.mod_time = now;
            Ok(Done::ok(vec![user_node(ctx, &user)]))
        }
        _ => {
            let users = store.users().await?;
            let mut items = vec![Node::field("COUNT", users.len().to_string())];
            items.extend(users.iter().map(|u| user_node(ctx, u)));
            Ok(Done::ok(vec![Node::section("USERS", items)]))
        }
    }
}

/// IMPORTAGENTPHONE.
pub async fn import_agent_phone(ctx: &Ctx, req: &Request) -> Result<Done, ApiError> {
    let p = Params(req);
    let action = action(&p, &["ADD", "DELETE"])?;
    let agent = match p.integer("AGENTID")? {
        Some(id) => AgentKey::Id(id),
        None => AgentKey::Name {
            first: required_any(&p, &FIRST)?.to_string(),
            last: required_any(&p, &LAST)?.to_string(),
        },
    };
    let phone = super::device_id(p.required("PHONEID")?)?;
    let store = ctx.engine.store();
    let user_id = if action == "ADD" {
        store
            .add_phone(&agent, phone, p.raw("DEVICEALIAS"))
            .await
            .map_err(refused)?
    } else {
        store.delete_phone(&agent, phone).await.map_err(refused)?
    };
    Ok(Done::ok(vec![
        Node::field("AGENTID", user_id.to_string()),
        Node::field("PHONEID", phone),
    ]))
}

/// IMPORTSTATION.
pub async fn import_station(ctx: &Ctx, req: &Request) -> Result<Done, ApiError> {
    let p = Params(req);
    let action = action(&p, &["ADD", "DELETE"])?;
    let name = p.required("STATIONNAME")?;
    let store = ctx.engine.store();
    let device = if action == "ADD" {
        let device = super::device_id(p.required("DEVICEID")?)?;
        store.add_station(name, device).await?
    } else {
        store.delete_station(name).await?.unwrap_or_default()
    };
    Ok(Done::ok(vec![
        Node::field("STATIONNAME", name),
        Node::field("DEVICEID", device),
    ]))
}
