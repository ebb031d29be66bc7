-- PCI blackouts. Each span of a recording that was blacked out (its audio is silence),
-- numbered per recording; end_us is NULL while the span is open.
CREATE TABLE recording_blackouts (
    record_id BIGINT NOT NULL,
    seq       BIGINT NOT NULL,
    start_us  BIGINT NOT NULL,
    end_us    BIGINT,
    PRIMARY KEY (record_id, seq)
);

-- Agent-mode blackouts open now (kept across restarts): owner is 'agent:<AGENTID>' or
-- 'device:<DEVICEID>' for a device without an agent.
CREATE TABLE open_blackouts (
    owner    TEXT COLLATE "C" PRIMARY KEY,
    start_us BIGINT NOT NULL
);
