-- Provenance and the audit trail.
--
-- Who writes is known to the server, not claimed by the caller: each write transaction puts its
-- caller (transport, client, token, session), the tool and the origin in write_context as it begins
-- and clears them before it commits. BEGIN IMMEDIATE holds the file's write lock meanwhile, so no
-- other process's writer ever sees another's row. Triggers read it: new memories record who wrote
-- them and how they came, and every change to what a user stored appends to audit_log.

CREATE TABLE write_context (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    actor  TEXT,
    tool   TEXT,
    origin TEXT
);
INSERT INTO write_context (id) VALUES (1);

-- NULL for memories written before provenance was recorded.
ALTER TABLE memories ADD COLUMN written_by TEXT;
ALTER TABLE memories ADD COLUMN origin TEXT
    CHECK (origin IN ('agent', 'imported', 'consolidated', 'hook', 'user'));

CREATE TRIGGER memories_provenance AFTER INSERT ON memories BEGIN
    UPDATE memories
    SET written_by = (SELECT actor FROM write_context WHERE id = 1),
        origin = coalesce(new.origin, (SELECT origin FROM write_context WHERE id = 1))
    WHERE id = new.id;
END;

-- Append-only: the server never updates or deletes a row, and refuses anyone who tries. Digests
-- (SHA-256 of the row's fields as JSON, 16 hex digits; athena_digest is registered on every
-- connection the server opens) show that and when something changed without keeping a copy of
-- what was stored, so forgetting a secret does not leave it here.
CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY,
    at            REAL NOT NULL,
    actor         TEXT NOT NULL,        -- 'unknown': a writer that is not this server (a SQL shell)
    tool          TEXT,
    namespace     TEXT,
    subject       TEXT NOT NULL,        -- memory, procedure, task, entity, ...
    subject_id    INTEGER NOT NULL,
    change        TEXT NOT NULL,        -- create, update, forget, restore, delete, ...
    before_digest TEXT,
    after_digest  TEXT
);
CREATE INDEX audit_log_by_namespace ON audit_log (namespace, id);
CREATE INDEX audit_log_by_subject ON audit_log (subject, subject_id, id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

-- Changes the user or their agents make, and consolidation's; not the derived indexes (FTS,
-- vectors, search copies), schedules' bookkeeping (next_fire_at, watermarks) or access counts.
-- Firings are audited when dismissed: the worker makes them as schedules say.

CREATE TRIGGER audit_memories_insert AFTER INSERT ON memories BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, new.namespace, 'memory', new.id, 'create',
           NULL, athena_digest(json_object('system', new.system, 'kind', new.kind, 'content', new.content, 'tags', new.tags, 'importance', new.importance, 'source', new.source, 'session_id', new.session_id, 'outcome', new.outcome, 'context', new.context, 'occurred_at', new.occurred_at, 'status', new.status, 'forget_reason', new.forget_reason))
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_memories_update AFTER UPDATE OF content, kind, tags, importance, source, status ON memories BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, new.namespace, 'memory', new.id,
           CASE WHEN old.status = new.status THEN 'update' WHEN new.status = 'forgotten' THEN 'forget' ELSE 'restore' END, athena_digest(json_object('system', old.system, 'kind', old.kind, 'content', old.content, 'tags', old.tags, 'importance', old.importance, 'source', old.source, 'session_id', old.session_id, 'outcome', old.outcome, 'context', old.context, 'occurred_at', old.occurred_at, 'status', old.status, 'forget_reason', old.forget_reason)), athena_digest(json_object('system', new.system, 'kind', new.kind, 'content', new.content, 'tags', new.tags, 'importance', new.importance, 'source', new.source, 'session_id', new.session_id, 'outcome', new.outcome, 'context', new.context, 'occurred_at', new.occurred_at, 'status', new.status, 'forget_reason', new.forget_reason))
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_memories_delete AFTER DELETE ON memories BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, old.namespace, 'memory', old.id, 'delete',
           athena_digest(json_object('system', old.system, 'kind', old.kind, 'content', old.content, 'tags', old.tags, 'importance', old.importance, 'source', old.source, 'session_id', old.session_id, 'outcome', old.outcome, 'context', old.context, 'occurred_at', old.occurred_at, 'status', old.status, 'forget_reason', old.forget_reason)), NULL
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_procedures_insert AFTER INSERT ON procedures BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, new.namespace, 'procedure', new.id, 'create',
           NULL, athena_digest(json_object('name', new.name, 'goal', new.goal, 'steps', new.steps, 'preconditions', new.preconditions, 'expected_outcome', new.expected_outcome, 'tags', new.tags, 'origin', new.origin, 'status', new.status, 'validation', new.validation, 'runs', new.runs, 'successes', new.successes, 'failures', new.failures, 'confidence', new.confidence, 'retire_reason', new.retire_reason))
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_procedures_update AFTER UPDATE OF name, goal, steps, preconditions, expected_outcome, tags, status, validation, runs, confidence ON procedures BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, new.namespace, 'procedure', new.id,
           CASE WHEN old.status = new.status THEN 'update' WHEN new.status = 'retired' THEN 'retire' ELSE 'restore' END, athena_digest(json_object('name', old.name, 'goal', old.goal, 'steps', old.steps, 'preconditions', old.preconditions, 'expected_outcome', old.expected_outcome, 'tags', old.tags, 'origin', old.origin, 'status', old.status, 'validation', old.validation, 'runs', old.runs, 'successes', old.successes, 'failures', old.failures, 'confidence', old.confidence, 'retire_reason', old.retire_reason)), athena_digest(json_object('name', new.name, 'goal', new.goal, 'steps', new.steps, 'preconditions', new.preconditions, 'expected_outcome', new.expected_outcome, 'tags', new.tags, 'origin', new.origin, 'status', new.status, 'validation', new.validation, 'runs', new.runs, 'successes', new.successes, 'failures', new.failures, 'confidence', new.confidence, 'retire_reason', new.retire_reason))
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_procedure_runs_insert AFTER INSERT ON procedure_runs BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, (SELECT namespace FROM procedures WHERE id = new.procedure_id), 'procedure_run', new.id, 'create',
           NULL, athena_digest(json_object('procedure_id', new.procedure_id, 'source', new.source, 'outcome', new.outcome, 'duration', new.duration, 'notes', new.notes, 'session_id', new.session_id, 'event_ids', new.event_ids))
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_goals_insert AFTER INSERT ON goals BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, new.namespace, 'goal', new.id, 'create',
           NULL, athena_digest(json_object('title', new.title, 'notes', new.notes, 'due_at', new.due_at))
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_goals_update AFTER UPDATE OF title, notes, due_at ON goals BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, new.namespace, 'goal', new.id,
           'update', athena_digest(json_object('title', old.title, 'notes', old.notes, 'due_at', old.due_at)), athena_digest(json_object('title', new.title, 'notes', new.notes, 'due_at', new.due_at))
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_goals_delete AFTER DELETE ON goals BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, old.namespace, 'goal', old.id, 'delete',
           athena_digest(json_object('title', old.title, 'notes', old.notes, 'due_at', old.due_at)), NULL
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_tasks_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, new.namespace, 'task', new.id, 'create',
           NULL, athena_digest(json_object('title', new.title, 'notes', new.notes, 'status', new.status, 'priority', new.priority, 'due_at', new.due_at, 'goal_id', new.goal_id, 'closed_at', new.closed_at))
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_tasks_update AFTER UPDATE OF title, notes, status, priority, due_at, goal_id ON tasks BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, new.namespace, 'task', new.id,
           'update', athena_digest(json_object('title', old.title, 'notes', old.notes, 'status', old.status, 'priority', old.priority, 'due_at', old.due_at, 'goal_id', old.goal_id, 'closed_at', old.closed_at)), athena_digest(json_object('title', new.title, 'notes', new.notes, 'status', new.status, 'priority', new.priority, 'due_at', new.due_at, 'goal_id', new.goal_id, 'closed_at', new.closed_at))
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_tasks_delete AFTER DELETE ON tasks BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, old.namespace, 'task', old.id, 'delete',
           athena_digest(json_object('title', old.title, 'notes', old.notes, 'status', old.status, 'priority', old.priority, 'due_at', old.due_at, 'goal_id', old.goal_id, 'closed_at', old.closed_at)), NULL
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_triggers_insert AFTER INSERT ON triggers BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, new.namespace, 'trigger', new.id, 'create',
           NULL, athena_digest(json_object('kind', new.kind, 'task_id', new.task_id, 'reminder', new.reminder, 'fire_at', new.fire_at, 'cron', new.cron, 'event_type', new.event_type, 'text_contains', new.text_contains, 'repeat', new.repeat, 'status', new.status))
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_triggers_update AFTER UPDATE OF reminder, status ON triggers BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, new.namespace, 'trigger', new.id,
           'update', athena_digest(json_object('kind', old.kind, 'task_id', old.task_id, 'reminder', old.reminder, 'fire_at', old.fire_at, 'cron', old.cron, 'event_type', old.event_type, 'text_contains', old.text_contains, 'repeat', old.repeat, 'status', old.status)), athena_digest(json_object('kind', new.kind, 'task_id', new.task_id, 'reminder', new.reminder, 'fire_at', new.fire_at, 'cron', new.cron, 'event_type', new.event_type, 'text_contains', new.text_contains, 'repeat', new.repeat, 'status', new.status))
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_trigger_firings_update AFTER UPDATE OF dismissed_at ON trigger_firings BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, new.namespace, 'firing', new.id,
           'dismiss', athena_digest(json_object('trigger_id', old.trigger_id, 'occurrence', old.occurrence, 'event_id', old.event_id, 'dismissed_at', old.dismissed_at)), athena_digest(json_object('trigger_id', new.trigger_id, 'occurrence', new.occurrence, 'event_id', new.event_id, 'dismissed_at', new.dismissed_at))
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_graph_entities_insert AFTER INSERT ON graph_entities BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, new.namespace, 'entity', new.id, 'create',
           NULL, athena_digest(json_object('name', new.name, 'entity_type', new.entity_type, 'status', new.status, 'merged_into', new.merged_into))
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_graph_entities_update AFTER UPDATE OF name, entity_type, status, merged_into ON graph_entities BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, new.namespace, 'entity', new.id,
           CASE WHEN old.status = new.status THEN 'update' ELSE new.status END, athena_digest(json_object('name', old.name, 'entity_type', old.entity_type, 'status', old.status, 'merged_into', old.merged_into)), athena_digest(json_object('name', new.name, 'entity_type', new.entity_type, 'status', new.status, 'merged_into', new.merged_into))
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_graph_aliases_insert AFTER INSERT ON graph_aliases BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, new.namespace, 'alias', new.id, 'create',
           NULL, athena_digest(json_object('entity_id', new.entity_id, 'alias', new.alias, 'merge_id', new.merge_id))
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_graph_aliases_delete AFTER DELETE ON graph_aliases BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, old.namespace, 'alias', old.id, 'delete',
           athena_digest(json_object('entity_id', old.entity_id, 'alias', old.alias, 'merge_id', old.merge_id)), NULL
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_graph_observations_insert AFTER INSERT ON graph_observations BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, (SELECT namespace FROM graph_entities WHERE id = new.entity_id), 'observation', new.id, 'create',
           NULL, athena_digest(json_object('entity_id', new.entity_id, 'content', new.content, 'valid_from', new.valid_from, 'valid_to', new.valid_to))
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_graph_observations_update AFTER UPDATE OF content, valid_to ON graph_observations BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, (SELECT namespace FROM graph_entities WHERE id = new.entity_id), 'observation', new.id,
           CASE WHEN new.valid_to IS NOT NULL AND old.valid_to IS NULL THEN 'end' ELSE 'update' END, athena_digest(json_object('entity_id', old.entity_id, 'content', old.content, 'valid_from', old.valid_from, 'valid_to', old.valid_to)), athena_digest(json_object('entity_id', new.entity_id, 'content', new.content, 'valid_from', new.valid_from, 'valid_to', new.valid_to))
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_graph_observations_delete AFTER DELETE ON graph_observations BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, (SELECT namespace FROM graph_entities WHERE id = old.entity_id), 'observation', old.id, 'delete',
           athena_digest(json_object('entity_id', old.entity_id, 'content', old.content, 'valid_from', old.valid_from, 'valid_to', old.valid_to)), NULL
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_graph_relations_insert AFTER INSERT ON graph_relations BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, new.namespace, 'relation', new.id, 'create',
           NULL, athena_digest(json_object('source_id', new.source_id, 'target_id', new.target_id, 'relation_type', new.relation_type, 'weight', new.weight, 'valid_from', new.valid_from, 'valid_to', new.valid_to))
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_graph_relations_update AFTER UPDATE OF relation_type, weight, valid_to ON graph_relations BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, new.namespace, 'relation', new.id,
           CASE WHEN new.valid_to IS NOT NULL AND old.valid_to IS NULL THEN 'end' ELSE 'update' END, athena_digest(json_object('source_id', old.source_id, 'target_id', old.target_id, 'relation_type', old.relation_type, 'weight', old.weight, 'valid_from', old.valid_from, 'valid_to', old.valid_to)), athena_digest(json_object('source_id', new.source_id, 'target_id', new.target_id, 'relation_type', new.relation_type, 'weight', new.weight, 'valid_from', new.valid_from, 'valid_to', new.valid_to))
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_graph_relations_delete AFTER DELETE ON graph_relations BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, old.namespace, 'relation', old.id, 'delete',
           athena_digest(json_object('source_id', old.source_id, 'target_id', old.target_id, 'relation_type', old.relation_type, 'weight', old.weight, 'valid_from', old.valid_from, 'valid_to', old.valid_to)), NULL
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_graph_merges_insert AFTER INSERT ON graph_merges BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, new.namespace, 'merge', new.id, 'create',
           NULL, athena_digest(json_object('survivor_id', new.survivor_id, 'absorbed_id', new.absorbed_id, 'unmerged_at', new.unmerged_at))
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_graph_merges_update AFTER UPDATE OF unmerged_at ON graph_merges BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, new.namespace, 'merge', new.id,
           'unmerge', athena_digest(json_object('survivor_id', old.survivor_id, 'absorbed_id', old.absorbed_id, 'unmerged_at', old.unmerged_at)), athena_digest(json_object('survivor_id', new.survivor_id, 'absorbed_id', new.absorbed_id, 'unmerged_at', new.unmerged_at))
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_compactions_insert AFTER INSERT ON compactions BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, (SELECT namespace FROM memories WHERE id = new.memory_id), 'compaction', new.memory_id, 'create',
           NULL, athena_digest(json_object('memory_id', new.memory_id, 'digest_id', new.digest_id, 'undone_at', new.undone_at))
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_compactions_update AFTER UPDATE OF undone_at ON compactions BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, (SELECT namespace FROM memories WHERE id = new.memory_id), 'compaction', new.memory_id,
           'undo', athena_digest(json_object('memory_id', old.memory_id, 'digest_id', old.digest_id, 'undone_at', old.undone_at)), athena_digest(json_object('memory_id', new.memory_id, 'digest_id', new.digest_id, 'undone_at', new.undone_at))
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_compactions_delete AFTER DELETE ON compactions BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, (SELECT namespace FROM memories WHERE id = old.memory_id), 'compaction', old.memory_id, 'delete',
           athena_digest(json_object('memory_id', old.memory_id, 'digest_id', old.digest_id, 'undone_at', old.undone_at)), NULL
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_memory_usage_insert AFTER INSERT ON memory_usage WHEN new.helpful + new.unhelpful > 0 BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, (SELECT namespace FROM memories WHERE id = new.memory_id), 'rating', new.memory_id, 'create',
           NULL, athena_digest(json_object('memory_id', new.memory_id, 'helpful', new.helpful, 'unhelpful', new.unhelpful))
    FROM write_context WHERE id = 1;
END;

CREATE TRIGGER audit_memory_usage_update AFTER UPDATE OF helpful, unhelpful ON memory_usage BEGIN
    INSERT INTO audit_log (at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest)
    SELECT (julianday('now') - 2440587.5) * 86400.0, coalesce(actor, 'unknown'), tool, (SELECT namespace FROM memories WHERE id = new.memory_id), 'rating', new.memory_id,
           'rate', athena_digest(json_object('memory_id', old.memory_id, 'helpful', old.helpful, 'unhelpful', old.unhelpful)), athena_digest(json_object('memory_id', new.memory_id, 'helpful', new.helpful, 'unhelpful', new.unhelpful))
    FROM write_context WHERE id = 1;
END;
