"""Hypothesis strategies for tool calls, built from the JSON input schemas a server lists.

`valid_arguments` draws calls the schema accepts (hostile but legal text included); `invalid_call`
breaks exactly one field in a known way, so a refusal can be checked for naming that field. Given the
ids and names that another namespace holds (`Foreign`), integers and strings are often those: calls
made in one namespace that name what only another holds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

Schema = dict[str, Any]
T = TypeVar("T")

# Text that must be stored and searched as plain text, never parsed as SQL or FTS5 syntax.
HOSTILE_TEXT = (
    "Robert'); DROP TABLE memories;--",
    "x' OR '1'='1",
    '"unbalanced quote',
    "NEAR(alpha bravo, 2)",
    "alpha* -bravo ^charlie",
    "(unbalanced OR paren",
    "content:column filter",
    "{tags content}: braces",
    "a AND b OR NOT c",
    "% _ \\ like patterns",
    "tab\there\nnewline\rreturn",
    "\x01\x02\x1b[31m escape codes",
    "emoji 🚀 and 日本語",
    "\u202eright-to-left override",
    "'; PRAGMA writable_schema=1; --",
)
# Kept readable on purpose: valid calls that name existing things reach the code behind a lookup.
VOCABULARY = ("Alice", "Bob", "Acme", "deploy", "release", "fact", "s1", "default", "works_at", "team")

LIST_CAP = 4  # valid lists stay short; the limits themselves are probed by the invalid variants


@dataclass(frozen=True)
class Foreign:
    """What another namespace holds, for generated calls to name: its ids and its names."""

    ids: tuple[int, ...] = ()
    names: tuple[str, ...] = ()


NOTHING_FOREIGN = Foreign()


@dataclass(frozen=True)
class Case:
    """One generated call: `mutation` says how it was broken (None: valid), `field` where and `limit`
    which bound it crossed, when it crossed one."""

    tool: str
    arguments: dict[str, Any]
    mutation: str | None = None
    field: str | None = None
    limit: float | None = None


class SchemaStrategies:
    """Strategies for one tool's input schema (following `$ref` into `$defs`)."""

    def __init__(self, schema: Schema, foreign: Foreign = NOTHING_FOREIGN) -> None:
        self.schema = schema
        self.foreign = foreign
        self._defs: dict[str, Schema] = schema.get("$defs", {})

    def resolve(self, node: Schema) -> Schema:
        ref = node.get("$ref")
        if isinstance(ref, str):
            return self._defs[ref.removeprefix("#/$defs/")]
        return node

    def valid(self, node: Schema) -> st.SearchStrategy[Any]:
        node = self.resolve(node)
        if "anyOf" in node:
            return st.one_of([self.valid(option) for option in node["anyOf"]])
        if "enum" in node:
            return st.sampled_from(node["enum"])
        if "const" in node:
            return st.just(node["const"])
        kind = node.get("type")
        if kind == "string":
            return _strings(node, self.foreign.names)
        if kind == "integer":
            return _integers(node, self.foreign.ids)
        if kind == "number":
            return _numbers(node)
        if kind == "boolean":
            return st.booleans()
        if kind == "null":
            return st.none()
        if kind == "array":
            size = node.get("maxItems", LIST_CAP)
            return st.lists(
                self.valid(node.get("items", {})),
                min_size=node.get("minItems", 0),
                max_size=max(min(size, LIST_CAP), node.get("minItems", 0)),
            )
        if kind == "object" and "properties" in node:
            return self.valid_object(node)
        return json_objects() if kind == "object" else json_values()

    def valid_object(self, node: Schema) -> st.SearchStrategy[dict[str, Any]]:
        required = set(node.get("required", ()))
        properties: dict[str, Schema] = node.get("properties", {})

        @st.composite
        def draw(data: st.DrawFn) -> dict[str, Any]:
            value = {}
            for name, child in properties.items():
                if name in required or data(st.booleans()):
                    value[name] = data(self.valid(child))
            return value

        return draw()


def _strings(node: Schema, foreign: Sequence[str] = ()) -> st.SearchStrategy[str]:
    low, high = node.get("minLength", 0), node.get("maxLength", 10_000)
    pattern: str | None = node.get("pattern")

    def fits(text: str) -> bool:
        return low <= len(text) <= high and (pattern is None or re.search(pattern, text) is not None)

    options: list[st.SearchStrategy[str]] = []
    if node.get("format") == "date-time":
        options.append(st.datetimes().map(lambda moment: moment.isoformat() + "Z"))
    elif pattern is not None:
        options.append(st.from_regex(pattern, fullmatch=True).filter(fits))
    else:
        options.append(st.text(min_size=low, max_size=min(high, 80)))
        options.append(st.just("w" * high))
    literal = [text for text in (*HOSTILE_TEXT, *VOCABULARY, *foreign) if fits(text)]
    if literal and node.get("format") != "date-time":
        options.append(st.sampled_from(literal))
    return st.one_of(options)


def _integers(node: Schema, foreign: Sequence[int] = ()) -> st.SearchStrategy[int]:
    low = node.get("minimum", node.get("exclusiveMinimum", -(2**63)) + 1)
    high = node.get("maximum", node.get("exclusiveMaximum", 2**63) - 1)
    # Small ids hit what the seeded store holds; the full range probes the edges; another namespace's
    # ids must read as ids that exist nowhere.
    options = [st.integers(low, min(high, low + 12)), st.integers(low, high)]
    elsewhere = [value for value in foreign if low <= value <= high]
    if elsewhere:
        options.append(st.sampled_from(elsewhere))
    return st.one_of(options)


def _numbers(node: Schema) -> st.SearchStrategy[float]:
    return st.floats(
        min_value=node.get("minimum", node.get("exclusiveMinimum")),
        max_value=node.get("maximum", node.get("exclusiveMaximum")),
        exclude_min="exclusiveMinimum" in node,
        exclude_max="exclusiveMaximum" in node,
        allow_nan=False,
        allow_infinity=False,
    )


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**53), 2**53),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=40),
        st.sampled_from(HOSTILE_TEXT),
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
        max_leaves=max_leaves,
    )


def json_objects() -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.text(max_size=10), json_values(), max_size=4)


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"inner": value}
    return value


def nested_list(depth: int) -> list[Any]:
    value: list[Any] = ["deep"]
    for _ in range(depth - 1):
        value = [value]
    return value


def types_of(node: Schema) -> set[str]:
    if "anyOf" in node:
        return set().union(*(types_of(option) for option in node["anyOf"]))
    declared = node.get("type", [])
    return {declared} if isinstance(declared, str) else set(declared)


SAMPLES: dict[str, Any] = {
    "string": "not-the-right-type",
    "integer": 7,
    "number": 2.5,
    "boolean": True,
    "null": None,
    "array": ["a", 1],
    "object": {"k": "v"},
}


Breakage = tuple[str, Any, float | None]


def breakages(node: Schema, strategies: SchemaStrategies) -> list[Breakage]:
    """Values that break `node`, each with the way it breaks it and the bound it crosses, if any."""
    node = strategies.resolve(node)
    options = [strategies.resolve(option) for option in node.get("anyOf", [node])]
    allowed = types_of(node)
    found: list[Breakage] = [
        (f"wrong-type-{kind}", sample, None)
        for kind, sample in SAMPLES.items()
        if kind not in allowed and not _coerced(kind, allowed)
    ]
    found.append(("deep-json", nested_list(200), None))
    for option in options:
        found.extend(_out_of_bounds(option))
    return found


def _coerced(kind: str, allowed: set[str]) -> bool:
    # JSON integers are numbers, and pydantic (lax, as MCP SDK tools validate) reads true as 1.
    return (kind == "integer" and "number" in allowed) or (
        kind == "boolean" and bool(allowed & {"integer", "number"})
    )


def _out_of_bounds(node: Schema) -> list[Breakage]:
    found: list[Breakage] = []
    kind = node.get("type")
    if "enum" in node:
        found.append(("not-in-enum", "definitely-not-a-choice", None))
    if kind == "string":
        if "maxLength" in node:
            found.append(("oversize-string", "x" * (node["maxLength"] + 1), node["maxLength"]))
        if node.get("minLength", 0) > 0:
            found.append(("empty-string", "", None))
        if "pattern" in node:
            found.append(("control-characters", "bad\x00nul\x1fchar", None))
    if kind in ("integer", "number"):
        if "maximum" in node:
            found.append(("above-maximum", node["maximum"] + 1, node["maximum"]))
        if "minimum" in node:
            found.append(("below-minimum", node["minimum"] - 1, node["minimum"]))
        if "exclusiveMinimum" in node:
            found.append(("at-exclusive-minimum", node["exclusiveMinimum"], node["exclusiveMinimum"]))
        # JSON cannot carry them as numbers: they arrive as strings or, sent as floats, as null.
        found.extend([("nan", "NaN", None), ("infinity", "Infinity", None), ("float-nan", math.nan, None)])
    if kind == "integer":
        found.append(("fractional", 1.5, None))
        found.append(("beyond-int64", 2**64, None))
    if kind == "array" and "maxItems" in node:
        found.append(("oversize-list", ["x"] * (node["maxItems"] + 1), node["maxItems"]))
    if kind == "object" and node.get("additionalProperties") is True:
        found.append(("deep-object", nested(40), None))
        found.append(("huge-object", {"blob": "b" * 40_000}, None))
        found.append(("nan-in-object", {"n": "NaN", "f": math.inf}, None))
    return found


def invalid_call(tool: str, strategies: SchemaStrategies) -> st.SearchStrategy[Case]:
    """A valid call with one field broken: a bad value, an unknown key or a required key left out."""
    root = strategies.schema

    @st.composite
    def draw(data: st.DrawFn) -> Case:
        arguments = data(strategies.valid_object(root))
        # Break a top-level field or, through an array of objects, a field of its first item.
        targets: list[tuple[dict[str, Any], str, Schema]] = []
        for name, child in root.get("properties", {}).items():
            targets.append((arguments, name, child))
            inner = _object_items(child, strategies)
            if inner is not None and arguments.get(name):
                first = arguments[name][0]
                targets.extend((first, key, sub) for key, sub in inner.get("properties", {}).items())
        action = data(st.sampled_from(["value", "value", "value", "unknown-key", "missing-required"]))
        if action == "unknown-key":
            holder = data(st.sampled_from([arguments, *(t[0] for t in targets if t[0] is not arguments)]))
            key = data(st.sampled_from(["zz_unknown", "namespaces", "tag", "Content", "__proto__"]))
            holder[key] = data(json_values(4))
            return Case(tool, arguments, "unknown-key", key)
        required = root.get("required", [])
        if action == "missing-required" and required:
            name = data(st.sampled_from(required))
            arguments.pop(name, None)
            return Case(tool, arguments, "missing-required", name)
        if not targets:
            arguments["zz_unknown"] = 1
            return Case(tool, arguments, "unknown-key", "zz_unknown")
        holder, name, child = data(st.sampled_from(targets))
        mutation, value, limit = data(st.sampled_from(breakages(child, strategies)))
        holder[name] = value
        return Case(tool, arguments, mutation, name, limit)

    return draw()


def _object_items(node: Schema, strategies: SchemaStrategies) -> Schema | None:
    node = strategies.resolve(node)
    for option in node.get("anyOf", [node]):
        option = strategies.resolve(option)
        if option.get("type") == "array":
            items = strategies.resolve(option.get("items", {}))
            if "properties" in items:
                return items
    return None


def tool_calls(tool: str, schema: Schema, foreign: Foreign = NOTHING_FOREIGN) -> st.SearchStrategy[Case]:
    """Valid and deliberately broken calls of one tool, about half each."""
    strategies = SchemaStrategies(schema, foreign)
    valid = strategies.valid_object(schema).map(lambda arguments: Case(tool, arguments))
    return st.one_of(valid, invalid_call(tool, strategies))


def named_fields(schema: Schema) -> Sequence[str]:
    """Every property name anywhere in the schema: the words a refusal may name."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            names.update(node.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return sorted(names)


def draw(strategy: st.SearchStrategy[T], count: int, run_seed: int) -> list[T]:
    """`count` examples of `strategy` (fewer if it has fewer distinct ones), the same for one seed."""
    drawn: list[T] = []

    @seed(run_seed)
    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(example: T) -> None:
        drawn.append(example)

    collect()
    return drawn
