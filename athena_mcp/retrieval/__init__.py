"""Hybrid retrieval shared by every memory system: lexical and dense signals fused by memory id."""
