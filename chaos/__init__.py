"""Chaos: fault, crash and hostile-input runs against real server processes, checked for loss.

Run `python -m chaos --help` (scenarios) or `python -m chaos.fuzz --help` (the fuzzer);
chaos/README.md describes the scenarios and the fault plan.
"""
