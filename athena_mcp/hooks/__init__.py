"""Editor hooks: `athena-mcp hook EVENT` answers an editor's lifecycle events (Claude Code's first),
so that memory is captured and briefed without the agent calling a tool; `install-hooks` wires them."""
