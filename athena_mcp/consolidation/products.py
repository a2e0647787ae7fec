"""Writing a plan's products: facts, learned procedures and their evidence, waiting sessions, session
digests and name pairs, each linked to the events it came from. Runs inside the caller's transaction,
which also marks the events, so products and marks are committed together or not at all."""

from __future__ import annotations

import numpy as np

from athena_mcp.consolidation.planner import Plan
from athena_mcp.models import EmbeddingIdentity
from athena_mcp.store import consolidation as store
from athena_mcp.store import memories, procedures, vectors
from athena_mcp.store.database import Transaction
from athena_mcp.store.memories import NewMemory

PRODUCT_TAG = "consolidated"


async def write_products(
    tx: Transaction, plan: Plan, run_id: int, identity: EmbeddingIdentity, now: float
) -> None:
    # Provenance is gathered and written at the end, in one statement: written product by product,
    # its round trips were most of a 10k-event run.
    links: list[store.Link] = []
    await _write_facts(tx, plan, links, identity)
    await _write_procedures(tx, plan, links)
    await store.save_candidates(tx, plan.new_candidates)
    await store.delete_candidates(tx, plan.used_candidates)
    await _write_digests(tx, plan, links)
    pair_ids = await store.add_pairs(tx, plan.pairs, now)
    links += [
        ("graph_candidate", pair_ids[(pair.namespace, pair.source_name, pair.target_name)], event_id)
        for pair in plan.pairs
        for event_id in pair.event_ids
    ]
    await store.add_provenance(tx, links, run_id)


async def _write_facts(
    tx: Transaction, plan: Plan, links: list[store.Link], identity: EmbeddingIdentity
) -> None:
    for fact in plan.facts:
        fact_id = fact.existing_fact_id
        if fact_id is None:
            fact_id, created = await _find_or_add(
                tx, fact.namespace, "fact", fact.content, (PRODUCT_TAG, fact.validation), fact.importance
            )
            if created:
                await _store_vector(tx, fact_id, fact.vector, fact.namespace, identity)
        links += [("memory", fact_id, event_id) for event_id in fact.event_ids]


async def _write_procedures(tx: Transaction, plan: Plan, links: list[store.Link]) -> None:
    for proposal in plan.procedures:
        name = proposal.name
        suffix = 2
        while await procedures.name_taken(tx, proposal.namespace, name):
            name = f"{proposal.name} ({suffix})"
            suffix += 1
        mean = proposal.step_embeddings.mean(axis=0)
        procedure_id = await procedures.insert_procedure(
            tx,
            procedures.NewProcedure(
                namespace=proposal.namespace,
                name=name,
                goal=proposal.goal,
                steps=proposal.steps,
                tags=(PRODUCT_TAG,),
                origin="learned",
                embedding=(mean / (np.linalg.norm(mean) or 1.0)).astype(np.float32),
                step_embeddings=proposal.step_embeddings,
            ),
        )
        if proposal.validation != "unvalidated":
            await procedures.set_validation(tx, procedure_id, proposal.validation)
        for session in proposal.evidence:
            await _add_evidence(tx, procedure_id, session, links)
    for evidence in plan.evidence:
        await _add_evidence(tx, evidence.procedure_id, evidence.session, links)


async def _add_evidence(
    tx: Transaction, procedure_id: int, session: store.SessionSteps, links: list[store.Link]
) -> None:
    await procedures.add_run(
        tx,
        procedure_id,
        source="session",
        outcome=session.outcome,
        duration=session.duration,
        session_id=session.session_id,
        event_ids=session.event_ids,
    )
    links += [("procedure", procedure_id, event_id) for event_id in session.event_ids]


async def _write_digests(tx: Transaction, plan: Plan, links: list[store.Link]) -> None:
    new_digests = []
    for digest in plan.digests:
        digest_id, created = await _find_or_add(
            tx,
            digest.namespace,
            "episode",
            digest.content,
            (PRODUCT_TAG, "digest"),
            digest.importance,
            session_id=digest.session_id,
            occurred_at=digest.occurred_at,
        )
        if created:
            new_digests.append(digest_id)
        links += [("memory", digest_id, event_id) for event_id in digest.event_ids]
    # Embedded by the vector backlog worker, outside the run: digests are new text.
    await vectors.queue_for_embedding(tx, new_digests)


async def _store_vector(
    tx: Transaction, memory_id: int, vector: np.ndarray | None, namespace: str, identity: EmbeddingIdentity
) -> None:
    if vector is None:
        await vectors.queue_for_embedding(tx, [memory_id])
        return
    await vectors.write_vectors(
        tx, [vectors.VectorRow(memory_id, vector, namespace, "semantic", True)], identity
    )


async def _find_or_add(
    tx: Transaction,
    namespace: str,
    kind: str,
    content: str,
    tags: tuple[str, ...],
    importance: float,
    *,
    session_id: str | None = None,
    occurred_at: float | None = None,
) -> tuple[int, bool]:
    """The active semantic memory with this text in the namespace (identical texts are one memory
    there, by a unique index), or a new one made by consolidation; (id, whether it is new)."""
    existing = await memories.active_fact_with_content(tx, namespace, content)
    if existing is not None:
        return existing, False
    [memory_id] = await memories.insert_memories(
        tx,
        [
            NewMemory(
                system="semantic",
                namespace=namespace,
                kind=kind,
                content=content,
                tags=tags,
                importance=importance,
                source="consolidation",
                session_id=session_id,
                occurred_at=occurred_at,
            )
        ],
    )
    return memory_id, True
