"""MCP tools, one module per toolset; each exposes `register(server)` and only adapts calls to services."""
