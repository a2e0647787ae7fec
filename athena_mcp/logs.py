"""Logs a collector can read: one JSON object per line (`--log-format json`), each line of a tool call
carrying that call's request id, tool and namespace, and one line per call with its duration and
outcome. Never the arguments or answers: what is stored stays out of every log.

The request id comes from the HTTP request's `X-Request-Id` header when it carries a usable one
(and is echoed back on the response), otherwise it is made here.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

LOG_FORMATS = ("text", "json")
REQUEST_ID_HEADER = "x-request-id"
# Longer ids, or other characters (a newline forging a log line), are replaced by one of ours.
_USABLE_ID = re.compile(r"[A-Za-z0-9._:/=+-]{1,128}")
_NAMESPACE_SHOWN = 64
# Attributes every LogRecord has; anything else on a record was passed as `extra` and is logged.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


@dataclass(frozen=True)
class CallContext:
    request_id: str
    tool: str | None = None
    namespace: str | None = None


_current: contextvars.ContextVar[CallContext | None] = contextvars.ContextVar("athena_call", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]


def usable_request_id(value: str | None) -> str:
    """The client's id when it is a short token, else a new one."""
    return value if value is not None and _USABLE_ID.fullmatch(value) else new_request_id()


def shown_namespaces(names: tuple[str, ...] | None) -> str | None:
    """The namespaces a call names, for the log: names only, cut short."""
    if names is None:
        return None
    # What a client sent: no line break or other control character may forge a log line.
    return "".join(c if c.isprintable() else "?" for c in ",".join(names)[:_NAMESPACE_SHOWN])


def begin_call(context: CallContext) -> contextvars.Token[CallContext | None]:
    return _current.set(context)


def end_call(token: contextvars.Token[CallContext | None]) -> None:
    _current.reset(token)


class CallFilter(logging.Filter):
    """Puts the current call's request id, tool and namespace on every record logged during it."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _current.get()
        if context is not None:
            record.request_id = context.request_id
            record.tool = context.tool
            record.namespace = context.namespace
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({key: value for key, value in record.__dict__.items() if key not in _STANDARD})
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def handler(stream: TextIO, log_format: str) -> logging.Handler:
    """A handler writing to `stream` in `log_format`, with the call context on its records."""
    written = logging.StreamHandler(stream)
    if log_format == "json":
        written.setFormatter(JsonFormatter())
    else:
        written.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)s %(name)s: %(message)s%(call)s", defaults={"call": ""}
            )
        )
    written.addFilter(CallFilter())
    if log_format != "json":
        written.addFilter(_text_call_suffix)
    return written


def _text_call_suffix(record: logging.LogRecord) -> bool:
    """In text logs, a call's lines end with its request id, so its lines can be found together."""
    request_id = getattr(record, "request_id", None)
    record.call = f" [request {request_id}]" if request_id else ""
    return True
