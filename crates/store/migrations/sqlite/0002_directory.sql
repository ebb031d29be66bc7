-- The directory: users (agents among them), their phones, and stations.
-- Users are never removed: DELETE marks them, so old calls keep their agent.
CREATE TABLE users (
    user_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    employee_id   TEXT NOT NULL,
    first_name    TEXT NOT NULL,
    last_name     TEXT NOT NULL,
    agent         INTEGER NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('A', 'I')),
    deleted       INTEGER NOT NULL,
    add_time      INTEGER NOT NULL,
    mod_time      INTEGER NOT NULL,
    sys_user      TEXT NOT NULL,
    sys_domain    TEXT NOT NULL,
    email         TEXT NOT NULL,
    crm_user      TEXT NOT NULL,
    site_id       INTEGER
) STRICT;

-- Usernames are unique among the users not deleted; a deleted user's name can be reused.
CREATE UNIQUE INDEX users_username ON users (username) WHERE deleted = 0;
-- ADD refuses a second live user with the same first and last name.
CREATE INDEX users_name ON users (first_name, last_name) WHERE deleted = 0;
-- SYS_USER / CRM_USER device lookups.
CREATE INDEX users_sys_user ON users (sys_user) WHERE deleted = 0;
CREATE INDEX users_crm_user ON users (crm_user) WHERE deleted = 0;

-- A phone (a device id) belongs to at most one agent at a time.
CREATE TABLE phones (
    phone_id     TEXT PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (user_id),
    device_alias TEXT NOT NULL,
    -- Assignment order: the lowest is the agent's first phone.
    assigned     INTEGER NOT NULL
) STRICT;

CREATE INDEX phones_user ON phones (user_id, assigned);
CREATE INDEX phones_alias ON phones (device_alias);

CREATE TABLE stations (
    station_name TEXT PRIMARY KEY,
    device_id    TEXT NOT NULL UNIQUE
) STRICT;

