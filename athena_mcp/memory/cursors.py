"""Opaque pagination cursors: the id of the last item of a page."""

from __future__ import annotations

import base64
import binascii
import json

from athena_mcp.errors import InvalidInput

MAX_ID = 2**63 - 1


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([last_id]).encode()).decode()


def decode_cursor(cursor: str | None, tool: str) -> int | None:
    """The memory id in a cursor made by encode_cursor; InvalidInput naming `tool` for anything else."""
    if cursor is None:
        return None
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if isinstance(position, list) and len(position) == 1:
            [last_id] = position
            if type(last_id) is int and 1 <= last_id <= MAX_ID:
                return last_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise InvalidInput(f"cursor: not a cursor returned by {tool}; omit it to start from the beginning.")
