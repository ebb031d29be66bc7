-- STRICT so a value of the wrong type is refused instead of silently stored.
CREATE TABLE calls (
    call_key       INTEGER PRIMARY KEY,
    device_id      TEXT NOT NULL,
    call_instance  TEXT NOT NULL,
    device_alias   TEXT NOT NULL,
    station_name   TEXT NOT NULL,
    agent_id       TEXT NOT NULL,
    agent_name     TEXT NOT NULL,
    ani            TEXT NOT NULL,
    dnis           TEXT NOT NULL,
    call_direction TEXT NOT NULL,
    call_id        TEXT NOT NULL,
    gate           TEXT NOT NULL,
    sgroup         TEXT NOT NULL,
    user1          TEXT NOT NULL,
    user2          TEXT NOT NULL,
    user3          TEXT NOT NULL,
    user4          TEXT NOT NULL,
    user5          TEXT NOT NULL,
    user6          TEXT NOT NULL,
    user7          TEXT NOT NULL,
    user8          TEXT NOT NULL,
    user9          TEXT NOT NULL,
    user10         TEXT NOT NULL,
    user11         TEXT NOT NULL,
    user12         TEXT NOT NULL,
    user13         TEXT NOT NULL,
    user14         TEXT NOT NULL,
    user15         TEXT NOT NULL,
    start_us       INTEGER NOT NULL,
    end_us         INTEGER,
    recorded       INTEGER NOT NULL,
    reason         TEXT NOT NULL,
    cti_initiated  INTEGER NOT NULL
) STRICT;

-- DEVICELIST after a restart lists every device that has had a call.
CREATE INDEX calls_device ON calls (device_id);
-- Start-up recovery looks for calls left without an end; they are few, so a partial index.
CREATE INDEX calls_open ON calls (call_key) WHERE end_us IS NULL;

CREATE TABLE recordings (
    record_id          INTEGER PRIMARY KEY,
    call_key           INTEGER NOT NULL,
    device_id          TEXT NOT NULL,
    call_instance      TEXT NOT NULL,
    device_alias       TEXT NOT NULL,
    station_name       TEXT NOT NULL,
    agent_id           TEXT NOT NULL,
    agent_name         TEXT NOT NULL,
    ani                TEXT NOT NULL,
    dnis               TEXT NOT NULL,
    call_direction     TEXT NOT NULL,
    call_id            TEXT NOT NULL,
    gate               TEXT NOT NULL,
    sgroup             TEXT NOT NULL,
    user1              TEXT NOT NULL,
    user2              TEXT NOT NULL,
    user3              TEXT NOT NULL,
    user4              TEXT NOT NULL,
    user5              TEXT NOT NULL,
    user6              TEXT NOT NULL,
    user7              TEXT NOT NULL,
    user8              TEXT NOT NULL,
    user9              TEXT NOT NULL,
    user10             TEXT NOT NULL,
    user11             TEXT NOT NULL,
    user12             TEXT NOT NULL,
    user13             TEXT NOT NULL,
    user14             TEXT NOT NULL,
    user15             TEXT NOT NULL,
    call_start_us      INTEGER NOT NULL,
    call_end_us        INTEGER,
    recording_start_us INTEGER NOT NULL,
    duration_ms        INTEGER,
    kind               TEXT NOT NULL CHECK (kind IN ('FULL', 'PARTIAL', 'SCREEN')),
    audio              INTEGER NOT NULL,
    keep_days          INTEGER,
    archive_action     TEXT NOT NULL,
    cti_initiated      INTEGER NOT NULL,
    agent_initiated    INTEGER NOT NULL,
    blackouts          INTEGER NOT NULL,
    locked             INTEGER NOT NULL,
    state              TEXT NOT NULL CHECK (state IN ('OPEN', 'CLOSED', 'RECOVERED')),
    media_path         TEXT NOT NULL
) STRICT;

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
