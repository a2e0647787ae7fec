-- Procedural memory: workflows, saved by an agent or learned by consolidation from sessions of
-- events, with the runs that measure how well they work.

CREATE TABLE procedures (
    id               INTEGER PRIMARY KEY,
    namespace        TEXT NOT NULL,
    -- NOCASE: "Deploy to staging" and "deploy to staging" are one name, not two procedures.
    name             TEXT NOT NULL COLLATE NOCASE,
    goal             TEXT NOT NULL,
    -- JSON array of step texts, in order; never empty (each step has its vector)
    steps            TEXT NOT NULL CHECK (json_array_length(steps) >= 1),
    preconditions    TEXT NOT NULL DEFAULT '[]',    -- JSON array
    expected_outcome TEXT,
    tags             TEXT NOT NULL DEFAULT '[]',    -- JSON array
    -- saved: written by an agent; learned: proposed by consolidation from successful sessions
    origin           TEXT NOT NULL CHECK (origin IN ('saved', 'learned')),
    status           TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired')),
    -- System 2 (the client's model through MCP sampling) may validate a learned procedure
    validation       TEXT NOT NULL DEFAULT 'unvalidated'
                     CHECK (validation IN ('unvalidated', 'validated', 'rejected')),
    -- Where a saved procedure came from: the session and events it was written from, if given.
    source_session_id TEXT,
    source_event_ids TEXT NOT NULL DEFAULT '[]',    -- JSON array
    runs             INTEGER NOT NULL DEFAULT 0,
    successes        INTEGER NOT NULL DEFAULT 0,
    failures         INTEGER NOT NULL DEFAULT 0,    -- runs - successes - failures were partial
    timed_runs       INTEGER NOT NULL DEFAULT 0,    -- runs that reported a duration
    total_duration   REAL NOT NULL DEFAULT 0,       -- seconds, over the timed runs
    confidence       REAL NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    last_used_at     REAL,
    created_at       REAL NOT NULL,
    updated_at       REAL NOT NULL,
    -- Bumped from the table's maximum on every change, so each process's in-memory search copy
    -- can fetch only what changed since it last looked. Procedures are retired, never deleted,
    -- so the maximum never goes back.
    revision         INTEGER NOT NULL,
    retired_at       REAL,
    retire_reason    TEXT,
    -- Vectors: of the whole procedure (for search) and of each step (to recognise a session
    -- that repeats it); float32, row-major; NULL until computed. Last, so that reading the
    -- columns before them never walks the overflow pages these large values spill into.
    embedding        BLOB,
    step_embeddings  BLOB
);
CREATE UNIQUE INDEX procedures_unique_name ON procedures (namespace, name);
CREATE INDEX procedures_by_namespace ON procedures (namespace, status, id);
CREATE UNIQUE INDEX procedures_by_revision ON procedures (revision);
-- A search copy catches up on one namespace: its rows past the revision it has seen.
CREATE INDEX procedures_by_namespace_revision ON procedures (namespace, revision);
-- The vector worker's queue: procedures saved while the embedding model was not ready.
CREATE INDEX procedures_missing_vectors ON procedures (id)
    WHERE embedding IS NULL OR step_embeddings IS NULL;

-- One row per execution: reported by an agent (`record_execution`) or found by consolidation in a
-- session of events that repeated the procedure (evidence, success or counter-evidence).
CREATE TABLE procedure_runs (
    id           INTEGER PRIMARY KEY,
    procedure_id INTEGER NOT NULL REFERENCES procedures (id) ON DELETE CASCADE,
    source       TEXT NOT NULL CHECK (source IN ('execution', 'session')),
    outcome      TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'partial')),
    duration     REAL,                              -- seconds
    notes        TEXT,
    session_id   TEXT,
    event_ids    TEXT NOT NULL DEFAULT '[]',        -- JSON array: the events that showed it
    recorded_at  REAL NOT NULL
);
CREATE INDEX procedure_runs_by_procedure ON procedure_runs (procedure_id, recorded_at);
-- A session is evidence for a procedure at most once, however often consolidation sees it.
CREATE UNIQUE INDEX procedure_runs_one_per_session
    ON procedure_runs (procedure_id, session_id) WHERE session_id IS NOT NULL;

-- Derived lexical index over procedures, rebuildable with the FTS5 'rebuild' command.
CREATE VIRTUAL TABLE procedures_fts USING fts5 (
    name,
    goal,
    steps,
    tags,
    content = 'procedures',
    content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER procedures_fts_insert AFTER INSERT ON procedures BEGIN
    INSERT INTO procedures_fts (rowid, name, goal, steps, tags)
    VALUES (new.id, new.name, new.goal, new.steps, new.tags);
END;

CREATE TRIGGER procedures_fts_delete AFTER DELETE ON procedures BEGIN
    INSERT INTO procedures_fts (procedures_fts, rowid, name, goal, steps, tags)
    VALUES ('delete', old.id, old.name, old.goal, old.steps, old.tags);
END;

CREATE TRIGGER procedures_fts_update AFTER UPDATE OF name, goal, steps, tags ON procedures BEGIN
    INSERT INTO procedures_fts (procedures_fts, rowid, name, goal, steps, tags)
    VALUES ('delete', old.id, old.name, old.goal, old.steps, old.tags);
    INSERT INTO procedures_fts (rowid, name, goal, steps, tags)
    VALUES (new.id, new.name, new.goal, new.steps, new.tags);
END;
