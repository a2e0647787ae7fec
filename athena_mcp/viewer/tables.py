"""Plain-text tables and times, fitted to the terminal's width."""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from datetime import datetime

from athena_mcp.models import to_datetime

# The column that gives up width first is the last one: memory text, which reads well cut short.
MIN_LAST = 20


def width() -> int:
    return shutil.get_terminal_size((120, 24)).columns


# C0 and C1 control characters but newline and tab: stored text (a web page a tool read, say) must
# not move the cursor, retitle the terminal or write its clipboard.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    return _CONTROL.sub("\N{REPLACEMENT CHARACTER}", text)


def clip(text: str, room: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= room else flat[: max(room - 1, 0)] + "…"


def when(moment: datetime | float | None) -> str:
    if moment is None:
        return "-"
    value = to_datetime(moment) if isinstance(moment, int | float) else moment
    return value.strftime("%Y-%m-%d %H:%M")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], total: int | None = None) -> str:
    """Left-aligned columns two spaces apart; the last column is cut to fit `total` characters."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max([len(header), *(len(row[n]) for row in cells)]) for n, header in enumerate(headers)]
    room = (total or width()) - sum(widths[:-1]) - 2 * (len(headers) - 1)
    widths[-1] = max(MIN_LAST, min(widths[-1], room))
    lines = []
    for row in [list(headers), *cells]:
        shown = [*row[:-1], clip(row[-1], widths[-1])]
        lines.append("  ".join(cell.ljust(widths[n]) for n, cell in enumerate(shown)).rstrip())
    return "\n".join(lines)
