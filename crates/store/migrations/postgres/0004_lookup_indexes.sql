-- CALLLIST by USER1, the field integrations put their CRM key in (and EXPORT's usual
-- UNIQUEFIELD): without an index every such request read the whole table. Newest-first
-- order comes from the index, as for the other usual filters.
CREATE INDEX recordings_user1 ON recordings (user1, recording_start_us, record_id);
