"""Bounded value types: the limits every caller sees in the tools' input schemas, and that the
importers hold a file to as well."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from athena_mcp.models import to_datetime, to_seconds
from athena_mcp.settings import NAME_PATTERN

MAX_CONTENT_CHARS = 20_000
MAX_QUERY_CHARS = 2_000
MAX_TAGS = 32
MAX_TAG_CHARS = 64
MAX_LIMIT = 100
MAX_BATCH_EVENTS = 500
MAX_CONTEXT_BYTES = 16_384
MAX_CONTEXT_DEPTH = 8
MAX_NAMESPACES = 16
MAX_KINDS = 16
MAX_TITLE_CHARS = 200
MAX_SHORT_TEXT_CHARS = 2_000

_KIND_PATTERN = r"^[a-z][a-z0-9_-]*$"


def has_text(value: str) -> str:
    if not value.strip():
        raise ValueError("must contain non-whitespace text")
    return value


def _short_text(value: Any) -> Any:
    if isinstance(value, str) and len(value) > 64:
        raise ValueError("is longer than 64 characters; use ISO 8601 such as 2025-03-01T10:00:00Z")
    return value


def _representable_in_utc(value: datetime) -> datetime:
    # Years 1 and 9999 with a zone offset can fall outside what a UTC datetime can hold.
    try:
        to_datetime(to_seconds(value))
    except (OverflowError, ValueError, OSError):
        raise ValueError("is outside the years 0001-9999 once converted to UTC") from None
    return value


def _bounded_context(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if _depth(value) > MAX_CONTEXT_DEPTH:
        raise ValueError(f"nests deeper than {MAX_CONTEXT_DEPTH} levels")
    try:
        encoded = json.dumps(value, allow_nan=False, ensure_ascii=False)
    except ValueError:
        raise ValueError("contains NaN or infinite numbers, which JSON cannot carry") from None
    if len(encoded.encode("utf-8")) > MAX_CONTEXT_BYTES:
        raise ValueError(f"is larger than {MAX_CONTEXT_BYTES} bytes as JSON")
    return value


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("contains NaN or infinite numbers, which JSON cannot carry")
    return 0


Content = Annotated[
    str,
    Field(min_length=1, max_length=MAX_CONTENT_CHARS, description="Stored verbatim"),
    AfterValidator(has_text),
]
Query = Annotated[
    str,
    Field(min_length=1, max_length=MAX_QUERY_CHARS, description="What to look for, in natural language"),
    AfterValidator(has_text),
]
Namespace = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=NAME_PATTERN,
        description="Memory space, e.g. a project or user",
    ),
]
Namespaces = Namespace | Annotated[list[Namespace], Field(min_length=1, max_length=MAX_NAMESPACES)]
Tag = Annotated[str, Field(min_length=1, max_length=MAX_TAG_CHARS, pattern=r"^[^\x00-\x1f]+$")]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS, description="Labels for filtering")]
Kind = Annotated[str, Field(min_length=1, max_length=32, pattern=_KIND_PATTERN)]
Kinds = Annotated[list[Kind], Field(max_length=MAX_KINDS)]
Importance = Annotated[
    float, Field(ge=0.0, le=1.0, allow_inf_nan=False, description="0 trivial … 1 critical")
]
Source = Annotated[str, Field(max_length=512, description="URL, file or person it came from")]
SessionId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$")]
MemoryId = Annotated[int, Field(ge=1, le=2**63 - 1)]
Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT, description="Most results")]
MaxTokens = Annotated[
    int,
    Field(ge=50, le=100_000, description="Stop adding memories past about this many tokens"),
]
Timestamp = Annotated[
    datetime,
    BeforeValidator(_short_text),
    Field(description="ISO 8601, UTC if no zone", json_schema_extra={"maxLength": 64}),
    AfterValidator(_representable_in_utc),
]
Reason = Annotated[str, Field(max_length=1_000)]
Cursor = Annotated[str, Field(max_length=200, description="next_cursor from the previous page")]
Context = Annotated[
    dict[str, Any],
    Field(description=f"Structured details (JSON object, at most {MAX_CONTEXT_BYTES} bytes)"),
    AfterValidator(_bounded_context),
]
# A name (of a procedure), one line; surrounding spaces are dropped so that names that look alike are alike.
Title = Annotated[
    str,
    Field(min_length=1, max_length=MAX_TITLE_CHARS, pattern=r"^[^\x00-\x1f]+$"),
    AfterValidator(has_text),
    AfterValidator(str.strip),
]
# A sentence or a paragraph: a goal, a step, a note.
ShortText = Annotated[str, Field(min_length=1, max_length=MAX_SHORT_TEXT_CHARS), AfterValidator(has_text)]
