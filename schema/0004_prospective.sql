-- Prospective memory: what the agent means to do (tasks, grouped under goals) and when it wants
-- to be reminded (triggers), with a record of every time a trigger fired.

CREATE TABLE goals (
    id          INTEGER PRIMARY KEY,
    namespace   TEXT NOT NULL,
    title       TEXT NOT NULL,
    notes       TEXT,
    due_at      REAL,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL
);
CREATE INDEX goals_by_namespace ON goals (namespace, id);

CREATE TABLE tasks (
    id          INTEGER PRIMARY KEY,
    namespace   TEXT NOT NULL,
    title       TEXT NOT NULL,
    notes       TEXT,
    status      TEXT NOT NULL DEFAULT 'todo'
                CHECK (status IN ('todo', 'in_progress', 'blocked', 'done', 'cancelled')),
    priority    INTEGER NOT NULL DEFAULT 1 CHECK (priority BETWEEN 0 AND 3),  -- low, normal, high, urgent
    due_at      REAL,
    goal_id     INTEGER REFERENCES goals (id),
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    closed_at   REAL,                              -- when it became done or cancelled
    -- The listing order: soonest due first, tasks without a due time last. A column rather than
    -- NULLS LAST so that one index serves the order and the keyset position.
    due_order   REAL GENERATED ALWAYS AS (coalesce(due_at, 1e999)) VIRTUAL
);
CREATE INDEX tasks_by_due ON tasks (namespace, due_order);
CREATE INDEX tasks_by_status ON tasks (namespace, status, due_order);
-- One to list a goal's tasks in order, one to count them by status for its progress.
CREATE INDEX tasks_by_goal ON tasks (goal_id, due_order) WHERE goal_id IS NOT NULL;
CREATE INDEX tasks_by_goal_status ON tasks (goal_id, status) WHERE goal_id IS NOT NULL;

-- task_id waits for depends_on. Cycles are refused in the write transaction that adds an edge.
CREATE TABLE task_dependencies (
    task_id     INTEGER NOT NULL REFERENCES tasks (id),
    depends_on  INTEGER NOT NULL REFERENCES tasks (id),
    PRIMARY KEY (task_id, depends_on),
    CHECK (task_id != depends_on)
) WITHOUT ROWID;
CREATE INDEX task_dependencies_reverse ON task_dependencies (depends_on, task_id);

CREATE TABLE triggers (
    id             INTEGER PRIMARY KEY,
    namespace      TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('at', 'after', 'event', 'cron')),
    task_id        INTEGER REFERENCES tasks (id),    -- what it reminds of: a task, a text, or both
    reminder       TEXT,
    fire_at        REAL,       -- at, after: the one scheduled time
    cron           TEXT,       -- cron: the 5-field expression, in UTC
    event_type     TEXT,       -- event: the event type to match, and/or
    text_contains  TEXT,       -- event: a case-insensitive substring of the event's text
    repeat         INTEGER NOT NULL DEFAULT 0,      -- event: fire on every match, not only the first
    next_fire_at   REAL,       -- at, after, cron while active: the next scheduled occurrence
    watermark      INTEGER,    -- event: the id of the last event examined
    status         TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'done', 'cancelled')),
    created_at     REAL NOT NULL,
    updated_at     REAL NOT NULL,
    CHECK (task_id IS NOT NULL OR reminder IS NOT NULL)
);
CREATE INDEX triggers_by_namespace ON triggers (namespace, status, id);
CREATE INDEX triggers_by_task ON triggers (task_id) WHERE task_id IS NOT NULL;
CREATE INDEX triggers_scheduled ON triggers (next_fire_at) WHERE status = 'active';
CREATE INDEX triggers_watching ON triggers (id) WHERE status = 'active' AND kind = 'event';

-- One row per occurrence that fired. The UNIQUE key makes firing idempotent: the row is inserted
-- with INSERT OR IGNORE in the transaction that moves the trigger past the occurrence, so neither a
-- crash nor a second process can fire an occurrence twice or lose it. AUTOINCREMENT: every process
-- follows new firings by id (to notify its clients), so an id must never come back.
CREATE TABLE trigger_firings (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    trigger_id    INTEGER NOT NULL REFERENCES triggers (id),
    namespace     TEXT NOT NULL,
    occurrence    REAL NOT NULL,     -- the scheduled time (at, after, cron) or the event's id (event)
    -- The matching event; compaction may delete old events, which must not be blocked by this.
    event_id      INTEGER REFERENCES memories (id) ON DELETE SET NULL,
    fired_at      REAL NOT NULL,
    dismissed_at  REAL,
    UNIQUE (trigger_id, occurrence)
);
CREATE INDEX trigger_firings_pending ON trigger_firings (namespace, id) WHERE dismissed_at IS NULL;
CREATE INDEX trigger_firings_by_event ON trigger_firings (event_id);
