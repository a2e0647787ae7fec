-- Consolidation per namespace: a requested run is limited to the caller's namespace, and what every
-- run produced is counted per namespace, so that a namespace's status shows its own work only.

-- The namespace a requested run was limited to; NULL: a run over every namespace (the background
-- worker's, and runs recorded before this migration).
ALTER TABLE consolidation_runs ADD COLUMN namespace TEXT;

CREATE TABLE consolidation_run_namespaces (
    run_id    INTEGER NOT NULL REFERENCES consolidation_runs (id) ON DELETE CASCADE,
    namespace TEXT NOT NULL,
    report    TEXT NOT NULL,                     -- JSON: what the run produced in this namespace, counted
    PRIMARY KEY (run_id, namespace)
) WITHOUT ROWID;
