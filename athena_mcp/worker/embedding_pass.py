"""What the background embedding workers share: how much a pass takes on, and when to send it.

A pass that times out is not put off (the texts are not known to be at fault) but split: the next
pass takes half as many, down to one, and a single text that still times out is the one put off.
Passes that work double it back. While the embedder is down, a pass sends only a probe text. A text
the embedder rejects is found by halving the pass until it is alone, and only it is put off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

from athena_mcp.embeddings.service import EmbedderDown, EmbeddingService

log = logging.getLogger(__name__)
T = TypeVar("T")


class PassSize:
    def __init__(self, most: int) -> None:
        self.most = most
        self.now = most

    def timed_out(self, taken: int) -> None:
        self.now = max(1, taken // 2)

    def worked(self) -> None:
        self.now = min(self.most, self.now * 2)


async def ready_for_a_pass(embeddings: EmbeddingService) -> bool:
    """Whether a pass may send its texts now: the model is ready and free, and not known to be down
    (a probe text, sent instead, says whether it is back)."""
    if not embeddings.available:
        return False
    return not embeddings.down or await embeddings.probe()


async def embed_pass(
    embeddings: EmbeddingService, size: PassSize, items: Sequence[T], texts_of: Callable[[T], list[str]]
) -> tuple[list[tuple[T, np.ndarray]], list[T]] | None:
    """One pass of the items' texts: (each embedded item with its texts' vectors, the items the
    embedder rejects). None when the pass is put off: it timed out with more than one item (the next
    pass is smaller) or the embedder is down (the items wait for it, none is blamed)."""
    try:
        embedded, rejected = await _sort_out(embeddings, list(items), texts_of, whole_pass=True)
    except TimeoutError:
        log.warning("embedding a pass of %d items timed out", len(items))
        if len(items) > 1:
            size.timed_out(len(items))
            return None
        return [], list(items)
    except EmbedderDown:
        return None
    if embedded:
        size.worked()
    return embedded, rejected


async def _sort_out(
    embeddings: EmbeddingService, items: list[T], texts_of: Callable[[T], list[str]], whole_pass: bool
) -> tuple[list[tuple[T, np.ndarray]], list[T]]:
    """All the texts in one call; if the embedder refuses it, halves the items until the ones it
    rejects are alone (a whole pass's refusal first asks the service whether the embedder is down)."""
    texts = [texts_of(item) for item in items]
    try:
        vectors = await embeddings.embed([text for item_texts in texts for text in item_texts])
    except TimeoutError:
        raise
    except Exception as exc:
        if whole_pass:
            await embeddings.check_up(exc)
        if len(items) == 1:
            log.warning("the embedder rejected a text (%s); it is retried later", exc)
            return [], items
        half = len(items) // 2
        left, left_rejected = await _sort_out(embeddings, items[:half], texts_of, whole_pass=False)
        right, right_rejected = await _sort_out(embeddings, items[half:], texts_of, whole_pass=False)
        return left + right, left_rejected + right_rejected
    ends = np.cumsum([len(item_texts) for item_texts in texts])
    return [(item, vectors[end - len(t) : end]) for item, t, end in zip(items, texts, ends, strict=True)], []
