"""Opaque pagination cursors: the position after the last item of a page."""

from __future__ import annotations

import base64
import binascii
import json
import math

from athena_mcp.errors import InvalidInput


def encode_cursor(*position: int) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def decode_cursor(cursor: str | None, tool: str) -> tuple[float, ...] | None:
    """The position in a cursor made by encode_cursor; InvalidInput naming `tool` for anything else."""
    if cursor is None:
        return None
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if (
            isinstance(position, list)
            and position
            and all(
                isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
                for value in position
            )
        ):
            return tuple(position)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise InvalidInput(f"cursor: not a cursor returned by {tool}; omit it to start from the beginning.")
