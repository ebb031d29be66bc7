//! The directory: users (agents among them), the phones assigned to agents, and stations
//! (PROTOCOL §5 "Import", and the device lookups of §3).
//!
//! Every change is one transaction that first takes the directory's write lock (SQLite:
//! `BEGIN IMMEDIATE`; PostgreSQL: a transaction-scoped advisory lock), so the checks a
//! change makes (unique names, who holds a phone) and its writes see the same state even
//! with several nodes on one catalog. A refused change writes nothing.
//!
//! Passwords are kept only as argon2 hashes (PHC strings) and are never read back.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher, SaltString};
use sqlx::{Postgres, Sqlite, Transaction};

use crate::model::Micros;
use crate::{Store, StoreError};

/// A user as the directory keeps it (the password hash is never part of it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub user_id: i64,
    pub username: String,
    pub employee_id: String,
    pub first_name: String,
    pub last_name: String,
    pub agent: bool,
    /// `A` (active) or `I` (inactive).
    pub active: bool,
    pub deleted: bool,
    pub add_time: Micros,
    pub mod_time: Micros,
    pub sys_user: String,
    pub sys_domain: String,
    pub email: String,
    pub crm_user: String,
    pub site_id: Option<i64>,
    /// The agent's phones, first assigned first.
    pub phones: Vec<Phone>,
}

/// A phone (device id) assigned to an agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phone {
    pub phone_id: String,
    pub device_alias: String,
}

/// IMPORTUSER ADD's fields. `password` is the plain password; only its hash is stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub employee_id: String,
    pub first_name: String,
    pub last_name: String,
    pub agent: bool,
    pub sys_user: String,
    pub sys_domain: String,
    pub email: String,
    pub crm_user: String,
    pub site_id: Option<i64>,
}

/// IMPORTUSER MODIFY's fields: `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserChange {
    pub username: Option<String>,
    pub password: Option<String>,
    pub employee_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub agent: Option<bool>,
    pub active: Option<bool>,
    pub sys_user: Option<String>,
    pub sys_domain: Option<String>,
    pub email: Option<String>,
    pub crm_user: Option<String>,
    /// `Some(None)` clears the site.
    pub site_id: Option<Option<i64>>,
}

/// How IMPORTAGENTPHONE names the agent: AGENTID wins over the name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentKey {
    Id(i64),
    Name { first: String, last: String },
}

/// Which user field a lookup matches: SYS_USER / CRM_USER device lookups, and the
/// KEYNAMEs of CHATSTART (all five).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserKey {
    Username,
    SysUser,
    CrmUser,
    EmployeeId,
    Email,
}

impl UserKey {
    /// The `users` column, which an index on the live users covers (migrations 0002, 0007).
    fn column(self) -> &'static str {
        match self {
            UserKey::Username => "username",
            UserKey::SysUser => "sys_user",
            UserKey::CrmUser => "crm_user",
            UserKey::EmployeeId => "employee_id",
            UserKey::Email => "email",
        }
    }
}

/// The live users whose `key` field equals `$1` exactly, lowest USER_ID first.
pub(crate) fn users_with_query(key: UserKey) -> String {
    format!(
        "SELECT user_id FROM users WHERE NOT deleted AND {} = $1 ORDER BY user_id",
        key.column()
    )
}

/// Why the directory refused a change; nothing was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A live user already has this username, or this first and last name.
    DuplicateUser { user_id: i64, what: &'static str },
    /// No live user has this USERID.
    UserNotFound,
    /// No live user matches the agent key.
    AgentNotFound,
    /// The user is not an agent, or is inactive.
    AgentNotActive { user_id: i64 },
    /// The phone belongs to another agent.
    PhoneHeld { user_id: i64 },
    /// No QA group has this id or name.
    GroupNotFound,
    /// No role has this id or name.
    RoleNotFound,
    /// The phone is not one of this agent's.
    PhoneNotAgents { user_id: i64 },
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("refused: {0:?}")]
    Refused(Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for DirectoryError {
    fn from(e: sqlx::Error) -> Self {
        DirectoryError::Store(e.into())
    }
}

pub(crate) fn refuse<T>(r: Refusal) -> Result<T, DirectoryError> {
    Err(DirectoryError::Refused(r))
}

/// What a device lookup found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The device id.
    Found(String),
    /// The key names nothing at all (no phone with that alias, no station, no such user).
    NotFound,
    /// The key names something, but not through an active agent's phone (the `+` rule).
    NoAgentPhone,
}

/// Argon2id with the crate's default parameters and a random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, StoreError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Hash(e.to_string()))
}

/// Starts a transaction holding the directory's write lock.
pub(crate) trait DirectoryTx {
    type Db: sqlx::Database;
    async fn begin_directory(&self) -> Result<Transaction<'static, Self::Db>, sqlx::Error>;
}

impl DirectoryTx for sqlx::SqlitePool {
    type Db = Sqlite;
    async fn begin_directory(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        // IMMEDIATE takes the write lock now, so the reads that decide a change are not
        // made stale by another writer before the change is written.
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl DirectoryTx for sqlx::PgPool {
    type Db = Postgres;
    async fn begin_directory(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        let mut tx = self.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(DIRECTORY_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}

/// The advisory lock key of directory changes ("callvdir").
const DIRECTORY_LOCK: i64 = 0x6361_6c6c_7664_6972;

const USER_COLUMNS: &str = "user_id, username, employee_id, first_name, last_name, agent, \
    status, deleted, add_time, mod_time, sys_user, sys_domain, email, crm_user, site_id";

type UserTuple = (
    i64,
    String,
    String,
    String,
    String,
    bool,
    String,
    bool,
    i64,
    i64,
    String,
    String,
    String,
    String,
    Option<i64>,
);

fn user_from(t: UserTuple) -> User {
    User {
        user_id: t.0,
        username: t.1,
        employee_id: t.2,
        first_name: t.3,
        last_name: t.4,
        agent: t.5,
        active: t.6 == "A",
        deleted: t.7,
        add_time: t.8,
        mod_time: t.9,
        sys_user: t.10,
        sys_domain: t.11,
        email: t.12,
        crm_user: t.13,
        site_id: t.14,
        phones: Vec::new(),
    }
}

/// Reads one user (deleted or not) and its phones inside `$conn`.
macro_rules! read_user {
    ($conn:expr, $user_id:expr) => {
        async {
            let q = format!("SELECT {USER_COLUMNS} FROM users WHERE user_id = $1");
            let row: Option<UserTuple> = sqlx::query_as(&q)
                .bind($user_id)
                .fetch_optional(&mut *$conn)
                .await?;
            let Some(row) = row else {
                return Ok::<Option<User>, sqlx::Error>(None);
            };
            let mut user = user_from(row);
            let phones: Vec<(String, String)> = sqlx::query_as(
                "SELECT phone_id, device_alias FROM phones WHERE user_id = $1 \
                 ORDER BY assigned, phone_id",
            )
            .bind($user_id)
            .fetch_all(&mut *$conn)
            .await?;
            user.phones = phones
                .into_iter()
                .map(|(phone_id, device_alias)| Phone {
                    phone_id,
                    device_alias,
                })
                .collect();
            Ok(Some(user))
        }
    };
}

/// The live user (not deleted) with this username or this first and last name, other than
/// `except`: what makes ADD and MODIFY answer 22.
macro_rules! duplicate {
    ($conn:expr, $username:expr, $first:expr, $last:expr, $except:expr) => {
        async {
            let by_name: Option<(i64,)> = sqlx::query_as(
                "SELECT user_id FROM users WHERE NOT deleted AND username = $1 \
                 AND user_id <> $2 ORDER BY user_id LIMIT 1",
            )
            .bind($username)
            .bind($except)
            .fetch_optional(&mut *$conn)
            .await?;
            if let Some((user_id,)) = by_name {
                return Ok::<Option<Refusal>, sqlx::Error>(Some(Refusal::DuplicateUser {
                    user_id,
                    what: "username",
                }));
            }
            let by_full_name: Option<(i64,)> = sqlx::query_as(
                "SELECT user_id FROM users WHERE NOT deleted AND first_name = $1 \
                 AND last_name = $2 AND user_id <> $3 ORDER BY user_id LIMIT 1",
            )
            .bind($first)
            .bind($last)
            .bind($except)
            .fetch_optional(&mut *$conn)
            .await?;
            Ok(by_full_name.map(|(user_id,)| Refusal::DuplicateUser {
                user_id,
                what: "first and last name",
            }))
        }
    };
}

/// The live user an agent key names, as (user_id, agent, active).
macro_rules! find_agent {
    ($conn:expr, $key:expr) => {
        async {
            let row: Option<(i64, bool, String)> = match $key {
                AgentKey::Id(id) => {
                    sqlx::query_as(
                        "SELECT user_id, agent, status FROM users \
                         WHERE user_id = $1 AND NOT deleted",
                    )
                    .bind(*id)
                    .fetch_optional(&mut *$conn)
                    .await?
                }
                AgentKey::Name { first, last } => {
                    sqlx::query_as(
                        "SELECT user_id, agent, status FROM users WHERE first_name = $1 \
                         AND last_name = $2 AND NOT deleted ORDER BY user_id LIMIT 1",
                    )
                    .bind(first.as_str())
                    .bind(last.as_str())
                    .fetch_optional(&mut *$conn)
                    .await?
                }
            };
            Ok::<_, sqlx::Error>(row.map(|(id, agent, status)| (id, agent, status == "A")))
        }
    };
}
pub(crate) use find_agent;

async fn hash_off_thread(password: String) -> Result<String, StoreError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| StoreError::Hash(e.to_string()))?
}

impl Store {
    /// IMPORTUSER ADD: a new user, active, with no phones. Refused (22) when a live user has
    /// the same username, or the same first and last name.
    pub async fn add_user(&self, new: &NewUser, now: Micros) -> Result<User, DirectoryError> {
        // Hashing is slow on purpose: do it before taking the lock, on a blocking thread.
        let hash = hash_off_thread(new.password.clone()).await?;
        on_pool!(&self.inner.db, pool => {
            let mut tx = pool.begin_directory().await?;
            if let Some(r) =
                duplicate!(tx, &new.username, &new.first_name, &new.last_name, -1_i64).await?
            {
                return refuse(r);
            }
            let (user_id,): (i64,) = sqlx::query_as(
                "INSERT INTO users (username, password_hash, employee_id, first_name, \
                 last_name, agent, status, deleted, add_time, mod_time, sys_user, sys_domain, \
                 email, crm_user, site_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'A', $7, $8, $8, $9, $10, $11, $12, $13) \
                 RETURNING user_id",
            )
            .bind(&new.username)
            .bind(&hash)
            .bind(&new.employee_id)
            .bind(&new.first_name)
            .bind(&new.last_name)
            .bind(new.agent)
            .bind(false)
            .bind(now)
            .bind(&new.sys_user)
            .bind(&new.sys_domain)
            .bind(&new.email)
            .bind(&new.crm_user)
            .bind(new.site_id)
            .fetch_one(&mut *tx)
            .await?;
            let user = read_user!(tx, user_id).await?.ok_or(StoreError::Closed)?;
            tx.commit().await?;
            Ok(user)
        })
    }

    /// IMPORTUSER MODIFY: changes the fields given. 28 when no live user has this id; 22
    /// when the new username or name collides with another live user.
    pub async fn modify_user(
        &self,
        user_id: i64,
        change: &UserChange,
        now: Micros,
    ) -> Result<User, DirectoryError> {
        let hash = match &change.password {
            Some(p) => Some(hash_off_thread(p.clone()).await?),
            None => None,
        };
        on_pool!(&self.inner.db, pool => {
            let mut tx = pool.begin_directory().await?;
            let Some(old) = read_user!(tx, user_id).await?.filter(|u| !u.deleted) else {
                return refuse(Refusal::UserNotFound);
            };
            let pick = |new: &Option<String>, old: &String| new.clone().unwrap_or(old.clone());
            let username = pick(&change.username, &old.username);
            let first = pick(&change.first_name, &old.first_name);
            let last = pick(&change.last_name, &old.last_name);
            if let Some(r) = duplicate!(tx, &username, &first, &last, user_id).await? {
                return refuse(r);
            }
            let active = change.active.unwrap_or(old.active);
            sqlx::query(
                "UPDATE users SET username = $2, employee_id = $3, first_name = $4, \
                 last_name = $5, agent = $6, status = $7, mod_time = $8, sys_user = $9, \
                 sys_domain = $10, email = $11, crm_user = $12, site_id = $13, \
                 password_hash = COALESCE($14, password_hash) WHERE user_id = $1",
            )
            .bind(user_id)
            .bind(&username)
            .bind(pick(&change.employee_id, &old.employee_id))
            .bind(&first)
            .bind(&last)
            .bind(change.agent.unwrap_or(old.agent))
            .bind(if active { "A" } else { "I" })
            .bind(now)
            .bind(pick(&change.sys_user, &old.sys_user))
            .bind(pick(&change.sys_domain, &old.sys_domain))
            .bind(pick(&change.email, &old.email))
            .bind(pick(&change.crm_user, &old.crm_user))
            .bind(change.site_id.unwrap_or(old.site_id))
            .bind(hash.as_deref())
            .execute(&mut *tx)
            .await?;
            let user = read_user!(tx, user_id).await?.ok_or(StoreError::Closed)?;
            tx.commit().await?;
            Ok(user)
        })
    }

    /// IMPORTUSER DELETE: marks the user deleted and frees its phones; the row stays so old
    /// calls keep their agent. 28 when no live user has this id. Returns the user as it
    /// was before (with the phones it held).
    pub async fn delete_user(&self, user_id: i64, now: Micros) -> Result<User, DirectoryError> {
        on_pool!(&self.inner.db, pool => {
            let mut tx = pool.begin_directory().await?;
            let Some(user) = read_user!(tx, user_id).await?.filter(|u| !u.deleted) else {
                return refuse(Refusal::UserNotFound);
            };
            sqlx::query("DELETE FROM phones WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE users SET deleted = $2, mod_time = $3 WHERE user_id = $1")
                .bind(user_id)
                .bind(true)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(user)
        })
    }

    /// One user by id, deleted or not.
    pub async fn user(&self, user_id: i64) -> Result<Option<User>, StoreError> {
        on_pool!(&self.inner.db, pool => {
            let mut conn = pool.acquire().await?;
            Ok(read_user!(conn, user_id).await?)
        })
    }

    /// IMPORTUSER LIST: the users not deleted, lowest USER_ID first, with their phones.
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        on_pool!(&self.inner.db, pool => {
            // One snapshot for both reads, so a phone never names a user the list lacks.
            let mut tx = pool.begin().await?;
            let q = format!("SELECT {USER_COLUMNS} FROM users WHERE NOT deleted ORDER BY user_id");
            let rows: Vec<UserTuple> = sqlx::query_as(&q).fetch_all(&mut *tx).await?;
            let phones: Vec<(i64, String, String)> = sqlx::query_as(
                "SELECT user_id, phone_id, device_alias FROM phones \
                 ORDER BY user_id, assigned, phone_id",
            )
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            let mut users: Vec<User> = rows.into_iter().map(user_from).collect();
            for (user_id, phone_id, device_alias) in phones {
                if let Ok(i) = users.binary_search_by_key(&user_id, |u| u.user_id) {
                    users[i].phones.push(Phone { phone_id, device_alias });
                }
            }
            Ok(users)
        })
    }

    /// The live users (not deleted) whose `key` field equals `value` exactly (case and all),
    /// lowest USER_ID first, with their phones; read through the field's index.
    pub async fn users_with(&self, key: UserKey, value: &str) -> Result<Vec<User>, StoreError> {
        let q = users_with_query(key);
        on_pool!(&self.inner.db, pool => {
            // One snapshot for every read.
            let mut tx = pool.begin().await?;
            let ids: Vec<(i64,)> = sqlx::query_as(&q).bind(value).fetch_all(&mut *tx).await?;
            let mut users = Vec::with_capacity(ids.len());
            for (user_id,) in ids {
                users.extend(read_user!(tx, user_id).await?);
            }
            tx.commit().await?;
            Ok(users)
        })
    }

    /// IMPORTAGENTPHONE ADD: assigns the phone to the agent (or, when the agent already holds
    /// it, updates its alias if one is given). 24 no such live user; 25 the user is not an
    /// active agent; 22 another agent holds the phone. Returns the agent's USER_ID.
    pub async fn add_phone(
        &self,
        agent: &AgentKey,
        phone_id: &str,
        device_alias: Option<&str>,
    ) -> Result<i64, DirectoryError> {
        on_pool!(&self.inner.db, pool => {
            let mut tx = pool.begin_directory().await?;
            let Some((user_id, is_agent, active)) = find_agent!(tx, agent).await? else {
                return refuse(Refusal::AgentNotFound);
            };
            if !is_agent || !active {
                return refuse(Refusal::AgentNotActive { user_id });
            }
            let holder: Option<(i64,)> =
                sqlx::query_as("SELECT user_id FROM phones WHERE phone_id = $1")
                    .bind(phone_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            match holder {
                Some((other,)) if other != user_id => {
                    return refuse(Refusal::PhoneHeld { user_id: other });
                }
                Some(_) => {
                    if let Some(alias) = device_alias {
                        sqlx::query("UPDATE phones SET device_alias = $2 WHERE phone_id = $1")
                            .bind(phone_id)
                            .bind(alias)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                None => {
                    sqlx::query(
                        "INSERT INTO phones (phone_id, user_id, device_alias, assigned) \
                         VALUES ($1, $2, $3, (SELECT COALESCE(MAX(assigned), 0) + 1 FROM phones))",
                    )
                    .bind(phone_id)
                    .bind(user_id)
                    .bind(device_alias.unwrap_or(""))
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
            Ok(user_id)
        })
    }

    /// IMPORTAGENTPHONE DELETE: takes the phone from the agent. 24 no such live user; 22
    /// another agent holds the phone. A phone nobody holds is already deleted: no error.
    /// Returns the agent's USER_ID.
    pub async fn delete_phone(
        &self,
        agent: &AgentKey,
        phone_id: &str,
    ) -> Result<i64, DirectoryError> {
        on_pool!(&self.inner.db, pool => {
            let mut tx = pool.begin_directory().await?;
            let Some((user_id, _, _)) = find_agent!(tx, agent).await? else {
                return refuse(Refusal::AgentNotFound);
            };
            let holder: Option<(i64,)> =
                sqlx::query_as("SELECT user_id FROM phones WHERE phone_id = $1")
                    .bind(phone_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some((other,)) = holder.filter(|(other,)| *other != user_id) {
                return refuse(Refusal::PhoneHeld { user_id: other });
            }
            sqlx::query("DELETE FROM phones WHERE phone_id = $1 AND user_id = $2")
                .bind(phone_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(user_id)
        })
    }

    /// IMPORTSTATION ADD: removes any station with this name or this device, then adds it.
    /// Returns the device id as stored.
    pub async fn add_station(
        &self,
        station_name: &str,
        device_id: &str,
    ) -> Result<String, StoreError> {
        on_pool!(&self.inner.db, pool => {
            let mut tx = pool.begin_directory().await?;
            sqlx::query("DELETE FROM stations WHERE station_name = $1 OR device_id = $2")
                .bind(station_name)
                .bind(device_id)
                .execute(&mut *tx)
                .await?;
            let (stored,): (String,) = sqlx::query_as(
                "INSERT INTO stations (station_name, device_id) VALUES ($1, $2) \
                 RETURNING device_id",
            )
            .bind(station_name)
            .bind(device_id)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(stored)
        })
    }

    /// IMPORTSTATION DELETE: the device the station had, or `None` when there was none.
    pub async fn delete_station(&self, station_name: &str) -> Result<Option<String>, StoreError> {
        on_pool!(&self.inner.db, pool => {
            let mut tx = pool.begin_directory().await?;
            let row: Option<(String,)> =
                sqlx::query_as("DELETE FROM stations WHERE station_name = $1 RETURNING device_id")
                    .bind(station_name)
                    .fetch_optional(&mut *tx)
                    .await?;
            tx.commit().await?;
            Ok(row.map(|(d,)| d))
        })
    }

    /// STATIONLIST: (station name, device id), by station name (byte order).
    pub async fn stations(&self) -> Result<Vec<(String, String)>, StoreError> {
        on_pool!(&self.inner.db, pool => {
            Ok(sqlx::query_as(
                "SELECT station_name, device_id FROM stations ORDER BY station_name",
            )
            .fetch_all(pool)
            .await?)
        })
    }

    /// The device of a station (STATIONNAME / COMPUTERNAME lookups).
    pub async fn station_device(&self, station_name: &str) -> Result<Option<String>, StoreError> {
        on_pool!(&self.inner.db, pool => {
            let row: Option<(String,)> =
                sqlx::query_as("SELECT device_id FROM stations WHERE station_name = $1")
                    .bind(station_name)
                    .fetch_optional(pool)
                    .await?;
            Ok(row.map(|(d,)| d))
        })
    }

    /// DEVICEALIAS lookup: among the phones with this alias, the first assigned one whose
    /// agent is active. `NotFound` when no phone has the alias.
    pub async fn phone_by_alias(&self, alias: &str) -> Result<Lookup, StoreError> {
        on_pool!(&self.inner.db, pool => {
            let rows: Vec<(String, bool, String)> = sqlx::query_as(
                "SELECT p.phone_id, u.agent, u.status FROM phones p \
                 JOIN users u ON u.user_id = p.user_id \
                 WHERE p.device_alias = $1 AND NOT u.deleted ORDER BY p.assigned, p.phone_id",
            )
            .bind(alias)
            .fetch_all(pool)
            .await?;
            Ok(pick_agent_phone(rows))
        })
    }

    /// SYS_USER / CRM_USER lookup: the phones of the active agent with that name; the one
    /// whose latest call started last, else the first assigned. `NotFound` when no live user
    /// has the name; `NoAgentPhone` when none of them is an active agent with a phone.
    pub async fn phone_of_user(&self, key: UserKey, value: &str) -> Result<Lookup, StoreError> {
        let column = key.column();
        let users_query = format!("SELECT COUNT(*) FROM users WHERE NOT deleted AND {column} = $1");
        let phones_query = format!(
            "SELECT p.phone_id, (SELECT MAX(c.start_us) FROM calls c WHERE c.device_id = p.phone_id) \
             FROM phones p JOIN users u ON u.user_id = p.user_id \
             WHERE u.{column} = $1 AND NOT u.deleted AND u.agent AND u.status = 'A' \
             ORDER BY u.user_id, p.assigned, p.phone_id"
        );
        on_pool!(&self.inner.db, pool => {
            let (users,): (i64,) = sqlx::query_as(&users_query)
                .bind(value)
                .fetch_one(pool)
                .await?;
            if users == 0 {
                return Ok(Lookup::NotFound);
            }
            let phones: Vec<(String, Option<i64>)> = sqlx::query_as(&phones_query)
                .bind(value)
                .fetch_all(pool)
                .await?;
            Ok(most_recent_else_first(phones))
        })
    }

    /// The agent on a call that starts on this phone: the active agent holding it, as
    /// (USER_ID, "First Last").
    pub async fn agent_of_phone(
        &self,
        phone_id: &str,
    ) -> Result<Option<(i64, String)>, StoreError> {
        on_pool!(&self.inner.db, pool => {
            let row: Option<(i64, String, String)> = sqlx::query_as(
                "SELECT u.user_id, u.first_name, u.last_name FROM phones p \
                 JOIN users u ON u.user_id = p.user_id \
                 WHERE p.phone_id = $1 AND NOT u.deleted AND u.agent AND u.status = 'A'",
            )
            .bind(phone_id)
            .fetch_optional(pool)
            .await?;
            Ok(row.map(|(id, first, last)| (id, display_name(&first, &last))))
        })
    }

    /// The name calls show for the user with this USER_ID (deleted users keep theirs).
    pub async fn user_name(&self, user_id: i64) -> Result<Option<String>, StoreError> {
        on_pool!(&self.inner.db, pool => {
            let row: Option<(String, String)> =
                sqlx::query_as("SELECT first_name, last_name FROM users WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_optional(pool)
                    .await?;
            Ok(row.map(|(first, last)| display_name(&first, &last)))
        })
    }
}

/// AGENTNAME: first and last name, separated by a space when both are there.
fn display_name(first: &str, last: &str) -> String {
    [first, last]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The first phone (rows are in assignment order) whose agent is active.
fn pick_agent_phone(rows: Vec<(String, bool, String)>) -> Lookup {
    if rows.is_empty() {
        return Lookup::NotFound;
    }
    rows.into_iter()
        .find(|(_, agent, status)| *agent && status == "A")
        .map(|(phone, _, _)| Lookup::Found(phone))
        .unwrap_or(Lookup::NoAgentPhone)
}

/// The phone whose latest call started last; when none has had a call, the first one.
fn most_recent_else_first(phones: Vec<(String, Option<i64>)>) -> Lookup {
    let mut best: Option<(String, Option<i64>)> = None;
    for (phone, last) in phones {
        let better = match &best {
            None => true,
            Some((_, best_last)) => last > *best_last,
        };
        if better {
            best = Some((phone, last));
        }
    }
    best.map(|(p, _)| Lookup::Found(p))
        .unwrap_or(Lookup::NoAgentPhone)
}
