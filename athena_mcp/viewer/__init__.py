"""The terminal viewer: `athena-mcp show`, `search` and `timeline` read the store for a person, as
tables fitted to the terminal, or as JSON for scripts (`--json`), without an MCP client."""
