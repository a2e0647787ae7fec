-- Knowledge graph: entities with aliases and observations, and typed, directed, weighted relations
-- between them. Facts carry validity time: deleting or contradicting one sets valid_to, it is never
-- removed, so history survives and reads can ask "as of" a time. Merging two entities is recorded
-- in graph_merges with every fact it moved, so that it can be undone.

CREATE TABLE graph_entities (
    id          INTEGER PRIMARY KEY,
    namespace   TEXT NOT NULL,
    name        TEXT NOT NULL,
    -- The name case-folded with its whitespace collapsed: names that differ only so are one entity.
    norm_name   TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    -- deleted: by delete_entities (for good); merged: folded into merged_into until unmerged
    status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deleted', 'merged')),
    merged_into INTEGER REFERENCES graph_entities (id),
    memory_ids  TEXT NOT NULL DEFAULT '[]',   -- JSON array: the memories or events that named it
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    deleted_at  REAL
);
-- One active entity per name in a namespace; deleted and merged ones keep theirs for history.
CREATE UNIQUE INDEX graph_entities_unique_name ON graph_entities (namespace, norm_name)
    WHERE status = 'active';
CREATE INDEX graph_entities_by_namespace ON graph_entities (namespace, status, id);
CREATE INDEX graph_entities_by_norm_name ON graph_entities (namespace, norm_name);

-- Other names of an entity. merge_id is set for the names a merge brought along (removed again
-- by unmerge); aliases set by hand have none.
CREATE TABLE graph_aliases (
    id         INTEGER PRIMARY KEY,
    entity_id  INTEGER NOT NULL REFERENCES graph_entities (id) ON DELETE CASCADE,
    namespace  TEXT NOT NULL,
    alias      TEXT NOT NULL,
    norm_alias TEXT NOT NULL,
    merge_id   INTEGER REFERENCES graph_merges (id),
    created_at REAL NOT NULL
);
CREATE UNIQUE INDEX graph_aliases_unique ON graph_aliases (namespace, norm_alias);
CREATE INDEX graph_aliases_by_entity ON graph_aliases (entity_id);

CREATE TABLE graph_observations (
    id         INTEGER PRIMARY KEY,
    entity_id  INTEGER NOT NULL REFERENCES graph_entities (id) ON DELETE CASCADE,
    content    TEXT NOT NULL,
    memory_ids TEXT NOT NULL DEFAULT '[]',    -- JSON array: the memories or events that said it
    valid_from REAL NOT NULL,
    valid_to   REAL,                          -- NULL while it holds
    -- For a copy made by a merge or an unmerge: the first row of its line (NULL: this row is one).
    origin_id  INTEGER
);
CREATE INDEX graph_observations_by_origin ON graph_observations (origin_id) WHERE origin_id IS NOT NULL;
CREATE INDEX graph_observations_current ON graph_observations (entity_id, id) WHERE valid_to IS NULL;
CREATE INDEX graph_observations_by_entity ON graph_observations (entity_id, valid_from);

CREATE TABLE graph_relations (
    id            INTEGER PRIMARY KEY,
    namespace     TEXT NOT NULL,
    source_id     INTEGER NOT NULL REFERENCES graph_entities (id) ON DELETE CASCADE,
    target_id     INTEGER NOT NULL REFERENCES graph_entities (id) ON DELETE CASCADE,
    relation_type TEXT NOT NULL,
    weight        REAL NOT NULL DEFAULT 1.0,
    memory_ids    TEXT NOT NULL DEFAULT '[]', -- JSON array: provenance
    valid_from    REAL NOT NULL,
    valid_to      REAL,
    origin_id     INTEGER                     -- as for observations
);
CREATE INDEX graph_relations_by_origin ON graph_relations (origin_id) WHERE origin_id IS NOT NULL;
-- At most one current relation per (source, target, type): duplicates are skipped on create.
CREATE UNIQUE INDEX graph_relations_current_unique ON graph_relations (source_id, target_id, relation_type)
    WHERE valid_to IS NULL;
-- Neighbour queries in both directions, current or as of a time.
CREATE INDEX graph_relations_by_source ON graph_relations (source_id, valid_to, relation_type);
CREATE INDEX graph_relations_by_target ON graph_relations (target_id, valid_to, relation_type);
CREATE INDEX graph_relations_by_namespace ON graph_relations (namespace, id) WHERE valid_to IS NULL;

-- One row per merge: absorbed_id was folded into survivor_id until unmerged_at.
CREATE TABLE graph_merges (
    id          INTEGER PRIMARY KEY,
    namespace   TEXT NOT NULL,
    survivor_id INTEGER NOT NULL REFERENCES graph_entities (id),
    absorbed_id INTEGER NOT NULL REFERENCES graph_entities (id),
    merged_at   REAL NOT NULL,
    unmerged_at REAL
);
CREATE INDEX graph_merges_by_absorbed ON graph_merges (absorbed_id, merged_at);
CREATE INDEX graph_merges_by_namespace ON graph_merges (namespace, id);

-- What a merge moved: an observation or relation original_id was ended and copy_id is its copy on
-- the survivor (NULL when the survivor already held the same fact, or a relation between the two
-- would have become a loop); an alias original_id of the absorbed entity was handed to the survivor.
-- Unmerge ends whatever rows of each moved fact's line hold by then (the line may have moved on
-- through later merges and unmerges) and restores the line's first row on the entities now standing.
CREATE TABLE graph_merge_moves (
    merge_id    INTEGER NOT NULL REFERENCES graph_merges (id),
    kind        TEXT NOT NULL CHECK (kind IN ('observation', 'relation', 'alias')),
    original_id INTEGER NOT NULL,
    copy_id     INTEGER,
    PRIMARY KEY (merge_id, kind, original_id)
);

-- A counter per namespace that every graph write moves on: caches and derived data (the
-- communities) compare it to know whether they are stale, in this process or another.
CREATE TABLE graph_state (
    namespace TEXT PRIMARY KEY,
    revision  INTEGER NOT NULL
);

-- Derived substring index for search_nodes (rowid = entity id): the name, the aliases, the type
-- and the current observations of each active entity. Trigram makes any substring of three or
-- more characters an index lookup, case-insensitively. `athena-mcp rebuild-graph-index` rebuilds
-- it from the tables above.
CREATE VIRTUAL TABLE graph_fts USING fts5 (
    name,
    entity_type,
    observations,
    tokenize = 'trigram'
);
