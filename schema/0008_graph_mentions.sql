-- Which names each memory (fact or event) mentions, for recall's expansion through the graph.
-- Links are kept by normalised name, not by entity id: a name that is no entity yet still links,
-- so an entity created later (or an alias added later) reaches the memories written before it.
-- Derived from the memories' text and the graph's names: the entity linker rebuilds it.

CREATE TABLE graph_mentions (
    memory_id INTEGER NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
    namespace TEXT NOT NULL,
    norm_name TEXT NOT NULL,   -- as store.graph.normalise: whitespace collapsed, case folded
    PRIMARY KEY (memory_id, norm_name)
) WITHOUT ROWID;
CREATE INDEX graph_mentions_by_name ON graph_mentions (namespace, norm_name, memory_id);

-- Memories whose mentions are not (re)extracted yet. Filled in the writing transaction itself, so
-- a write that commits is always linked later, whatever happens to the process that made it.
CREATE TABLE graph_mention_backlog (
    memory_id INTEGER PRIMARY KEY REFERENCES memories (id) ON DELETE CASCADE
);

CREATE TRIGGER graph_mention_backlog_insert AFTER INSERT ON memories BEGIN
    INSERT OR IGNORE INTO graph_mention_backlog (memory_id) VALUES (new.id);
END;

CREATE TRIGGER graph_mention_backlog_update AFTER UPDATE OF content ON memories BEGIN
    INSERT OR IGNORE INTO graph_mention_backlog (memory_id) VALUES (new.id);
END;

INSERT INTO graph_mention_backlog (memory_id) SELECT id FROM memories;

-- The entity names and aliases of a namespace whose earlier mentions have been searched for, and
-- the graph revision at which that set last matched the graph exactly. While a namespace's
-- revision is behind graph_state's, its backlog waits: a name is then either known when a memory
-- is linked, or searched for in every memory after it becomes known.
CREATE TABLE graph_mention_scans (
    namespace TEXT NOT NULL,
    norm_name TEXT NOT NULL,
    PRIMARY KEY (namespace, norm_name)
) WITHOUT ROWID;

CREATE TABLE graph_mention_state (
    namespace TEXT PRIMARY KEY,
    revision  INTEGER NOT NULL
);
