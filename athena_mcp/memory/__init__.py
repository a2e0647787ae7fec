"""One module per memory system; each holds the domain rules and calls the store."""
