-- PCI blackouts. Each span of a recording that was blacked out (its audio is silence),
-- numbered per recording; end_us is NULL while the span is open.
CREATE TABLE recording_blackouts (
    record_id INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    start_us  INTEGER NOT NULL,
    end_us    INTEGER,
    PRIMARY KEY (record_id, seq)
) STRICT;

-- Agent-mode blackouts open now (kept across restarts): owner is 'agent:<AGENTID>' or
-- 'device:<DEVICEID>' for a device without an agent.
CREATE TABLE open_blackouts (
    owner    TEXT PRIMARY KEY,
    start_us INTEGER NOT NULL
) STRICT;
