-- CALLLIST by USER1, the field integrations put their CRM key in (and EXPORT's usual
-- UNIQUEFIELD): without an index every such request read the whole table. Newest-first
-- order comes from the index, as for the other usual filters.
CREATE INDEX recordings_user1 ON recordings (user1, recording_start_us, record_id);

-- The directory's look-ups say `NOT deleted` (the same text on both backends), which SQLite
-- cannot prove implies `deleted = 0`: the partial indexes of 0002 were never used, and every
-- IMPORTUSER ADD or MODIFY, every look-up by name, SYS_USER or CRM_USER read every user.
-- The same indexes with the predicate the queries use; uniqueness is unchanged.
DROP INDEX users_username;
DROP INDEX users_name;
DROP INDEX users_sys_user;
DROP INDEX users_crm_user;
CREATE UNIQUE INDEX users_username ON users (username) WHERE NOT deleted;
CREATE INDEX users_name ON users (first_name, last_name) WHERE NOT deleted;
CREATE INDEX users_sys_user ON users (sys_user) WHERE NOT deleted;
CREATE INDEX users_crm_user ON users (crm_user) WHERE NOT deleted;
