-- Communities of the knowledge graph (Leiden), derived from the current relations: each run records
-- the graph revision it read, so a later run knows whether it is stale. A recompute adds a run and
-- drops all but the newest few of its namespace, which answer "which communities were in force at
-- time t" (the newest run that read the graph at or before t). Rebuildable at any time.

CREATE TABLE graph_community_runs (
    id               INTEGER PRIMARY KEY,
    namespace        TEXT NOT NULL,
    revision         INTEGER NOT NULL,        -- graph_state.revision when the graph was read
    algorithm        TEXT NOT NULL,
    modularity       REAL,                    -- NULL when the graph had no relations
    seconds          REAL NOT NULL,           -- reading the graph and computing, not the write
    entity_count     INTEGER NOT NULL,
    relation_count   INTEGER NOT NULL,
    community_count  INTEGER NOT NULL,
    computed_at      REAL NOT NULL            -- when the graph was read
);
-- One result per revision, however many processes compute it.
CREATE UNIQUE INDEX graph_community_runs_unique ON graph_community_runs (namespace, revision);
CREATE INDEX graph_community_runs_by_time ON graph_community_runs (namespace, computed_at);

CREATE TABLE graph_communities (
    id             INTEGER PRIMARY KEY,
    run_id         INTEGER NOT NULL REFERENCES graph_community_runs (id) ON DELETE CASCADE,
    label          TEXT NOT NULL,
    summary        TEXT NOT NULL,
    size           INTEGER NOT NULL,          -- members (at least 2)
    relation_count INTEGER NOT NULL           -- relations with both ends inside
);
-- Largest first, as list_communities pages them.
CREATE INDEX graph_communities_by_run ON graph_communities (run_id, size DESC, id);

CREATE TABLE graph_community_members (
    community_id INTEGER NOT NULL REFERENCES graph_communities (id) ON DELETE CASCADE,
    entity_id    INTEGER NOT NULL REFERENCES graph_entities (id) ON DELETE CASCADE,
    rank         INTEGER NOT NULL,            -- 1 = most central
    strength     REAL NOT NULL,               -- summed weight of its relations inside the community
    PRIMARY KEY (community_id, rank)
) WITHOUT ROWID;
CREATE INDEX graph_community_members_by_entity ON graph_community_members (entity_id);
