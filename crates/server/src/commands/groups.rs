//! QA groups and roles (PROTOCOL §5 "Users, groups, roles"): ADDGROUP, ADDGROUPMEMBER,
//! ADDROLE, ADDROLEGROUP, ADDROLEUSER, MODIFYROLEPERMISSION. Each change is one store
//! transaction; a refused request changes nothing.

use engine::ApiError;
use store::{Change, Group, Role, UserRef};
use wire::{Code, Node, Request};

use super::{Ctx, Done, FIRST, LAST, Params};

/// The permissions a role can grant, as MODIFYROLEPERMISSION names them.
pub const PERMISSIONS: [&str; 13] = [
    "ALLOWUSERADMIN",
    "ALLOWPASSWORDCHANGES",
    "ALLOWSYSTEMCONFIG",
    "ALLOWRECORDDELETE",
    "ALLOWARCHIVEADMIN",
    "ALLOWVIEWALLRECORDS",
    "ALLOWPLAYBACK",
    "ALLOWEXPORT",
    "ALLOWEMAILEXPORT",
    "ALLOWLIVEMONITOR",
    "ALLOWSELFRECORD",
    "ALLOWSELFDOWNLOAD",
    "ALLOWAPI",
];

fn change(p: &Params) -> Result<Change, ApiError> {
    Ok(match p.action(&["ADD", "DELETE"])?.as_str() {
        "ADD" => Change::Add,
        _ => Change::Delete,
    })
}

fn group_fields(g: &Group) -> [Node; 2] {
    [
        Node::field("GROUPID", g.group_id.to_string()),
        Node::field("GROUPNAME", g.group_name.clone()),
    ]
}

fn role_fields(r: &Role) -> [Node; 2] {
    [
        Node::field("ROLEID", r.role_id.to_string()),
        Node::field("ROLENAME", r.role_name.clone()),
    ]
}

/// ADDGROUP: the group with this name, made if there is none.
pub async fn add_group(ctx: &Ctx, req: &Request) -> Result<Done, ApiError> {
    let p = Params(req);
    let group = ctx
        .engine
        .store()
        .add_group(p.required("GROUPNAME")?)
        .await?;
    let [id, name] = group_fields(&group);
    Ok(Done::ok(vec![name, id]))
}

/// ADDGROUPMEMBER: one of the agent's phones (DEVICEID), or all of them, in or out of a group.
pub async fn add_group_member(ctx: &Ctx, req: &Request) -> Result<Done, ApiError> {
    let p = Params(req);
    let change = change(&p)?;
    let group = p.name_key("GROUPID", "GROUPNAME")?;
    let agent = p.agent()?;
    let phone = p.get("DEVICEID").map(super::device_id).transpose()?;
    let m = ctx
        .engine
        .store()
        .group_member(change, &group, &agent, phone)
        .await?;
    let mut body = group_fields(&m.group).to_vec();
    body.push(Node::field("AGENTID", m.user_id.to_string()));
    body.push(Node::field("DEVICEID", m.phone_id.unwrap_or_default()));
    Ok(Done::ok(body))
}

/// ADDROLE: ADD makes the role (or returns the existing one); DELETE removes it.
pub async fn add_role(ctx: &Ctx, req: &Request) -> Result<Done, ApiError> {
    let p = Params(req);
    let change = change(&p)?;
    let store = ctx.engine.store();
    let role = match change {
        Change::Add => store.add_role(p.required("ROLENAME")?).await?,
        Change::Delete => {
            store
                .delete_role(&p.name_key("ROLEID", "ROLENAME")?)
                .await?
        }
    };
    let [id, name] = role_fields(&role);
    Ok(Done::ok(vec![name, id]))
}

/// ADDROLEGROUP: the role sees the group's recordings, or no longer does.
pub async fn add_role_group(ctx: &Ctx, req: &Request) -> Result<Done, ApiError> {
    let p = Params(req);
    let change = change(&p)?;
    let role = p.name_key("ROLEID", "ROLENAME")?;
    let group = p.name_key("GROUPID", "GROUPNAME")?;
    let (role, group) = ctx.engine.store().role_group(change, &role, &group).await?;
    let mut body = role_fields(&role).to_vec();
    body.extend(group_fields(&group));
    Ok(Done::ok(body))
}

/// ADDROLEUSER: gives a user the role, or takes it away. The user is named by USERID,
/// USERNAME, SYSTEMUSERNAME (the user's SYS_USER) or FIRSTNAME + LASTNAME, in that order.
pub async fn add_role_user(ctx: &Ctx, req: &Request) -> Result<Done, ApiError> {
    let p = Params(req);
    let change = change(&p)?;
    let role = p.name_key("ROLEID", "ROLENAME")?;
    let user = if let Some(id) = p.integer("USERID")? {
        UserRef::Id(id)
    } else if let Some(name) = p.get("USERNAME") {
        UserRef::Username(name.to_string())
    } else if let Some(name) = p.get("SYSTEMUSERNAME") {
        UserRef::SysUser(name.to_string())
    } else if p.raw_any(&FIRST).is_some() || p.raw_any(&LAST).is_some() {
        UserRef::Name {
            first: p.any(&FIRST)?.to_string(),
            last: p.any(&LAST)?.to_string(),
        }
    } else {
        return Err(ApiError::new(
            Code::BlankRequiredValue,
            "USERID, USERNAME, SYSTEMUSERNAME or FIRSTNAME + LASTNAME is required",
        ));
    };
    let (role, user_id) = ctx.engine.store().role_user(change, &role, &user).await?;
    let mut body = role_fields(&role).to_vec();
    body.push(Node::field("USERID", user_id.to_string()));
    Ok(Done::ok(body))
}

/// MODIFYROLEPERMISSION: sets one of [`PERMISSIONS`] on a role to Y or N.
pub async fn modify_role_permission(ctx: &Ctx, req: &Request) -> Result<Done, ApiError> {
    let p = Params(req);
    let role = p.name_key("ROLEID", "ROLENAME")?;
    let given = p.required("PERMISSIONNAME")?;
    let permission = given.trim().to_ascii_uppercase();
    if !PERMISSIONS.contains(&permission.as_str()) {
        return Err(ApiError::new(
            Code::PermissionInvalid,
            format!(
                "{given:?} is not a permission: use one of {}",
                PERMISSIONS.join(", ")
            ),
        ));
    }
    p.required("VALUE")?;
    let value = p.flag("VALUE")?.unwrap_or_default();
    let role = ctx
        .engine
        .store()
        .set_permission(&role, &permission, value)
        .await?;
    Ok(Done::ok(vec![
        Node::field("ROLEID", role.role_id.to_string()),
        Node::field("PERMISSIONNAME", permission),
        Node::field("VALUE", if value { "Y" } else { "N" }),
    ]))
}
