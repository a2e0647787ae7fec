"""Context assembly: a briefing on a task or a project, drawn from every memory system and fitted
to a token budget (candidates.py values the items, fitting.py chooses and renders them)."""
