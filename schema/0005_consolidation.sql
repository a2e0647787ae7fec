-- The consolidation worker: raw events become facts, procedures, graph candidates and session
-- digests, each linked back to the events it came from; old low-value events are compacted.

-- The events consolidation has taken in. Marked in the same transaction as the products, so a
-- run is incremental (only unmarked events are read), idempotent and crash-safe.
CREATE TABLE consolidated_events (
    memory_id INTEGER PRIMARY KEY REFERENCES memories (id) ON DELETE CASCADE,
    run_id    INTEGER NOT NULL,
    at        REAL NOT NULL
);

CREATE TABLE consolidation_runs (
    id           INTEGER PRIMARY KEY,
    trigger      TEXT NOT NULL CHECK (trigger IN ('schedule', 'request')),
    holder       TEXT NOT NULL,                  -- the process that ran it
    status       TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'interrupted')),
    started_at   REAL NOT NULL,
    finished_at  REAL,
    report       TEXT NOT NULL DEFAULT '{}',     -- JSON: what the run produced, counted
    error        TEXT
);
CREATE INDEX consolidation_runs_by_status ON consolidation_runs (status, id);

-- Which events each product came from. No foreign key to memories: a product keeps its
-- provenance even after a compacted event is purged at the end of its retention period.
CREATE TABLE provenance (
    product_type TEXT NOT NULL CHECK (product_type IN ('memory', 'procedure', 'graph_candidate')),
    product_id   INTEGER NOT NULL,
    memory_id    INTEGER NOT NULL,
    run_id       INTEGER NOT NULL,
    PRIMARY KEY (product_type, product_id, memory_id)
) WITHOUT ROWID;
CREATE INDEX provenance_by_event ON provenance (memory_id, product_type);

-- Sessions whose step sequence matched no procedure yet: kept until a similar session makes a
-- procedure of them (successes) or counts against one (failures).
CREATE TABLE candidate_sessions (
    namespace       TEXT NOT NULL,
    session_id      TEXT NOT NULL,
    outcome         TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'partial')),
    goal            TEXT NOT NULL,
    steps           TEXT NOT NULL,               -- JSON array of step texts
    step_event_ids  TEXT NOT NULL,               -- JSON array: the events of those steps
    event_ids       TEXT NOT NULL,               -- JSON array: every event of the session
    step_embeddings BLOB NOT NULL,               -- float32, steps x dimension
    duration        REAL,
    ended_at        REAL NOT NULL,
    PRIMARY KEY (namespace, session_id)
) WITHOUT ROWID;

-- Names seen together in events: candidates for the knowledge graph, with how often.
CREATE TABLE graph_candidates (
    id          INTEGER PRIMARY KEY,
    namespace   TEXT NOT NULL,
    source_name TEXT NOT NULL,
    target_name TEXT NOT NULL,
    support     INTEGER NOT NULL,
    first_seen  REAL NOT NULL,
    last_seen   REAL NOT NULL,
    UNIQUE (namespace, source_name, target_name)
);
CREATE INDEX graph_candidates_by_support ON graph_candidates (namespace, support DESC);

-- How often a memory was returned by a search and what callers said of it: inputs to its
-- importance score, with recency and its own importance.
CREATE TABLE memory_usage (
    memory_id        INTEGER PRIMARY KEY REFERENCES memories (id) ON DELETE CASCADE,
    access_count     INTEGER NOT NULL DEFAULT 0,
    last_accessed_at REAL,
    helpful          INTEGER NOT NULL DEFAULT 0,
    unhelpful        INTEGER NOT NULL DEFAULT 0
);

-- Raw events folded into their session digest: hidden from search, restorable until
-- `restorable_until`, then purged. An undone compaction stays recorded, so that the event it
-- brought back is never compacted again.
CREATE TABLE compactions (
    memory_id        INTEGER PRIMARY KEY REFERENCES memories (id) ON DELETE CASCADE,
    digest_id        INTEGER NOT NULL,
    score            REAL NOT NULL,
    compacted_at     REAL NOT NULL,
    restorable_until REAL NOT NULL,
    undone_at        REAL
);
CREATE INDEX compactions_by_expiry ON compactions (restorable_until) WHERE undone_at IS NULL;
