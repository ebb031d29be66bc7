//! The import commands (PROTOCOL §5 "Import"): IMPORTUSER (alias IMPORTAGENT),
//! IMPORTAGENTPHONE, IMPORTSTATION. Each change is one store transaction; a refused
//! request changes nothing.

use engine::ApiError;
use store::{NewUser, User, UserChange};
use wire::{Node, Request};

use super::{Ctx, Done, FIRST, LAST, Params, invalid};

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
    match p.action(&["ADD", "MODIFY", "DELETE", "LIST"])?.as_str() {
        "ADD" => {
            let new = NewUser {
                username: p.required("USERNAME")?.to_string(),
                password: p.required("PASSWORD")?.to_string(),
                first_name: p.any(&FIRST)?.to_string(),
                last_name: p.any(&LAST)?.to_string(),
                employee_id: p.raw("EMPLOYEE_ID").unwrap_or_default().to_string(),
                agent: p.flag("AGENT")?.unwrap_or(true),
                sys_user: p.raw("SYS_USER").unwrap_or_default().to_string(),
                sys_domain: p.raw("SYS_DOMAIN").unwrap_or_default().to_string(),
                email: p.raw("EMAIL").unwrap_or_default().to_string(),
                crm_user: p.raw("CRM_USER").unwrap_or_default().to_string(),
                site_id: site_id(&p)?.flatten(),
            };
            let user = store.add_user(&new, now).await?;
            Ok(Done::ok(vec![user_node(ctx, &user)]))
        }
        "MODIFY" => {
            let id = user_id(&p)?;
            // Present means "set"; the names and the password may not be set blank.
            let keep = |names: &[&str]| -> Result<Option<String>, ApiError> {
                match p.raw_any(names) {
                    None => Ok(None),
                    Some(_) => p.any(names).map(|v| Some(v.to_string())),
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
            let user = store.modify_user(id, &change, now).await?;
            Ok(Done::ok(vec![user_node(ctx, &user)]))
        }
        "DELETE" => {
            let id = user_id(&p)?;
            let mut user = store.delete_user(id, now).await?;
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
    let action = p.action(&["ADD", "DELETE"])?;
    let agent = p.agent()?;
    let phone = super::device_id(p.required("PHONEID")?)?;
    let store = ctx.engine.store();
    let user_id = if action == "ADD" {
        store.add_phone(&agent, phone, p.raw("DEVICEALIAS")).await?
    } else {
        store.delete_phone(&agent, phone).await?
    };
    Ok(Done::ok(vec![
        Node::field("AGENTID", user_id.to_string()),
        Node::field("PHONEID", phone),
    ]))
}

/// IMPORTSTATION.
pub async fn import_station(ctx: &Ctx, req: &Request) -> Result<Done, ApiError> {
    let p = Params(req);
    let action = p.action(&["ADD", "DELETE"])?;
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
