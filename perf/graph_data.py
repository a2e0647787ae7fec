"""A synthetic knowledge graph shaped like a real one, for perf/bench_graph.py.

Entities come in groups of about 50 (a team with its projects, documents, tools and places) and
have typed, readable names and two to four observations. Relations mostly stay inside a group;
each entity's share of them follows a heavy-tailed (Pareto) weight, so a few hubs have hundreds of
relations and most have a handful, as in graphs that people and agents build.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

GROUP_SIZE = 50
INSIDE_GROUP = 0.85  # share of relations whose ends are in the same group
TYPES = {"person": 50, "project": 15, "document": 15, "tool": 10, "place": 5, "organisation": 5}
FIRST = """Ada Alan Anna Boris Carla Chen Dara Elif Emil Farah Gita Hugo Ines Ivan Jana Kofi Lena Luis Mara
Nils Noor Omar Pia Quinn Rosa Sami Tara Udo Vera Wen Xena Yusuf Zoe Aiko Bram Cleo Dmitri""".split()
LAST = """Abe Brandt Costa Diaz Eng Fox Gupta Haas Ito Jensen Kim Lund Moreau Nakamura Okafor Park Quint Rossi
Silva Tanaka Ueda Vogel Walsh Xu Yilmaz Zhou Berg Castro Dubois Evans Fischer""".split()
CODENAMES = """Orion Lyra Vega Atlas Nova Pulsar Quasar Helix Zephyr Aurora Cobalt Ember Falcon Granite Harbor
Indigo Juniper Kestrel Lumen Meridian Nimbus Onyx Prism Quartz Raven Sierra Tundra Umbra Vertex""".split()
THINGS = {
    "project": "API Dashboard Pipeline Mobile-App Migration Search Billing Onboarding Gateway".split(),
    "document": "design-doc RFC runbook postmortem roadmap spec handbook retro-notes".split(),
    "tool": "Postgres Kafka Redis Grafana Terraform Airflow Spark Jenkins Sentry Vault".split(),
    "place": "Berlin Lisbon Osaka Nairobi Toronto Austin Krakow Lyon Seoul Quito".split(),
    "organisation": "Acme Globex Initech Umbrella Hooli Stark Wayne Tyrell Soylent Cyberdyne".split(),
}
OBSERVATIONS = {
    "person": [
        "job title: {role}",
        "based in {place}",
        "prefers {lang} for scripting",
        "joined in {year}",
        "owns the {thing} on-call rotation",
    ],
    "project": ["status: {status}", "written mostly in {lang}", "deadline {month} {year}", "budget approved"],
    "document": ["last revised {month} {year}", "reviewed by the {role} guild", "status: {status}"],
    "tool": ["version pinned since {year}", "hosted in {place}", "used for {thing} jobs"],
    "place": ["office opened in {year}", "time zone differs from HQ", "hosts the {thing} team"],
    "organisation": ["partner since {year}", "contract renews in {month}", "headquartered in {place}"],
}
WORDS = {
    "role": "engineer designer manager analyst researcher writer operator architect".split(),
    "place": THINGS["place"],
    "lang": "Python Go Rust TypeScript Kotlin Java Elixir Scala".split(),
    "year": [str(year) for year in range(2012, 2026)],
    "thing": "billing search payments storage ingestion reporting security release".split(),
    "status": "active paused shipped planned blocked".split(),
    "month": "January March May July September November".split(),
}
# Relation types by (source type, target type); other pairs are related_to.
RELATION_TYPES = {
    ("person", "person"): ("knows", "reports_to", "mentors"),
    ("person", "project"): ("works_on", "leads"),
    ("person", "document"): ("wrote", "reviewed"),
    ("person", "tool"): ("uses",),
    ("person", "place"): ("lives_in",),
    ("person", "organisation"): ("works_for",),
    ("project", "tool"): ("depends_on",),
    ("project", "document"): ("documented_in",),
    ("document", "project"): ("describes",),
}


@dataclass(frozen=True)
class Entity:
    name: str
    entity_type: str
    observations: tuple[str, ...]
    group: int


@dataclass(frozen=True)
class GraphData:
    entities: list[Entity]
    relations: list[tuple[str, str, str]]  # (from, to, relationType)


def generate(entities: int, relations: int, seed: int = 5) -> GraphData:
    rng = random.Random(seed)
    made = _entities(rng, entities)
    return GraphData(made, _relations(rng, made, relations))


def _entities(rng: random.Random, count: int) -> list[Entity]:
    taken: set[str] = set()
    types, weights = list(TYPES), list(TYPES.values())
    made = []
    for number in range(count):
        group = number // GROUP_SIZE
        entity_type = rng.choices(types, weights)[0]
        name = _unique(_name(rng, entity_type, group), taken)
        templates = rng.sample(
            OBSERVATIONS[entity_type], k=min(len(OBSERVATIONS[entity_type]), rng.randint(2, 4))
        )
        words = {key: rng.choice(options) for key, options in WORDS.items()}
        made.append(Entity(name, entity_type, tuple(t.format(**words) for t in templates), group))
    return made


def _name(rng: random.Random, entity_type: str, group: int) -> str:
    codename = CODENAMES[group % len(CODENAMES)] + ("" if group < len(CODENAMES) else f"-{group}")
    if entity_type == "person":
        return f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    if entity_type in ("project", "document"):
        return f"{codename} {rng.choice(THINGS[entity_type])}"
    return f"{rng.choice(THINGS[entity_type])} {codename}"


def _unique(name: str, taken: set[str]) -> str:
    candidate = next(
        c for c in itertools.chain([name], (f"{name} {n}" for n in itertools.count(2))) if c not in taken
    )
    taken.add(candidate)
    return candidate


def _relations(rng: random.Random, entities: list[Entity], count: int) -> list[tuple[str, str, str]]:
    weights = [min(rng.paretovariate(1.3), 500.0) for _ in entities]
    everyone = list(itertools.accumulate(weights))
    groups: dict[int, list[int]] = {}
    for index, entity in enumerate(entities):
        groups.setdefault(entity.group, []).append(index)
    in_group = {
        g: (members, list(itertools.accumulate(weights[i] for i in members))) for g, members in groups.items()
    }
    indices = range(len(entities))
    found: dict[tuple[str, str, str], None] = {}
    while len(found) < count:
        source = entities[rng.choices(indices, cum_weights=everyone)[0]]
        if rng.random() < INSIDE_GROUP:
            members, cumulative = in_group[source.group]
            target = entities[rng.choices(members, cum_weights=cumulative)[0]]
        else:
            target = entities[rng.choices(indices, cum_weights=everyone)[0]]
        if target is source:
            continue
        kinds = RELATION_TYPES.get((source.entity_type, target.entity_type), ("related_to",))
        found[(source.name, target.name, rng.choice(kinds))] = None
    return list(found)
