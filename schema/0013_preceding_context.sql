-- The lexical index reads each event beside the text of the two active events before it in its
-- session (same namespace, by time then id), in a column of its own weighted 0.3: a question's
-- words are often split between a turn and the ones it answers ("... after the road trip?" asked
-- of "we just did it yesterday!" after "the road trip was insane"). On the LoCoMo dev split this
-- took hybrid recall@5 / @10 from 0.663 / 0.767 to 0.721 / 0.806 (PRODUCTION_READINESS.md, issue 17).
-- Derived: store/memories.py keeps it in step when events arrive, are forgotten or come back; an
-- import and `doctor --repair` recompute it; it is not exported.
ALTER TABLE memories ADD COLUMN preceding TEXT;

DROP TRIGGER memories_fts_insert;
DROP TRIGGER memories_fts_delete;
DROP TRIGGER memories_fts_update;
DROP TABLE memories_fts;

-- The active events of a session in order: what each event's preceding text is read from. Without
-- it, compacting a long session reread every event already forgotten for each one it folded.
CREATE INDEX memories_active_by_session ON memories (session_id, namespace, occurred_at, id)
    WHERE system = 'episodic' AND status = 'active' AND session_id IS NOT NULL;

-- Active events only: a forgotten event holds no one's text (store/memories.py).
UPDATE memories SET preceding = (
    SELECT group_concat(p.content, char(10)) FROM (
        SELECT content FROM memories p
        WHERE p.session_id = memories.session_id AND p.namespace = memories.namespace
          AND p.system = 'episodic' AND p.status = 'active'
          AND (p.occurred_at, p.id) < (memories.occurred_at, memories.id)
        ORDER BY p.occurred_at DESC, p.id DESC LIMIT 2
    ) p
)
WHERE system = 'episodic' AND status = 'active' AND session_id IS NOT NULL;

CREATE VIRTUAL TABLE memories_fts USING fts5 (
    content,
    tags,
    preceding,
    content = 'memories',
    content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
INSERT INTO memories_fts (memories_fts) VALUES ('rebuild');

CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts (rowid, content, tags, preceding)
    VALUES (new.id, new.content, new.tags, new.preceding);
END;

CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, content, tags, preceding)
    VALUES ('delete', old.id, old.content, old.tags, old.preceding);
END;

CREATE TRIGGER memories_fts_update AFTER UPDATE OF content, tags, preceding ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, content, tags, preceding)
    VALUES ('delete', old.id, old.content, old.tags, old.preceding);
    INSERT INTO memories_fts (rowid, content, tags, preceding)
    VALUES (new.id, new.content, new.tags, new.preceding);
END;
