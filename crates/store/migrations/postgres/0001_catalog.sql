-- Text columns use the "C" collation: exact and prefix filters compare bytes, as on
-- SQLite, and the btree indexes serve prefix ranges whatever the database's locale is.
CREATE TABLE calls (
    call_key       BIGINT PRIMARY KEY,
    device_id      TEXT COLLATE "C" NOT NULL,
    call_instance  TEXT COLLATE "C" NOT NULL,
    device_alias   TEXT COLLATE "C" NOT NULL,
    station_name   TEXT COLLATE "C" NOT NULL,
    agent_id       TEXT COLLATE "C" NOT NULL,
    agent_name     TEXT COLLATE "C" NOT NULL,
    ani            TEXT COLLATE "C" NOT NULL,
    dnis           TEXT COLLATE "C" NOT NULL,
    call_direction TEXT COLLATE "C" NOT NULL,
    call_id        TEXT COLLATE "C" NOT NULL,
    gate           TEXT COLLATE "C" NOT NULL,
    sgroup         TEXT COLLATE "C" NOT NULL,
    user1          TEXT COLLATE "C" NOT NULL,
    user2          TEXT COLLATE "C" NOT NULL,
    user3          TEXT COLLATE "C" NOT NULL,
    user4          TEXT COLLATE "C" NOT NULL,
    user5          TEXT COLLATE "C" NOT NULL,
    user6          TEXT COLLATE "C" NOT NULL,
    user7          TEXT COLLATE "C" NOT NULL,
    user8          TEXT COLLATE "C" NOT NULL,
    user9          TEXT COLLATE "C" NOT NULL,
    user10         TEXT COLLATE "C" NOT NULL,
    user11         TEXT COLLATE "C" NOT NULL,
    user12         TEXT COLLATE "C" NOT NULL,
    user13         TEXT COLLATE "C" NOT NULL,
    user14         TEXT COLLATE "C" NOT NULL,
    user15         TEXT COLLATE "C" NOT NULL,
    start_us       BIGINT NOT NULL,
    end_us         BIGINT,
    recorded       BOOLEAN NOT NULL,
    reason         TEXT COLLATE "C" NOT NULL,
    cti_initiated  BOOLEAN NOT NULL
);

-- DEVICELIST after a restart lists every device that has had a call.
CREATE INDEX calls_device ON calls (device_id);
-- Start-up recovery looks for calls left without an end; they are few, so a partial index.
CREATE INDEX calls_open ON calls (call_key) WHERE end_us IS NULL;

CREATE TABLE recordings (
    record_id          BIGINT PRIMARY KEY,
    call_key           BIGINT NOT NULL,
    device_id          TEXT COLLATE "C" NOT NULL,
    call_instance      TEXT COLLATE "C" NOT NULL,
    device_alias       TEXT COLLATE "C" NOT NULL,
    station_name       TEXT COLLATE "C" NOT NULL,
    agent_id           TEXT COLLATE "C" NOT NULL,
    agent_name         TEXT COLLATE "C" NOT NULL,
    ani                TEXT COLLATE "C" NOT NULL,
    dnis               TEXT COLLATE "C" NOT NULL,
    call_direction     TEXT COLLATE "C" NOT NULL,
    call_id            TEXT COLLATE "C" NOT NULL,
    gate               TEXT COLLATE "C" NOT NULL,
    sgroup             TEXT COLLATE "C" NOT NULL,
    user1              TEXT COLLATE "C" NOT NULL,
    user2              TEXT COLLATE "C" NOT NULL,
    user3              TEXT COLLATE "C" NOT NULL,
    user4              TEXT COLLATE "C" NOT NULL,
    user5              TEXT COLLATE "C" NOT NULL,
    user6              TEXT COLLATE "C" NOT NULL,
    user7              TEXT COLLATE "C" NOT NULL,
    user8              TEXT COLLATE "C" NOT NULL,
    user9              TEXT COLLATE "C" NOT NULL,
    user10             TEXT COLLATE "C" NOT NULL,
    user11             TEXT COLLATE "C" NOT NULL,
    user12             TEXT COLLATE "C" NOT NULL,
    user13             TEXT COLLATE "C" NOT NULL,
    user14             TEXT COLLATE "C" NOT NULL,
    user15             TEXT COLLATE "C" NOT NULL,
    call_start_us      BIGINT NOT NULL,
    call_end_us        BIGINT,
    recording_start_us BIGINT NOT NULL,
    duration_ms        BIGINT,
    kind               TEXT COLLATE "C" NOT NULL CHECK (kind IN ('FULL', 'PARTIAL', 'SCREEN')),
    audio              BOOLEAN NOT NULL,
    keep_days          BIGINT,
    archive_action     TEXT COLLATE "C" NOT NULL,
    cti_initiated      BOOLEAN NOT NULL,
    agent_initiated    BOOLEAN NOT NULL,
    blackouts          BIGINT NOT NULL,
    locked             BOOLEAN NOT NULL,
    state              TEXT COLLATE "C" NOT NULL CHECK (state IN ('OPEN', 'CLOSED', 'RECOVERED')),
    media_path         TEXT COLLATE "C" NOT NULL
);

-- CALLLIST's default query: newest recording first, LIMIT n, read straight off this index.
CREATE INDEX recordings_newest ON recordings (recording_start_us, record_id);
-- The filters CALLLIST is usually given: equality (or a prefix range) on one column, then
-- the rows in newest-first order from the same index, without a sort for the exact case.
CREATE INDEX recordings_device ON recordings (device_id, recording_start_us, record_id);
CREATE INDEX recordings_agent ON recordings (agent_id, recording_start_us, record_id);
CREATE INDEX recordings_ani ON recordings (ani, recording_start_us, record_id);
CREATE INDEX recordings_dnis ON recordings (dnis, recording_start_us, record_id);
CREATE INDEX recordings_call_id ON recordings (call_id, recording_start_us, record_id);
-- CALLDATESTART/CALLDATEEND filter on the call's start.
CREATE INDEX recordings_call_start ON recordings (call_start_us);
-- The recordings of one call (CALLUPDATE keeps them in step with their call).
CREATE INDEX recordings_call_key ON recordings (call_key);
-- Start-up recovery looks for recordings left open by a crash.
CREATE INDEX recordings_open ON recordings (record_id) WHERE state = 'OPEN';
