"""Token counts for fitting a briefing to its budget, by a real tokenizer rather than characters / 4.

The tokenizer is the embedding model's own WordPiece vocabulary (shipped in the package, so nothing
is downloaded). The calling model's tokenizer is not public; `perf.eval_briefing` reports how the
count compares with characters / 4 on the dev data, so the budget's meaning is measured, not assumed.
"""

from __future__ import annotations

import functools
from typing import Any

from athena_mcp.embeddings.minilm import TOKENIZER


@functools.cache
def _tokenizer() -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def count_tokens(text: str) -> int:
    """Tokens in `text`, without the model's start and end markers."""
    return len(_tokenizer().encode(text, add_special_tokens=False).ids) if text else 0
