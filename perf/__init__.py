"""Benchmarks that drive Athena through the same seams as its users: the MCP tools and the services."""
