"""Queries, retrieved entries, scoring and text embeddings."""
