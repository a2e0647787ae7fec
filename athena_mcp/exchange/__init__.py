"""Export and import: a store as JSON Lines that a person can read and another store can take in.

The format (`format.py`, described by `export.schema.json`) is one header line, then one record
per line, each a row of one of the store's tables with its ids (store/exchange.py lists them).
"""
