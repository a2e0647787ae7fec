"""Mixed writes through MCP, each remembered with what it should have stored, and their verification.

Every operation carries a unique token in its text. An operation is acknowledged (the tool answered
with success: it must be there afterwards, exactly), failed (the tool answered with an error: it must
have left nothing) or in flight (no answer, e.g. the server was killed: all of it or none of it).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from chaos.observe import NAMESPACE, current, observe, relations
from chaos.process import ChaosServer, ToolFailed
from chaos.report import ScenarioReport, error_kind

WEIGHTS = {
    "remember": 5,
    "record_event": 4,
    "record_events": 3,
    "create_entities": 3,
    "add_observations": 3,
    "create_relations": 2,
    "merge_entities": 1,
    "consolidate": 1,
}


@dataclass
class Op:
    kind: str
    token: str
    arguments: dict[str, Any]
    status: str = "in flight"  # acknowledged | failed | in flight
    result: dict[str, Any] = field(default_factory=dict)
    entities: tuple[str, ...] = ()  # the entities it touches, locked while it runs


@dataclass
class Entity:
    name: str
    pool: str  # "relations" or "merges": merges never touch entities with relations
    observations: set[str]
    absorbed_into: str | None = None
    pending: list[Op] = field(default_factory=list)  # unacknowledged adds and merges, not yet resolved


class Workload:
    """The operations sent so far and the state they imply; `step` sends one, `verify` checks them."""

    def __init__(self, rng: random.Random, prefix: str) -> None:
        self.rng = rng
        self.prefix = prefix
        self.ops: list[Op] = []
        self.entities: dict[str, Entity] = {}
        self.relations: set[tuple[str, str, str]] = set()
        self.busy: set[str] = set()  # entities an operation in flight is using
        self._count = 0

    def _token(self) -> str:
        self._count += 1
        return f"{self.prefix}x{self._count}"

    def _free(self, pool: str | None = None) -> list[Entity]:
        return [
            e
            for e in self.entities.values()
            if e.absorbed_into is None
            and e.name not in self.busy
            and not e.pending
            and (pool is None or e.pool == pool)
        ]

    def next_op(self) -> Op:
        """A random operation that the current model can check afterwards; its entities are taken
        (out of other new operations) from now until it is answered."""
        op = self._draw()
        self.busy |= set(op.entities)
        return op

    def _draw(self) -> Op:
        kind = self.rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
        token = self._token()
        words = f"{token} {self.rng.choice(['alpha', 'beta', 'gamma', 'delta'])}"
        if kind == "remember":
            return Op(kind, token, {"content": f"fact {words}", "tags": [f"t{token}", "chaos"]})
        if kind == "record_event":
            return Op(
                kind, token, {"content": f"event {words}", "session_id": f"s{token}", "tags": [f"t{token}"]}
            )
        if kind == "record_events":
            events = [
                {"content": f"step {n} {words}", "session_id": f"s{token}"}
                for n in range(self.rng.randint(2, 6))
            ]
            return Op(kind, token, {"events": events})
        if kind == "consolidate":
            return Op(kind, token, {"settle_seconds": 0, "ask_model": False})
        rel_pool, merge_pool = self._free("relations"), self._free("merges")
        if kind == "add_observations" and (free := self._free()):
            target = self.rng.choice(free)
            contents = [f"obs {token} {n}" for n in range(2)]
            return Op(
                kind,
                token,
                {"observations": [{"entityName": target.name, "contents": contents}]},
                entities=(target.name,),
            )
        if kind == "create_relations" and len(rel_pool) >= 3:
            a, b, c = self.rng.sample(rel_pool, 3)
            relations = [
                {"from": a.name, "to": b.name, "relationType": f"r{token}"},
                {"from": b.name, "to": c.name, "relationType": f"r{token}"},
            ]
            return Op(kind, token, {"relations": relations}, entities=(a.name, b.name, c.name))
        if kind == "merge_entities" and len(merge_pool) >= 2:
            absorbed, survivor = self.rng.sample(merge_pool, 2)
            return Op(
                kind,
                token,
                {"entityName": absorbed.name, "into": survivor.name},
                entities=(absorbed.name, survivor.name),
            )
        names = [f"E{token}{side}" for side in "ab"]
        entities = [
            {"name": name, "entityType": "thing", "observations": [f"obs {name} {n}" for n in range(2)]}
            for name in names
        ]
        return Op("create_entities", token, {"entities": entities})

    async def send(self, server: ChaosServer, op: Op, report: ScenarioReport) -> None:
        """Send one operation and record its fate; an exception other than a tool error (the server died,
        the call was cancelled) leaves it in flight and propagates."""
        self.ops.append(op)
        report.tried += 1
        try:
            op.result = await server.call(op.kind, {**op.arguments, "namespace": NAMESPACE})
        except ToolFailed as exc:
            op.status = "failed"
            report.errors[error_kind(exc.text)] += 1
        except BaseException:
            self._hold(op)
            raise
        else:
            op.status = "acknowledged"
            report.acknowledged += 1
            self._apply(op)
        finally:
            self.busy -= set(op.entities)

    def _hold(self, op: Op) -> None:
        # Entities an unresolved operation touched stay out of new operations until it is resolved.
        if op.kind == "create_entities":
            for name, pool in zip(self.created(op), ("relations", "merges"), strict=True):
                self.entities[name] = Entity(name, pool, set(), pending=[op])
        for name in op.entities:
            self.entities[name].pending.append(op)

    @staticmethod
    def created(op: Op) -> list[str]:
        return [e["name"] for e in op.arguments["entities"]]

    def _apply(self, op: Op) -> None:
        """The state an operation left, once it is known to be stored."""
        args = op.arguments
        if op.kind == "create_entities":
            for e, pool in zip(args["entities"], ("relations", "merges"), strict=True):
                self.entities[e["name"]] = Entity(e["name"], pool, set(e["observations"]))
        elif op.kind == "add_observations":
            for item in args["observations"]:
                self.entities[item["entityName"]].observations |= set(item["contents"])
        elif op.kind == "create_relations":
            self.relations |= {(r["from"], r["to"], r["relationType"]) for r in args["relations"]}
        elif op.kind == "merge_entities":
            absorbed, survivor = self.entities[args["entityName"]], self.entities[args["into"]]
            absorbed.absorbed_into = survivor.name
            survivor.observations |= absorbed.observations

    async def verify(self, server: ChaosServer, report: ScenarioReport, ops: list[Op]) -> None:
        """Acknowledged: present exactly. Failed: absent. In flight: all or nothing, then resolved.

        In-flight operations are resolved first: one found stored (a merge) changes how the
        acknowledged operations before it read back, and the model must know of it by then."""
        for op in sorted(ops, key=lambda op: op.status != "in flight"):
            seen = await observe(self, server, op)
            if op.status == "acknowledged" and seen != "present":
                report.lost += 1
                report.problem(f"acknowledged {op.kind} {op.token} is {seen}")
            elif op.status == "failed" and seen != "absent":
                report.half_written += 1
                report.problem(f"failed {op.kind} {op.token} is {seen}")
            elif op.status == "in flight":
                if seen not in ("present", "absent"):
                    report.half_written += 1
                    report.problem(f"unacknowledged {op.kind} {op.token} is {seen}")
                self._resolve(op, seen == "present")

    def _resolve(self, op: Op, stored: bool) -> None:
        op.status = "acknowledged" if stored else "absent"
        names = self.created(op) if op.kind == "create_entities" else list(op.entities)
        for name in names:
            self.entities[name].pending.remove(op)
        if op.kind == "create_entities" and not stored:
            for name in names:
                del self.entities[name]
        elif stored:
            self._apply(op)

    async def verify_all(self, server: ChaosServer, report: ScenarioReport) -> None:
        """Every acknowledged operation again, and the whole graph against the model."""
        await self.verify(server, report, [op for op in self.ops if op.status == "acknowledged"])
        for entity in self.entities.values():
            found = await current(server, entity.name)
            expected = self.final(entity.name)
            if found is None or found[0] != expected.name or found[1] != expected.observations:
                report.lost += 1
                report.problem(
                    f"entity {entity.name}: expected {sorted(expected.observations)}, found {found}"
                )
        names = sorted({name for triple in self.relations for name in triple[:2]})
        found_relations: set[tuple[str, str, str]] = set()
        for start in range(0, len(names), 50):
            found_relations |= await relations(server, names[start : start + 50])
        for triple in sorted(self.relations - found_relations):
            report.lost += 1
            report.problem(f"relation {triple} is missing")

    def final(self, name: str) -> Entity:
        entity = self.entities[name]
        while entity.absorbed_into is not None:
            entity = self.entities[entity.absorbed_into]
        return entity
