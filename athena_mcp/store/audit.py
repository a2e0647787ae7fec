"""The audit trail: who changed what, recorded by the database's own triggers (schema/0009_audit.sql).

Each write transaction names its caller in `write_context` as it begins and clears it before it
commits; the triggers copy that into every audit row and every new memory's provenance. Nothing
here writes `audit_log`: the triggers do, so no write path can forget to.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from athena_mcp.caller import Caller

if TYPE_CHECKING:  # database.py imports this module for the functions its connections register
    from athena_mcp.store.database import Database, Row

DIGEST_HEX_DIGITS = 16

SET_WRITER = "UPDATE write_context SET actor = ?, tool = ?, origin = ? WHERE id = 1"
CLEAR_WRITER = "UPDATE write_context SET actor = NULL, tool = NULL, origin = NULL WHERE id = 1"


def digest(value: str | None) -> str | None:
    """SHA-256 of a row's fields as JSON, shortened: enough to see a change, too little to read one."""
    if value is None:
        return None
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:DIGEST_HEX_DIGITS]


def register_functions(connection: Any) -> None:
    """The SQL functions the schema's triggers call, on a freshly opened driver connection."""
    connection.create_function("athena_digest", 1, digest, deterministic=True)


def writer_params(caller: Caller) -> tuple[str, str | None, str]:
    return (caller.actor, caller.tool, caller.origin)


@dataclass(frozen=True)
class AuditFilter:
    namespace: str | None = None
    subject: str | None = None
    subject_id: int | None = None
    since: float | None = None
    after_id: int = 0
    limit: int = 100

    def clause(self) -> tuple[str, list[Any]]:
        conditions: list[str] = ["id > ?"]
        params: list[Any] = [self.after_id]
        for column, value in (
            ("namespace", self.namespace),
            ("subject", self.subject),
            ("subject_id", self.subject_id),
        ):
            if value is not None:
                conditions.append(f"{column} = ?")
                params.append(value)
        if self.since is not None:
            conditions.append("at >= ?")
            params.append(self.since)
        return " AND ".join(conditions), params


async def audit_entries(db: Database, audit_filter: AuditFilter) -> list[Row]:
    """The newest `limit` rows that pass the filter, oldest first (as a log reads)."""
    where, params = audit_filter.clause()
    rows = await db.fetchall(
        "SELECT id, at, actor, tool, namespace, subject, subject_id, change, before_digest, after_digest "
        f"FROM audit_log WHERE {where} ORDER BY id DESC LIMIT ?",
        [*params, audit_filter.limit],
    )
    return rows[::-1]
