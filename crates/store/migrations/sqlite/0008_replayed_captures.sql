-- Capture files replayed to their end, so the next start does not record them again. A
-- file is the same one while its canonical path, size and modification time are: any
-- write changes the modification time, and comparing them needs no read of the file.
CREATE TABLE replayed_captures (
    path        TEXT PRIMARY KEY,
    size_bytes  BIGINT NOT NULL,
    modified_us BIGINT NOT NULL,
    replayed_us BIGINT NOT NULL
);
