"""Maintenance of the whole memory: merging duplicate objects, forgetting under a budget."""
