"""The storage layer: connections, migrations, the single write path and the derived indexes."""
