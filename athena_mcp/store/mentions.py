"""SQL of the links from memories to the names they mention (graph_mentions) and of their upkeep.

Links are derived: the backlog (filled by triggers on every write of a memory's text) says which
memories need their names extracted, and the scan table which known names have been searched for
in the memories written before they became known.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from athena_mcp.store import graph
from athena_mcp.store.database import Transaction
from athena_mcp.store.graph import Reader
from athena_mcp.store.graph_time import entity_alive


@dataclass(frozen=True)
class PendingText:
    memory_id: int
    namespace: str
    content: str


async def stale_namespaces(db: Reader) -> list[str]:
    """Namespaces whose graph changed since their known names were last searched for."""
    rows = await db.fetchall(
        "SELECT g.namespace FROM graph_state g LEFT JOIN graph_mention_state s USING (namespace) "
        "WHERE g.revision > coalesce(s.revision, 0) ORDER BY g.namespace"
    )
    return [row[0] for row in rows]


async def known_names(db: Reader, namespace: str) -> set[str]:
    """The normalised names and aliases of the namespace's entities alive now."""
    alive, params = entity_alive("e", None)
    rows = await db.fetchall(
        f"SELECT e.norm_name FROM graph_entities e WHERE e.namespace = ? AND {alive} "
        f"UNION SELECT a.norm_alias FROM graph_aliases a JOIN graph_entities e ON e.id = a.entity_id "
        f"WHERE a.namespace = ? AND {alive}",
        [namespace, *params, namespace, *params],
    )
    return {row[0] for row in rows}


async def scanned_names(tx: Transaction, namespace: str) -> set[str]:
    rows = await tx.fetchall("SELECT norm_name FROM graph_mention_scans WHERE namespace = ?", (namespace,))
    return {row[0] for row in rows}


async def set_scanned(tx: Transaction, namespace: str, added: Iterable[str], dropped: Iterable[str]) -> None:
    await tx.executemany(
        "DELETE FROM graph_mention_scans WHERE namespace = ? AND norm_name = ?",
        [(namespace, name) for name in dropped],
    )
    await tx.executemany(
        "INSERT OR IGNORE INTO graph_mention_scans (namespace, norm_name) VALUES (?, ?)",
        [(namespace, name) for name in added],
    )


async def set_scanned_revision(tx: Transaction, namespace: str, revision: int) -> None:
    await tx.execute(
        "INSERT INTO graph_mention_state (namespace, revision) VALUES (?, ?) "
        "ON CONFLICT (namespace) DO UPDATE SET revision = excluded.revision",
        (namespace, revision),
    )


async def texts_with_words(tx: Transaction, namespace: str, words: Sequence[str]) -> list[PendingText]:
    """Memories of the namespace (any status) whose text may contain the words in this order: the
    lexical index's phrase match, which stems, so callers confirm each one."""
    # Not the preceding-text column: a name said in the turn before is not mentioned by this one.
    phrase = '{content tags} : "' + " ".join(word.replace('"', '""') for word in words) + '"'
    rows = await tx.fetchall(
        "SELECT m.id, m.namespace, m.content FROM memories_fts f CROSS JOIN memories m ON m.id = f.rowid "
        "WHERE memories_fts MATCH ? AND m.namespace = ?",
        (phrase, namespace),
    )
    return [PendingText(int(row[0]), row[1], row[2]) for row in rows]


async def pending_texts(tx: Transaction, limit: int) -> list[PendingText]:
    """Backlog memories, oldest first, of namespaces whose searched-for names match their graph."""
    rows = await tx.fetchall(
        "SELECT m.id, m.namespace, m.content FROM graph_mention_backlog b "
        "JOIN memories m ON m.id = b.memory_id "
        "WHERE coalesce((SELECT revision FROM graph_state g WHERE g.namespace = m.namespace), 0) "
        "<= coalesce((SELECT revision FROM graph_mention_state s WHERE s.namespace = m.namespace), 0) "
        "ORDER BY b.memory_id LIMIT ?",
        (limit,),
    )
    return [PendingText(int(row[0]), row[1], row[2]) for row in rows]


async def replace_mentions(tx: Transaction, linked: Mapping[int, tuple[str, set[str]]]) -> None:
    """Set each memory's mentions (id -> (namespace, names)) and take it off the backlog."""
    ids = json.dumps(list(linked))
    await tx.execute("DELETE FROM graph_mentions WHERE memory_id IN (SELECT value FROM json_each(?))", (ids,))
    await tx.executemany(
        "INSERT INTO graph_mentions (memory_id, namespace, norm_name) VALUES (?, ?, ?)",
        [(memory_id, namespace, name) for memory_id, (namespace, names) in linked.items() for name in names],
    )
    await tx.execute(
        "DELETE FROM graph_mention_backlog WHERE memory_id IN (SELECT value FROM json_each(?))", (ids,)
    )


async def add_mentions(tx: Transaction, namespace: str, name: str, memory_ids: Iterable[int]) -> None:
    await tx.executemany(
        "INSERT OR IGNORE INTO graph_mentions (memory_id, namespace, norm_name) VALUES (?, ?, ?)",
        [(memory_id, namespace, name) for memory_id in memory_ids],
    )


async def backlog_size(db: Reader) -> int:
    row = await db.fetchone("SELECT count(*) FROM graph_mention_backlog")
    return 0 if row is None else int(row[0])


# Reads for recall's expansion.


@dataclass(frozen=True)
class NamedEntity:
    id: int
    name: str
    names: frozenset[str]  # its normalised name and aliases


async def names_mentioned(db: Reader, memory_ids: Sequence[int]) -> dict[int, tuple[str, list[str]]]:
    """memory id -> (namespace, the normalised names it mentions), for the memories with any."""
    rows = await db.fetchall(
        "SELECT memory_id, namespace, norm_name FROM graph_mentions "
        "WHERE memory_id IN (SELECT value FROM json_each(?)) ORDER BY memory_id, norm_name",
        (json.dumps(list(memory_ids)),),
    )
    found: dict[int, tuple[str, list[str]]] = {}
    for row in rows:
        found.setdefault(int(row[0]), (row[1], []))[1].append(row[2])
    return found


async def entities_named(db: Reader, namespace: str, names: Iterable[str]) -> dict[str, NamedEntity]:
    """normalised name -> the entity alive now that has it as name or alias, with all its names."""
    owners = await graph.resolve(db, namespace, names)
    ids = json.dumps(sorted(set(owners.values())))
    entity_rows = await db.fetchall(
        "SELECT id, name, norm_name FROM graph_entities WHERE id IN (SELECT value FROM json_each(?))", (ids,)
    )
    alias_rows = await db.fetchall(
        "SELECT entity_id, norm_alias FROM graph_aliases WHERE entity_id IN (SELECT value FROM json_each(?))",
        (ids,),
    )
    every: dict[int, set[str]] = {int(row[0]): {row[2]} for row in entity_rows}
    for row in alias_rows:
        every[int(row[0])].add(row[1])
    by_id = {
        int(row[0]): NamedEntity(int(row[0]), row[1], frozenset(every[int(row[0])])) for row in entity_rows
    }
    return {name: by_id[entity_id] for name, entity_id in owners.items()}


async def mention_counts(db: Reader, namespace: str, names: Iterable[str]) -> dict[str, int]:
    """How many memories (any status) mention each name."""
    rows = await db.fetchall(
        "SELECT norm_name, count(*) FROM graph_mentions WHERE namespace = ? "
        "AND norm_name IN (SELECT value FROM json_each(?)) GROUP BY norm_name",
        (namespace, json.dumps(sorted(set(names)))),
    )
    return {row[0]: int(row[1]) for row in rows}


async def memories_mentioning(
    db: Reader, namespace: str, names: Iterable[str], per_name: int
) -> dict[str, list[int]]:
    """name -> the newest `per_name` memories that mention it, newest first."""
    rows = await db.fetchall(
        "SELECT norm_name, memory_id FROM (SELECT norm_name, memory_id, row_number() OVER "
        "(PARTITION BY norm_name ORDER BY memory_id DESC) AS place FROM graph_mentions "
        "WHERE namespace = ? AND norm_name IN (SELECT value FROM json_each(?))) WHERE place <= ? "
        "ORDER BY norm_name, memory_id DESC",
        (namespace, json.dumps(sorted(set(names))), per_name),
    )
    found: dict[str, list[int]] = {}
    for row in rows:
        found.setdefault(row[0], []).append(int(row[1]))
    return found


async def memory_count(db: Reader, namespace: str) -> int:
    """How many memories the namespace holds (any status): the document count of the names' IDF."""
    row = await db.fetchone("SELECT count(*) FROM memories WHERE namespace = ?", (namespace,))
    return 0 if row is None else int(row[0])
