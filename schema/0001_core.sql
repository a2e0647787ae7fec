-- Core memory store: semantic facts and episodic events share one canonical table so that
-- one lexical index, one vector index and one filter builder serve every memory system.
-- Times are UTC seconds since the epoch (REAL) so ranges compare as numbers.

CREATE TABLE store_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE memories (
    id             INTEGER PRIMARY KEY,
    system         TEXT NOT NULL CHECK (system IN ('semantic', 'episodic')),
    namespace      TEXT NOT NULL,
    -- semantic: fact, note, preference, ...; episodic: the event type (action, decision, ...)
    kind           TEXT NOT NULL,
    content        TEXT NOT NULL,
    content_hash   TEXT NOT NULL,
    tags           TEXT NOT NULL DEFAULT '[]',   -- JSON array; memory_tags mirrors it for filtering
    importance     REAL NOT NULL DEFAULT 0.5 CHECK (importance BETWEEN 0 AND 1),
    source         TEXT,
    session_id     TEXT,
    outcome        TEXT,
    context        TEXT,                          -- JSON object, events only
    occurred_at    REAL NOT NULL,                 -- the memory's own timestamp
    created_at     REAL NOT NULL,
    updated_at     REAL NOT NULL,
    version        INTEGER NOT NULL DEFAULT 1,
    status         TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'forgotten')),
    forgotten_at   REAL,
    forget_reason  TEXT
);

-- Exact duplicates of a fact in one namespace are refused by the database itself, so two
-- server processes racing to store the same fact still end with one row.
CREATE UNIQUE INDEX memories_unique_active_fact
    ON memories (namespace, content_hash) WHERE system = 'semantic' AND status = 'active';
CREATE INDEX memories_by_namespace ON memories (namespace, system, status, id);
CREATE INDEX memories_by_time ON memories (namespace, system, occurred_at, id);
CREATE INDEX memories_by_session ON memories (session_id, occurred_at, id) WHERE session_id IS NOT NULL;

CREATE TABLE memory_tags (
    memory_id INTEGER NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
    tag       TEXT NOT NULL,
    PRIMARY KEY (memory_id, tag)
) WITHOUT ROWID;
CREATE INDEX memory_tags_by_tag ON memory_tags (tag, memory_id);

-- Earlier versions of an updated memory: updates never destroy what was known before.
CREATE TABLE memory_versions (
    memory_id      INTEGER NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
    version        INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    content        TEXT NOT NULL,
    tags           TEXT NOT NULL,
    importance     REAL NOT NULL,
    source         TEXT,
    valid_from     REAL NOT NULL,
    superseded_at  REAL NOT NULL,
    change_reason  TEXT,
    PRIMARY KEY (memory_id, version)
) WITHOUT ROWID;

-- Memories whose vector is not computed yet (model still loading, embedder down, re-embed).
-- A text the embedder keeps failing on is retried later and later, so it never blocks the rest.
CREATE TABLE vector_backlog (
    memory_id INTEGER PRIMARY KEY REFERENCES memories (id) ON DELETE CASCADE,
    queued_at REAL NOT NULL,
    attempts  INTEGER NOT NULL DEFAULT 0,
    retry_at  REAL NOT NULL DEFAULT 0
);
CREATE INDEX vector_backlog_due ON vector_backlog (retry_at, queued_at);

-- Derived lexical index over the canonical table; rebuildable with the FTS5 'rebuild' command.
CREATE VIRTUAL TABLE memories_fts USING fts5 (
    content,
    tags,
    content = 'memories',
    content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts (rowid, content, tags) VALUES (new.id, new.content, new.tags);
END;

CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, content, tags) VALUES ('delete', old.id, old.content, old.tags);
END;

CREATE TRIGGER memories_fts_update AFTER UPDATE OF content, tags ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, content, tags) VALUES ('delete', old.id, old.content, old.tags);
    INSERT INTO memories_fts (rowid, content, tags) VALUES (new.id, new.content, new.tags);
END;
