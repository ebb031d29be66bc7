-- QA groups of agents' phones, and roles: which groups a role sees, who has it, and the
-- permissions it grants.
CREATE TABLE qa_groups (
    group_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    group_name TEXT NOT NULL UNIQUE
) STRICT;

-- Membership is per phone; phone_id '' means every phone of the agent, present and future.
CREATE TABLE group_members (
    group_id INTEGER NOT NULL REFERENCES qa_groups (group_id),
    user_id  INTEGER NOT NULL REFERENCES users (user_id),
    phone_id TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id, phone_id)
) STRICT;

CREATE TABLE roles (
    role_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    role_name TEXT NOT NULL UNIQUE
) STRICT;

CREATE TABLE role_groups (
    role_id  INTEGER NOT NULL REFERENCES roles (role_id),
    group_id INTEGER NOT NULL REFERENCES qa_groups (group_id),
    PRIMARY KEY (role_id, group_id)
) STRICT;

CREATE TABLE role_users (
    role_id INTEGER NOT NULL REFERENCES roles (role_id),
    user_id INTEGER NOT NULL REFERENCES users (user_id),
    PRIMARY KEY (role_id, user_id)
) STRICT;

CREATE TABLE role_permissions (
    role_id    INTEGER NOT NULL REFERENCES roles (role_id),
    permission TEXT NOT NULL,
    value      INTEGER NOT NULL,
    PRIMARY KEY (role_id, permission)
) STRICT;
