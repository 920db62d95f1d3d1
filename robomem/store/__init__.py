"""The embedded store: SQLite (WAL) plus content-addressed blobs. The only code that opens connections."""
