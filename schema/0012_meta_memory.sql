-- Meta-memory: what a session has in mind (its working memory), and what was asked and not found.

-- A session's working memory: a few memories kept active while the session works with them. An
-- item's activation was `activation` at the session's step `step`; it decays with every step since
-- (memory/working.py), rises when the memory is recalled, cited or changed in the session, and the
-- least active unpinned items leave when the set is over its capacity.
CREATE TABLE working_memory (
    namespace  TEXT NOT NULL,
    session_id TEXT NOT NULL,
    memory_id  INTEGER NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
    activation REAL NOT NULL,
    step       INTEGER NOT NULL,
    pinned     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (namespace, session_id, memory_id)
) WITHOUT ROWID;

-- Each session's step: one per touch of its working memory, the clock its activations decay by.
CREATE TABLE working_sessions (
    namespace  TEXT NOT NULL,
    session_id TEXT NOT NULL,
    step       INTEGER NOT NULL,
    touched_at REAL NOT NULL,
    PRIMARY KEY (namespace, session_id)
) WITHOUT ROWID;

-- Questions that found nothing: knowledge gaps, shown by meta-memory. The same question asked again
-- counts up on its row.
CREATE TABLE recall_misses (
    id         INTEGER PRIMARY KEY,
    namespace  TEXT NOT NULL,
    query      TEXT NOT NULL,
    best_score REAL NOT NULL,
    asked      INTEGER NOT NULL DEFAULT 1,
    first_at   REAL NOT NULL,
    last_at    REAL NOT NULL,
    UNIQUE (namespace, query)
);
CREATE INDEX recall_misses_latest ON recall_misses (namespace, last_at);
