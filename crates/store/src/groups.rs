//! QA groups and roles (PROTOCOL §5 "Users, groups, roles"): groups of agents' phones,
//! roles that see some groups and hold permissions, and the users who have a role.
//!
//! Changes take the directory's write lock like every other directory change, so a check
//! and the write it decides see the same state; a refused change writes nothing.

use crate::directory::{AgentKey, DirectoryError, DirectoryTx, Refusal, refuse};
use crate::{Store, StoreError};

/// A QA group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub group_id: i64,
    pub group_name: String,
}

/// A role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    pub role_id: i64,
    pub role_name: String,
}

/// How a request names a group or a role: by id, or by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameKey {
    Id(i64),
    Name(String),
}

/// How ADDROLEUSER names the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserRef {
    Id(i64),
    Username(String),
    /// SYSTEMUSERNAME: the user's SYS_USER.
    SysUser(String),
    Name {
        first: String,
        last: String,
    },
}

/// Add or remove a link (group member, role's group, role's user).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Add,
    Delete,
}

/// What ADDGROUPMEMBER did: the group, the agent, and the phone (`None`: all the agent's
/// phones, present and future).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub group: Group,
    pub user_id: i64,
    pub phone_id: Option<String>,
}

/// Reads the group a key names inside `$conn`.
macro_rules! find_group {
    ($conn:expr, $key:expr) => {
        async {
            let row: Option<(i64, String)> = match $key {
                NameKey::Id(id) => {
                    sqlx::query_as("SELECT group_id, group_name FROM qa_groups WHERE group_id = $1")
                        .bind(*id)
                        .fetch_optional(&mut *$conn)
                        .await?
                }
                NameKey::Name(name) => {
                    sqlx::query_as(
                        "SELECT group_id, group_name FROM qa_groups WHERE group_name = $1",
                    )
                    .bind(name.as_str())
                    .fetch_optional(&mut *$conn)
                    .await?
                }
            };
            Ok::<_, sqlx::Error>(row.map(|(group_id, group_name)| Group {
                group_id,
                group_name,
            }))
        }
    };
}

/// Reads the role a key names inside `$conn`.
macro_rules! find_role {
    ($conn:expr, $key:expr) => {
        async {
            let row: Option<(i64, String)> = match $key {
                NameKey::Id(id) => {
                    sqlx::query_as("SELECT role_id, role_name FROM roles WHERE role_id = $1")
                        .bind(*id)
                        .fetch_optional(&mut *$conn)
                        .await?
                }
                NameKey::Name(name) => {
                    sqlx::query_as("SELECT role_id, role_name FROM roles WHERE role_name = $1")
                        .bind(name.as_str())
                        .fetch_optional(&mut *$conn)
                        .await?
                }
            };
            Ok::<_, sqlx::Error>(row.map(|(role_id, role_name)| Role { role_id, role_name }))
        }
    };
}

impl Store {
    /// ADDGROUP: the group with this name, created if there is none (an existing group is
    /// returned unchanged).
    pub async fn add_group(&self, name: &str) -> Result<Group, StoreError> {
        on_pool!(&self.inner.db, pool => {
            let mut tx = pool.begin_directory().await?;
            let key = NameKey::Name(name.to_string());
            if let Some(g) = find_group!(tx, &key).await? {
                return Ok(g);
            }
            let (group_id,): (i64,) =
                sqlx::query_as("INSERT INTO qa_groups (group_name) VALUES ($1) RETURNING group_id")
                    .bind(name)
                    .fetch_one(&mut *tx)
                    .await?;
            tx.commit().await?;
            Ok(Group { group_id, group_name: name.to_string() })
        })
    }

    /// The group a key names, if any.
    pub async fn group(&self, key: &NameKey) -> Result<Option<Group>, StoreError> {
        on_pool!(&self.inner.db, pool => {
            let mut conn = pool.acquire().await?;
            Ok(find_group!(conn, key).await?)
        })
    }

    /// ADDGROUPMEMBER: puts one of the agent's phones (or, with `phone` `None`, all of them)
    /// in the group, or takes it out. 27 no such group; 24 no such live agent; 8 (`PhoneNotAgents`)
    /// the phone is not the agent's. Adding what is there, or removing what is not, is no
    /// error.
    pub async fn group_member(
        &self,
        change: Change,
        group: &NameKey,
        agent: &AgentKey,
        phone: Option<&str>,
    ) -> Result<Membership, DirectoryError> {
        on_pool!(&self.inner.db, pool => {
            let mut tx = pool.begin_directory().await?;
            let Some(group) = find_group!(tx, group).await? else {
                return refuse(Refusal::GroupNotFound);
            };
            let Some((user_id, is_agent, _)) = crate::directory::find_agent!(tx, agent).await?
            else {
                return refuse(Refusal::AgentNotFound);
            };
            if !is_agent {
                return refuse(Refusal::AgentNotFound);
            }
            if let Some(phone) = phone {
                let holder: Option<(i64,)> =
                    sqlx::query_as("SELECT user_id FROM phones WHERE phone_id = $1")
                        .bind(phone)
                        .fetch_optional(&mut *tx)
                        .await?;
                // Removing a phone the agent no longer holds must still be possible.
                if change == Change::Add && holder != Some((user_id,)) {
                    return refuse(Refusal::PhoneNotAgents { user_id });
                }
            }
            match change {
                Change::Add => {
                    sqlx::query(
                        "INSERT INTO group_members (group_id, user_id, phone_id) \
                         VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    )
                    .bind(group.group_id)
                    .bind(user_id)
                    .bind(phone.unwrap_or(""))
                    .execute(&mut *tx)
                    .await?;
                }
                Change::Delete => {
                    // Without a phone: every membership of the agent in this group.
                    sqlx::query(
                        "DELETE FROM group_members WHERE group_id = $1 AND user_id = $2 \
                         AND ($3 = '' OR phone_id = $3)",
                    )
                    .bind(group.group_id)
                    .bind(user_id)
                    .bind(phone.unwrap_or(""))
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
            Ok(Membership { group, user_id, phone_id: phone.map(str::to_string) })
        })
    }

    /// ADDROLE ADD: the role with this name, created if there is none (an existing role is
    /// returned unchanged).
    pub async fn add_role(&self, name: &str) -> Result<Role, StoreError> {
        on_pool!(&self.inner.db, pool => {
            let mut tx = pool.begin_directory().await?;
            let key = NameKey::Name(name.to_string());
            if let Some(r) = find_role!(tx, &key).await? {
                return Ok(r);
            }
            let (role_id,): (i64,) =
                sqlx::query_as("INSERT INTO roles (role_name) VALUES ($1) RETURNING role_id")
                    .bind(name)
                    .fetch_one(&mut *tx)
                    .await?;
            tx.commit().await?;
            Ok(Role { role_id, role_name: name.to_string() })
        })
    }

    /// ADDROLE DELETE: removes the role with its groups, users and permissions. 32 when
    /// there is no such role.
    pub async fn delete_role(&self, key: &NameKey) -> Result<Role, DirectoryError> {
        on_pool!(&self.inner.db, pool => {
            let mut tx = pool.begin_directory().await?;
            let Some(role) = find_role!(tx, key).await? else {
                return refuse(Refusal::RoleNotFound);
            };
            for table in ["role_groups", "role_users", "role_permissions", "roles"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE role_id = $1"))
                    .bind(role.role_id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(role)
        })
    }

    /// ADDROLEGROUP: lets the role see the group's recordings, or stops it. 32 no role; 27
    /// no group.
    pub async fn role_group(
        &self,
        change: Change,
        role: &NameKey,
        group: &NameKey,
    ) -> Result<(Role, Group), DirectoryError> {
        on_pool!(&self.inner.db, pool => {
            let mut tx = pool.begin_directory().await?;
            let Some(role) = find_role!(tx, role).await? else {
                return refuse(Refusal::RoleNotFound);
            };
            let Some(group) = find_group!(tx, group).await? else {
                return refuse(Refusal::GroupNotFound);
            };
            let sql = match change {
                Change::Add => {
                    "INSERT INTO role_groups (role_id, group_id) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING"
                }
                Change::Delete => "DELETE FROM role_groups WHERE role_id = $1 AND group_id = $2",
            };
            sqlx::query(sql)
                .bind(role.role_id)
                .bind(group.group_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok((role, group))
        })
    }

    /// ADDROLEUSER: gives the user the role, or takes it away. 32 no role; 28 no such live
    /// user.
    pub async fn role_user(
        &self,
        change: Change,
        role: &NameKey,
        user: &UserRef,
    ) -> Result<(Role, i64), DirectoryError> {
        on_pool!(&self.inner.db, pool => {
            let mut tx = pool.begin_directory().await?;
            let Some(role) = find_role!(tx, role).await? else {
                return refuse(Refusal::RoleNotFound);
            };
            let found: Option<(i64,)> = match user {
                UserRef::Id(id) => {
                    sqlx::query_as("SELECT user_id FROM users WHERE user_id = $1 AND NOT deleted")
                        .bind(*id)
                        .fetch_optional(&mut *tx)
                        .await?
                }
                UserRef::Username(v) | UserRef::SysUser(v) => {
                    let column = if matches!(user, UserRef::Username(_)) {
                        "username"
                    } else {
                        "sys_user"
                    };
                    sqlx::query_as(&format!(
                        "SELECT user_id FROM users WHERE {column} = $1 AND NOT deleted \
                         ORDER BY user_id LIMIT 1"
                    ))
                    .bind(v.as_str())
                    .fetch_optional(&mut *tx)
                    .await?
                }
                UserRef::Name { first, last } => {
                    sqlx::query_as(
                        "SELECT user_id FROM users WHERE first_name = $1 AND last_name = $2 \
                         AND NOT deleted ORDER BY user_id LIMIT 1",
                    )
                    .bind(first.as_str())
                    .bind(last.as_str())
                    .fetch_optional(&mut *tx)
                    .await?
                }
            };
            let Some((user_id,)) = found else {
                return refuse(Refusal::UserNotFound);
            };
            let sql = match change {
                Change::Add => {
                    "INSERT INTO role_users (role_id, user_id) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING"
                }
                Change::Delete => "DELETE FROM role_users WHERE role_id = $1 AND user_id = $2",
            };
            sqlx::query(sql)
                .bind(role.role_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok((role, user_id))
        })
    }

    /// MODIFYROLEPERMISSION: sets one permission of the role. The name is checked by the
    /// caller against the permission list. 32 no role.
    pub async fn set_permission(
        &self,
        role: &NameKey,
        permission: &str,
        value: bool,
    ) -> Result<Role, DirectoryError> {
        on_pool!(&self.inner.db, pool => {
            let mut tx = pool.begin_directory().await?;
            let Some(role) = find_role!(tx, role).await? else {
                return refuse(Refusal::RoleNotFound);
            };
            sqlx::query(
                "INSERT INTO role_permissions (role_id, permission, value) VALUES ($1, $2, $3) \
                 ON CONFLICT (role_id, permission) DO UPDATE SET value = excluded.value",
            )
            .bind(role.role_id)
            .bind(permission)
            .bind(value)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(role)
        })
    }
}
