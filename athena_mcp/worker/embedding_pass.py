"""What the background embedding workers share: how much a pass takes on, and when to send it.

A pass that times out is not put off (the texts are not known to be at fault) but split: the next
pass takes half as many, down to one, and a single text that still times out is the one put off.
Passes that work double it back. While the embedder is down, a pass sends only a probe text.
"""

from __future__ import annotations

from athena_mcp.embeddings.service import EmbeddingService


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
