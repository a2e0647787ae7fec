"""The consolidation worker: raw events into facts, procedures, graph candidates and digests."""
