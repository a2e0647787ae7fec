"""Named HTTP tokens, each bound to namespaces and to reading or writing, kept in a file as digests.

The file holds one JSON object a line: `{"name": "laptop", "sha256": "<hex>", "namespaces": ["alice"],
"scope": "write"}` (`"namespaces": "*"` for every one). Only the SHA-256 of a token is stored: the
token itself is printed once, when `athena-mcp token add` makes it. A token is 256 random bits, so
its digest cannot be turned back into it, and comparing digests in constant time tells nothing of it.
The server re-reads the file when it changes (its modification time, size or inode), so tokens
are added and removed without a restart; the commands replace the file whole (write a new one,
rename it over), so the server never reads one half-written.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from athena_mcp.caller import Caller
from athena_mcp.errors import AthenaError

log = logging.getLogger(__name__)

Scope = Literal["read", "write"]
ALL = "*"
TOKEN_BYTES = 32
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
# The tools' namespace names (fields.Namespace), so that a grant can name only namespaces that exist.
_NAMESPACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,127}$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Grant:
    """One token's entry: its name, its digest, the namespaces it may use (None: all) and how."""

    name: str
    sha256: str
    namespaces: frozenset[str] | None
    scope: Scope

    def caller(self) -> Caller:
        """The caller a request with this token is, before the gate adds its client and session."""
        writable = self.namespaces if self.scope == "write" else frozenset()
        return Caller(transport="http", token=self.name, readable=self.namespaces, writable=writable)

    def line(self) -> str:
        namespaces: str | list[str] = ALL if self.namespaces is None else sorted(self.namespaces)
        return json.dumps(
            {"name": self.name, "sha256": self.sha256, "namespaces": namespaces, "scope": self.scope}
        )

    def describe(self) -> str:
        """One line for `token list`: never the digest."""
        namespaces = "every namespace" if self.namespaces is None else ", ".join(sorted(self.namespaces))
        return f"{self.name}\t{self.scope}\t{namespaces}"


def digest(token: str | bytes) -> str:
    return hashlib.sha256(token.encode() if isinstance(token, str) else token).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def parse(text: str, source: Path) -> tuple[Grant, ...]:
    """The grants a token file holds; AthenaError naming the line of any bad entry."""
    grants: list[Grant] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            grants.append(_grant(json.loads(line)))
        except (ValueError, TypeError, KeyError) as exc:
            raise AthenaError(f"token file {source}, line {number}: {exc}") from None
    names = [grant.name for grant in grants]
    digests = [grant.sha256 for grant in grants]
    if len(set(names)) < len(names) or len(set(digests)) < len(digests):
        raise AthenaError(f"token file {source}: a token name or digest appears twice")
    return tuple(grants)


def _grant(entry: Any) -> Grant:
    if not isinstance(entry, dict) or set(entry) != {"name", "sha256", "namespaces", "scope"}:
        raise ValueError("each line is an object with exactly name, sha256, namespaces and scope")
    name, sha256, namespaces, scope = entry["name"], entry["sha256"], entry["namespaces"], entry["scope"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"name {name!r}: letters, digits and _.@- only, at most 64")
    if not isinstance(sha256, str) or not _DIGEST.match(sha256):
        raise ValueError(f"sha256 of {name}: 64 lowercase hex digits (the token's SHA-256, not the token)")
    if scope not in ("read", "write"):
        raise ValueError(f"scope of {name}: read or write")
    return Grant(name, sha256, _namespaces(namespaces, name), scope)


def _namespaces(value: Any, name: str) -> frozenset[str] | None:
    if value == ALL:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(n, str) for n in value):
        raise ValueError(f'namespaces of {name}: a non-empty list of namespace names, or "*"')
    bad = [n for n in value if not _NAMESPACE.match(n)]
    if bad:
        raise ValueError(f"namespaces of {name}: {bad[0]!r} is not a namespace name")
    return frozenset(value)


class TokenFile:
    """The grants of a token file, re-read whenever the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int, int] | None = None
        self._grants: tuple[Grant, ...] = ()
        self._broken: str | None = None
        self.grants()  # a file that cannot be used refuses the start, not the first request

    def grants(self) -> tuple[Grant, ...]:
        """The current grants; AthenaError while the file is missing or malformed (fail closed: a
        token removed by an edit that broke the file must not stay valid)."""
        try:
            info = self.path.stat()
        except OSError as exc:
            raise AthenaError(f"cannot read the token file {self.path}: {exc.strerror}") from None
        seen = (info.st_mtime_ns, info.st_size, info.st_ino)
        if seen != self._seen:
            self._seen = seen
            try:
                self._grants, self._broken = parse(self.path.read_text("utf-8"), self.path), None
                _warn_if_writable_by_others(self.path, info.st_mode)
            except (OSError, UnicodeDecodeError) as exc:
                self._broken = f"cannot read the token file {self.path}: {exc}"
            except AthenaError as exc:
                self._broken = str(exc)
            if self._broken is not None:
                log.error("%s; every token is refused until it is fixed", self._broken)
        if self._broken is not None:
            raise AthenaError(self._broken)
        return self._grants

    def match(self, presented: bytes) -> Grant | None:
        """The grant whose token was presented, or None. Every digest is compared, in constant time."""
        wanted = digest(presented).encode()
        found = None
        for grant in self.grants():
            if hmac.compare_digest(wanted, grant.sha256.encode()):
                found = grant
        return found


def _warn_if_writable_by_others(path: Path, mode: int) -> None:
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        log.warning(
            "the token file %s can be written by other users: anyone who can add a line owns the "
            "server; chmod 600 it",
            path,
        )


def read_grants(path: Path) -> tuple[Grant, ...]:
    """The grants of a file that may not exist yet (for the commands)."""
    try:
        return parse(path.read_text("utf-8"), path)
    except FileNotFoundError:
        return ()
    except (OSError, UnicodeDecodeError) as exc:
        raise AthenaError(f"cannot read the token file {path}: {exc}") from None


def add(path: Path, name: str, namespaces: Sequence[str], scope: Scope) -> str:
    """Make a token, record its digest under `name`, and return the token (shown once, kept nowhere)."""
    grants = read_grants(path)
    if any(grant.name == name for grant in grants):
        raise AthenaError(f"a token named {name!r} exists already; remove it first or choose another name")
    entry = {"name": name, "sha256": "0" * 64, "namespaces": ALL if ALL in namespaces else list(namespaces)}
    try:
        grant = _grant({**entry, "scope": scope})
    except ValueError as exc:
        raise AthenaError(str(exc)) from None
    token = new_token()
    _write(path, [*grants, Grant(grant.name, digest(token), grant.namespaces, scope)])
    return token


def remove(path: Path, name: str) -> None:
    grants = read_grants(path)
    kept = [grant for grant in grants if grant.name != name]
    if len(kept) == len(grants):
        raise AthenaError(f"no token named {name!r} in {path}; `athena-mcp token list` shows them")
    _write(path, kept)


def _write(path: Path, grants: Iterable[Grant]) -> None:
    """Replace the file whole, readable by its owner only: a new file renamed over the old one."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    text = "".join(f"{grant.line()}\n" for grant in grants)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
