"""Athena MCP: long-term memory for AI agents, served over MCP from one local SQLite file."""

__version__ = "0.1.0"
