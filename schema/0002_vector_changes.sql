-- A feed of every change to the vector index, so that each server process's in-memory copy of the
-- vectors (athena_mcp/store/vector_mirror.py) can catch up with writes from any process.
-- Appended in the same transaction as the change; pruned to the latest entries.
CREATE TABLE vector_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    memory_id INTEGER NOT NULL,
    -- put: the new vector and its row; drop: all NULL; active flag only: embedding NULL, active set
    embedding BLOB,
    namespace TEXT,
    system TEXT,
    active INTEGER
);
