-- remember's near-duplicate check, owed by a fact stored before its vector existed (the model still
-- loading past the wait, or down): done when the vector backlog computes the vector, and what it
-- finds is reported once, on the next answer of a call in the fact's namespace. Reported rows stay,
-- so that a pair of twins both stored without vectors is reported once, not once from each side.
CREATE TABLE duplicate_checks (
    memory_id  INTEGER PRIMARY KEY REFERENCES memories (id) ON DELETE CASCADE,
    namespace  TEXT NOT NULL,
    similar_id INTEGER REFERENCES memories (id) ON DELETE CASCADE,  -- NULL: owed, not yet done
    similarity REAL,
    reported   INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX duplicate_checks_unreported ON duplicate_checks (namespace)
    WHERE similar_id IS NOT NULL AND reported = 0;
