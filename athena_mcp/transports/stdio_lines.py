"""Reading the stdio wire a line at a time, refusing a line that must not be read whole.

A line over `MAX_MESSAGE_BYTES`, or one that would not fit in memory (see memory_budget), is read
on a chunk at a time and dropped; a `Refusal` stands in its place, with what the line was (request,
response or notification) and its id, found at either end of the line without parsing it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Literal

from mcp_types import INTERNAL_ERROR, INVALID_REQUEST, ErrorData

from athena_mcp.transports import memory_budget

# The largest request the tools accept is 500 events of 20,000 characters: 40 MB in raw UTF-8 at
# worst. A client that escapes non-ASCII text as \uXXXX can exceed this with such a request, and
# gets a refusal naming this limit.
MAX_MESSAGE_BYTES = 64 * memory_budget.MIB
CHUNK_BYTES = memory_budget.MIB  # a line is read, and its size checked, a chunk at a time
PEEK_BYTES = 4096  # how much of each end of a refused line is kept, to find what it was
RETRY_AFTER_MEMORY_ERROR = 0.05  # seconds: a read that could not allocate waits before the next try

# A message's id and first member, as clients write them: the Python SDK writes "jsonrpc", "id",
# then "method" or "result"; the TypeScript SDK writes "method" or "result" first and "jsonrpc",
# "id" last. Either way they are members of the outermost object, never ones inside the params.
_STRING = rb'"(?:[^"\\]|\\.)*"'
_ID = rb'"id"\s*:\s*(-?\d+|' + _STRING + rb")"
_LEADING = rb'(?:\s*"(?:jsonrpc|id|method)"\s*:\s*(?:-?\d+|' + _STRING + rb")\s*,)*"
ID_FIRST = re.compile(rb'^\s*\{(?:\s*"(?:jsonrpc|method)"\s*:\s*' + _STRING + rb"\s*,)*\s*" + _ID)
ID_LAST = re.compile(rb"[{,]\s*" + _ID + rb'\s*(?:,\s*"jsonrpc"\s*:\s*"2\.0"\s*)?\}\s*$')
KIND = re.compile(rb"^\s*\{" + _LEADING + rb'\s*"(method|result|error)"')

Kind = Literal["request", "response", "notification"]


def request_id(head: bytes, tail: bytes) -> int | str | None:
    """The id of a message known only by its two ends, or None if it cannot be found there."""
    found = ID_FIRST.search(head) or ID_LAST.search(tail)
    if found is None:
        return None
    value: int | str = json.loads(found.group(1))
    return value


def message_kind(head: bytes, message_id: int | str | None) -> Kind:
    """What a message known by its beginning is; one that cannot be told is taken for a request,
    so that a client waiting on it is answered."""
    found = KIND.search(head)
    if found is not None and found.group(1) != b"method":
        return "response"
    return "request" if message_id is not None or found is None else "notification"


@dataclass(frozen=True)
class Refusal:
    """A line refused before it was read whole or parsed."""

    kind: Kind
    message_id: int | str | None
    error: ErrorData


class LineReader:
    """Reads the wire a line at a time, a chunk at a time. Blocking: it runs in the reader thread."""

    def __init__(self, wire: IO[bytes], shortfall: Callable[[int], memory_budget.Shortfall | None]) -> None:
        self._wire = wire
        self._shortfall = shortfall

    def next(self) -> bytes | Refusal | None:
        """The next line, a Refusal in its place, or None at the end of input."""
        chunks: list[bytes] = []
        size = 0
        head = tail = b""
        refused: Literal["size", "memory"] | None = None
        while True:
            try:
                chunk = self._wire.readline(CHUNK_BYTES)
            except MemoryError:
                chunks.clear()
                refused = refused or "memory"
                time.sleep(RETRY_AFTER_MEMORY_ERROR)
                continue
            if not chunk:
                if not size:
                    return None
                break  # the last line, without its newline
            size += len(chunk)
            head = head or chunk[:PEEK_BYTES]
            tail = chunk[-PEEK_BYTES:] if len(chunk) >= PEEK_BYTES else (tail + chunk)[-PEEK_BYTES:]
            # A long line is checked as each chunk comes, so it is refused before it is read whole.
            refused = refused or self._too_much(size)
            if refused is None:
                chunks.append(chunk)
            else:
                chunks.clear()  # the rest of the line is read and dropped
            if chunk.endswith(b"\n"):
                break
        if refused is None:
            try:
                return b"".join(chunks)
            except MemoryError:
                chunks.clear()
                refused = "memory"
        error = self._too_large(size) if refused == "size" else self.out_of_memory(size)
        return refusal(head, tail, error)

    def _too_much(self, size: int) -> Literal["size", "memory"] | None:
        if size > MAX_MESSAGE_BYTES:
            return "size"
        return "memory" if self._shortfall(size) is not None else None

    @staticmethod
    def _too_large(size: int) -> ErrorData:
        return ErrorData(
            code=INVALID_REQUEST,
            message=f"Message too large: {size / memory_budget.MIB:.0f} MB, over the "
            f"{MAX_MESSAGE_BYTES // memory_budget.MIB} MB this server reads in one message. Send fewer "
            "or smaller items per call.",
        )

    def out_of_memory(self, size: int) -> ErrorData:
        short = self._shortfall(size)
        message = short.explain(size) if short else "Out of memory reading this request; nothing was kept."
        return ErrorData(code=INTERNAL_ERROR, message=message)


def refusal(head: bytes, tail: bytes, error: ErrorData) -> Refusal:
    message_id = request_id(head, tail)
    return Refusal(message_kind(head, message_id), message_id, error)
