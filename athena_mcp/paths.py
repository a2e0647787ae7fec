"""Names derived from a database's path. Standard library only: every hook imports this first."""

from __future__ import annotations

import hashlib
from pathlib import Path


def path_digest(db: Path, digits: int) -> str:
    """A short hex digest of the database's absolute path: the same file gives the same name from
    any working directory, and two files give two names."""
    return hashlib.sha256(str(db.expanduser().resolve()).encode("utf-8")).hexdigest()[:digits]
