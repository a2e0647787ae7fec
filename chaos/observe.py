"""What became of one operation, read back through a server over MCP: present, absent or partly there."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chaos.process import ChaosServer

if TYPE_CHECKING:
    from chaos.workload import Op, Workload

NAMESPACE = "chaos"  # where every chaos operation writes


async def observe(workload: Workload, server: ChaosServer, op: Op) -> str:
    """present, absent, or what was found of it."""
    args, token = op.arguments, op.token
    if op.kind == "remember":
        found = await server.call(
            "recall", {"query": token, "namespace": NAMESPACE, "memory_types": ["semantic"]}
        )
        hits = [h for h in found["results"] if token in h["content"].split()]
        if not hits:
            return "absent"
        ok = (
            len(hits) == 1
            and hits[0]["content"] == args["content"]
            and set(hits[0]["tags"]) == set(args["tags"])
        )
        if op.result:  # answered (an unanswered one resolved as stored has no ids to compare)
            ok = ok and hits[0]["id"] == op.result["id"]
        return "present" if ok else f"partial: {hits}"
    if op.kind in ("record_event", "record_events"):
        wanted = [args] if op.kind == "record_event" else args["events"]
        page = await server.call(
            "timeline", {"session_id": f"s{token}", "namespace": NAMESPACE, "limit": 100}
        )
        events = page["events"]
        if not events:
            return "absent"
        ok = [e["content"] for e in events] == [w["content"] for w in wanted]
        ok = ok and all(
            set(e["tags"]) == set(w.get("tags", [])) for e, w in zip(events, wanted, strict=False)
        )
        if op.result:
            ok = ok and [e["id"] for e in events] == op.result["ids"]
        return "present" if ok else f"partial: {len(events)} of {len(wanted)} events"
    if op.kind == "consolidate":
        # Only its run record is visible through MCP; what it derived is checked by the file checks.
        if op.status != "acknowledged" or op.result.get("run_id") is None:
            return "absent" if op.status != "acknowledged" else "present"
        runs = (await server.call("consolidation_status", {"namespace": NAMESPACE}))["runs"]
        ids = [run["id"] for run in runs]
        return (
            "present" if op.result["run_id"] in ids or min(ids, default=0) > op.result["run_id"] else "absent"
        )
    if op.kind == "create_entities":
        names = workload.created(op)
        held_now = [await current(server, name) for name in names]
        # A merge since may have folded one into another entity: it answers under that name.
        final = [workload.final(name).name if name in workload.entities else name for name in names]
        indexed = [await searched(server, name) for name in names]
        if all(f is None for f in held_now) and not any(indexed):
            return "absent"
        whole = all(
            f is not None and f[0] == name and name in hits
            for f, name, hits in zip(held_now, final, indexed, strict=True)
        )
        whole = whole and all(
            f is not None and set(e["observations"]) <= f[1]
            for f, e in zip(held_now, args["entities"], strict=True)
        )
        return "present" if whole else f"partial: {held_now}, search {indexed}"
    if op.kind == "add_observations":
        [item] = args["observations"]
        target = await current(server, item["entityName"])
        held = set(item["contents"]) & (target[1] if target else set())
        return "absent" if not held else "present" if held == set(item["contents"]) else f"partial: {held}"
    if op.kind == "create_relations":
        triples = {(r["from"], r["to"], r["relationType"]) for r in args["relations"]}
        held = triples & await relations(server, list(op.entities))
        return "absent" if not held else "present" if held == triples else f"partial: {held}"
    absorbed, survivor = args["entityName"], args["into"]
    now = await current(server, absorbed)
    if now is not None and now[0] == absorbed:
        return "absent"
    moved = workload.entities[absorbed].observations
    merged = now is not None and now[0] == workload.final(survivor).name and moved <= now[1]
    return "present" if merged else f"partial: {absorbed} now {now}"


async def current(server: ChaosServer, name: str) -> tuple[str, set[str]] | None:
    """The name an entity (or alias) resolves to now and its current observations."""
    found = await server.call("open_nodes", {"names": [name], "namespace": NAMESPACE})
    if not found["entities"]:
        return None
    [entity] = found["entities"]
    return entity["name"], set(entity["observations"])


async def searched(server: ChaosServer, name: str) -> set[str]:
    """The entities search_nodes finds by this name (its search row, or its survivor's)."""
    found = await server.call("search_nodes", {"query": name, "namespace": NAMESPACE})
    return {e["name"] for e in found["entities"]}


async def relations(server: ChaosServer, names: list[str]) -> set[tuple[str, str, str]]:
    found = await server.call("open_nodes", {"names": names, "namespace": NAMESPACE})
    return {(r["from"], r["to"], r["relationType"]) for r in found["relations"]}
