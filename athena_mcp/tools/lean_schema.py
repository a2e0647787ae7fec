"""JSON Schemas without the noise pydantic adds, for the tools/list a model reads on every request.

pydantic writes a `title` on every property and model, and an optional argument as
`{"anyOf": [X, {"type": "null"}], "default": null}`. Neither tells a model anything the property's
name and its absence from `required` do not. Nor do the bounds that only keep out what no caller
sends (empty strings, ids past 2^63), a description repeated in each arm of a union, or regular
expressions (the characters a namespace, a kind or a tag may hold): a refusal names the pattern to
whoever breaks one, and otherwise each cost every request its bytes.
Validation is unaffected: arguments are checked by the tool's pydantic model, not by this schema.
Output schemas keep their exact meaning but lose their prose: the model reads the rendered text
block, and a program reading structuredContent has the README's field descriptions.
"""

from __future__ import annotations

from typing import Any

_NULL = {"type": "null"}
_INT64_MAX = 2**63 - 1


def lean_input(schema: dict[str, Any]) -> dict[str, Any]:
    """An input schema for the caller: an optional argument is shown as what to send, not as `X | null`."""
    return _lean(schema, output=False)


def lean_output(schema: dict[str, Any]) -> dict[str, Any]:
    """An output schema that accepts exactly what the full one does (null stays allowed), shorter."""
    return _lean(schema, output=True)


def _lean(node: Any, *, output: bool) -> Any:
    if isinstance(node, list):
        return [_lean(item, output=output) for item in node]
    if not isinstance(node, dict):
        return node
    lean: dict[str, Any] = {}
    for key, value in node.items():
        if _is_noise(key, value, output=output):
            continue
        if key in ("properties", "$defs") and isinstance(value, dict):
            # The keys here are names chosen by the tool (a property may be called "title").
            lean[key] = {name: _lean(sub, output=output) for name, sub in value.items()}
        else:
            lean[key] = _lean(value, output=output)
    if lean.get("default", 0) is None:
        del lean["default"]
    if lean.get("additionalProperties") is True:
        del lean["additionalProperties"]
    if isinstance(lean.get("anyOf"), list):
        _hoist_description(lean)
    return _fold_null(lean, drop_null=not output)


def _is_noise(key: str, value: Any, *, output: bool) -> bool:
    if not isinstance(value, str | int) or isinstance(value, bool):
        return False
    if key == "title" or (output and key == "description"):
        return isinstance(value, str)
    # Bounds stay in output schemas, which must accept exactly what they did.
    return not output and (
        key == "pattern" or (key == "maximum" and value == _INT64_MAX) or (key == "minLength" and value == 1)
    )


def _hoist_description(node: dict[str, Any]) -> None:
    """One description on a union instead of a copy in each arm (and in a list arm's items)."""
    for arm in node["anyOf"]:
        for holder in (arm, arm.get("items")):
            if isinstance(holder, dict) and "description" in holder:
                node.setdefault("description", holder["description"])
                del holder["description"]


def _fold_null(node: dict[str, Any], *, drop_null: bool) -> dict[str, Any]:
    """`{"anyOf": [X, null]}` as X (inputs) or as X with "null" in its type list (outputs)."""
    arms = node.get("anyOf")
    if not isinstance(arms, list) or _NULL not in arms:
        return node
    others = [arm for arm in arms if arm != _NULL]
    if not others:
        return node
    rest = {key: value for key, value in node.items() if key != "anyOf"}
    if drop_null:
        merged = others[0] if len(others) == 1 else {"anyOf": others}
        return {**merged, **rest}
    if len(others) == 1 and isinstance(others[0].get("type"), str) and set(others[0]) <= {"type", "format"}:
        return {**others[0], "type": [others[0]["type"], "null"], **rest}
    return node
