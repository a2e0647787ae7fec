"""The ONNX model prepared once for this machine, so that later starts map its weights instead of
rebuilding them.

A session built from the int8 file folds every weight into a float32 copy while the sources are
still held: 283 MB peak RSS and 0.44 s for the model alone. ONNX Runtime can save the graph it
built, with the folded weights in a file of their own; a session over that saved graph, with its
own optimisations off, maps the weights file instead of copying it (106 MB peak, 0.2 s, the same
vectors to the bit), and every server on the machine shares those pages.

The folder is named after the source weights, the ONNX Runtime version and the machine, each of
which changes the saved graph. It is written under a temporary name and renamed into place, so a
process killed mid-write leaves nothing half-made, and two processes preparing at once both end
with one complete folder. A manifest holds the checksums of both files, checked at every load; a
folder that fails the check is prepared afresh.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

GRAPH = "model.onnx"
WEIGHTS = "weights.bin"
MANIFEST = "manifest.json"
# Initializers this large or larger go to the weights file (and are mapped); the rest, a few hundred
# biases and shapes, stay inline in the graph.
MAPPED_INITIALIZER_BYTES = 64 * 1024


def file_sha256(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def folder_name(source_sha256: str, runtime_version: str) -> str:
    return f"minilm-{source_sha256[:16]}-onnxruntime-{runtime_version}-{platform.machine()}"


def prepared_graph(cache: Path, source: Path, source_sha256: str, options: Callable[[], Any]) -> Path | None:
    """The saved graph of `source` (checked against `source_sha256` by the caller) in `cache`,
    prepared now if it is missing or damaged; None when the cache cannot be written, and the caller
    builds the session in memory instead. `options` makes the session options the graph is built with."""
    import onnxruntime

    folder = cache / folder_name(source_sha256, onnxruntime.__version__)
    if _intact(folder):
        return folder / GRAPH
    try:
        _prepare(folder, source, options)
    except Exception as error:  # a full disk, a read-only home, a runtime that cannot save: all leave
        # the in-memory build, which gives the same vectors, only slower and larger.
        log.warning(
            "could not prepare the embedding model in %s (%s); building it in memory at every start",
            cache,
            error,
        )
        return None
    return folder / GRAPH if _intact(folder) else None


def _intact(folder: Path) -> bool:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        changed = [name for name in (GRAPH, WEIGHTS) if file_sha256(folder / name) != manifest[name]]
    except FileNotFoundError:
        return False
    except (OSError, ValueError, KeyError, TypeError) as error:
        changed = [str(error)]
    if changed:
        log.warning("the prepared embedding model in %s is damaged (%s); preparing it again", folder, changed)
    return not changed


def _prepare(folder: Path, source: Path, options: Callable[[], Any]) -> None:
    import onnxruntime

    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".preparing-", dir=folder.parent))
    try:
        saving = options()
        saving.optimized_model_filepath = str(staging / GRAPH)
        saving.add_session_config_entry("session.optimized_model_external_initializers_file_name", WEIGHTS)
        saving.add_session_config_entry(
            "session.optimized_model_external_initializers_min_size_in_bytes", str(MAPPED_INITIALIZER_BYTES)
        )
        onnxruntime.InferenceSession(str(source), sess_options=saving, providers=["CPUExecutionProvider"])
        manifest = {name: file_sha256(staging / name) for name in (GRAPH, WEIGHTS)}
        (staging / MANIFEST).write_text(json.dumps(manifest))
        if folder.exists():
            if _intact(folder):
                # Another process prepared it meanwhile and may be loading it now: removing it
                # would pull its weights file from under that process's session.
                return
            shutil.rmtree(folder, ignore_errors=True)  # damaged: this complete one takes its place
        try:
            staging.rename(folder)
        except OSError:
            if not _intact(folder):  # not another process's complete folder: a real failure
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
