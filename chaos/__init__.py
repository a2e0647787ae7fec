"""Chaos: fault, crash and hostile-input runs against real server processes."""
