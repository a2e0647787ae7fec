"""How clients reach the server: stdio, streamable HTTP, and the memory check both make before
reading a message."""
