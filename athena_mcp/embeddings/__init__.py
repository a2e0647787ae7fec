"""Text embedders behind one interface, and the service that loads and calls them off the event loop."""
