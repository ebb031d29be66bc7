-- CHATSTART finds its agent by KEYNAME (USERNAME, SYS_USER, CRM_USER, EMPLOYEE_ID, EMAIL):
-- the first three have indexes on the live users (0002, 0004); these are the other two, so
-- no KEYNAME look-up reads every user. Same predicate as the queries (`NOT deleted`).
CREATE INDEX users_employee_id ON users (employee_id) WHERE NOT deleted;
CREATE INDEX users_email ON users (email) WHERE NOT deleted;
