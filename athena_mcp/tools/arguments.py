"""Say what is wrong with a tool call's arguments as the server would.

Unknown arguments are refused before the tool runs: pydantic would silently drop them, and for a
memory server a silently dropped `namespaces` (meant as `namespace`) or `tag` (meant as `tags`)
means a search of the wrong memories that looks right. Invalid values, which the SDK refuses in its
own words, are described one line per field: the field's path, what was wrong, and what to send;
never pydantic's own text with its documentation links.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver.tools import Tool
from pydantic import ValidationError
from pydantic_core import ErrorDetails

# pydantic names the arm of a union it tried inside an error's location ("str", "list[...]",
# "function-after[...]"); the caller knows the argument, not our types.
_TYPE_WORDS = frozenset({"str", "int", "float", "bool", "list", "dict", "none", "tuple", "set"})


def unknown_arguments(tool: Tool, arguments: dict[str, Any]) -> str | None:
    """The arguments `tool` does not take, said with the ones it does; None when there are none."""
    known = set(tool.parameters.get("properties", {}))
    unknown = sorted(set(arguments) - known)
    if not unknown:
        return None
    takes = ", ".join(sorted(known))
    return f"{', '.join(map(repr, unknown))}: not an argument of {tool.name}; it takes {takes}."


def invalid_arguments(tool: Tool, arguments: dict[str, Any]) -> str | None:
    """What is wrong with the arguments' values, one part per field; None when they are valid."""
    try:
        tool.fn_metadata.validate_arguments(arguments)
    except ValidationError as exc:
        return "; ".join(_describe(exc.errors(include_url=False)))
    return None


def _describe(errors: list[ErrorDetails]) -> list[str]:
    """One line per field; the several arms of a union that all failed are said once, joined by 'or'."""
    by_field: dict[str, list[str]] = {}
    for error in errors:
        problems = by_field.setdefault(_path(error["loc"]), [])
        message = _message(error)
        if message not in problems:
            problems.append(message)
    return [f"{field}: {' or '.join(problems)}" for field, problems in by_field.items()]


def _path(location: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for part in location:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif not _is_type_label(part):
            parts.append(f".{part}" if parts else part)
    return "".join(parts) or "arguments"


def _is_type_label(part: str) -> bool:
    return part in _TYPE_WORDS or "[" in part or "-" in part


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a field here; leave it out"
    # pydantic says what a valid value is ("should have at most 20000 characters", "should be
    # 'success', 'failure' or 'partial'"); a custom check says what was wrong ("must contain text").
    message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return message[:1].lower() + message[1:]
