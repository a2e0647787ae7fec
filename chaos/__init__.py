"""The chaos harness: real server processes under crashes, faults and contention, checked for loss.

Run `python -m chaos --help`; chaos/README.md describes the scenarios and the fault plan.
"""
