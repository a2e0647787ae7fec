"""A namespace's search copy: one slot per procedure, updated in place, ranking only what it may."""

from __future__ import annotations

import numpy as np

from athena_mcp.retrieval.procedure_mirror import INITIAL_CAPACITY, NamespaceCopy, ProcedureMirror
from athena_mcp.store.procedures import NewProcedure, insert_procedure
from tests.conftest import services_for

DIMENSION = 8


def unit(index: int) -> np.ndarray:
    vector = np.zeros(DIMENSION, dtype=np.float32)
    vector[index] = 1.0
    return vector


def change(
    procedure_id: int,
    revision: int,
    vector: np.ndarray | None,
    status: str = "active",
    confidence: float = 0.5,
    last_used_at: float | None = None,
) -> tuple[object, ...]:
    """A row as procedures.changes_since returns it."""
    embedding = None if vector is None else np.asarray(vector, dtype=np.float32).tobytes()
    return (procedure_id, revision, status, confidence, last_used_at, 1000.0 + procedure_id, embedding)


def test_a_changed_procedure_keeps_its_slot_and_takes_its_new_state():
    copy = NamespaceCopy(DIMENSION)
    copy.apply(change(1, 1, unit(0)))
    copy.apply(change(2, 2, None))  # saved while the model loaded
    copy.apply(change(1, 3, unit(1), confidence=0.75, last_used_at=5000.0))
    copy.apply(change(2, 4, unit(0)))
    assert len(copy) == 2 and copy.revision == 4
    assert copy.nearest(unit(0), 5, include_retired=False) == [(2, 1.0)]
    standing = copy.standing(1)
    assert standing is not None and (standing.confidence, standing.last_touched) == (0.75, 5000.0)
    never_run = copy.standing(2)
    assert never_run is not None and never_run.last_touched == 1002.0  # its creation
    assert copy.standing(3) is None


def test_nearest_leaves_out_retired_unrelated_and_foreign_sized_vectors():
    copy = NamespaceCopy(DIMENSION)
    copy.apply(change(1, 1, 0.5 * unit(0) + unit(1)))
    copy.apply(change(2, 2, unit(0), status="retired"))
    copy.apply(change(3, 3, -unit(0)))  # points away from the query
    copy.apply(change(4, 4, np.ones(DIMENSION * 2)))  # another model's, after a reembed
    query = unit(0)
    assert [pid for pid, _ in copy.nearest(query, 10, include_retired=False)] == [1]
    assert [pid for pid, _ in copy.nearest(query, 10, include_retired=True)] == [2, 1]
    assert copy.nearest(np.ones(DIMENSION + 1, dtype=np.float32), 10, include_retired=True) == []


def test_the_copy_grows_past_its_first_capacity():
    copy = NamespaceCopy(DIMENSION)
    count = INITIAL_CAPACITY * 3 + 1
    for procedure_id in range(1, count + 1):
        copy.apply(change(procedure_id, procedure_id, unit(procedure_id % DIMENSION)))
    assert len(copy) == count
    found = copy.nearest(unit(3), count, include_retired=False)
    assert {pid for pid, _ in found} == {pid for pid in range(1, count + 1) if pid % DIMENSION == 3}


async def test_a_namespace_without_procedures_is_not_kept(settings, minilm):
    async with services_for(settings, minilm) as services:
        mirror = ProcedureMirror(services.database, DIMENSION)
        empty = await mirror.view("nothing-here")
        async with services.database.transaction() as tx:
            await insert_procedure(tx, NewProcedure("nothing-here", "First", "A goal", ("A step",)))
        later = await mirror.view("nothing-here")
        again = await mirror.view("nothing-here")
    assert len(empty) == 0 and len(later) == 1
    assert again is later and empty is not later
