"""MCP tools, one module per toolset; each lists its tools (`tools()`) and only adapts calls to services."""
