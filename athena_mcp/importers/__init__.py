"""Front ends that bring data from other memory servers into Athena, beside the MCP tools and the CLI:
they check input with the tools' own field types and write through the memory services."""
