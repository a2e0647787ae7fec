"""Opaque pagination cursors: the id of the last item of a page, and for listings that walk
several kinds of item in turn (the graph's entities, then its relations) the phase it is in."""

from __future__ import annotations

import base64
import binascii
import json
from typing import TypeGuard

from athena_mcp.errors import InvalidInput

MAX_ID = 2**63 - 1


def encode_cursor(last_id: int, phase: str | None = None) -> str:
    position: list[object] = [last_id] if phase is None else [phase, last_id]
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def decode_cursor(cursor: str | None, tool: str) -> int | None:
    """The memory id in a cursor made by encode_cursor; InvalidInput naming `tool` for anything else."""
    if cursor is None:
        return None
    position = _position(cursor, tool)
    if len(position) == 1 and _is_id(position[0]):
        return position[0]
    raise _not_ours(tool)


def decode_phase_cursor(cursor: str, tool: str, phases: tuple[str, ...]) -> tuple[str, int]:
    """(phase, last id) of a cursor made by encode_cursor with one of `phases`."""
    position = _position(cursor, tool)
    if len(position) == 2 and position[0] in phases and _is_id(position[1]):
        return str(position[0]), position[1]
    raise _not_ours(tool)


def encode_position(*ids: int) -> str:
    """A cursor holding several ids (e.g. a run, a size and the last id of a page)."""
    return base64.urlsafe_b64encode(json.dumps(list(ids)).encode()).decode()


def decode_position(cursor: str, tool: str, count: int) -> tuple[int, ...]:
    """The `count` ids of a cursor made by encode_position."""
    position = _position(cursor, tool)
    ids = [value for value in position if _is_id(value)]
    if len(ids) == len(position) == count:
        return tuple(ids)
    raise _not_ours(tool)


def _position(cursor: str, tool: str) -> list[object]:
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _not_ours(tool) from None
    if not isinstance(position, list):
        raise _not_ours(tool)
    return position


def _is_id(value: object) -> TypeGuard[int]:
    return type(value) is int and 0 <= value <= MAX_ID


def _not_ours(tool: str) -> InvalidInput:
    return InvalidInput(f"cursor: not a cursor returned by {tool}; omit it to start from the beginning.")
