"""The stdio transport's line reader: lines read a chunk at a time, and lines that must not be read
whole (over the size limit, or more than memory allows) refused in their place, with what the line
was and its id when either end of the line carries them."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import pytest

from athena_mcp.transports import stdio_lines
from athena_mcp.transports.memory_budget import Shortfall
from athena_mcp.transports.stdio_lines import LineReader, Refusal, message_kind, request_id

MIB = 1 << 20


def short_of_memory_over(room: int) -> Callable[[int], Shortfall | None]:
    """A memory check for which a request needing more than `room` bytes does not fit."""

    def shortfall(size: int) -> Shortfall | None:
        return Shortfall(needed=size, available=room, limit=room) if size > room else None

    return shortfall


def reader(data: bytes, *, room: int | None = None) -> LineReader:
    """A reader over `data`; with `room`, a request needing more bytes than that is short of memory."""
    return LineReader(io.BytesIO(data), short_of_memory_over(room) if room is not None else lambda size: None)


def line(**message: object) -> bytes:
    return json.dumps(message).encode() + b"\n"


def test_lines_come_whole_and_the_input_ends_with_none():
    first = line(jsonrpc="2.0", id=1, method="ping")
    long_one = line(jsonrpc="2.0", id=2, method="tools/call", params={"content": "x" * (3 * MIB)})
    lines = reader(first + long_one + b'{"last": "no newline"}')
    assert lines.next() == first
    assert lines.next() == long_one
    assert lines.next() == b'{"last": "no newline"}'
    assert lines.next() is None


@pytest.mark.parametrize(
    "raw, expected",
    [
        (b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"id":99}}', 7),  # the Python SDK
        (b'{"method":"tools/call","params":{"id":99},"jsonrpc":"2.0","id":"a\\"b"}', 'a"b'),  # TypeScript
        (b'{"method":"tools/call","params":{"x":1},"id":-3,"jsonrpc":"2.0"}', -3),
        (b'{"params":{"id":99},"id":5,"method":"tools/call"}', None),  # only in the middle: unknown
        (b'{"method":"tools/call","params":{"id":99}}', None),  # a notification
        (b'{"method":"x","params":{"a":{"id":99}}}', None),  # a nested id is never taken
    ],
)
def test_a_request_id_is_found_at_either_end_never_inside_the_params(raw, expected):
    assert request_id(raw[:40], raw[-40:]) == expected


def test_a_line_over_the_size_limit_is_answered_with_its_id_and_reading_goes_on(monkeypatch):
    monkeypatch.setattr(stdio_lines, "MAX_MESSAGE_BYTES", 2 * MIB)
    monkeypatch.setattr(stdio_lines, "CHUNK_BYTES", 256 * 1024)
    huge = line(jsonrpc="2.0", id=11, method="tools/call", params={"content": "y" * (3 * MIB)})
    after = line(jsonrpc="2.0", id=12, method="ping")
    lines = reader(huge + after)
    refused = lines.next()
    assert isinstance(refused, Refusal)
    assert (refused.kind, refused.message_id, refused.error.code) == ("request", 11, -32600)
    assert "Message too large: 3 MB, over the 2 MB" in refused.error.message
    assert lines.next() == after


def test_a_line_that_would_not_fit_in_memory_is_refused_with_its_id_and_reading_goes_on(monkeypatch):
    monkeypatch.setattr(stdio_lines, "CHUNK_BYTES", 64 * 1024)
    big = line(method="tools/call", params={"content": "z" * MIB}, jsonrpc="2.0", id="req-9")
    small = line(jsonrpc="2.0", id=10, method="ping")
    lines = reader(big + small, room=256 * 1024)
    refused = lines.next()
    assert isinstance(refused, Refusal)
    assert (refused.kind, refused.message_id, refused.error.code) == ("request", "req-9", -32603)
    assert "Out of memory" in refused.error.message and "ulimit -v" in refused.error.message
    assert lines.next() == small


@pytest.mark.parametrize(
    "raw, kind",
    [
        (b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"result":1}}', "request"),
        (b'{"method":"tools/call","params":{},"jsonrpc":"2.0","id":1}', "request"),
        (b'{"jsonrpc":"2.0","id":1,"result":{"method":"x"}}', "response"),  # the Python SDK
        (b'{"result":{"model":"m"},"jsonrpc":"2.0","id":1}', "response"),  # TypeScript
        (b'{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"no"}}', "response"),
        (b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3}}', "notification"),
        # Cannot be told (params first, or not an object): answered, with id null, lest a client wait.
        (b'{"params":{"id":1},"method":"x"}', "request"),
        (b"[not an object", "request"),
    ],
)
def test_a_refused_line_is_told_apart_as_request_response_or_notification(raw, kind):
    assert message_kind(raw[:40], request_id(raw[:40], raw[-40:])) == kind
